/* Organiser dashboard: figures from the room's socket (livestream.js connects as moderator). */
(function () {
  "use strict";
  var KEYS = ["viewers", "checked_in", "attendees", "online", "completed", "enrolled"];
  function set(key, value) {
    var node = document.getElementById("stat-" + key);
    if (node && typeof value === "number") node.textContent = String(value);
  }
  function apply(msg) {
    if (msg.type === "viewers") { set("viewers", msg.count); return; }
    if (msg.type === "state") { set("viewers", msg.viewers); return; }
    if (msg.type !== "lecture.stats") return;
    KEYS.forEach(function (k) { set(k, msg[k]); });
    var at = document.getElementById("stat-at");
    if (at && msg.at) { at.dateTime = msg.at; at.textContent = msg.at.slice(11, 19); }
  }
  document.addEventListener("live:state", function (ev) { apply(ev.detail); });
  document.addEventListener("live:event", function (ev) { apply(ev.detail); });
})();
