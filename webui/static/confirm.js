// Forms marked data-confirm="question" (cancel, relaunch, unprotect) ask before they post, and send
// confirm=yes when the person agrees; without JavaScript the server asks on a page of its own instead
// (webui/confirmation.py).
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (!question) return;
    event.preventDefault();
    if (!window.confirm(question)) return;
    var field = form.querySelector("input[name=confirm]");
    if (!field) {
      field = document.createElement("input");
      field.type = "hidden";
      field.name = "confirm";
      form.appendChild(field);
    }
    field.value = "yes";
    form.submit();
  });
})();
