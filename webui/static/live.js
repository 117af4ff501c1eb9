// Live updates for every page, over one stream per browser (issue 23: a stream per tab used up the six
// connections a browser opens to one host, and a seventh tab could not load). The tabs share it through
// a SharedWorker (live-worker.js); where that is missing, one tab leads (Web Locks) and the others talk to
// it over a BroadcastChannel; failing both, the tab holds its own stream.
//
//   playdeckLive.watchRun(runId, after, {state, run_event, end, gone}) - a run's messages after a counter
//   playdeckLive.watchOverview(callback) - called whenever the lists of runs change
//
// A hidden tab stops watching (Page Visibility) and, shown again, watches from the last counter it
// has: the lines it missed arrive first, none twice. Elements marked data-live are refreshed from the
// server whenever the overview moves (and every data-live-every seconds if set), unless they hold focus.
(function () {
  "use strict";

  /* global PlaydeckLiveHub */
  const body = document.body;
  const STREAM_URL = body.dataset.liveUrl;
  const WORKER_URL = body.dataset.liveWorker;
  if (!STREAM_URL) return;

  const runs = new Map(); // run id -> {cursor, handlers, ended}
  const overviewCallbacks = [];
  let post = null; // sends a message to the hub

  function receive(message) {
    if (message.type === "overview") {
      overviewCallbacks.forEach(function (callback) { callback(message.mark); });
      return;
    }
    if (message.type === "leader") {
      subscribeAll(); // a new leader tab knows nothing of us yet
      return;
    }
    const watched = runs.get(message.run);
    if (!watched || watched.ended) return;
    if (message.type === "run_event") {
      if (message.data.counter <= watched.cursor) return;
      watched.cursor = message.data.counter;
    }
    if (message.type === "end" || message.type === "gone") watched.ended = true;
    const handler = watched.handlers[message.type];
    if (handler) handler(message.data);
  }

  function subscribeAll() {
    if (document.hidden) return;
    runs.forEach(function (watched, run) {
      if (!watched.ended) post({ type: "watch", run: run, after: watched.cursor });
    });
    if (overviewCallbacks.length) post({ type: "overview", on: true });
  }

  function unsubscribeAll() {
    runs.forEach(function (watched, run) {
      if (!watched.ended) post({ type: "unwatch", run: run });
    });
    if (overviewCallbacks.length) post({ type: "overview", on: false });
  }

  // --- the transports -------------------------------------------------------------------------------
  function viaSharedWorker() {
    const worker = new SharedWorker(WORKER_URL + "?stream=" + encodeURIComponent(STREAM_URL), { name: "playdeck-live" });
    worker.port.onmessage = function (event) { receive(event.data); };
    worker.port.start();
    return function (message) { worker.port.postMessage(message); };
  }

  function viaLeaderTab() {
    const me = Math.random().toString(36).slice(2) + Date.now().toString(36);
    const channel = new BroadcastChannel("playdeck-live");
    let hub = null;
    channel.onmessage = function (event) {
      const note = event.data;
      if (note.to === "hub" && hub) hub.handle(note.from, note.message);
      else if (note.to === me || note.to === "all") receive(note.message);
    };
    // Whoever holds the lock is the leader until its tab closes; then the next one in line takes over.
    navigator.locks.request("playdeck-live-leader", function () {
      hub = new PlaydeckLiveHub(STREAM_URL, function (id, message) {
        if (id === me) receive(message);
        else channel.postMessage({ to: id, message: message });
      });
      channel.postMessage({ to: "all", message: { type: "leader" } });
      subscribeAll();
      return new Promise(function () {}); // held for the tab's life
    });
    return function (message) {
      if (hub) hub.handle(me, message);
      else channel.postMessage({ to: "hub", from: me, message: message });
    };
  }

  function inThisTab() {
    const hub = new PlaydeckLiveHub(STREAM_URL, function (id, message) { receive(message); });
    return function (message) { hub.handle("tab", message); };
  }

  function connect() {
    if (post) return;
    if (typeof SharedWorker === "function" && WORKER_URL) post = viaSharedWorker();
    else if (typeof BroadcastChannel === "function" && navigator.locks) post = viaLeaderTab();
    else post = inThisTab();
  }

  document.addEventListener("visibilitychange", function () {
    if (!post) return;
    if (document.hidden) {
      unsubscribeAll();
    } else {
      subscribeAll();
      // What changed while hidden is not replayed for the overview: look once now.
      overviewCallbacks.forEach(function (callback) { callback(null); });
    }
  });
  window.addEventListener("pagehide", function () {
    if (post) post({ type: "bye" });
  });
  window.addEventListener("pageshow", function (event) {
    if (event.persisted && post) subscribeAll(); // back from the back/forward cache
  });

  function watchRun(runId, after, handlers) {
    connect();
    runs.set(runId, { cursor: after, handlers: handlers, ended: false });
    if (!document.hidden) post({ type: "watch", run: runId, after: after });
  }

  function watchOverview(callback) {
    connect();
    overviewCallbacks.push(callback);
    if (overviewCallbacks.length === 1 && !document.hidden) post({ type: "overview", on: true });
  }

  // --- data-live regions ----------------------------------------------------------------------------
  function refreshRegions() {
    if (document.hidden) return;
    fetch(window.location.href, { headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        // Playdeck's own page, every value escaped by the server's templates.
        const fresh = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-live]").forEach(function (region) {
          const update = region.id && fresh.getElementById(region.id);
          // Not under the keyboard focus, which a swap would lose.
          if (!update || region.contains(document.activeElement)) return;
          region.replaceChildren.apply(region, Array.from(update.childNodes));
          region.dataset.refreshedAt = new Date().toISOString();
        });
      })
      .catch(function () {
        // The next change or tick tries again (a web restart, say).
      });
  }

  const regions = document.querySelectorAll("[data-live]");
  if (regions.length) {
    let seen = null;
    watchOverview(function (mark) {
      // null: the tab was shown again and may have missed a change. The first mark is the state the
      // page was drawn in (near enough), and the same mark again (a hub replaying it) is nothing new.
      if (mark !== null) {
        const known = seen;
        seen = mark;
        if (known === null || known === mark) return;
      }
      refreshRegions();
    });
    let every = Infinity;
    regions.forEach(function (region) {
      const seconds = parseFloat(region.dataset.liveEvery);
      if (seconds > 0) every = Math.min(every, seconds);
    });
    if (every !== Infinity) setInterval(refreshRegions, every * 1000);
  }

  window.playdeckLive = { watchRun: watchRun, watchOverview: watchOverview };
})();
