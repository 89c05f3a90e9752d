// Lianfang: the progress page of a background job. Polls the job's status JSON once a second and moves
// the bar, the rows done of total and the time left without reloading; reloads once when the job ends, so
// that the page shows the download, the links or the error as the server renders them.
(function () {
  "use strict";
  var box = document.querySelector("[data-status-url]");
  if (!box || ["done", "failed", "cancelled"].indexOf(box.getAttribute("data-state")) >= 0) { return; }
  var bar = box.querySelector("[data-testid=job-bar]");
  var rows = box.querySelector("[data-testid=job-rows]");
  var left = box.querySelector("[data-testid=job-left]");
  var state = box.querySelector("[data-testid=job-state]");
  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_m, k) { return values[k] === undefined ? "" : values[k]; });
  }
  function duration(s) {
    if (s >= 60) {
      return fill(box.getAttribute("data-minutes-label"), { m: Math.floor(s / 60), s: s % 60 });
    }
    return fill(box.getAttribute("data-seconds-label"), { s: s });
  }
  function poll() {
    var xhr = new XMLHttpRequest();
    xhr.open("GET", box.getAttribute("data-status-url"));
    xhr.setRequestHeader("Accept", "application/json");
    xhr.onload = function () {
      if (xhr.status !== 200) { window.setTimeout(poll, 3000); return; }
      var st = JSON.parse(xhr.responseText);
      if (st.finished) { window.location.reload(); return; }
      bar.value = st.percent;
      bar.textContent = st.percent + "%";
      rows.textContent = fill(box.getAttribute("data-rows-label"), { done: st.done, total: st.total });
      left.textContent = st.seconds_left === null ? "" :
        fill(box.getAttribute("data-left-label"), { time: duration(st.seconds_left) });
      state.textContent = st.state_label;
      window.setTimeout(poll, 1000);
    };
    xhr.onerror = function () { window.setTimeout(poll, 3000); };
    xhr.send();
  }
  window.setTimeout(poll, 500);
})();
