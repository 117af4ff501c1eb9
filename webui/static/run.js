// Live run page: the run's events over the browser's shared stream (live.js) after the log's tail
// (log_view.js shows the log); the state,
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
  const runId = parseInt(root.dataset.runId, 10);
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
    if (run.duration_seconds !== null && run.duration_seconds !== undefined) {
      tickFrom(run.duration_seconds, run.state === "running");
    }
    refreshExplanation();
  }

  // --- the duration ticks while the run runs --------------------------------------------------------
  // Counted from the server's duration (never the browser's clock, which may be off), on the page's
  // monotonic clock; every new state from the server sets it again.
  let tickBase = null;
  let ticker = null;

  // "No output for N s": counted on from the server's figure, back to zero with every new line.
  const silence = document.getElementById("run-silence");
  let quietSince = silence ? performance.now() - parseFloat(silence.dataset.seconds) * 1000 : null;

  function showSilence() {
    if (!silence || quietSince === null) return;
    const seconds = (performance.now() - quietSince) / 1000;
    const idle = parseInt(silence.dataset.idleTimeout, 10);
    silence.textContent = "No output for " + durationText(seconds) +
      (idle ? " (the idle timeout stops the run after " + durationText(idle) + ")" : "");
    silence.hidden = seconds < parseFloat(silence.dataset.noticeAfter);
  }

  function tickFrom(seconds, running) {
    const duration = document.getElementById("run-duration");
    if (!duration) return;
    clearInterval(ticker);
    ticker = null;
    tickBase = performance.now() - seconds * 1000;
    duration.textContent = durationText(seconds);
    if (running) {
      ticker = setInterval(function () {
        duration.textContent = durationText((performance.now() - tickBase) / 1000);
        showSilence();
      }, 1000);
    } else if (silence) {
      silence.hidden = true; // it has ended: nothing is late any more
      quietSince = null;
    }
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
        // One estimate: the time left is the same fraction of the compared run's work as the percent.
        text.textContent = progress.percent + " % · " + progress.done + " of ~" + progress.expected + " steps" +
          (progress.terminal ? "" : progress.eta_seconds === null
            ? " · more steps than the run compared with: no estimate"
            : progress.eta_seconds >= 1 ? " · about " + durationText(progress.eta_seconds) + " left"
              : " · finishing any moment");
      } else {
        text.textContent = progress.done + " steps done (" +
          (progress.baseline_note || "no earlier successful run to compare") + ")";
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
  // Progress is asked for again only after new lines arrived (and not while the tab is hidden).
  let progressStale = false;
  function refreshProgressIfStale() {
    if (progressStale && !document.hidden) {
      progressStale = false;
      refreshProgress();
    }
  }

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
    // Over the browser's one shared stream (live.js): from the last event shown, so a reconnect, or
    // this tab coming back from hidden, misses no line and shows none twice.
    window.playdeckLive.watchRun(runId, logView.liveEdge(), {
      run_event: function (event) {
        logView.live(event);
        progressStale = true;
        if (quietSince !== null) {
          quietSince = performance.now();
          showSilence();
        }
      },
      state: showState,
      end: function (run) {
        clearInterval(progressTimer);
        refreshProgress();
        const cancelForm = document.getElementById("cancel-form");
        if (cancelForm) {
          cancelForm.remove(); // nothing left to cancel
        }
        showState(run);
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
      },
    });
  }

  if (root.dataset.state === "running" && root.dataset.durationSeconds) {
    tickFrom(parseFloat(root.dataset.durationSeconds), true);
  }
  logView.start()
    .then(function (page) {
      if (!page.terminal) {
        progressTimer = setInterval(refreshProgressIfStale, PROGRESS_EVERY_MS);
      }
    })
    .catch(function () {
      // The stream alone still shows the log, from its start.
    })
    .then(follow);
})();
