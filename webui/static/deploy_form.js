// The deploy form's guidance: the chosen environment's hosts (Limit) and what runs there now (Version);
// Enter in a one-line field does not deploy by accident (the Deploy button and Ctrl+Enter do); a deploy to a
// protected environment opens a dialog naming project, environment, version and hosts, and only its Deploy
// button sends the form, with "confirm" set to the environment (the server requires it: webui/confirmation.py).
(function () {
  "use strict";
  var form = document.getElementById("deploy-form");
  if (!form) return;
  var environment = document.getElementById("environment");
  var limit = document.getElementById("limit");
  var version = document.getElementById("version");
  var ref = document.getElementById("ref");
  var confirmInput = document.getElementById("confirm");
  var dialog = document.getElementById("confirm-dialog");

  function chosen() {
    return environment.options[environment.selectedIndex];
  }

  function hostsOf(option) {
    var text = option.getAttribute("data-hosts") || "";
    return text ? text.split(",") : [];
  }

  function showEnvironment() {
    var option = chosen();
    document.getElementById("now-running-environment").textContent = option.value;
    document.getElementById("now-running-version").textContent =
      option.getAttribute("data-now-running") || "nothing deployed yet";
    var hosts = hostsOf(option);
    var list = document.getElementById("limit-hosts");
    list.textContent = "";
    hosts.forEach(function (host) {
      var item = document.createElement("option");
      item.value = host;
      list.appendChild(item);
    });
    var names = document.getElementById("limit-host-names");
    if (names) names.textContent = hosts.join(", ");
  }
  environment.addEventListener("change", showEnvironment);

  function wanted() {
    var option = chosen();
    var hosts = limit.value.trim();
    var all = hostsOf(option);
    return {
      project: form.getAttribute("data-project"),
      environment: option.value,
      version: [version.value.trim(), ref ? ref.value.trim() : ""].filter(Boolean).join(" @ ") ||
        "(the playbook's default)",
      hosts: hosts || ("all hosts" + (all.length ? " (" + all.join(", ") + ")" : "")),
      isProtected: option.getAttribute("data-protected") === "true"
    };
  }

  function askThenSubmit() {
    var deploy = wanted();
    if (!deploy.isProtected || !dialog || typeof dialog.showModal !== "function") {
      form.submit();
      return;
    }
    ["project", "environment", "version", "hosts"].forEach(function (name) {
      document.getElementById("confirm-" + name).textContent = deploy[name];
    });
    dialog.returnValue = "";
    dialog.showModal();
  }

  if (dialog) {
    dialog.addEventListener("close", function () {
      if (dialog.returnValue === "deploy") {
        confirmInput.value = chosen().value;
        form.submit();
      }
    });
  }

  form.addEventListener("submit", function (event) {
    // Reached by the Deploy button only (Enter is held back below); form.submit() does not come here.
    event.preventDefault();
    askThenSubmit();
  });

  form.addEventListener("keydown", function (event) {
    if (event.key !== "Enter") return;
    if (event.ctrlKey || event.metaKey) {
      event.preventDefault();
      askThenSubmit();
      return;
    }
    var target = event.target;
    // Enter still makes a new line in a text area and presses a focused button.
    if (target.tagName === "INPUT" && target.type !== "submit" && target.type !== "button") {
      event.preventDefault();
    }
  });
})();
