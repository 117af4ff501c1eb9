// Live run page: the log's tail, then /api/v1/runs/<id>/stream from there on; earlier lines on demand;
// ANSI colours, follow / stop following, search; the state, the progress and the host table.
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
  const earlierButton = document.getElementById("log-earlier");
  const followButton = document.getElementById("log-follow");
  const searchInput = document.getElementById("log-search");
  const searchCount = document.getElementById("log-search-count");
  const TAIL = parseInt(root.dataset.logTail, 10) || 200;
  // A browser tab stays responsive with this many lines; older ones are dropped and can be loaded again.
  const MAX_LINES_KEPT = 5000;
  const MAX_COUNTER = 2147483647;
  const PROGRESS_EVERY_MS = 2000;

  let following = true;
  let query = "";
  let earliest = null; // counter of the first event shown
  let latest = 0; // counter of the last event shown

  // --- ANSI SGR colours -> spans with classes; every other escape sequence is dropped --------------
  const ESCAPE = /\u001b\[([0-9;]*)([A-Za-z])/g;

  function applySgr(style, params) {
    const codes = params === "" ? [0] : params.split(";").map(function (p) { return parseInt(p, 10) || 0; });
    for (let i = 0; i < codes.length; i++) {
      const code = codes[i];
      if (code === 0) {
        style = {};
      } else if (code === 1) {
        style.bold = true;
      } else if (code === 2) {
        style.dim = true;
      } else if (code === 3) {
        style.italic = true;
      } else if (code === 4) {
        style.underline = true;
      } else if (code === 22) {
        style.bold = false;
        style.dim = false;
      } else if (code === 23) {
        style.italic = false;
      } else if (code === 24) {
        style.underline = false;
      } else if ((code >= 30 && code <= 37) || (code >= 90 && code <= 97)) {
        style.fg = code;
      } else if (code === 39) {
        style.fg = null;
      } else if ((code >= 40 && code <= 47) || (code >= 100 && code <= 107)) {
        style.bg = code;
      } else if (code === 49) {
        style.bg = null;
      } else if (code === 38 || code === 48) {
        // 256-colour and true-colour forms: skip their arguments, keep the default colour.
        i += codes[i + 1] === 5 ? 2 : codes[i + 1] === 2 ? 4 : 0;
      }
    }
    return Object.assign({}, style);
  }

  function styleClass(style) {
    const names = [];
    if (style.fg) names.push("ansi-fg-" + style.fg);
    if (style.bg) names.push("ansi-bg-" + style.bg);
    if (style.bold) names.push("ansi-bold");
    if (style.dim) names.push("ansi-dim");
    if (style.italic) names.push("ansi-italic");
    if (style.underline) names.push("ansi-underline");
    return names.join(" ");
  }

  // One log line element for an event's stdout (which may hold several lines).
  function renderLine(event) {
    const line = document.createElement("div");
    line.className = "log-line";
    line.dataset.counter = String(event.counter);
    // The anchor a link to this line uses (#event-<counter>, e.g. from the failure summary).
    line.id = "event-" + event.counter;
    const text = event.stdout;
    let style = {};
    let last = 0;
    function emit(chunk) {
      if (!chunk) return;
      const names = styleClass(style);
      if (names) {
        const span = document.createElement("span");
        span.className = names;
        span.textContent = chunk;
        line.appendChild(span);
      } else {
        line.appendChild(document.createTextNode(chunk));
      }
    }
    ESCAPE.lastIndex = 0;
    let match;
    while ((match = ESCAPE.exec(text)) !== null) {
      emit(text.slice(last, match.index));
      if (match[2] === "m") {
        style = applySgr(style, match[1]);
      }
      last = ESCAPE.lastIndex;
    }
    // Lone escape characters (a cut-off sequence) are not shown either.
    emit(text.slice(last).replace(/\u001b/g, ""));
    applySearch(line);
    return line;
  }

  // --- follow / search ------------------------------------------------------------------------------
  function showFollowing() {
    followButton.setAttribute("aria-pressed", following ? "true" : "false");
    followButton.textContent = following ? "Following" : "Follow";
  }

  function scrollToEnd() {
    if (following) {
      log.scrollTop = log.scrollHeight;
    }
  }

  followButton.addEventListener("click", function () {
    following = !following;
    showFollowing();
    scrollToEnd();
  });

  let lastScrollTop = 0;
  log.addEventListener("scroll", function () {
    const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
    // Scrolling up stops following; scrolling back to the end follows again.
    if (log.scrollTop < lastScrollTop && !atEnd && following) {
      following = false;
      showFollowing();
    } else if (atEnd && !following) {
      following = true;
      showFollowing();
    }
    lastScrollTop = log.scrollTop;
  });

  function applySearch(line) {
    const hit = query !== "" && line.textContent.toLowerCase().includes(query);
    line.classList.toggle("search-hit", hit);
    line.hidden = query !== "" && !hit;
    return hit;
  }

  function searchAll() {
    let hits = 0;
    log.querySelectorAll(".log-line").forEach(function (line) {
      if (applySearch(line)) hits++;
    });
    searchCount.textContent = query === "" ? "" : hits + " matching line" + (hits === 1 ? "" : "s") + " loaded";
  }

  let searchTimer = null;
  searchInput.addEventListener("input", function () {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(function () {
      query = searchInput.value.trim().toLowerCase();
      searchAll();
      scrollToEnd();
    }, 150);
  });
  searchInput.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      searchInput.value = "";
      query = "";
      searchAll();
    }
  });

  // --- the log: tail, live lines, earlier pages -----------------------------------------------------
  function trimOldest() {
    let extra = log.childElementCount - MAX_LINES_KEPT;
    if (extra <= 0) return;
    while (extra-- > 0) {
      log.removeChild(log.firstElementChild);
    }
    // What was dropped can be loaded again.
    earliest = parseInt(log.firstElementChild.dataset.counter, 10);
    earlierButton.hidden = false;
  }

  function appendEvents(events) {
    const fragment = document.createDocumentFragment();
    events.forEach(function (event) {
      if (event.counter <= latest) return; // never a line twice
      latest = event.counter;
      if (earliest === null) earliest = event.counter;
      if (event.stdout) fragment.appendChild(renderLine(event));
    });
    log.appendChild(fragment);
    trimOldest();
    if (query !== "") searchAll();
    scrollToEnd();
  }

  function fetchEvents(params) {
    return fetch(root.dataset.eventsUrl + "?" + new URLSearchParams(params), {
      headers: { Accept: "application/json" },
    }).then(function (response) {
      if (!response.ok) throw new Error("events: HTTP " + response.status);
      return response.json();
    });
  }

  // Up to ``limit`` events just before the first one shown, put in front of it.
  function loadEarlier(limit) {
    return fetchEvents({ before: earliest, limit: limit }).then(function (page) {
      const before = log.scrollHeight;
      const fragment = document.createDocumentFragment();
      page.events.forEach(function (event) {
        if (event.stdout) fragment.appendChild(renderLine(event));
      });
      log.insertBefore(fragment, log.firstChild);
      if (page.events.length) earliest = page.events[0].counter;
      // Keep the lines the reader was looking at in place.
      log.scrollTop += log.scrollHeight - before;
      earlierButton.hidden = page.events.length < limit || earliest <= 1;
      if (query !== "") searchAll();
      return page.events.length;
    });
  }

  earlierButton.addEventListener("click", function () {
    if (earliest === null) return;
    earlierButton.disabled = true;
    loadEarlier(TAIL).then(function () {
      earlierButton.disabled = false;
    });
  });

  // --- a link to a line (#event-<counter>): earlier lines are loaded back to it, then it is shown -------
  const PAGE_MAX = 1000; // the events API's largest page

  function linkedCounter(hash) {
    const match = /^#event-(\d+)$/.exec(hash || "");
    return match ? parseInt(match[1], 10) : null;
  }

  function jumpTo(counter) {
    if (counter === null || earliest === null) return Promise.resolve();
    if (counter < earliest) {
      return loadEarlier(Math.min(PAGE_MAX, earliest - counter + TAIL)).then(function (loaded) {
        return loaded ? jumpTo(counter) : showLine(counter);
      });
    }
    showLine(counter);
    return Promise.resolve();
  }

  // The event's line, or the first one after it (an event without output has no line).
  function showLine(counter) {
    const lines = log.querySelectorAll(".log-line");
    const line = Array.from(lines).find(function (candidate) {
      return parseInt(candidate.dataset.counter, 10) >= counter;
    });
    if (!line) return;
    following = false;
    showFollowing();
    log.querySelectorAll(".log-target").forEach(function (old) {
      old.classList.remove("log-target");
    });
    line.hidden = false;
    line.classList.add("log-target");
    line.scrollIntoView({ block: "center" });
    log.focus({ preventScroll: true });
  }

  document.addEventListener("click", function (event) {
    const link = event.target.closest && event.target.closest('a[href^="#event-"]');
    if (!link) return;
    event.preventDefault();
    history.replaceState(null, "", link.getAttribute("href"));
    jumpTo(linkedCounter(link.getAttribute("href")));
  });
  window.addEventListener("hashchange", function () {
    jumpTo(linkedCounter(window.location.hash));
  });

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
    const source = new EventSource(root.dataset.streamUrl + "?after=" + latest);
    source.addEventListener("run_event", function (message) {
      appendEvents([JSON.parse(message.data)]);
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

  showFollowing();
  fetchEvents({ before: MAX_COUNTER, limit: TAIL })
    .then(function (page) {
      appendEvents(page.events);
      earlierButton.hidden = !(page.events.length >= TAIL && earliest > 1);
      if (!page.terminal) {
        progressTimer = setInterval(refreshProgress, PROGRESS_EVERY_MS);
      }
      return jumpTo(linkedCounter(window.location.hash));
    })
    .catch(function () {
      // The stream alone still shows the log, from its start.
    })
    .then(follow);
})();
