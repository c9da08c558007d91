// Lecture page: show the start time in the viewer's own zone when it differs from Beijing time.
(function () {
  "use strict";
  var data = document.getElementById("lecture-start");
  var el = document.getElementById("local-time");
  if (!data || !el) return;
  var start = new Date(JSON.parse(data.textContent));
  if (new Date().getTimezoneOffset() !== -480) {
    el.textContent = "(" + start.toLocaleString(document.documentElement.lang || undefined, {dateStyle: "medium", timeStyle: "short"}) + ")";
    el.hidden = false;
  }
})();
