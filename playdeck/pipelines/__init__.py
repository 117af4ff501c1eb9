"""Pipelines: a project's chains of steps (deploy, another playbook, approval, promote), each step an ordinary run
linked to its pipeline run, all of one commit resolved when the pipeline run started (``engine``)."""
