"""The worker's Celery app: ``celery -A runners.celery_app worker`` (see ``playdeck worker``)."""

from __future__ import annotations

from celery.signals import worker_init, worker_process_init, worker_ready, worker_shutdown

from playdeck import db
from playdeck.runs.taskqueue import make_celery
from runners import orphans, processes, worker_registry

app = make_celery(name="playdeck-worker")
app.conf.include = ["runners.tasks"]


@worker_init.connect
def _register_worker(sender, **_kwargs) -> None:
    # Sent before the pool is created and forked: every pool process inherits the worker's id and
    # records it on the runs it claims.
    worker_registry.register(sender)


@worker_process_init.connect
def _prepare_pool_process(**_kwargs) -> None:
    # Connections inherited from the master must not be shared with it across fork.
    db.dispose_after_fork()
    # Keep ansible's orphaned task workers as our own children so a cancel can stop them all.
    processes.become_subreaper()


@worker_ready.connect
def _start_master_threads(sender, **_kwargs) -> None:
    # In the master, which outlives its pool processes: it notices when one of them dies mid-run.
    orphans.start_sweeping()
    # Heartbeat and drain; the sender is the consumer, whose loop a drain must stop consuming.
    worker_registry.start(sender)


@worker_shutdown.connect
def _record_stopped(**_kwargs) -> None:
    # Sent once a warm shutdown has waited for the running tasks. A pool process that was killed instead
    # (`pkill -f celery` sends TERM to every process of the worker) left its run "running": the last
    # sweep records it lost now, and stops whatever of it is left, before this master is gone.
    orphans.sweep_once()
    worker_registry.record_stopped()
