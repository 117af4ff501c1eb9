// Deploy form of a git project: a picker of recent tags and branches (typing filters it, from the refs API)
// and "what will ship": the commits between the environment's deployed commit and the chosen ref.
(function () {
  "use strict";

  const picker = document.getElementById("ref-picker");
  if (!picker) {
    return;
  }
  const input = document.getElementById("ref");
  const options = document.getElementById("ref-options");
  const environment = document.querySelector("select[name=environment]");
  const summary = document.getElementById("ship-summary");
  const deployedLine = document.getElementById("ship-deployed");
  const commits = document.getElementById("ship-commits");
  const WAIT_MS = 250;
  // What may name a commit not in the list (an abbreviated or full id).
  const COMMIT_RE = /^[0-9a-fA-F]{7,40}$/;
  let timer = null;
  let asked = 0;
  let refsAsked = 0;
  // The names the picker lists now: only those (or a commit id) are compared, so a half-typed name
  // ("v1" on the way to "v1.4") is not sent to be refused.
  let listed = [];

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function getJson(url) {
    return fetch(url, { headers: { Accept: "application/json" } }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) throw new Error(body.error || "HTTP " + response.status);
        return body;
      });
    });
  }

  function showRefs(body) {
    listed = body.refs.map(function (ref) {
      return ref.name;
    });
    options.replaceChildren();
    body.refs.forEach(function (ref) {
      const item = element("li");
      const button = element("button", "ref-option");
      button.type = "button";
      button.setAttribute("role", "option");
      button.dataset.ref = ref.name;
      button.append(
        element("span", "ref-name", ref.name),
        element("span", "tag", ref.kind),
        element("code", "small", ref.short_commit),
        element("span", "muted small", ref.date.slice(0, 10)),
        element("span", "small ref-subject", ref.subject)
      );
      button.addEventListener("click", function () {
        input.value = ref.name;
        showChanges();
      });
      item.append(button);
      options.append(item);
    });
    if (!body.refs.length) {
      options.append(element("li", "muted small", "No tag or branch matches."));
    }
  }

  function loadRefs() {
    const number = ++refsAsked;
    const url = picker.dataset.refsUrl + "?limit=20&q=" + encodeURIComponent(input.value.trim());
    return getJson(url)
      .then(function (body) {
        if (number === refsAsked) showRefs(body); // a later keystroke's answer wins
      })
      .catch(function (error) {
        if (number !== refsAsked) return;
        listed = [];
        options.replaceChildren(element("li", "error", error.message));
      });
  }

  function commitItem(change) {
    const item = element("li", change.revert ? "commit revert" : "commit");
    item.append(
      element("code", "", change.short_commit),
      document.createTextNode(" "),
      element("span", "commit-subject", change.subject),
      element("span", "muted small", " — " + change.author)
    );
    return item;
  }

  function showChanges() {
    const ref = input.value.trim();
    const number = ++asked;
    commits.replaceChildren();
    deployedLine.textContent = "";
    summary.classList.remove("rollback");
    if (!ref) {
      summary.textContent = "Choose a branch, tag or commit.";
      return;
    }
    if (listed.indexOf(ref) < 0 && !COMMIT_RE.test(ref)) {
      summary.textContent = "Pick a branch or tag from the list, or type a commit id.";
      return;
    }
    summary.textContent = "…";
    const url =
      picker.dataset.changesUrl.replace("ENVIRONMENT", encodeURIComponent(environment.value)) +
      "?ref=" +
      encodeURIComponent(ref);
    getJson(url)
      .then(function (body) {
        if (number !== asked) return; // a later choice's answer wins
        const deployed = body.deployed;
        deployedLine.textContent = deployed && deployed.commit
          ? "Deployed in " + environment.value + ": " + (deployed.ref || "") + " @ " + deployed.short_commit +
            " " + deployed.subject + " (run #" + deployed.run + ")"
          : "";
        summary.textContent = body.chosen.short_commit + " " + body.chosen.subject + ": " + body.summary;
        summary.classList.toggle("rollback", body.rollback);
        (body.rollback ? body.removed : body.added).forEach(function (change) {
          commits.append(commitItem(change));
        });
      })
      .catch(function (error) {
        if (number !== asked) return;
        summary.textContent = error.message;
      });
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      loadRefs().then(showChanges);
    }, WAIT_MS);
  });
  environment.addEventListener("change", showChanges);
  loadRefs().then(showChanges);
})();
