// The pipeline run page's strip of steps kept current: while the pipeline run goes on, its JSON is asked for
// every few seconds (GET /api/v1/pipeline-runs/<id>) and each step's state, duration and run link redrawn.
(function () {
  "use strict";

  const strip = document.getElementById("pipeline-strip");
  if (!strip) {
    return;
  }
  const EVERY_MS = 2000;

  function badge(state) {
    const span = document.createElement("span");
    span.className = "badge state-" + state;
    span.textContent = state;
    return span;
  }

  function drawStep(step) {
    const item = document.getElementById("step-" + step.name);
    if (!item) {
      return;
    }
    item.className = "pipeline-step step-" + step.state;
    item.querySelector(".step-state").replaceChildren(badge(step.state));
    const seconds = step.duration_seconds;
    item.querySelector(".step-duration").textContent = seconds === null ? "" : Math.round(seconds) + " s";
    const run = item.querySelector(".step-run");
    run.replaceChildren();
    if (step.run_id) {
      const link = document.createElement("a");
      link.href = "/runs/" + step.run_id;
      link.textContent = "run #" + step.run_id;
      run.appendChild(link);
    }
    item.querySelector(".step-reason").textContent = step.reason;
  }

  function draw(pipelineRun) {
    pipelineRun.steps.forEach(drawStep);
    document.getElementById("pipeline-state").replaceChildren(badge(pipelineRun.state));
    document.getElementById("pipeline-reason").textContent = pipelineRun.reason;
    strip.dataset.state = pipelineRun.state;
  }

  function poll() {
    fetch(strip.dataset.url, { headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (pipelineRun) {
        if (pipelineRun) {
          draw(pipelineRun);
        }
      })
      .catch(function () {})
      .finally(function () {
        if (strip.dataset.state === "running") {
          window.setTimeout(poll, EVERY_MS);
        }
      });
  }

  if (strip.dataset.state === "running") {
    window.setTimeout(poll, EVERY_MS);
  }
})();
