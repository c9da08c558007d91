/* Live room client (docs/live-protocol.md). User text is always inserted with textContent. */
(function () {
  "use strict";
  var cfgEl = document.getElementById("live-config");
  if (!cfgEl) return;
  var cfg = JSON.parse(cfgEl.textContent);
  var M = cfg.messages;
  var screenMode = !!cfg.screen;
  var $ = function (id) { return document.getElementById(id); };
  var fmt = function (text, params) {
    return text.replace(/%\((\w+)\)s/g, function (_m, k) { return params[k]; });
  };

  var questions = new Map();   // approved/answered, id -> question
  var mine = new Map();        // my pending questions, id -> question
  var lastSeq = -1;
  var helloPending = false;
  var role = cfg.role;
  var sortBy = "newest";
  var status = cfg.lecture.status;
  var socket = null;
  var attempt = 0;
  var stopped = false;
  var pendingAsk = null;
  var heartbeatTimer = null;
  var heartbeatSeconds = cfg.heartbeatSeconds || 30;   // ATTENDANCE_HEARTBEAT_SECONDS
  var attentionCheck = null;   // the unanswered "Still watching?" check id: no heartbeats

  // -- connection ----------------------------------------------------------------------
  function setConn(text) { var el = $("live-conn"); if (el) el.textContent = text; }

  function connect() {
    setConn(M.connecting);
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(proto + location.host + cfg.wsPath);
    socket.onopen = function () { attempt = 0; setConn(M.connected); };
    socket.onmessage = function (ev) {
      var msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      handle(msg);
    };
    socket.onclose = function (ev) { scheduleReconnect(ev.code); };
  }

  function scheduleReconnect(code) {
    socket = null;
    if (stopped) return;
    if (code === 4401 || code === 4403 || code === 4404) {
      stopped = true;
      setConn(M["close_" + code]);
      return;
    }
    attempt += 1;
    var base = Math.min(30, Math.pow(2, Math.min(attempt, 5)) / 2);  // 1, 2, 4, 8, 16 s
    if (code === 4429) base = Math.max(base, 15);
    if (code === 4408) base = 0.5;
    var wait = base * (0.5 + Math.random());  // jitter: thousands of viewers must not return at once
    var note = M["close_" + code] ? M["close_" + code] + " " : "";
    setConn(note + fmt(M.reconnecting, { seconds: Math.ceil(wait) }));
    setTimeout(connect, wait * 1000);
  }

  function send(frame) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  // -- events --------------------------------------------------------------------------
  function emit(name, detail) {
    document.dispatchEvent(new CustomEvent(name, { detail: detail }));
  }

  function handle(msg) {
    if (msg.type === "state") {
      lastSeq = msg.seq; helloPending = false; role = msg.role;
      questions.clear(); mine.clear();
      msg.questions.forEach(function (q) { questions.set(q.id, q); });
      msg.mine.forEach(function (q) { mine.set(q.id, q); });
      setViewers(msg.viewers);
      streamState(msg.lecture.stream || "", msg.lecture.stream_url || "");
      setStatus(msg.lecture.status);
      if (msg.heartbeat_seconds && msg.heartbeat_seconds !== heartbeatSeconds) {
        heartbeatSeconds = msg.heartbeat_seconds; startHeartbeats();
      }
      render();
      emit("live:state", msg);
      return;
    }
    if (typeof msg.seq === "number" && msg.type !== "moderation.queue") {
      if (msg.seq <= lastSeq) return;              // already applied (replay overlap)
      if (msg.seq > lastSeq + 1) {                  // a gap: ask for the missed events
        if (!helloPending) { helloPending = true; send({ type: "hello", last_seq: lastSeq }); }
        return;
      }
      lastSeq = msg.seq; helloPending = false;
    }
    switch (msg.type) {
      case "question.published":
      case "question.updated":
        upsert(msg.question); break;
      case "question.votes":
        Object.keys(msg.counts).forEach(function (id) {
          var q = questions.get(Number(id));
          if (q) q.votes = msg.counts[id];
        });
        render(); break;
      case "question.accepted":
        pendingAsk = null;
        mine.set(msg.question.id, msg.question);
        var text = $("ask-text"); if (text) { text.value = ""; updateCount(); }
        askStatus(M.accepted, false);
        render(); break;
      case "question.merged":
        mine.delete(msg.question_id);
        askStatus(fmt(M.merged, { text: msg.text }), false);
        render(); break;
      case "question.rejected":
        mine.delete(msg.question_id);
        askStatus(msg.reason ? fmt(M.rejected_reason, { reason: msg.reason }) : M.rejected, true);
        render(); break;
      case "viewers": setViewers(msg.count); break;
      case "attention.check": showAttention(msg.check_id); break;
      case "attention.answered":
        if (attentionCheck !== null) { hideAttention(); heartbeat(); }
        break;
      case "lecture.status":
        if (msg.replay_url) cfg.replayUrl = msg.replay_url;  // an automatic replay, just made
        setStatus(msg.status); break;
      case "stream.status":
        if (msg.state === "preview") { previewUrl = msg.url; updatePlayer(); break; }
        streamState(msg.state === "ended" ? "" : msg.state, msg.url);
        updatePlayer(); break;
      case "error":
        var message = msg.message || M[msg.code] || M.invalid;
        askStatus(message, true);
        break;
    }
    emit("live:event", msg);
  }

  function upsert(q) {
    mine.delete(q.id);
    if (q.status === "approved" || q.status === "answered") questions.set(q.id, q);
    else questions.delete(q.id);
    render();
  }

  // -- rendering -----------------------------------------------------------------------
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function questionItem(q, pending) {
    var li = el("li", "question" + (q.highlighted ? " highlighted" : "") + (pending ? " pending" : ""));
    li.dataset.id = q.id;
    var head = el("div", "q-head");
    head.appendChild(el("span", "q-author", q.author + (q.unit ? " · " + q.unit : "")));
    if (pending) head.appendChild(el("span", "tag tag-pending", M.pending));
    if (q.status === "answered") head.appendChild(el("span", "tag tag-answered", M.answered));
    if (q.highlighted) head.appendChild(el("span", "tag tag-highlight", M.highlighted));
    li.appendChild(head);
    li.appendChild(el("p", "q-text", q.text));
    if (!pending) {
      var vote = el("button", "vote" + (q.voted ? " voted" : ""));
      vote.type = "button";
      vote.setAttribute("aria-pressed", q.voted ? "true" : "false");
      // the name is the content ("点赞 3"): it holds the visible count (WCAG 2.5.3)
      var icon = el("span", "vote-icon", "▲");
      icon.setAttribute("aria-hidden", "true");
      vote.appendChild(icon);
      vote.appendChild(el("span", "visually-hidden", (q.voted ? M.upvoted : M.upvote) + " "));
      vote.appendChild(el("span", "vote-count", q.votes));
      vote.addEventListener("click", function () {
        var up = !q.voted;
        if (send({ type: "question.vote", question_id: q.id, up: up })) {
          q.voted = up; q.votes = Math.max(0, q.votes + (up ? 1 : -1)); render();
        }
      });
      li.appendChild(vote);
    }
    return li;
  }

  function sorted() {
    var list = Array.from(questions.values());
    list.sort(function (a, b) {
      if (a.highlighted !== b.highlighted) return a.highlighted ? -1 : 1;
      if (sortBy === "top" && a.votes !== b.votes) return b.votes - a.votes;
      return a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : b.id - a.id;
    });
    return list;
  }

  function render() {
    if (screenMode) { renderScreen(); return; }
    var list = $("question-list");
    if (!list) return;
    var frag = document.createDocumentFragment();
    Array.from(mine.values()).forEach(function (q) { frag.appendChild(questionItem(q, true)); });
    sorted().forEach(function (q) { frag.appendChild(questionItem(q, false)); });
    list.replaceChildren(frag);
    $("question-empty").textContent = questions.size || mine.size ? "" : M.no_questions;
  }

  function renderScreen() {
    var top = sorted()[0];
    var shown = top && top.highlighted ? top : null;
    $("screen-text").textContent = shown ? shown.text : "";
    $("screen-author").textContent = shown ? shown.author + (shown.unit ? " · " + shown.unit : "") : "";
    $("screen-empty").textContent = shown ? "" : M.waiting_screen;
  }

  function setViewers(count) {
    var v = $("live-viewers");
    if (v && typeof count === "number") v.textContent = fmt(M.viewers, { n: count });
  }

  // -- player, status, countdown ---------------------------------------------------------
  var hls = null;
  var loadedUrl = null;

  function setStatus(next) {
    status = next;
    var badge = $("live-badge");
    if (badge) { badge.dataset.status = next; badge.textContent = M[next] || next; }
    // After the end the room is an archive: no ask box (the speaker has left).
    var form = $("ask-form"), closed = $("ask-closed");
    if (form) form.hidden = next === "ended";
    if (closed) closed.hidden = next !== "ended";
    updatePlayer();
  }

  // The origin's word on the push (docs/live-protocol.md, stream.status): while it is
  // down the viewer sees "信号中断，正在恢复" instead of a black player; when it is back
  // the player reloads the playlist (the encoder's new session).
  var streamDown = false, previewUrl = "", nativeRefused = false;
  function streamState(state, url) {
    var wasDown = streamDown;
    streamDown = state === "down";
    if (state && url) {
      if (url !== cfg.streamUrl || (wasDown && !streamDown)) loadedUrl = null;
      cfg.streamUrl = url;
    }
  }

  function play(url) {
    var video = $("live-video");
    if (!video || !url || url === loadedUrl) return;
    loadedUrl = url;
    if (hls) { hls.destroy(); hls = null; }
    // The browser's own HLS first (Safari, iOS, recent Chromium); where it refuses a
    // stream (Chromium's native player answers MEDIA_ERR 4 for the origin's live TS)
    // and MediaSource exists, hls.js instead, from then on.
    var mse = !!(window.MediaSource || window.ManagedMediaSource);
    if (!nativeRefused && video.canPlayType("application/vnd.apple.mpegurl")) {
      video.onerror = function () {
        if (video.error && video.error.code === 4 && mse && !nativeRefused) {
          nativeRefused = true;
          video.onerror = null;
          video.removeAttribute("src");
          loadedUrl = null;
          play(url);
        }
      };
      video.src = url;                                  // native HLS
    } else if (window.Hls && window.Hls.isSupported()) {
      // tuned for 2 s fragments: start three behind the live edge (6 s), jump back to it
      // when more than ten behind (a phone that slept), keep 30 s behind the playhead
      // (phones' memory), retry the playlist while the encoder is away; no faster
      // playback to catch up: on a short live window it drains the buffer into stalls
      hls = new window.Hls({
        lowLatencyMode: true,
        liveSyncDurationCount: 3,
        liveMaxLatencyDurationCount: 10,
        backBufferLength: 30,
        manifestLoadingMaxRetry: 6,
        levelLoadingMaxRetry: 6,
      });
      hls.on(window.Hls.Events.ERROR, function (_e, data) { onHlsError(url, data); });
      hls.on(window.Hls.Events.FRAG_BUFFERED, function () { if (!streamDown) overlay(""); });
      hls.on(window.Hls.Events.MANIFEST_PARSED, function () { qualityLevels(); });
      hls.loadSource(url);
      hls.attachMedia(video);
    } else if (!window.Hls && window.MediaSource && cfg.hlsScript) {
      loadedUrl = null;                                 // hls.js on demand, then again
      loadHls(function () { play(url); });
    } else {
      overlay(M.play_error);
    }
  }

  // hls.js's stalls and failures, visibly: a stall says so; a fatal network error retries
  // the playlist after a few seconds, a media error is recovered in place.
  var retryTimer = null;
  function onHlsError(url, data) {
    if (data.details === "bufferStalledError") { overlay(M.stalled); return; }
    if (!data.fatal || !hls) return;
    if (data.type === window.Hls.ErrorTypes.MEDIA_ERROR) { hls.recoverMediaError(); return; }
    overlay(streamDown ? M.stream_down : M.stalled);
    clearTimeout(retryTimer);
    retryTimer = setTimeout(function () { if (url === loadedUrl) { loadedUrl = null; play(url); } }, 3000);
  }

  // Quality levels when the origin offers several (a transcoding CDN): a picker under the
  // player; one level: nothing to choose.
  function qualityLevels() {
    var box = $("quality"), select = $("quality-select");
    if (!box || !select || !hls) return;
    var levels = hls.levels || [];
    box.hidden = levels.length < 2;
    select.replaceChildren();
    var auto = document.createElement("option");
    auto.value = "-1"; auto.textContent = M.quality_auto || "Auto";
    select.appendChild(auto);
    levels.forEach(function (level, i) {
      var option = document.createElement("option");
      option.value = String(i);
      option.textContent = level.height ? level.height + "p" : String(Math.round(level.bitrate / 1000)) + " kbps";
      select.appendChild(option);
    });
    select.onchange = function () { if (hls) hls.currentLevel = Number(select.value); };
  }

  var hlsLoading = null;
  function loadHls(then) {
    if (hlsLoading) { hlsLoading.push(then); return; }
    hlsLoading = [then];
    var script = document.createElement("script");
    script.src = cfg.hlsScript;
    script.onload = function () { var cbs = hlsLoading; hlsLoading = null; cbs.forEach(function (f) { f(); }); };
    script.onerror = function () { hlsLoading = null; cfg.hlsScript = ""; overlay(M.play_error); };
    document.head.appendChild(script);
  }

  function overlay(text) {
    var box = $("player-overlay");
    if (!box) return;
    box.hidden = !text;
    $("countdown").textContent = text || "";
  }

  function updatePlayer() {
    if (screenMode) return;
    if (status === "live") {
      if (streamDown) { overlay(M.stream_down); if (cfg.streamUrl) play(cfg.streamUrl); }
      else if (cfg.streamUrl) { overlay(""); play(cfg.streamUrl); } else overlay(M.no_stream);
    } else if (status === "ended") {
      if (cfg.replayUrl) { overlay(""); play(cfg.replayUrl); } else overlay(M.no_replay);
    } else if (previewUrl && role === "moderator") {
      overlay(M.preview); play(previewUrl);
    } else {
      tick();
    }
  }

  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function tick() {
    if (status !== "scheduled" || screenMode) return;
    var left = Math.max(0, Math.floor((Date.parse(cfg.lecture.starts_at) - Date.now()) / 1000));
    var d = Math.floor(left / 86400), h = Math.floor(left % 86400 / 3600);
    var m = Math.floor(left % 3600 / 60), s = left % 60;
    var time = (d ? fmt(M.days, { n: d }) + " " : "") + pad(h) + ":" + pad(m) + ":" + pad(s);
    overlay(fmt(M.starts_in, { time: time }));
  }

  // -- asking ----------------------------------------------------------------------------
  function askStatus(text, isError) {
    var el2 = $("ask-status");
    if (!el2) return;
    el2.textContent = text;
    el2.classList.toggle("error", !!isError);
  }

  function charCount(text) { return Array.from(text.trim()).length; }

  function updateCount() {
    var text = $("ask-text"), out = $("ask-count");
    if (!text || !out) return;
    var n = charCount(text.value);
    out.textContent = n + "/" + cfg.maxChars;
    out.classList.toggle("over", n > cfg.maxChars);
  }

  function newClientId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  function setupAsk() {
    var form = $("ask-form");
    if (!form) return;
    var text = $("ask-text");
    text.addEventListener("input", updateCount);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var value = text.value.trim();
      if (!value) { askStatus(M.invalid, true); return; }
      if (charCount(value) > cfg.maxChars) { askStatus(M.too_long, true); return; }
      // the same text re-sent (e.g. after a reconnect) keeps its client_id: one question
      if (!pendingAsk || pendingAsk.text !== value) pendingAsk = { text: value, id: newClientId() };
      var ok = send({ type: "question.ask", text: value, anonymous: $("ask-anon").checked,
                      client_id: pendingAsk.id });
      if (!ok) askStatus(M.connecting, true);
    });
    updateCount();
  }

  function setupTabs() {
    document.querySelectorAll(".tabs [role=tab]").forEach(function (tab) {
      tab.addEventListener("click", function () {
        sortBy = tab.dataset.sort;
        document.querySelectorAll(".tabs [role=tab]").forEach(function (t) {
          t.setAttribute("aria-selected", t === tab ? "true" : "false");
        });
        render();
      });
    });
  }

  // -- attendance: heartbeats and the attention check ------------------------------------
  // A heartbeat every heartbeatSeconds while the room is open; "playing" only while the
  // video plays and the page is visible. While a "Still watching?" check is unanswered no
  // heartbeat is sent (the server would not credit it either).
  function heartbeat() {
    var video = $("live-video");
    if (screenMode || !video || attentionCheck !== null) return;
    send({ type: "heartbeat", playing: !video.paused && !video.ended && !document.hidden,
           replay: status === "ended" });
  }

  function startHeartbeats() {
    if (heartbeatTimer) clearInterval(heartbeatTimer);
    heartbeatTimer = setInterval(heartbeat, heartbeatSeconds * 1000);
  }

  function showAttention(checkId) {
    var box = $("attention-prompt");
    if (!box) return;
    attentionCheck = checkId;
    box.hidden = false;
    var yes = $("attention-yes");
    if (yes) yes.focus();
  }

  function hideAttention() {
    attentionCheck = null;
    var box = $("attention-prompt");
    if (box) box.hidden = true;
  }

  function setupAttention() {
    var yes = $("attention-yes");
    if (yes) yes.addEventListener("click", function () {
      var checkId = attentionCheck;
      hideAttention();
      if (checkId !== null) send({ type: "attention.answer", check_id: checkId });
      heartbeat();   // an old or unknown answer gets a fresh check back
    });
    var video = $("live-video");
    if (video) video.addEventListener("playing", heartbeat);
  }

  window.zhixingLive = { send: send, config: cfg, messages: M,
                         questions: questions, get role() { return role; } };

  // Start once: a deferred script runs while readyState is "interactive", before the
  // document's own DOMContentLoaded (firing a synthetic one here would start twice: two
  // sockets, two heartbeat timers).
  var started = false;
  function start() {
    if (started) return;
    started = true;
    setupAsk();
    setupTabs();
    render();
    updatePlayer();
    setInterval(tick, 1000);
    setupAttention();
    startHeartbeats();
    connect();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
