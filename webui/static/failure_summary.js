// The failure summary of a run that ends badly while its page is open: drawn like the page draws it
// (templates/_failure_summary.html) from the run's JSON, which run.js passes with its "run-ended" event.
// Everything from the server is inserted as text, never as HTML.
(function () {
  "use strict";

  const root = document.getElementById("run");
  const banner = document.getElementById("failure-summary");
  if (!root || !banner) {
    return;
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function logLink(failure) {
    const link = element("a", "log-link", failure.task || "a task");
    link.href = "#event-" + failure.counter;
    return link;
  }

  function hostItem(host) {
    const item = element("li");
    item.dataset.host = host.host;
    item.append(element("strong", "", host.host), " " + host.status);
    if (host.failure) {
      item.append(" in ", logLink(host.failure), ": ", element("span", "failure-message", host.failure.message));
    }
    if (host.final) {
      const final = element("span", "final");
      final.append("Finally ", logLink(host.final), ": ", element("span", "final-message", host.final.message));
      item.append(element("br"), final);
    }
    return item;
  }

  function draw(summary) {
    const failed = summary.failed_hosts || [];
    let title = "Run " + summary.state;
    if (failed.length) {
      title += " on " + failed.length + " host" + (failed.length === 1 ? "" : "s") + ": " + failed.join(", ");
    }
    const heading = element("h2", "", title);
    heading.id = "failure-summary-title";
    banner.replaceChildren(heading);
    if (summary.reason) banner.append(element("p", "failure-reason", summary.reason));
    if (summary.hosts && summary.hosts.length) {
      const list = element("ul", "failed-hosts");
      summary.hosts.forEach(function (host) {
        list.appendChild(hostItem(host));
      });
      banner.appendChild(list);
    }
    if (summary.stopped_in) {
      const stopped = element("p", "stopped-in", "Stopped during ");
      stopped.append(logLink(summary.stopped_in), ".");
      banner.appendChild(stopped);
    }
    banner.hidden = false;
  }

  root.addEventListener("run-ended", function (event) {
    if (event.detail.failure_summary && banner.hidden) {
      draw(event.detail.failure_summary);
    }
  });
})();
