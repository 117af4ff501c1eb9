// Live run page: /api/v1/runs/<id>/stream after the log's tail (log_view.js shows the log); the state,
// the progress and the host table. Everything from the server is inserted as text, never as HTML.
(function () {
  "use strict";

  const root = document.getElementById("run");
  if (!root) {
    return;
  }
  const badge = document.getElementById("state-badge");
  const table = document.getElementById("host-summary");
  const pending = document.getElementById("host-summary-pending");
  // The log's window, search and filters (log_view.js).
  const logView = window.PlaydeckLog;
  const PROGRESS_EVERY_MS = 2000;

  // --- state, progress, hosts -----------------------------------------------------------------------
  function showState(run) {
    badge.textContent = run.state;
    badge.className = "badge state-" + run.state;
    root.querySelectorAll("[data-field]").forEach(function (cell) {
      const value = run[cell.dataset.field];
      cell.textContent = value === null || value === undefined || value === "" ? "—" : String(value);
    });
    // Times as the page prints them ("2024-05-01 12:00:00 UTC"), and the duration in words.
    root.querySelectorAll("[data-time]").forEach(function (cell) {
      const value = run[cell.dataset.time];
      cell.textContent = value ? value.replace("T", " ").slice(0, 19) + " UTC" : "—";
    });
    const duration = document.getElementById("run-duration");
    if (duration && run.duration_seconds !== null && run.duration_seconds !== undefined) {
      duration.textContent = durationText(run.duration_seconds);
    }
    refreshExplanation();
  }

  // Why the run is in its state ("waiting for run #7, which holds the lock", ...); hidden once it ended.
  function refreshExplanation() {
    const line = document.getElementById("run-explanation");
    if (!line) {
      return;
    }
    fetch(root.dataset.explanationUrl, { headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json();
      })
      .then(function (answer) {
        line.textContent = answer.explanation || "";
        line.hidden = !answer.explanation;
      });
  }

  function durationText(seconds) {
    const whole = Math.round(seconds);
    if (whole < 60) return whole + " s";
    const minutes = Math.floor(whole / 60);
    return minutes < 60 ? minutes + " min " + String(whole % 60).padStart(2, "0") + " s"
      : Math.floor(minutes / 60) + " h " + String(minutes % 60).padStart(2, "0") + " min";
  }

  function showProgress(progress) {
    const box = document.querySelector("#progress .progress");
    if (box) {
      box.replaceChildren();
      const text = document.createElement("span");
      text.className = "progress-text";
      if (progress.percent !== null && progress.expected !== null) {
        const bar = document.createElement("progress");
        bar.max = 100;
        bar.value = progress.percent;
        bar.setAttribute("aria-label", "Run #" + progress.run_id + " progress");
        box.appendChild(bar);
        text.textContent = progress.percent + " % · " + progress.done + " of ~" + progress.expected + " tasks" +
          (progress.eta_seconds === null ? "" : progress.eta_seconds >= 1
            ? " · about " + durationText(progress.eta_seconds) + " left"
            : " · finishing any moment (past the last run's time)");
      } else {
        text.textContent = progress.done + " tasks done (no earlier successful run to compare)";
      }
      box.appendChild(text);
    }
    const body = document.querySelector("#host-progress tbody");
    if (!body || !progress.hosts.length) return;
    body.replaceChildren();
    progress.hosts.forEach(function (host) {
      const row = body.insertRow();
      row.dataset.host = host.host;
      row.insertCell().textContent = host.host;
      const done = row.insertCell();
      done.className = "count";
      done.textContent = String(host.done);
      const expected = row.insertCell();
      expected.className = "count";
      expected.textContent = host.expected === null ? "—" : String(host.expected);
      const cell = row.insertCell();
      if (host.expected) {
        const bar = document.createElement("progress");
        bar.max = host.expected;
        bar.value = Math.min(host.done, host.expected);
        bar.setAttribute("aria-label", host.host);
        cell.appendChild(bar);
      }
    });
  }

  let progressTimer = null;
  function refreshProgress() {
    return fetch(root.dataset.progressUrl, { headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json();
      })
      .then(showProgress);
  }

  function fillHostSummary(run) {
    const columns = Array.from(table.querySelectorAll("th[data-column]")).map(function (th) {
      return th.dataset.column;
    });
    const body = table.tBodies[0];
    body.replaceChildren();
    run.host_summaries.forEach(function (summary) {
      const row = body.insertRow();
      const hostCell = row.insertCell();
      hostCell.className = "host";
      hostCell.textContent = summary.host;
      columns.forEach(function (column) {
        const cell = row.insertCell();
        cell.className = "count" + (summary[column] ? " nonzero-" + column : "");
        cell.dataset.label = column;
        cell.textContent = String(summary[column]);
      });
    });
    table.hidden = false;
    if (pending) {
      pending.hidden = true;
    }
  }

  // The run has ended: it can be relaunched, and on its failed hosts if it has any.
  function showRelaunch(run) {
    const relaunch = document.getElementById("relaunch");
    if (!relaunch) {
      return; // the page leaves the buttons out for a user who may not relaunch
    }
    relaunch.hidden = false;
    document.getElementById("relaunch-failed-form").hidden = !run.host_summaries.some(function (summary) {
      return summary.failed > 0 || summary.unreachable > 0;
    });
  }

  // A deploy that succeeded can be promoted to another environment: its "Promote to" buttons, drawn by the server.
  function showPromotion(run) {
    if (run.state !== "successful") {
      return;
    }
    fetch(root.dataset.promotionUrl, { headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        // The partial is Playdeck's own template output, every value escaped by the server.
        const parsed = new DOMParser().parseFromString(html, "text/html");
        const section = document.getElementById("promotion");
        section.replaceChildren.apply(section, Array.from(parsed.body.childNodes));
      })
      .catch(function () {
        // A reload shows it all the same.
      });
  }

  // --- start: the tail, then the stream after it ----------------------------------------------------
  function follow() {
    // EventSource reconnects by itself and sends Last-Event-ID, so a dropped connection resumes
    // after the last event shown: no gap and no line twice.
    const source = new EventSource(root.dataset.streamUrl + "?after=" + logView.liveEdge());
    source.addEventListener("run_event", function (message) {
      logView.live(JSON.parse(message.data));
    });
    source.addEventListener("state", function (message) {
      showState(JSON.parse(message.data));
    });
    source.addEventListener("end", function (message) {
      // Closed here, or the browser would reconnect to a finished stream forever.
      source.close();
      clearInterval(progressTimer);
      refreshProgress();
      const cancelForm = document.getElementById("cancel-form");
      if (cancelForm) {
        cancelForm.remove(); // nothing left to cancel
      }
      showState(JSON.parse(message.data));
      fetch(root.dataset.runUrl, { headers: { Accept: "application/json" } })
        .then(function (response) {
          return response.json();
        })
        .then(function (run) {
          fillHostSummary(run);
          showRelaunch(run);
          showPromotion(run);
          // For the failure summary (failure_summary.js), which this page does not draw itself.
          root.dispatchEvent(new CustomEvent("run-ended", { detail: run }));
        });
    });
  }

  logView.start()
    .then(function (page) {
      if (!page.terminal) {
        progressTimer = setInterval(refreshProgress, PROGRESS_EVERY_MS);
      }
    })
    .catch(function () {
      // The stream alone still shows the log, from its start.
    })
    .then(follow);
})();
