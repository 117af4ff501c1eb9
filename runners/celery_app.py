"""The worker's Celery app: ``celery -A runners.celery_app worker`` (see ``playdeck worker``)."""

from __future__ import annotations

from celery.signals import worker_process_init, worker_ready

from playdeck import db
from playdeck.taskqueue import make_celery
from runners import orphans, processes

app = make_celery(name="playdeck-worker")
app.conf.include = ["runners.tasks"]


@worker_process_init.connect
def _prepare_pool_process(**_kwargs) -> None:
    # Connections inherited from the master must not be shared with it across fork.
    db.dispose_after_fork()
    # Keep ansible's orphaned task workers as our own children so a cancel can stop them all.
    processes.become_subreaper()


@worker_ready.connect
def _start_orphan_sweeper(**_kwargs) -> None:
    # In the master, which outlives its pool processes: it notices when one of them dies mid-run.
    orphans.start_sweeping()
