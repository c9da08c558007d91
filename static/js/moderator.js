/* Moderator console: the review queue with keyboard shortcuts. Text via textContent only. */
(function () {
  "use strict";
  var live = window.zhixingLive;
  if (!live) return;
  var M = live.messages;
  var queue = new Map();     // pending questions, id -> question (with author, flagged)
  var selected = 0;
  var $ = function (id) { return document.getElementById(id); };

  function act(q, action) {
    var frame = { type: "question.moderate", question_id: q.id, action: action };
    if (action === "reject") {
      var reason = window.prompt(M.reject_prompt, "");
      if (reason === null) return;
      frame.reason = reason.slice(0, 200);
    }
    live.send(frame);
  }

  // merge a near-duplicate into its cluster's first question (its asker is told)
  function merge(q) {
    if (q && q.cluster && q.cluster !== q.id) {
      live.send({ type: "question.merge", question_id: q.id, into_id: q.cluster });
    }
  }

  function fmt(text, values) {
    return String(text || "").replace(/%\((\w+)\)s/g, function (_m, k) { return values[k]; });
  }

  function button(label, cls, handler) {
    var b = document.createElement("button");
    b.type = "button"; b.className = "button small " + cls; b.textContent = label;
    b.addEventListener("click", handler);
    return b;
  }

  function render() {
    var list = $("queue-list");
    if (!list) return;
    var items = Array.from(queue.values()).sort(function (a, b) { return a.id - b.id; });
    if (selected >= items.length) selected = Math.max(0, items.length - 1);
    var frag = document.createDocumentFragment();
    items.forEach(function (q, i) {
      var li = document.createElement("li");
      li.className = "queue-item" + (q.flagged ? " flagged" : "") + (i === selected ? " selected" : "");
      li.dataset.id = q.id;
      var head = document.createElement("div");
      head.className = "q-head";
      var who = document.createElement("span");
      who.className = "q-author";
      who.textContent = q.author + (q.unit ? " · " + q.unit : "") + (q.anonymous ? " (" + M.anonymous + ")" : "");
      head.appendChild(who);
      if (q.flagged) {
        var tag = document.createElement("span");
        tag.className = "tag tag-flagged"; tag.textContent = M.flagged;
        head.appendChild(tag);
      }
      if (q.cluster_size > 1) {  // near-duplicates of one question (clusters.py)
        var similar = document.createElement("span");
        similar.className = "tag tag-cluster";
        similar.textContent = fmt(M.similar, { n: q.cluster_size });
        head.appendChild(similar);
      }
      li.appendChild(head);
      var p = document.createElement("p");
      p.className = "q-text"; p.textContent = q.text;
      li.appendChild(p);
      var actions = document.createElement("div");
      actions.className = "q-actions";
      actions.appendChild(button(M.approve, "primary", function () { act(q, "approve"); }));
      actions.appendChild(button(M.reject, "secondary", function () { act(q, "reject"); }));
      actions.appendChild(button(M.answer, "secondary", function () { act(q, "answer"); }));
      if (q.cluster && q.cluster !== q.id) {
        actions.appendChild(button(M.merge, "secondary", function () { merge(q); }));
      }
      li.appendChild(actions);
      frag.appendChild(li);
    });
    list.replaceChildren(frag);
    $("queue-empty").textContent = items.length ? "" : M.queue_empty;
    $("queue-count").textContent = String(items.length);
    renderCounts();
  }

  function renderCounts() {
    var published = 0, answered = 0;
    live.questions.forEach(function (q) { if (q.status === "answered") answered++; else published++; });
    $("console-counts").textContent = M.pending + " " + queue.size + " · " + M.published + " " +
      published + " · " + M.answered + " " + answered;
  }

  function decorateList() {
    // highlight / unhighlight / answer buttons on published questions for moderators
    document.querySelectorAll("#question-list li.question:not(.pending)").forEach(function (li) {
      if (li.querySelector(".q-actions")) return;
      var q = live.questions.get(Number(li.dataset.id));
      if (!q) return;
      var actions = document.createElement("div");
      actions.className = "q-actions";
      actions.appendChild(button(q.highlighted ? M.unhighlight : M.highlight, "secondary",
        function () { live.send({ type: "question.moderate", question_id: q.id,
                                  action: q.highlighted ? "unhighlight" : "highlight" }); }));
      if (q.status !== "answered") {
        actions.appendChild(button(M.answer, "secondary", function () {
          live.send({ type: "question.moderate", question_id: q.id, action: "answer" });
        }));
      }
      actions.appendChild(button(M.reject, "secondary", function () { act(q, "reject"); }));
      li.appendChild(actions);
    });
  }

  document.addEventListener("live:state", function (ev) {
    queue.clear();
    (ev.detail.queue || []).forEach(function (q) { queue.set(q.id, q); });
    render(); decorateList();
  });
  document.addEventListener("live:event", function (ev) {
    var msg = ev.detail;
    if (msg.type === "moderation.queue") {
      var item = msg.question;
      if (item.status === "pending") queue.set(item.id, item);
      else queue.delete(item.id);
      if (item.cluster) {  // the cluster's size as of now, on every item of it
        queue.forEach(function (other) {
          if (other.cluster === item.cluster) other.cluster_size = item.cluster_size;
        });
      }
      render();
    }
    decorateList(); renderCounts();
  });

  document.addEventListener("keydown", function (ev) {
    var tag = (ev.target && ev.target.tagName) || "";
    if (tag === "TEXTAREA" || tag === "INPUT" || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    var items = Array.from(queue.values()).sort(function (a, b) { return a.id - b.id; });
    var q = items[selected];
    var key = ev.key.toLowerCase();
    if (key === "j") { selected = Math.min(items.length - 1, selected + 1); render(); }
    else if (key === "k") { selected = Math.max(0, selected - 1); render(); }
    else if (q && key === "a") act(q, "approve");
    else if (q && key === "r") act(q, "reject");
    else if (q && key === "d") act(q, "answer");
    else if (q && key === "m") merge(q);
    else if (key === "h") {
      var top = Array.from(live.questions.values()).sort(function (a, b) { return b.id - a.id; })[0];
      if (top) live.send({ type: "question.moderate", question_id: top.id, action: "highlight" });
    } else return;
    ev.preventDefault();
  });
})();
