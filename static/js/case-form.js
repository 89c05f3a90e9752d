// The phone form: fill the location from the browser, show the complainant fields only for complaints, and keep
// every photo the camera takes (a file input holds only its last choice: each new photo is added to the kept ones).
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

  var inputs = [document.getElementById("photos"), document.getElementById("photo-files")].filter(Boolean);
  var photoStatus = document.getElementById("photo-status");
  var clear = document.getElementById("photo-clear");
  var hint = photoStatus ? photoStatus.textContent : "";
  var kept = {};
  function show() {
    var names = [];
    inputs.forEach(function (input) {
      for (var i = 0; i < input.files.length; i++) { names.push(input.files[i].name); }
    });
    if (photoStatus) {
      photoStatus.textContent = names.length
        ? photoStatus.getAttribute("data-chosen").replace("{n}", names.length) + names.join("、")
        : hint;
    }
    if (clear) { clear.hidden = names.length === 0; }
  }
  inputs.forEach(function (input) {
    try { kept[input.id] = new DataTransfer(); } catch (e) { kept[input.id] = null; }
    input.addEventListener("change", function () {
      var all = kept[input.id];
      if (all) {
        for (var i = 0; i < input.files.length; i++) { all.items.add(input.files[i]); }
        input.files = all.files;
      }
      show();
    });
  });
  if (clear) {
    clear.addEventListener("click", function () {
      inputs.forEach(function (input) {
        input.value = "";
        try { kept[input.id] = new DataTransfer(); } catch (e) { kept[input.id] = null; }
      });
      show();
    });
  }
});
