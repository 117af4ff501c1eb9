// The run page's log: a window of the run's events, however long the run. It opens on the tail (or on
// the line a #event-<counter> link names), loads earlier lines as the reader scrolls up and later ones as
// they scroll down, jumps to the start, the end, the first failure or a search hit; filters by host and
// outcome and searches the whole run on the server. ANSI colours become classes; everything from the
// server is inserted as text (textContent / text nodes), never as HTML.
// run.js feeds it the live stream: PlaydeckLog.start() → {terminal}, PlaydeckLog.live(event),
// PlaydeckLog.liveEdge() (the counter to stream after).
(function () {
  "use strict";

  const root = document.getElementById("run");
  if (!root) {
    return;
  }
  const log = document.getElementById("log");
  const earlierButton = document.getElementById("log-earlier");
  const startButton = document.getElementById("log-start");
  const endButton = document.getElementById("log-end");
  const failureButton = document.getElementById("log-first-failure");
  const followButton = document.getElementById("log-follow");
  const hostSelect = document.getElementById("log-host");
  const statusSelect = document.getElementById("log-status");
  const searchForm = document.getElementById("log-search-form");
  const searchInput = document.getElementById("log-search");
  const searchCount = document.getElementById("log-search-count");
  const previousHitButton = document.getElementById("log-hit-previous");
  const nextHitButton = document.getElementById("log-hit-next");
  const hitList = document.getElementById("log-hits");
  const problem = document.getElementById("log-problem");
  const eventsUrl = root.dataset.eventsUrl;
  const searchUrl = root.dataset.searchUrl;
  const TAIL = parseInt(root.dataset.logTail, 10) || 200;
  const PAGE = 1000; // events per load while scrolling (the API's largest page)
  const AROUND = 100; // events each side of a line jumped to
  // A browser tab stays responsive with this many lines; the farthest ones are dropped and load again.
  const MAX_LINES_KEPT = 5000;
  const MAX_COUNTER = 2147483647;
  const NEAR_EDGE_PX = 150;
  const FAILURE_EVENTS = ["runner_on_failed", "runner_item_on_failed", "runner_on_unreachable"];
  const TARGET = /^#event-(\d{1,10})$/;

  let following = true;
  let earliest = null; // counter of the first event of the window
  let windowEnd = 0; // every event the filter keeps up to this counter is in the window
  let atStart = false; // nothing the filter keeps lies before the window
  let attached = true; // the window reaches the run's newest event: live events join it
  let liveEdge = 0; // the newest counter the page knows the run has
  let loading = null; // the load under way (one at a time)
  let laterTimer = null;
  let pending = []; // live events that came during a load
  let failureCounter = null;

  // --- ANSI SGR colours -> spans with classes; every other escape sequence is dropped --------------
  const ESCAPE = /\u001b\[([0-9;]*)([A-Za-z])/g;
  const SGR = {
    1: { bold: true }, 2: { dim: true }, 3: { italic: true }, 4: { underline: true },
    22: { bold: false, dim: false }, 23: { italic: false }, 24: { underline: false },
    39: { fg: null }, 49: { bg: null },
  };

  function applySgr(style, params) {
    const codes = params === "" ? [0] : params.split(";").map(function (p) { return parseInt(p, 10) || 0; });
    for (let i = 0; i < codes.length; i++) {
      const code = codes[i];
      if (code === 0) {
        style = {};
      } else if (SGR[code]) {
        style = Object.assign({}, style, SGR[code]);
      } else if ((code >= 30 && code <= 37) || (code >= 90 && code <= 97)) {
        style.fg = code;
      } else if ((code >= 40 && code <= 47) || (code >= 100 && code <= 107)) {
        style.bg = code;
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
    line.id = "event-" + event.counter;
    line.dataset.counter = String(event.counter);
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
    markSearched(line);
    return line;
  }

  function rendered(events) {
    const fragment = document.createDocumentFragment();
    events.forEach(function (event) {
      noteHost(event.host);
      if (FAILURE_EVENTS.indexOf(event.event) >= 0) noteFailure(event.counter);
      if (event.stdout) fragment.appendChild(renderLine(event));
    });
    return fragment;
  }

  // --- requests -------------------------------------------------------------------------------------
  function filterParams(params) {
    if (hostSelect.value) params.host = hostSelect.value;
    if (statusSelect.value) params.status = statusSelect.value;
    return params;
  }

  function filtered() {
    return hostSelect.value !== "" || statusSelect.value !== "";
  }

  function getJson(url, params) {
    return fetch(url + "?" + new URLSearchParams(params), { headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) throw new Error(body.error || "HTTP " + response.status);
          return body;
        });
      });
  }

  function fetchEvents(params) {
    return getJson(eventsUrl, filterParams(params));
  }

  function ignore() {}

  // One load at a time; a newer one (a jump, a filter change) waits for the one under way. Live events
  // that arrive meanwhile wait too, then join the window as it is after the load.
  function exclusive(load) {
    const current = (loading || Promise.resolve()).then(load);
    const settled = current.then(function () {
      problem.hidden = true;
    }, function (error) {
      problem.textContent = "The log could not be loaded: " + error.message;
      problem.hidden = false;
    }).then(function () {
      if (loading !== settled) return;
      loading = null;
      const queued = pending;
      pending = [];
      queued.forEach(absorb);
    });
    loading = settled;
    return current;
  }

  // --- the window -----------------------------------------------------------------------------------
  function showWindowState() {
    earlierButton.hidden = atStart;
    startButton.hidden = atStart && log.scrollTop === 0;
    endButton.hidden = attached && following;
  }

  function replaceWindow(events, reachesStart, reachesEnd, edgeWhenAsked) {
    log.replaceChildren(rendered(events));
    earliest = events.length ? events[0].counter : null;
    windowEnd = events.length ? events[events.length - 1].counter : 0;
    atStart = reachesStart;
    attached = reachesEnd;
    if (attached) windowEnd = Math.max(windowEnd, edgeWhenAsked);
    if (earliest === null && attached) earliest = windowEnd + 1;
    noteEdge(windowEnd);
    showWindowState();
  }

  // Drops the lines farthest from where the reader is (``newest``: those at the end); they load again.
  function trim(newest) {
    let extra = log.childElementCount - MAX_LINES_KEPT;
    if (extra <= 0) return;
    while (extra-- > 0) log.removeChild(newest ? log.lastElementChild : log.firstElementChild);
    if (newest) {
      windowEnd = parseInt(log.lastElementChild.dataset.counter, 10);
      attached = false;
    } else {
      earliest = parseInt(log.firstElementChild.dataset.counter, 10);
      atStart = false;
    }
  }

  function appendEvents(events, reachesEnd, edgeWhenAsked) {
    log.appendChild(rendered(events));
    if (events.length) windowEnd = Math.max(windowEnd, events[events.length - 1].counter);
    if (reachesEnd) {
      attached = true;
      windowEnd = Math.max(windowEnd, edgeWhenAsked);
    }
    if (earliest === null && events.length) earliest = events[0].counter;
    trim(false);
    noteEdge(windowEnd);
    showWindowState();
    scrollToEnd();
  }

  function loadTail() {
    return exclusive(function () {
      const edge = liveEdge;
      return fetchEvents({ before: MAX_COUNTER, limit: TAIL }).then(function (page) {
        replaceWindow(page.events, page.events.length < TAIL, true, edge);
        following = true;
        showFollowing();
        scrollToEnd();
        return page;
      });
    });
  }

  function loadEarlier() {
    if (atStart || earliest === null || loading) return;
    exclusive(function () {
      earlierButton.disabled = true;
      return fetchEvents({ before: earliest, limit: PAGE }).then(function (page) {
        const before = log.scrollHeight;
        log.insertBefore(rendered(page.events), log.firstChild);
        if (page.events.length) earliest = page.events[0].counter;
        atStart = page.events.length < PAGE;
        // Keep the lines the reader was looking at in place.
        log.scrollTop += log.scrollHeight - before;
        trim(true);
        showWindowState();
      }).finally(function () {
        earlierButton.disabled = false;
      });
    });
  }

  function loadLater() {
    if ((attached && !filtered()) || loading) return;
    exclusive(function () {
      const edge = liveEdge;
      return fetchEvents({ after: windowEnd, limit: PAGE }).then(function (page) {
        appendEvents(page.events, page.events.length < PAGE, edge);
      });
    });
  }

  // The window around one event, which is then highlighted and scrolled to.
  function jumpTo(counter) {
    counter = Math.min(counter, MAX_COUNTER - 1);
    return exclusive(function () {
      const edge = liveEdge;
      return Promise.all([
        fetchEvents({ before: counter + 1, limit: AROUND }),
        fetchEvents({ after: counter, limit: AROUND }),
      ]).then(function (pages) {
        const reachesEnd = pages[1].events.length < AROUND;
        replaceWindow(pages[0].events.concat(pages[1].events), pages[0].events.length < AROUND, reachesEnd, edge);
        following = false;
        showFollowing();
        highlight(counter);
      });
    });
  }

  function highlight(counter) {
    log.querySelectorAll(".log-target").forEach(function (line) {
      line.classList.remove("log-target");
    });
    // The event itself, or the first shown after it (an event without output has no line).
    const lines = Array.from(log.children);
    const line = lines.find(function (element) {
      return parseInt(element.dataset.counter, 10) >= counter;
    }) || lines[lines.length - 1];
    if (!line) return;
    line.classList.add("log-target");
    line.scrollIntoView({ block: "center" });
    showWindowState();
  }

  function goToStart() {
    return exclusive(function () {
      const edge = liveEdge;
      return fetchEvents({ after: 0, limit: PAGE }).then(function (page) {
        replaceWindow(page.events, true, page.events.length < PAGE, edge);
        following = false;
        showFollowing();
        log.scrollTop = 0;
        showWindowState();
      });
    });
  }

  // --- follow ---------------------------------------------------------------------------------------
  function showFollowing() {
    followButton.setAttribute("aria-pressed", following ? "true" : "false");
    followButton.textContent = following ? "Following" : "Follow";
  }

  function scrollToEnd() {
    if (following && attached) log.scrollTop = log.scrollHeight;
  }

  followButton.addEventListener("click", function () {
    following = !following;
    showFollowing();
    if (following && !attached) {
      loadTail();
    } else {
      scrollToEnd();
      showWindowState();
    }
  });

  let lastScrollTop = 0;
  log.addEventListener("scroll", function () {
    const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
    // Scrolling up stops following; scrolling back to the live end follows again.
    if (log.scrollTop < lastScrollTop && !atEnd && following) {
      following = false;
      showFollowing();
    } else if (atEnd && attached && !following) {
      following = true;
      showFollowing();
    }
    // No click trains: the next page loads as the reader nears either edge of the window.
    if (log.scrollTop < lastScrollTop && log.scrollTop < NEAR_EDGE_PX) loadEarlier();
    if (log.scrollTop > lastScrollTop && !attached && log.scrollTop + log.clientHeight > log.scrollHeight - NEAR_EDGE_PX) {
      loadLater();
    }
    lastScrollTop = log.scrollTop;
    showWindowState();
  });

  earlierButton.addEventListener("click", loadEarlier);
  startButton.addEventListener("click", goToStart);
  endButton.addEventListener("click", loadTail);

  // --- hosts and failures seen ----------------------------------------------------------------------
  function noteHost(host) {
    if (!host) return;
    const options = Array.from(hostSelect.options).slice(1);
    if (options.some(function (option) { return option.value === host; })) return;
    const option = new Option(host, host);
    const next = options.find(function (existing) { return existing.value > host; });
    hostSelect.insertBefore(option, next || null);
  }

  function noteFailure(counter) {
    if (failureCounter !== null && failureCounter <= counter) return;
    failureCounter = counter;
    failureButton.hidden = false;
  }

  function noteEdge(counter) {
    liveEdge = Math.max(liveEdge, counter);
  }

  failureButton.addEventListener("click", function () {
    // The first failure of the whole run (of the host chosen, if one is): asked for, since the one seen
    // may not be the first.
    const params = { status: "failed,unreachable", limit: 1 };
    if (hostSelect.value) params.host = hostSelect.value;
    getJson(eventsUrl, params).then(function (page) {
      if (page.events.length) goToEvent(page.events[0].counter);
    }, ignore);
  });

  // The line with this counter, in the whole log (filters off), and its address in the URL.
  function goToEvent(counter) {
    if (filtered()) {
      hostSelect.value = statusSelect.value = "";
      clearHits();
    }
    if (location.hash !== "#event-" + counter) {
      history.replaceState(null, "", "#event-" + counter);
    }
    return jumpTo(counter);
  }

  function filterChanged() {
    clearHits();
    loadTail();
    if (searchInput.value.trim()) search({});
  }
  hostSelect.addEventListener("change", filterChanged);
  statusSelect.addEventListener("change", filterChanged);

  // --- search over the whole run --------------------------------------------------------------------
  let query = "";
  let results = null; // the last page of hits
  let current = -1; // index in results.hits of the hit shown
  let searchesAsked = 0; // searches sent so far: the last one's answer is the one shown
  let resultsQuery = ""; // the text the hits shown were found for

  function markSearched(line) {
    line.classList.toggle("search-hit", query !== "" && line.textContent.toLowerCase().includes(query));
  }

  function clearHits() {
    results = null;
    current = -1;
    hitList.replaceChildren();
    hitList.hidden = true;
    previousHitButton.hidden = nextHitButton.hidden = true;
  }

  function countText(page) {
    if (page.total === 0) return "No match in the whole log" + (filtered() ? " for this host and status" : "");
    const total = page.total.toLocaleString("en") + (page.total_exact ? "" : "+");
    const noun = page.total === 1 && page.total_exact ? " match" : " matches";
    if (page.first_index === null) {
      return total + noun + " (showing hits past the first " + page.total.toLocaleString("en") + ")";
    }
    const last = page.first_index + page.hits.length - 1;
    return total + noun + " (showing " + page.first_index + "–" + last + ")";
  }

  function showHits(page) {
    results = page;
    hitList.replaceChildren();
    page.hits.forEach(function (hit, index) {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "log-hit";
      const where = document.createElement("span");
      where.className = "muted";
      where.textContent = "#" + hit.counter + (hit.host ? " " + hit.host : "") + " ";
      button.append(where, document.createTextNode(hit.snippet));
      button.addEventListener("click", function () { select(index); });
      item.appendChild(button);
      hitList.appendChild(item);
    });
    hitList.hidden = page.hits.length === 0;
    searchCount.textContent = countText(page);
    previousHitButton.hidden = nextHitButton.hidden = page.hits.length === 0;
    return page;
  }

  function search(cursor) {
    query = searchInput.value.trim().toLowerCase();
    log.querySelectorAll(".log-line").forEach(markSearched);
    if (query === "") {
      clearHits();
      searchCount.textContent = "";
      return Promise.resolve(null);
    }
    searchCount.textContent = "Searching the whole log…";
    const params = filterParams(Object.assign({ q: searchInput.value.trim() }, cursor));
    // Only the newest search shows its answer: an older one (the typing's, sent a moment before a click)
    // may answer last on a busy server and would put its page of hits back over the newer one.
    const asked = ++searchesAsked;
    const text = query;
    return getJson(searchUrl, params).then(function (page) {
      if (asked !== searchesAsked) return null;
      resultsQuery = text;
      return showHits(page);
    }, function (error) {
      if (asked !== searchesAsked) return null;
      clearHits();
      searchCount.textContent = error.message;
      return null;
    });
  }

  function select(index) {
    current = index;
    Array.from(hitList.querySelectorAll(".log-hit")).forEach(function (button, i) {
      button.setAttribute("aria-current", i === index ? "true" : "false");
    });
    jumpTo(results.hits[index].counter);
  }

  function step(forward) {
    if (!results || !results.hits.length) return;
    const target = current + (forward ? 1 : -1);
    if (target >= 0 && target < results.hits.length) {
      select(target);
    } else if (forward && results.has_next) {
      search({ after: results.hits[results.hits.length - 1].counter }).then(function (page) {
        if (page && page.hits.length) select(0);
      });
    } else if (!forward && results.has_previous) {
      search({ before: results.hits[0].counter }).then(function (page) {
        if (page && page.hits.length) select(page.hits.length - 1);
      });
    }
  }
  nextHitButton.addEventListener("click", function () { step(true); });
  previousHitButton.addEventListener("click", function () { step(false); });

  let searchTimer = null; // the search typing asks for, once it pauses
  searchForm.addEventListener("submit", function (event) {
    event.preventDefault();
    clearTimeout(searchTimer); // the typing's search is this one
    // Enter searches; Enter again on the same text goes to the next hit.
    if (results && searchInput.value.trim().toLowerCase() === resultsQuery) {
      step(true);
    } else {
      search({}).then(function (page) {
        if (page && page.hits.length) select(0);
      });
    }
  });
  searchInput.addEventListener("input", function () {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(function () { search({}); }, 400);
  });
  searchInput.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      searchInput.value = "";
      search({});
    }
  });

  // --- #event-<counter> -----------------------------------------------------------------------------
  function targetOfHash() {
    const match = TARGET.exec(location.hash);
    return match ? parseInt(match[1], 10) : null;
  }

  // A link to a line of this run (a failure summary's) changes only the fragment: show that line.
  window.addEventListener("hashchange", function () {
    const counter = targetOfHash();
    if (counter !== null) goToEvent(counter);
  });

  // --- for run.js -----------------------------------------------------------------------------------
  function live(event) {
    noteHost(event.host);
    if (FAILURE_EVENTS.indexOf(event.event) >= 0) noteFailure(event.counter);
    noteEdge(event.counter);
    absorb(event);
  }

  function absorb(event) {
    if (loading) {
      pending.push(event);
      return;
    }
    if (!attached) {
      showWindowState(); // the window is elsewhere: "Go to end" reaches the new lines
      return;
    }
    if (filtered()) {
      // The server decides what a filter keeps: ask it for the new lines, at most every second.
      if (laterTimer === null) {
        laterTimer = setTimeout(function () {
          laterTimer = null;
          loadLater();
        }, 1000);
      }
      return;
    }
    if (event.counter > windowEnd) appendEvents([event], true, event.counter); // never a line twice
  }

  function checkForFailure() {
    if (failureButton.dataset.look === "no") return;
    getJson(eventsUrl, { status: "failed,unreachable", limit: 1 }).then(function (page) {
      if (page.events.length) noteFailure(page.events[0].counter);
    }, ignore);
  }

  function start() {
    showFollowing();
    const target = targetOfHash();
    const opened = loadTail().then(function (page) {
      if (target !== null) jumpTo(target);
      return page;
    });
    opened.then(checkForFailure, ignore);
    return opened;
  }

  window.PlaydeckLog = {
    start: start,
    live: live,
    liveEdge: function () { return liveEdge; },
  };
})();
