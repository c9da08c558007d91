/* The speaker's view: the moderators' ordered list (speaker.list), the question on screen
   above it (livestream.js renders that one). Text via textContent only. */
(function () {
  "use strict";
  var live = window.zhixingLive;
  if (!live) return;
  var M = live.messages;
  var list = [];
  var $ = function (id) { return document.getElementById(id); };

  function render() {
    var ol = $("speaker-list");
    if (!ol) return;
    var frag = document.createDocumentFragment();
    list.forEach(function (q) {
      var li = document.createElement("li");
      li.className = "speaker-item" + (q.highlighted ? " current" : "");
      li.dataset.id = q.id;
      var p = document.createElement("p");
      p.className = "q-text"; p.textContent = q.text;
      var meta = document.createElement("p");
      meta.className = "q-author";
      var where = q.venue ? " · " + String(M.venue).replace("%(venue)s", q.venue) : "";
      // anonymous stays anonymous at the lectern too (moderators alone see who asked)
      var who = q.anonymous ? M.anonymous : q.author + (q.unit ? " · " + q.unit : "");
      meta.textContent = who + where + " · ▲" + q.votes;
      li.appendChild(p); li.appendChild(meta);
      frag.appendChild(li);
    });
    ol.replaceChildren(frag);
    $("speaker-count").textContent = String(list.length);
    $("speaker-empty").textContent = list.length ? "" : M.list_empty;
  }

  document.addEventListener("live:state", function (ev) {
    list = ev.detail.speaker || [];
    render();
  });
  document.addEventListener("live:event", function (ev) {
    var msg = ev.detail;
    if (msg.type === "speaker.list") { list = msg.questions; render(); }
    else if (msg.type === "question.updated") {   // highlighted or votes on a listed one
      list.forEach(function (q, i) {
        if (q.id === msg.question.id) {
          list[i] = Object.assign({}, q, { highlighted: msg.question.highlighted,
                                           votes: msg.question.votes, status: msg.question.status });
        }
      });
      render();
    } else if (msg.type === "question.votes") {
      list.forEach(function (q) { if (msg.counts[q.id] !== undefined) q.votes = msg.counts[q.id]; });
      render();
    }
  });
})();
