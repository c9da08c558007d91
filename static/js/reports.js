/* Attendance report charts (Chart.js, vendored) and the printable view. */
(function () {
  "use strict";

  if (document.body.classList.contains("print-view")) {
    window.addEventListener("load", function () { window.print(); });
    return;
  }

  var box = document.getElementById("report-charts");
  if (!box || typeof window.Chart === "undefined") return;

  var RED = "#b71c1c";
  var BLUE = "#0b57a4";
  var narrow = window.matchMedia("(max-width: 600px)").matches;
  Chart.defaults.font.family = getComputedStyle(document.documentElement).fontFamily;
  Chart.defaults.font.size = narrow ? 11 : 12;
  Chart.defaults.animation = false;

  function percentAxis() {
    return { beginAtZero: true, suggestedMax: 100, ticks: { callback: function (v) { return v + "%"; } } };
  }

  function tooltip() {
    return { callbacks: { label: function (ctx) {
      var v = ctx.parsed[ctx.chart.options.indexAxis === "y" ? "x" : "y"];
      return ctx.dataset.label + ": " + (v === null || v === undefined ? "—" : v + "%");
    } } };
  }

  function shorten(text) {
    var max = narrow ? 6 : 12;
    return text.length > max ? text.slice(0, max) + "…" : text;
  }

  function unitsChart(units) {
    var canvas = document.getElementById("chart-units");
    if (!canvas || !units.length) return;
    // One bar pair per unit: the box grows with the list (set here, not inline: CSP).
    var holder = canvas.parentNode;
    if (holder.dataset.height) holder.style.height = holder.dataset.height + "px";
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: units.map(function (u) { return shorten(u.name); }),
        datasets: [
          { label: box.dataset.labelAttendance, data: units.map(function (u) { return u.attendance_rate; }), backgroundColor: RED },
          { label: box.dataset.labelCompletion, data: units.map(function (u) { return u.completion_rate; }), backgroundColor: BLUE }
        ]
      },
      options: {
        indexAxis: "y",  // unit names stay readable on a phone
        responsive: true,
        maintainAspectRatio: false,
        scales: { x: percentAxis() },
        plugins: { legend: { position: "top" }, tooltip: tooltip() }
      }
    });
    canvas.dataset.rendered = "1";
  }

  function trendChart(trend) {
    var canvas = document.getElementById("chart-trend");
    if (!canvas || !trend.length) return;
    new Chart(canvas, {
      type: "line",
      data: {
        labels: trend.map(function (p) { return p.label; }),
        datasets: [
          { label: box.dataset.labelAttendance, data: trend.map(function (p) { return p.attendance_rate; }), borderColor: RED, backgroundColor: RED, tension: 0.2 },
          { label: box.dataset.labelCompletion, data: trend.map(function (p) { return p.completion_rate; }), borderColor: BLUE, backgroundColor: BLUE, tension: 0.2 }
        ]
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        scales: { y: percentAxis() },
        plugins: { legend: { position: "top" }, tooltip: tooltip() }
      }
    });
    canvas.dataset.rendered = "1";
  }

  fetch(box.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
    .then(function (data) {
      unitsChart(data.units || []);
      trendChart(data.trend || []);
      box.dataset.ready = "1";
    })
    .catch(function () { box.hidden = true; });
})();
