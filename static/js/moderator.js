/* Moderator console: the shared review queue (claims, filters, clusters) with keyboard
   shortcuts, and the speaker's ordered list. Text via textContent only. */
(function () {
  "use strict";
  var live = window.zhixingLive;
  if (!live) return;
  var M = live.messages;
  var me = live.config.userId;
  var listMax = live.config.speakerListMax || 20;
  var queue = new Map();     // pending questions, id -> question (with author, flagged)
  var speaker = [];          // the speaker's list, in order (moderator question objects)
  var selected = 0;
  var filter = "all";
  var renderQueued = false;
  var $ = function (id) { return document.getElementById(id); };

  function fmt(text, values) {
    return String(text || "").replace(/%\((\w+)\)s/g, function (_m, k) { return values[k]; });
  }

  // -- claims ---------------------------------------------------------------------------
  function holder(q) {   // the running claim's moderator, or null (a lapsed one counts as none)
    if (!q.claimed_by || !q.claimed_until) return null;
    return Date.parse(q.claimed_until) > Date.now() ? q.claimed_by : null;
  }
  function takenByOther(q) { var h = holder(q); return !!h && h.id !== me; }

  function claim(q, cluster) {
    var h = holder(q);
    var frame = { type: "question.claim", question_id: q.id };
    if (h && h.id === me && !cluster) frame.release = true;
    if (cluster) frame.cluster = true;
    live.send(frame);
  }

  // -- actions --------------------------------------------------------------------------
  function act(q, action) {
    var frame = { type: "question.moderate", question_id: q.id, action: action };
    if (action === "reject") {
      var reason = window.prompt(M.reject_prompt, "");
      if (reason === null) return;
      frame.reason = reason.slice(0, 200);
    }
    live.send(frame);
  }

  function rejectCluster(q) {
    if (!(q.cluster_size > 1)) { act(q, "reject"); return; }
    var reason = window.prompt(M.reject_cluster_prompt, "");
    if (reason === null) return;
    live.send({ type: "question.moderate", question_id: q.id, action: "reject",
                reason: reason.slice(0, 200), cluster: true });
  }

  // merge a near-duplicate into its cluster's first question (its asker is told)
  function merge(q) {
    if (q && q.cluster && q.cluster !== q.id) {
      live.send({ type: "question.merge", question_id: q.id, into_id: q.cluster });
    }
  }

  function button(label, cls, handler, disabled) {
    var b = document.createElement("button");
    b.type = "button"; b.className = "button small " + cls; b.textContent = label;
    b.disabled = !!disabled;
    b.addEventListener("click", handler);
    return b;
  }

  function tag(cls, text) {
    var span = document.createElement("span");
    span.className = "tag " + cls; span.textContent = text;
    return span;
  }

  // -- the queue ------------------------------------------------------------------------
  function matches(q) {
    if (filter === "all") return true;
    if (filter === "flagged") return !!q.flagged;
    if (filter === "similar") return q.cluster_size > 1;
    if (filter === "hall") return !!q.venue;
    if (filter === "free") return !takenByOther(q);
    if (filter.indexOf("city:") === 0) return q.city === filter.slice(5);
    return true;
  }

  // clusters stay together (their first question leads), in the order their first was asked
  function ordered() {
    return Array.from(queue.values()).filter(matches).sort(function (a, b) {
      var ca = a.cluster || a.id, cb = b.cluster || b.id;
      return ca !== cb ? ca - cb : a.id - b.id;
    });
  }

  function renderFilter() {
    var select = $("queue-filter");
    if (!select) return;
    var cities = {};
    queue.forEach(function (q) { if (q.city) cities[q.city] = true; });
    var options = [["all", M.filter_all], ["flagged", M.filter_flagged],
                   ["similar", M.filter_similar], ["hall", M.filter_hall], ["free", M.filter_free]];
    Object.keys(cities).sort().forEach(function (c) {
      options.push(["city:" + c, fmt(M.filter_city, { city: c })]);
    });
    var key = options.map(function (o) { return o[0]; }).join("|");
    if (select.dataset.key === key) return;   // unchanged: keep the open dropdown alone
    select.dataset.key = key;
    var frag = document.createDocumentFragment();
    options.forEach(function (o) {
      var opt = document.createElement("option");
      opt.value = o[0]; opt.textContent = o[1];
      frag.appendChild(opt);
    });
    select.replaceChildren(frag);
    select.value = filter;
    if (select.value !== filter) { filter = "all"; select.value = "all"; }
  }

  function queueItem(q, i) {
    var li = document.createElement("li");
    var h = holder(q);
    li.className = "queue-item" + (q.flagged ? " flagged" : "") + (i === selected ? " selected" : "") +
      (h ? " claimed" + (h.id === me ? " mine" : "") : "");
    li.dataset.id = q.id;
    var head = document.createElement("div");
    head.className = "q-head";
    var who = document.createElement("span");
    who.className = "q-author";
    who.textContent = q.author + (q.unit ? " · " + q.unit : "") + (q.anonymous ? " (" + M.anonymous + ")" : "");
    head.appendChild(who);
    if (q.venue) head.appendChild(tag("tag-venue", fmt(M.venue, { venue: q.venue })));
    if (q.flagged) head.appendChild(tag("tag-flagged", M.flagged));
    if (q.cluster_size > 1) head.appendChild(tag("tag-cluster", fmt(M.similar, { n: q.cluster_size })));
    if (h) head.appendChild(tag("tag-claimed", h.id === me ? M.claimed_mine : fmt(M.claimed_by, { name: h.name })));
    li.appendChild(head);
    var p = document.createElement("p");
    p.className = "q-text"; p.textContent = q.text;
    li.appendChild(p);
    var other = !!h && h.id !== me;
    var actions = document.createElement("div");
    actions.className = "q-actions";
    actions.appendChild(button(h && h.id === me ? M.release : M.claim, "secondary",
      function () { claim(q, false); }, other));
    actions.appendChild(button(M.approve, "primary", function () { act(q, "approve"); }, other));
    actions.appendChild(button(M.reject, "secondary", function () { act(q, "reject"); }, other));
    actions.appendChild(button(M.answer, "secondary", function () { act(q, "answer"); }, other));
    if (q.cluster && q.cluster !== q.id) {
      actions.appendChild(button(M.merge, "secondary", function () { merge(q); }, other));
    }
    if (q.cluster_size > 1) {
      actions.appendChild(button(fmt(M.reject_cluster, { n: q.cluster_size }), "secondary",
        function () { rejectCluster(q); }, other));
    }
    li.appendChild(actions);
    return li;
  }

  // Renders are coalesced to one per frame: a flood of queue events costs one layout.
  function schedule() {
    if (renderQueued) return;
    renderQueued = true;
    window.requestAnimationFrame(function () { renderQueued = false; render(); });
  }

  function render() {
    var list = $("queue-list");
    if (!list) return;
    renderFilter();
    var items = ordered();
    if (selected >= items.length) selected = Math.max(0, items.length - 1);
    var frag = document.createDocumentFragment();
    items.forEach(function (q, i) { frag.appendChild(queueItem(q, i)); });
    list.replaceChildren(frag);
    $("queue-empty").textContent = items.length ? "" : M.queue_empty;
    $("queue-count").textContent = String(queue.size);
    $("queue-shown").textContent = filter === "all" ? "" :
      fmt(M.shown_of, { shown: items.length, total: queue.size });
    renderCounts();
    renderSpeaker();
    decorateList();
  }

  function renderCounts() {
    var published = 0, answered = 0;
    live.questions.forEach(function (q) { if (q.status === "answered") answered++; else published++; });
    $("console-counts").textContent = M.pending + " " + queue.size + " · " + M.published + " " +
      published + " · " + M.answered + " " + answered;
  }

  // -- the speaker's list ---------------------------------------------------------------
  function order(ids) { live.send({ type: "speaker.order", question_ids: ids }); }
  function listIds() { return speaker.map(function (q) { return q.id; }); }
  function addToList(q) {
    var ids = listIds();
    if (ids.indexOf(q.id) === -1 && ids.length < listMax) { ids.push(q.id); order(ids); }
  }
  function move(id, by) {
    var ids = listIds(), i = ids.indexOf(id), j = i + by;
    if (i < 0 || j < 0 || j >= ids.length) return;
    ids.splice(j, 0, ids.splice(i, 1)[0]);
    order(ids);
  }

  var dragged = null;
  function renderSpeaker() {
    var ol = $("console-speaker-list");
    if (!ol) return;
    var frag = document.createDocumentFragment();
    speaker.forEach(function (q, i) {
      var li = document.createElement("li");
      li.draggable = true;
      li.dataset.id = q.id;
      var p = document.createElement("p");
      p.className = "q-text"; p.textContent = q.text;
      li.appendChild(p);
      var actions = document.createElement("div");
      actions.className = "q-actions";
      actions.appendChild(button(M.move_up, "secondary", function () { move(q.id, -1); }, i === 0));
      actions.appendChild(button(M.move_down, "secondary", function () { move(q.id, 1); }, i === speaker.length - 1));
      actions.appendChild(button(M.highlight, "secondary", function () {
        live.send({ type: "question.moderate", question_id: q.id, action: "highlight" });
      }, !!q.highlighted));
      actions.appendChild(button(M.remove, "secondary", function () {
        order(listIds().filter(function (id) { return id !== q.id; }));
      }));
      li.appendChild(actions);
      li.addEventListener("dragstart", function (ev) {
        dragged = q.id; li.classList.add("dragging");
        ev.dataTransfer.effectAllowed = "move";
        ev.dataTransfer.setData("text/plain", String(q.id));
      });
      li.addEventListener("dragend", function () { dragged = null; li.classList.remove("dragging"); });
      li.addEventListener("dragover", function (ev) { ev.preventDefault(); });
      li.addEventListener("drop", function (ev) {
        ev.preventDefault();
        if (dragged === null || dragged === q.id) return;
        var ids = listIds(), from = ids.indexOf(dragged), to = ids.indexOf(q.id);
        if (from < 0 || to < 0) return;
        ids.splice(from, 1);
        ids.splice(to, 0, dragged);   // onto the target's place: before it going up, after going down
        order(ids);
      });
      frag.appendChild(li);
    });
    ol.replaceChildren(frag);
    $("speaker-count").textContent = String(speaker.length);
    $("console-speaker-empty").textContent = speaker.length ? "" : M.list_empty;
  }

  // "N": the highlighted question on the list is answered, the next one goes on screen
  function next() {
    var ids = listIds();
    var current = speaker.filter(function (q) { return q.highlighted; })[0];
    var after = speaker.filter(function (q) { return !q.highlighted; })[0];
    if (current) live.send({ type: "question.moderate", question_id: current.id, action: "answer" });
    if (after && ids.length) live.send({ type: "question.moderate", question_id: after.id, action: "highlight" });
  }

  function decorateList() {
    // highlight / answer / reject / add-to-list buttons on published questions
    var onList = {};
    speaker.forEach(function (q) { onList[q.id] = true; });
    document.querySelectorAll("#question-list li.question:not(.pending)").forEach(function (li) {
      var q = live.questions.get(Number(li.dataset.id));
      var key = q ? [q.highlighted, q.status, !!onList[q.id]].join() : "";
      if (!q || li.dataset.actions === key) return;
      li.dataset.actions = key;
      var old = li.querySelector(".q-actions");
      if (old) old.remove();
      var actions = document.createElement("div");
      actions.className = "q-actions";
      actions.appendChild(button(q.highlighted ? M.unhighlight : M.highlight, "secondary",
        function () { live.send({ type: "question.moderate", question_id: q.id,
                                  action: q.highlighted ? "unhighlight" : "highlight" }); }));
      if (q.status !== "answered") {
        actions.appendChild(button(M.answer, "secondary", function () {
          live.send({ type: "question.moderate", question_id: q.id, action: "answer" });
        }));
        actions.appendChild(button(onList[q.id] ? M.on_list : M.add_to_list, "secondary",
          function () { addToList(q); }, !!onList[q.id] || speaker.length >= listMax));
      }
      actions.appendChild(button(M.reject, "secondary", function () { act(q, "reject"); }));
      li.appendChild(actions);
    });
  }

  // -- events ---------------------------------------------------------------------------
  document.addEventListener("live:state", function (ev) {
    queue.clear();
    (ev.detail.queue || []).forEach(function (q) { queue.set(q.id, q); });
    speaker = ev.detail.speaker || [];
    render();
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
    } else if (msg.type === "moderation.claim") {
      msg.question_ids.forEach(function (id) {
        var q = queue.get(id);
        if (q) { q.claimed_by = msg.moderator; q.claimed_until = msg.until; }
      });
    } else if (msg.type === "speaker.list") {
      speaker = msg.questions;
    } else if (msg.type === "question.updated" || msg.type === "question.published") {
      speaker.forEach(function (q) {
        if (q.id === msg.question.id) { q.highlighted = msg.question.highlighted; q.status = msg.question.status; }
      });
    }
    schedule();
  });
  setInterval(schedule, 5000);   // claims lapse on their own: show them free again

  var filterSelect = $("queue-filter");
  if (filterSelect) filterSelect.addEventListener("change", function () {
    filter = filterSelect.value; selected = 0; render();
  });

  document.addEventListener("keydown", function (ev) {
    var tagName = (ev.target && ev.target.tagName) || "";
    if (tagName === "TEXTAREA" || tagName === "INPUT" || tagName === "SELECT" ||
        ev.ctrlKey || ev.metaKey || ev.altKey) return;
    var items = ordered();
    var q = items[selected];
    var key = ev.key.toLowerCase();
    if (key === "j") { selected = Math.min(items.length - 1, selected + 1); render(); }
    else if (key === "k") { selected = Math.max(0, selected - 1); render(); }
    else if (q && key === "c") claim(q, ev.shiftKey);
    else if (q && takenByOther(q) && "ardmx".indexOf(key) !== -1) { /* another's: hands off */ }
    else if (q && key === "a") act(q, "approve");
    else if (q && key === "r") act(q, "reject");
    else if (q && key === "x") rejectCluster(q);
    else if (q && key === "d") act(q, "answer");
    else if (q && key === "m") merge(q);
    else if (key === "n") next();
    else if (key === "h") {
      var top = Array.from(live.questions.values()).sort(function (a, b) { return b.id - a.id; })[0];
      if (top) live.send({ type: "question.moderate", question_id: top.id, action: "highlight" });
    } else return;
    ev.preventDefault();
  });
})();
