/* Discussion pages (lecture space, study group, thread): render from the page's JSON
 * config, write through the JSON API, and stay live through /ws/discussion/<space>/.
 * Post text arrives as parts (text / link / mention) and is inserted as text nodes and
 * <a> elements only: nothing a person wrote is ever parsed as HTML (docs/discussion.md). */
(function () {
  "use strict";
  var root = document.getElementById("discussion");
  var cfgEl = document.getElementById("discussion-config");
  if (!root || !cfgEl) { return; }
  var cfg = JSON.parse(cfgEl.textContent);
  var M = cfg.messages || {};
  var lastSeq = cfg.seq || 0;
  var socket = null;
  var attempt = 0;
  var stopped = false;
  var MOD_EVENTS = { "post.review": 1, "post.reviewed": 1, "post.reported": 1 };

  function $(id) { return document.getElementById(id); }
  function fmt(text, values) {
    return String(text || "").replace(/%\((\w+)\)s/g, function (_m, k) {
      return values[k] === undefined ? "" : String(values[k]);
    });
  }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function clientId() {
    var a = new Uint8Array(12);
    (window.crypto || window.msCrypto).getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function when(iso) {
    if (!iso) { return ""; }
    var d = new Date(iso);
    if (isNaN(d.getTime())) { return ""; }
    function p(n) { return (n < 10 ? "0" : "") + n; }
    return (d.getMonth() + 1) + "-" + p(d.getDate()) + " " + p(d.getHours()) + ":" + p(d.getMinutes());
  }

  function api(url, body) {
    var opts = { method: body === undefined ? "GET" : "POST", credentials: "same-origin",
      headers: { "Accept": "application/json" } };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.headers["X-CSRFToken"] = cfg.csrf;
      opts.body = JSON.stringify(body);
    }
    return fetch(url, opts).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) {
          var err = (data && data.error) || { code: "error", message: M.error };
          throw err;
        }
        return data;
      });
    });
  }

  // -- post text ----------------------------------------------------------------------
  function renderParts(parts, into) {
    (parts || []).forEach(function (part) {
      if (part.t === "link" && /^https?:\/\//i.test(part.v)) {
        var a = el("a", "post-link", part.v);
        a.href = part.v;
        a.rel = "nofollow noopener noreferrer ugc";
        a.target = "_blank";
        into.appendChild(a);
      } else if (part.t === "mention") {
        into.appendChild(el("span", "mention", "@" + part.v));
      } else {
        into.appendChild(document.createTextNode(String(part.v || "")));
      }
    });
  }

  // -- connection ---------------------------------------------------------------------
  function setConn(text) { var c = $("disc-conn"); if (c) { c.textContent = text || ""; } }

  function connect() {
    setConn(M.connecting);
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(proto + location.host + cfg.wsPath);
    socket.onopen = function () {
      attempt = 0;
      setConn(M.connected);
      socket.send(JSON.stringify({ type: "hello", last_seq: lastSeq }));
    };
    socket.onmessage = function (ev) {
      var msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      receive(msg);
    };
    socket.onclose = function (ev) { reconnect(ev.code); };
  }

  function reconnect(code) {
    socket = null;
    if (stopped) { return; }
    if (code === 4401 || code === 4403 || code === 4404) {
      stopped = true;
      setConn(M["close_" + code]);
      return;
    }
    attempt += 1;
    var base = Math.min(30, Math.pow(2, Math.min(attempt, 5)) / 2);
    if (code === 4429) { base = Math.max(base, 15); }
    if (code === 4408) { base = 0.5; }
    var wait = base * (0.5 + Math.random());  // jitter: a space's pages must not return at once
    setConn(fmt(M.reconnecting, { seconds: Math.ceil(wait) }));
    setTimeout(connect, wait * 1000);
  }

  function receive(msg) {
    if (msg.type === "state") { lastSeq = msg.seq; page.reload(); return; }
    if (msg.type === "error") { return; }
    if (typeof msg.seq === "number" && !MOD_EVENTS[msg.type]) {
      if (msg.seq <= lastSeq) { return; }  // already applied
      if (msg.seq > lastSeq + 1) {  // a gap: ask for what was missed
        if (socket && socket.readyState === WebSocket.OPEN) {
          socket.send(JSON.stringify({ type: "hello", last_seq: lastSeq }));
        }
        return;
      }
      lastSeq = msg.seq;
    }
    page.apply(msg);
  }

  // -- the space page (lecture space or study group): its topics --------------------
  function spacePage() {
    var threads = new Map();
    var list = $("thread-list");
    var empty = $("thread-empty");

    function row(t) {
      var li = el("li", "thread-item card");
      li.id = "thread-" + t.id;
      var a = el("a", "thread-title", t.title);
      a.href = t.url;
      li.appendChild(a);
      if (t.pinned) { li.appendChild(el("span", "tag", M.pinned)); }
      if (t.locked) { li.appendChild(el("span", "tag", M.locked)); }
      if (t.unread) {
        var b = el("span", "badge", fmt(M.unread, { n: t.unread }));
        b.setAttribute("data-unread", String(t.unread));
        li.appendChild(b);
      }
      var meta = el("p", "muted small", fmt(M.posts, { n: t.posts }) + (t.last_post_at ? " · " + when(t.last_post_at) : "") + (t.author ? " · " + t.author : ""));
      li.appendChild(meta);
      return li;
    }
    function render() {
      var all = Array.from(threads.values());
      all.sort(function (a, b) {
        if (a.pinned !== b.pinned) { return a.pinned ? -1 : 1; }
        return String(b.last_post_at || "").localeCompare(String(a.last_post_at || "")) || b.id - a.id;
      });
      list.replaceChildren.apply(list, all.map(row));
      empty.hidden = all.length > 0;
      empty.textContent = M.no_threads;
    }
    function load(items) { threads.clear(); items.forEach(function (t) { threads.set(t.id, t); }); render(); }
    function merge(t, extraUnread) {
      var old = threads.get(t.id);
      var unread = (old && old.unread) || 0;
      t.unread = unread + (extraUnread || 0);
      threads.set(t.id, t);
      render();
    }
    load(cfg.threads || []);

    var form = $("thread-form");
    if (form) {
      var cid = clientId();
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var status = $("thread-status");
        status.textContent = "";
        api(cfg.threadsUrl, { title: $("thread-title").value, text: $("thread-text").value, client_id: cid })
          .then(function (data) { cid = clientId(); location.href = data.thread.url; })
          .catch(function (err) { status.textContent = err.message || M.error; });
      });
    }
    return {
      reload: function () { api(cfg.threadsUrl).then(function (d) { lastSeq = Math.max(lastSeq, d.seq); load(d.threads); }); },
      apply: function (msg) {
        if (msg.type === "thread.created" || msg.type === "thread.updated") { merge(msg.thread, 0); }
        else if (msg.type === "post.created" && msg.thread) {
          merge(msg.thread, msg.post && msg.post.author_id !== cfg.me ? 1 : 0);
        } else if (msg.type === "post.hidden" && msg.thread) { merge(msg.thread, 0); }
      }
    };
  }

  // -- the thread page: posts, replies, likes, reports, moderation -------------------
  function threadPage() {
    var posts = new Map();
    var review = new Map();
    var list = $("post-list");
    var empty = $("post-empty");
    var isMod = cfg.role === "moderator";
    var thread = cfg.thread;
    var replyTo = null;
    var reportPost = null;
    var readTimer = null;

    function markRead() {
      window.clearTimeout(readTimer);
      readTimer = window.setTimeout(function () {
        var max = 0;
        posts.forEach(function (p) { if (p.status === "published" && p.id > max) { max = p.id; } });
        if (max && document.visibilityState !== "hidden") {
          api(cfg.readUrl, { last_post_id: max }).catch(function () {});
        }
      }, 1500);
    }

    function button(label, cls, onClick) {
      var b = el("button", "link-button " + (cls || ""), label);
      b.type = "button";
      b.addEventListener("click", onClick);
      return b;
    }

    function item(p, inReview) {
      var li = el("li", "post" + (p.status !== "published" ? " is-" + p.status : ""));
      li.id = (inReview ? "review-" : "post-") + p.id;
      li.setAttribute("data-id", String(p.id));
      var head = el("div", "post-head");
      head.appendChild(el("strong", "post-author", p.author));
      head.appendChild(el("span", "muted small", (p.unit ? p.unit + " · " : "") + when(p.created_at)));
      if (isMod && p.flagged) { head.appendChild(el("span", "tag warn", M.flagged)); }
      var reports = (cfg.reports || {})[String(p.id)];
      if (isMod && reports) { head.appendChild(el("span", "tag warn", M.report + " ×" + reports)); }
      li.appendChild(head);
      if (p.parent_id && posts.get(p.parent_id)) {
        li.appendChild(el("p", "post-parent muted small", fmt(M.reply_to, { name: posts.get(p.parent_id).author })));
      }
      var text = el("p", "post-text");
      renderParts(p.parts, text);
      li.appendChild(text);
      // the author and the moderators see why a post is hidden (both receive the reason)
      if (p.status === "hidden" && (p.author_id === cfg.me || isMod)) {
        li.appendChild(el("p", "post-note", fmt(M.hidden_own, { reason: p.hidden_reason || "" })));
      } else if (p.status === "pending" && p.author_id === cfg.me) {
        li.appendChild(el("p", "post-note", M.pending_own));
      }
      var actions = el("div", "post-actions");
      if (p.status === "published") {
        var like = button((p.liked ? M.liked : M.like) + " " + p.likes, "like", function () {
          api(cfg.postUrl + p.id + "/like/", { up: !p.liked }).then(function (d) {
            p.liked = d.liked; p.likes = d.likes; draw();
          }).catch(function () {});
        });
        like.setAttribute("aria-pressed", p.liked ? "true" : "false");
        actions.appendChild(like);
        if (cfg.open && !(thread.locked && !isMod)) {
          actions.appendChild(button(M.reply, "reply", function () {
            replyTo = p;
            $("reply-name").textContent = fmt(M.reply_to, { name: p.author });
            $("reply-to").hidden = false;
            $("post-text").focus();
          }));
        }
        if (p.author_id !== cfg.me) {
          actions.appendChild(button(M.report, "report", function () { openReport(p); }));
        }
      }
      if (isMod) {
        if (p.status !== "hidden") {
          actions.appendChild(button(M.hide, "hide", function () {
            var reason = window.prompt(M.hide_prompt, "");
            if (reason) { moderate(p, "hide", reason); }
          }));
        }
        if (p.status === "hidden") { actions.appendChild(button(M.restore, "restore", function () { moderate(p, "restore", ""); })); }
        if (p.status === "pending" || inReview) {
          actions.appendChild(button(M.approve, "approve", function () { moderate(p, "approve", ""); }));
        }
      }
      li.appendChild(actions);
      return li;
    }

    function draw() {
      var all = Array.from(posts.values()).sort(function (a, b) { return a.id - b.id; });
      list.replaceChildren.apply(list, all.map(function (p) { return item(p, false); }));
      empty.hidden = all.length > 0;
      empty.textContent = M.empty;
      if (isMod) {
        var rl = $("review-list");
        var items = Array.from(review.values()).sort(function (a, b) { return a.id - b.id; });
        rl.replaceChildren.apply(rl, items.map(function (p) { return item(p, true); }));
        $("review-count").textContent = String(items.length);
      }
      drawThread();
    }

    function drawThread() {
      var flags = [];
      if (thread.pinned) { flags.push(M.pinned); }
      if (thread.locked) { flags.push(M.locked); }
      $("thread-flags").textContent = flags.join(" · ");
      var locked = thread.locked && !isMod;
      var form = $("post-form");
      if (cfg.open) { form.hidden = locked; }
      $("thread-locked").hidden = !thread.locked;
      var pin = $("thread-pin"), lock = $("thread-lock");
      if (pin) { pin.textContent = thread.pinned ? M.unpin : M.pin; }
      if (lock) { lock.textContent = thread.locked ? M.unlock : M.lock; }
    }

    function moderate(p, action, reason) {
      api(cfg.postUrl + p.id + "/moderate/", { action: action, reason: reason }).then(function (d) {
        applyPost(d.post);
        review.delete(d.post.id);  // reviewed, whatever the action
        draw();
      }).catch(function (err) { window.alert(err.message || M.error); });
    }

    function applyPost(p) {
      if (p.status === "published" || isMod || p.author_id === cfg.me) {
        var old = posts.get(p.id);
        if (p.liked === undefined) { p.liked = old ? old.liked : false; }
        posts.set(p.id, p);
      } else {
        posts.delete(p.id);
      }
    }

    function load(items) { posts.clear(); items.forEach(applyPost); draw(); markRead(); }
    load(cfg.posts || []);
    (cfg.review || []).forEach(function (p) { review.set(p.id, p); });
    draw();

    // composing
    var cid = clientId();
    var text = $("post-text");
    var count = $("post-count");
    text.addEventListener("input", function () { count.textContent = text.value.length + "/" + cfg.maxChars; });
    $("reply-cancel").addEventListener("click", function () { replyTo = null; $("reply-to").hidden = true; });
    $("post-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var status = $("post-status");
      status.textContent = "";
      var body = { text: text.value, client_id: cid };
      if (replyTo) { body.parent_id = replyTo.id; }
      $("post-send").disabled = true;
      api(cfg.postsUrl, body).then(function (d) {
        cid = clientId();
        text.value = ""; count.textContent = "0/" + cfg.maxChars;
        replyTo = null; $("reply-to").hidden = true;
        status.textContent = d.post.status === "pending" ? M.held : M.sent;
        d.post.liked = false;
        applyPost(d.post); draw(); markRead();
      }).catch(function (err) {
        status.textContent = (err.message || M.error) + (err.retry_after ? " (" + err.retry_after + " s)" : "");
      }).then(function () { $("post-send").disabled = false; });
    });

    // reporting
    var dialog = $("report-dialog");
    var reasons = $("report-reasons");
    (cfg.reasons || []).forEach(function (r, i) {
      var label = el("label", "check");
      var input = el("input");
      input.type = "radio"; input.name = "reason"; input.value = r.value;
      if (i === 0) { input.checked = true; }
      label.appendChild(input);
      label.appendChild(document.createTextNode(" " + r.label));
      reasons.appendChild(label);
    });
    function openReport(p) {
      reportPost = p;
      $("report-status").textContent = "";
      $("report-detail").value = "";
      if (dialog.showModal) { dialog.showModal(); } else { dialog.setAttribute("open", ""); }
    }
    $("report-cancel").addEventListener("click", function () { dialog.close(); });
    $("report-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var checked = reasons.querySelector("input:checked");
      api(cfg.postUrl + reportPost.id + "/report/", { reason: checked ? checked.value : "", detail: $("report-detail").value })
        .then(function () { dialog.close(); $("post-status").textContent = M.reported; })
        .catch(function (err) { $("report-status").textContent = err.message || M.error; });
    });

    // thread moderation
    var pin = $("thread-pin"), lock = $("thread-lock");
    function threadAction(action) {
      api(cfg.threadModerateUrl, { action: action }).then(function (d) { thread = d.thread; drawThread(); })
        .catch(function (err) { window.alert(err.message || M.error); });
    }
    if (pin) { pin.addEventListener("click", function () { threadAction(thread.pinned ? "unpin" : "pin"); }); }
    if (lock) { lock.addEventListener("click", function () { threadAction(thread.locked ? "unlock" : "lock"); }); }

    return {
      markRead: markRead,
      reload: function () {
        api(cfg.postsUrl).then(function (d) { lastSeq = Math.max(lastSeq, d.seq); thread = d.thread; load(d.posts); });
      },
      apply: function (msg) {
        if (msg.type === "thread.updated" && msg.thread.id === thread.id) { thread = msg.thread; drawThread(); return; }
        if (msg.thread_id !== thread.id && !(msg.post && msg.post.thread_id === thread.id)) { return; }
        if (msg.type === "post.created" || msg.type === "post.updated") {
          // broadcast posts say nothing of the reader's own like: keep what this page knows
          var known = posts.get(msg.post.id);
          msg.post.liked = known ? known.liked : false;
          applyPost(msg.post); draw(); markRead();
        } else if (msg.type === "post.hidden") {
          var p = posts.get(msg.post_id);
          if (p && !isMod && p.author_id !== cfg.me) { posts.delete(msg.post_id); draw(); }
          else if (p && isMod) { p.status = "hidden"; draw(); }
        } else if (msg.type === "post.likes") {
          var q = posts.get(msg.post_id);
          if (q) { q.likes = msg.likes; draw(); }
        } else if (msg.type === "post.review") { review.set(msg.post.id, msg.post); draw(); }
        else if (msg.type === "post.reviewed") { review.delete(msg.post.id); applyPost(msg.post); draw(); }
        else if (msg.type === "post.reported") {
          cfg.reports = cfg.reports || {};
          cfg.reports[String(msg.post_id)] = (cfg.reports[String(msg.post_id)] || 0) + 1;
          draw();
        }
      }
    };
  }

  var page = root.getAttribute("data-page") === "thread" ? threadPage() : spacePage();
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && page.markRead) { page.markRead(); }
  });
  if (window.WebSocket) { connect(); }
})();
