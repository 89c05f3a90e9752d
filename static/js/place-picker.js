// place-picker.js — a searchable county picker, kept in this repository (no CDN, no dependency; CSP 'self').
// Progressive enhancement of <select class="place-picker">: a search box above the grouped select hides the
// options (and groups) that do not match what is typed — name, city or code — and selects the first match.
// Without JavaScript the select works as it is (grouped by city, the user's own region first).
(function () {
  "use strict";
  function norm(s) { return (s || "").toLowerCase().replace(/\s+/g, ""); }
  function enhance(select) {
    if (select.dataset.enhanced) { return; }
    select.dataset.enhanced = "1";
    var box = document.createElement("input");
    box.type = "search";
    box.className = "place-search";
    box.setAttribute("autocomplete", "off");
    box.placeholder = select.dataset.searchLabel || "";
    box.setAttribute("aria-label", select.dataset.searchLabel || "");
    box.setAttribute("aria-controls", select.id);
    select.parentNode.insertBefore(box, select);
    var count = document.createElement("small");
    count.className = "hint";
    count.setAttribute("aria-live", "polite");
    select.parentNode.insertBefore(count, select.nextSibling);
    box.addEventListener("input", function () {
      var q = norm(box.value), first = null, shown = 0;
      Array.prototype.forEach.call(select.querySelectorAll("optgroup"), function (group) {
        var any = false;
        Array.prototype.forEach.call(group.querySelectorAll("option"), function (o) {
          var hit = !q || norm(o.textContent + group.label + o.value).indexOf(q) >= 0;
          o.hidden = !hit; o.disabled = !hit;
          if (hit) { any = true; shown += 1; if (!first) { first = o; } }
        });
        group.hidden = !any;
      });
      var current = select.options[select.selectedIndex];
      var group = current && current.parentNode.tagName === "OPTGROUP" ? current.parentNode.label : "";
      var keeps = current && !current.hidden && norm(current.textContent + group + current.value).indexOf(q) >= 0;
      if (q && first && !keeps) { select.value = first.value; }
      count.textContent = q ? (select.dataset.matchesLabel || "{n}").replace("{n}", shown) : "";
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("select.place-picker"), enhance);
  });
})();
