// Admin pages that follow a running job (a reminder being sent): reload after data-seconds.
// A file, not an inline script: the Content-Security-Policy runs no inline code.
(function () {
  "use strict";
  var seconds = parseInt(document.currentScript.getAttribute("data-seconds"), 10) || 10;
  setTimeout(function () { window.location.reload(); }, seconds * 1000);
})();
