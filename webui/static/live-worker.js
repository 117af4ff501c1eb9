// The SharedWorker every Playdeck tab of a browser connects to: one /api/v1/live stream for all of them.
/* global PlaydeckLiveHub */
importScripts("live-hub.js");

(function () {
  "use strict";

  const ports = new Map();
  let next = 1;
  // The page names the stream's URL (the app may not sit at the site's root).
  const url = new URL(self.location.href).searchParams.get("stream");
  const hub = new PlaydeckLiveHub(url, function (id, message) {
    const port = ports.get(id);
    if (port) port.postMessage(message);
  });

  self.onconnect = function (event) {
    const port = event.ports[0];
    const id = next++;
    ports.set(id, port);
    port.onmessage = function (message) {
      if (message.data.type === "describe") {
        port.postMessage({ type: "describe", data: hub.describe() });
        return;
      }
      if (message.data.type === "bye") ports.delete(id);
      hub.handle(id, message.data);
    };
    port.start();
  };
})();
