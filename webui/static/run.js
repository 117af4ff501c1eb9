// Live run page: follows /api/v1/runs/<id>/stream and fills the log, the state and the host table.
// Everything from the server is inserted as text (textContent / text nodes), never as HTML.
(function () {
  "use strict";

  const root = document.getElementById("run");
  if (!root) {
    return;
  }
  const log = document.getElementById("log");
  const badge = document.getElementById("state-badge");
  const table = document.getElementById("host-summary");
  const pending = document.getElementById("host-summary-pending");
  // Ansible colours its output; the terminal escapes mean nothing in a <pre>.
  const ANSI_ESCAPE = /\u001b\[[0-9;]*[A-Za-z]/g;

  function followsBottom() {
    return window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
  }

  function appendLog(text) {
    const stick = followsBottom();
    log.appendChild(document.createTextNode(text.replace(ANSI_ESCAPE, "") + "\n"));
    if (stick) {
      window.scrollTo(0, document.body.scrollHeight);
    }
  }

  function showState(run) {
    badge.textContent = run.state;
    badge.className = "badge state-" + run.state;
    root.querySelectorAll("[data-field]").forEach(function (cell) {
      const value = run[cell.dataset.field];
      cell.textContent = value === null || value === undefined || value === "" ? "—" : String(value);
    });
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

  function fillHostSummary(run) {
    const columns = Array.from(table.querySelectorAll("th[data-column]")).map(function (th) {
      return th.dataset.column;
    });
    const body = table.tBodies[0];
    body.replaceChildren();
    run.host_summaries.forEach(function (summary) {
      const row = body.insertRow();
      row.insertCell().textContent = summary.host;
      columns.forEach(function (column) {
        const cell = row.insertCell();
        cell.className = "count" + (summary[column] ? " nonzero-" + column : "");
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

  // EventSource reconnects by itself and sends Last-Event-ID, so a dropped connection resumes
  // after the last event shown: no gap and no line twice.
  const source = new EventSource(root.dataset.streamUrl);
  source.addEventListener("run_event", function (message) {
    const event = JSON.parse(message.data);
    if (event.stdout) {
      appendLog(event.stdout);
    }
  });
  source.addEventListener("state", function (message) {
    showState(JSON.parse(message.data));
  });
  source.addEventListener("end", function (message) {
    // Closed here, or the browser would reconnect to a finished stream forever.
    source.close();
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
      });
  });
})();
