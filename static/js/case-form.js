// The phone form: fill the location from the browser, show the complainant fields only for complaints.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("case-form");
  if (!form) { return; }
  var lat = document.getElementById("latitude");
  var lon = document.getElementById("longitude");
  var status = document.getElementById("geo-status");
  if (navigator.geolocation && lat && lon && !lat.value) {
    navigator.geolocation.getCurrentPosition(function (pos) {
      lat.value = pos.coords.latitude.toFixed(6);
      lon.value = pos.coords.longitude.toFixed(6);
      if (status) { status.textContent = "已定位（±" + Math.round(pos.coords.accuracy) + " 米）"; }
    }, function () {
      if (status) { status.textContent = "未能定位，可手工填写或留空。"; }
    }, {enableHighAccuracy: true, timeout: 10000, maximumAge: 60000});
  }
  var origin = document.getElementById("origin");
  var complainant = form.querySelector(".complainant");
  function toggle() { if (complainant) { complainant.hidden = origin.value !== "complaint"; } }
  if (origin) { origin.addEventListener("change", toggle); toggle(); }
});
