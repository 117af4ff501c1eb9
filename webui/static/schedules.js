// The schedule form's live preview: the next five times of the cron expression in its zone and in UTC, asked
// of GET /api/v1/schedules/preview as the user types (the server's evaluation, so what is shown is what fires).
(function () {
  "use strict";

  const cron = document.getElementById("schedule-cron");
  const zone = document.getElementById("schedule-timezone");
  const list = document.getElementById("schedule-preview-times");
  const error = document.getElementById("schedule-preview-error");
  if (!cron || !zone || !list) {
    return;
  }
  const WAIT_MS = 250;
  let timer = null;
  let asked = 0;

  function show(times) {
    list.replaceChildren();
    times.forEach(function (time) {
      const item = document.createElement("li");
      item.textContent = time.local + " (" + time.utc + ")";
      list.appendChild(item);
    });
    error.hidden = true;
  }

  function refresh() {
    const number = ++asked;
    const query = new URLSearchParams({ cron: cron.value, timezone: zone.value });
    fetch("/api/v1/schedules/preview?" + query.toString(), { headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) {
          if (number !== asked) return; // an older answer, overtaken by what was typed since
          if (!response.ok) throw new Error(body.error || "HTTP " + response.status);
          show(body.times);
        });
      })
      .catch(function (problem) {
        if (number !== asked) return;
        list.replaceChildren();
        error.textContent = problem.message;
        error.hidden = false;
      });
  }

  function later() {
    clearTimeout(timer);
    timer = setTimeout(refresh, WAIT_MS);
  }

  cron.addEventListener("input", later);
  zone.addEventListener("input", later);
  refresh();
})();
