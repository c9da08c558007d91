// 浙政钉 sign-in on our page: the embedded QR frame posts {code, state} when a cadre
// confirms on the phone; we forward them to allauth's callback (which checks the state).
// Inside the 浙政钉 app the JSAPI gives an authCode instead (免登), posted to the server.
(function () {
  "use strict";
  var box = document.getElementById("zwdd-signin");
  if (!box) return;
  var origin = box.dataset.origin;
  var callback = box.dataset.callback;
  var frame = document.getElementById("zwdd-qr");

  function parse(data) {
    if (typeof data === "string") {
      try { data = JSON.parse(data); } catch (e) { return null; }
    }
    if (!data || typeof data.code !== "string" || typeof data.state !== "string") return null;
    return data;
  }

  window.addEventListener("message", function (event) {
    // Only the platform's frame may hand us a code.
    if (event.origin !== origin || !frame || event.source !== frame.contentWindow) return;
    var data = parse(event.data);
    if (!data) return;
    var query = new URLSearchParams({ code: data.code, state: data.state });
    window.location.assign(callback + "?" + query.toString());
  });

  // 免登 inside the 浙政钉 app (its user agent names TaurusApp): the platform's JSAPI,
  // loaded from the address the operator configured, gives an authCode for this app.
  var jsapi = box.dataset.jsapi;
  if (!jsapi || !/TaurusApp/i.test(navigator.userAgent)) return;
  var script = document.createElement("script");
  script.src = jsapi;
  script.onload = function () {
    var dd = window.dd;
    if (!dd || typeof dd.getAuthCode !== "function") return;
    Promise.resolve(dd.getAuthCode({})).then(function (result) {
      var code = result && (result.code || result.auth_code);
      if (!code) return;
      var form = document.getElementById("zwdd-app-form");
      form.elements.authCode.value = code;
      form.submit();
    }).catch(function () { /* the QR and the password form stay available */ });
  };
  document.head.appendChild(script);
})();
