/* Venue check-in staff page: fetch a fresh QR code when the current one is due to change,
 * and the live counts every few seconds, without reloading the page. The code and the
 * counts come from the server (…/check-in/status/); this script only swaps them in. */
(function () {
  "use strict";
  var box = document.getElementById("checkin");
  if (!box || !window.fetch) { return; }
  var statusUrl = box.getAttribute("data-status-url");
  var pollMs = (parseFloat(box.getAttribute("data-poll")) || 5) * 1000;
  var qr = document.getElementById("qr");
  var closed = document.getElementById("qr-closed");
  var offline = document.getElementById("qr-offline");
  var checked = document.getElementById("checked-count");
  var expected = document.getElementById("expected-count");
  var timer = null;

  function schedule(ms) {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, Math.max(200, ms));
  }

  function nextDelay(expiresIn) {
    // The new code is ready just after the slot boundary; counts every pollMs.
    return Math.min(pollMs, expiresIn * 1000 + 100);
  }

  function apply(data) {
    if (data.open) {
      if (qr.getAttribute("data-slot") !== String(data.slot)) {
        qr.innerHTML = data.svg;  // SVG built by the server (segno), not user input
        qr.setAttribute("data-slot", String(data.slot));
        qr.setAttribute("data-url", data.url);
      }
      qr.hidden = false;
      closed.hidden = true;
    } else {
      qr.hidden = true;
      qr.innerHTML = "";
      qr.setAttribute("data-slot", "");
      qr.setAttribute("data-url", "");
      closed.hidden = false;
    }
    checked.textContent = String(data.checked_in);
    expected.textContent = String(data.expected);
    var here = {};
    data.checked_in_ids.forEach(function (id) { here[String(id)] = true; });
    document.querySelectorAll("#roster tr[data-user]").forEach(function (row) {
      if (!row.classList.contains("is-elsewhere")) {
        row.classList.toggle("is-here", here[row.getAttribute("data-user")] === true);
      }
    });
    offline.hidden = true;
    schedule(nextDelay(data.expires_in));
  }

  function refresh() {
    fetch(statusUrl, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
      cache: "no-store",
    })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      })
      .then(apply)
      .catch(function () {
        offline.hidden = false;
        schedule(pollMs);
      });
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) { refresh(); }
  });
  schedule(nextDelay(parseFloat(box.getAttribute("data-expires-in")) || 0));
})();
