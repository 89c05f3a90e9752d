// The policy editor (一厂一策): add and remove measure rows, show only the inputs a measure kind uses, and
// offer only the verifications that can prove it. Without this file the editor still works: two blank rows
// and a "删除此条" box per row.
(function () {
  "use strict";
  var USES = { percent: ["limit", "output_cap"], stage: ["offroad_ban"], basis: ["output_cap"] };

  function fit(row, suitable) {
    var kind = row.querySelector(".measure-kind");
    if (!kind) { return; }
    var k = kind.value;
    [["percent", ".measure-percent"], ["stage", ".measure-stage"], ["basis", ".measure-basis"]].forEach(function (pair) {
      var box = row.querySelector(pair[1]);
      if (box) { box.hidden = k !== "" && USES[pair[0]].indexOf(k) < 0; }
    });
    var select = row.querySelector(".measure-verification");
    if (select && suitable[k]) {
      Array.prototype.forEach.call(select.options, function (option) {
        option.hidden = option.value !== "" && suitable[k].indexOf(option.value) < 0;
      });
      if (select.value && suitable[k].indexOf(select.value) < 0) { select.value = ""; }
      if (!select.value && suitable[k].length === 1) { select.value = suitable[k][0]; }
    }
  }

  function wire(row, form, suitable) {
    var kind = row.querySelector(".measure-kind");
    if (kind) { kind.addEventListener("change", function () { fit(row, suitable); }); }
    var box = row.querySelector(".measure-remove");
    if (box && !row.querySelector(".remove-row")) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "link remove-row";
      button.textContent = form.getAttribute("data-remove-label") || "删除";
      button.addEventListener("click", function () {
        box.checked = true;
        row.classList.add("removed");
      });
      row.appendChild(button);
    }
    if (box && box.checked) { row.classList.add("removed"); }
    fit(row, suitable);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form.policy-editor").forEach(function (form) {
      var suitable = {};
      try { suitable = JSON.parse(form.getAttribute("data-suitable") || "{}"); } catch (e) { suitable = {}; }
      var rows = form.querySelector(".measure-rows");
      var template = form.querySelector("template.measure-template");
      var next = parseInt(form.getAttribute("data-next"), 10) || 0;
      // With this script the "添加措施" button replaces the spare blank rows.
      form.querySelectorAll(".blank-row").forEach(function (row) {
        var kind = row.querySelector(".measure-kind");
        if (kind && !kind.value) { row.parentNode.removeChild(row); }
      });
      rows.querySelectorAll(".measure-row").forEach(function (row) { wire(row, form, suitable); });
      var add = form.querySelector(".add-measure");
      if (!add || !template) { return; }
      add.hidden = false;
      add.addEventListener("click", function () {
        var html = template.innerHTML.replace(/__n__/g, String(next));
        next += 1;
        var holder = document.createElement("div");
        holder.innerHTML = html;
        var row = holder.querySelector(".measure-row");
        rows.appendChild(row);
        wire(row, form, suitable);
        var kind = row.querySelector(".measure-kind");
        if (kind) { kind.focus(); }
      });
    });
  });
})();
