/* Organiser dashboard (实时大屏): figures, the viewers line, the rows by city and the
   questions waiting, all from the room's socket (livestream.js connects as moderator and
   the hub's tick sends lecture.stats); the page's own JSON draws the first picture. */
(function () {
  "use strict";
  var KEYS = ["viewers", "checked_in", "attendees", "online", "completed", "enrolled", "questions_waiting"];
  var chart = null;

  function set(key, value) {
    var node = document.getElementById("stat-" + key);
    if (node && typeof value === "number") node.textContent = String(value);
  }

  function clock(seconds, withSeconds) {
    var d = new Date(seconds * 1000);
    var two = function (n) { return ("0" + n).slice(-2); };
    return two(d.getHours()) + ":" + two(d.getMinutes()) + (withSeconds ? ":" + two(d.getSeconds()) : "");
  }

  function drawSeries(series) {
    if (!series) return;
    var empty = document.getElementById("dash-series-empty");
    if (empty) empty.hidden = series.length > 0;
    var canvas = document.getElementById("dash-series");
    if (!canvas || typeof window.Chart === "undefined") return;
    var short = series.length > 1 && series[series.length - 1][0] - series[0][0] < 600;
    var labels = series.map(function (p) { return clock(p[0], short); });
    var values = series.map(function (p) { return p[1]; });
    if (chart) {
      chart.data.labels = labels;
      chart.data.datasets[0].data = values;
      chart.update("none");
      return;
    }
    Chart.defaults.font.family = getComputedStyle(document.documentElement).fontFamily;
    Chart.defaults.font.size = 14;
    Chart.defaults.animation = false;
    chart = new Chart(canvas, {
      type: "line",
      data: { labels: labels, datasets: [{
        label: canvas.getAttribute("aria-label"), data: values, borderColor: "#b71c1c",
        backgroundColor: "rgba(183, 28, 28, .12)", fill: true, pointRadius: 0, tension: 0
      }] },
      options: {
        maintainAspectRatio: false,
        plugins: { legend: { display: false } },
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } }, x: { ticks: { maxTicksLimit: 10 } } }
      }
    });
  }

  function drawUnits(units) {
    var body = document.querySelector("#dash-units tbody");
    if (!body || !units) return;
    var top = Math.max.apply(null, [1].concat(units.map(function (u) { return u.viewers; })));
    units.forEach(function (u) {
      var row = body.querySelector('tr[data-unit="' + u.id + '"]');
      if (!row) {  // a provincial body with its first viewers
        row = document.createElement("tr");
        row.setAttribute("data-unit", String(u.id));
        var name = document.createElement("th");
        name.scope = "row";
        name.textContent = u.name;
        var live = document.createElement("td");
        live.innerHTML = '<span class="bar-value" data-key="viewers"></span><span class="bar" aria-hidden="true"></span>';
        var checked = document.createElement("td");
        checked.setAttribute("data-key", "checked_in");
        var attendees = document.createElement("td");
        attendees.setAttribute("data-key", "attendees");
        row.append(name, live, checked, attendees);
        body.appendChild(row);
      }
      ["viewers", "checked_in", "attendees"].forEach(function (key) {
        var cell = row.querySelector('[data-key="' + key + '"]');
        if (cell) cell.textContent = String(u[key]);
      });
      var bar = row.querySelector(".bar");
      if (bar) bar.style.width = Math.round((u.viewers / top) * 85) + "%";
    });
  }

  function drawWaiting(count, waiting) {
    var list = document.getElementById("dash-waiting");
    if (!list || !waiting) return;
    var label = document.getElementById("dash-flagged-label");
    list.replaceChildren.apply(list, waiting.map(function (q) {
      var item = document.createElement("li");
      if (q.flagged && label) {
        var tag = document.createElement("span");
        tag.className = "tag tag-flagged";
        tag.textContent = label.content.textContent;
        item.append(tag, " ");
      }
      item.append(q.text);
      return item;
    }));
    var empty = document.getElementById("dash-waiting-empty");
    if (empty) empty.hidden = waiting.length > 0;
    var badge = document.getElementById("dash-waiting-count");
    if (badge && typeof count === "number") badge.textContent = String(count);
  }

  function apply(msg) {
    if (msg.type === "viewers") { set("viewers", msg.count); return; }
    if (msg.type === "state") { set("viewers", msg.viewers); return; }
    if (msg.type !== "lecture.stats") return;
    KEYS.forEach(function (k) { set(k, msg[k]); });
    drawSeries(msg.series);
    drawUnits(msg.units);
    drawWaiting(msg.questions_waiting, msg.waiting);
    var at = document.getElementById("stat-at");
    if (at && msg.at) { at.dateTime = msg.at; at.textContent = msg.at.slice(11, 19); }
  }

  function fullscreen() {
    var button = document.getElementById("dash-fullscreen");
    var board = document.getElementById("live-dashboard");
    if (!button || !board || !board.requestFullscreen) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      if (document.fullscreenElement) document.exitFullscreen();
      else board.requestFullscreen();
    });
  }

  document.addEventListener("live:state", function (ev) { apply(ev.detail); });
  document.addEventListener("live:event", function (ev) { apply(ev.detail); });
  document.addEventListener("DOMContentLoaded", function () {
    var initial = document.getElementById("dashboard-stats");
    if (initial) {
      var stats = JSON.parse(initial.textContent);
      drawSeries(stats.series);
      drawUnits(stats.units);
    }
    fullscreen();
  });
})();
