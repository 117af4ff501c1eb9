// The live hub: the one EventSource a browser holds to /api/v1/live, shared by all its tabs. It runs in
// the SharedWorker (live-worker.js), or in one leader tab where SharedWorker is missing (live.js).
// Each client (a tab) watches runs from its own cursor (the last event counter it has) and/or the
// overview; the stream is reopened with the lowest cursor per run whenever the set of runs changes, and
// each event goes to the clients that have not had it yet: no gap, no line twice.
(function (scope) {
  "use strict";

  const RECONNECT_MS = 2000;
  // Tabs opening or going hidden together change the set at once: one reconnect for all of them.
  const SETTLE_MS = 50;

  function Hub(streamUrl, deliver) {
    const clients = new Map(); // client id -> {runs: Map(run id -> cursor), overview: bool}
    const states = new Map(); // run id -> its last "state" message, for a client that joins later
    let streamed = new Map(); // run id -> the last counter the open stream has carried
    let streamsOverview = false;
    let mark = null;
    let source = null;
    let timer = null;

    function client(id) {
      if (!clients.has(id)) clients.set(id, { runs: new Map(), overview: false });
      return clients.get(id);
    }

    function wanted() {
      const runs = new Map();
      let overview = false;
      clients.forEach(function (entry) {
        entry.runs.forEach(function (cursor, run) {
          runs.set(run, runs.has(run) ? Math.min(runs.get(run), cursor) : cursor);
        });
        overview = overview || entry.overview;
      });
      return { runs: runs, overview: overview };
    }

    function reopenSoon(delay) {
      clearTimeout(timer);
      timer = setTimeout(open, delay);
    }

    function each(run, callback) {
      clients.forEach(function (entry, id) {
        if (entry.runs.has(run)) callback(id, entry);
      });
    }

    function onRunEvent(message) {
      const event = JSON.parse(message.data);
      streamed.set(event.run_id, Math.max(streamed.get(event.run_id) || 0, event.counter));
      each(event.run_id, function (id, entry) {
        if (event.counter > entry.runs.get(event.run_id)) {
          entry.runs.set(event.run_id, event.counter);
          deliver(id, { type: "run_event", run: event.run_id, data: event });
        }
      });
    }

    function onRunMessage(type) {
      return function (message) {
        const data = JSON.parse(message.data);
        const run = type === "gone" ? data.run_id : data.id;
        if (type === "state") {
          // A reconnect replays each run's state; its tabs have it already (and each would refetch).
          if (states.has(run) && states.get(run).text === message.data) return;
          states.set(run, { text: message.data, data: data });
        }
        each(run, function (id, entry) {
          deliver(id, { type: type, run: run, data: data });
          // An ended or vanished run is not asked for again.
          if (type !== "state") entry.runs.delete(run);
        });
        if (type !== "state") {
          streamed.delete(run);
          states.delete(run);
        }
      };
    }

    function open() {
      if (source) source.close();
      source = null;
      const want = wanted();
      streamed = new Map(want.runs);
      streamsOverview = want.overview;
      if (!want.runs.size && !want.overview) return;
      const params = new URLSearchParams();
      if (want.runs.size) {
        params.set("runs", Array.from(want.runs, function (pair) { return pair[0] + ":" + pair[1]; }).join(","));
      }
      if (want.overview) params.set("overview", "true");
      source = new EventSource(streamUrl + "?" + params);
      source.addEventListener("run_event", onRunEvent);
      ["state", "end", "gone"].forEach(function (type) {
        source.addEventListener(type, onRunMessage(type));
      });
      source.addEventListener("overview", function (message) {
        mark = JSON.parse(message.data);
        clients.forEach(function (entry, id) {
          if (entry.overview) deliver(id, { type: "overview", mark: mark });
        });
      });
      // Reconnect ourselves, with the cursors as they are now: the browser's own retry would resend
      // the first URL's cursors. A stream that ended because every run did is not reopened for nothing.
      source.onerror = function () {
        source.close();
        source = null;
        reopenSoon(RECONNECT_MS);
      };
    }

    function watch(id, run, after) {
      client(id).runs.set(run, after);
      if (states.has(run)) deliver(id, { type: "state", run: run, data: states.get(run).data });
      // Already streamed past where this client is: a new stream from its cursor; otherwise the
      // next events reach it anyway.
      if (!source || !streamed.has(run) || streamed.get(run) > after) reopenSoon(SETTLE_MS);
    }

    function unwatch(id, run) {
      client(id).runs.delete(run);
      if (!wanted().runs.has(run)) reopenSoon(SETTLE_MS);
    }

    function overview(id, on) {
      client(id).overview = on;
      if (on && mark !== null && streamsOverview && source) deliver(id, { type: "overview", mark: mark });
      if (on !== streamsOverview && on === wanted().overview) reopenSoon(SETTLE_MS);
    }

    function drop(id) {
      const entry = clients.get(id);
      clients.delete(id);
      if (entry && (entry.runs.size || entry.overview)) reopenSoon(SETTLE_MS);
    }

    // One entry point for every message a client sends.
    this.handle = function (id, message) {
      if (message.type === "watch") watch(id, message.run, message.after);
      else if (message.type === "unwatch") unwatch(id, message.run);
      else if (message.type === "overview") overview(id, message.on);
      else if (message.type === "bye") drop(id);
    };
    // For tests and the curious: what the shared stream carries now.
    this.describe = function () {
      return { runs: Array.from(streamed.keys()), overview: streamsOverview, clients: clients.size, open: !!source };
    };
  }

  scope.PlaydeckLiveHub = Hub;
})(self);
