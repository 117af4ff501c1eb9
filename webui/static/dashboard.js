// Dashboard: refreshes the "In progress" section (runs with their progress, runs needing attention)
// from a server-rendered partial every few seconds, so progress moves without reloading the page.
(function () {
  "use strict";

  const section = document.getElementById("active-runs");
  if (!section) {
    return;
  }
  const EVERY_MS = 3000;

  function refresh() {
    // Not while hidden (a background tab), nor under the keyboard focus, which a swap would lose.
    if (document.hidden || section.contains(document.activeElement)) {
      return;
    }
    fetch(section.dataset.refreshUrl, { headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        // The partial is Playdeck's own template output, every value escaped by the server.
        const parsed = new DOMParser().parseFromString(html, "text/html");
        section.replaceChildren.apply(section, Array.from(parsed.body.childNodes));
        section.dataset.refreshedAt = new Date().toISOString();
      })
      .catch(function () {
        // The next tick tries again (a web restart, say).
      });
  }

  setInterval(refresh, EVERY_MS);
})();
