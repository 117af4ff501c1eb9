"""The worker master's side of the registry (``playdeck.workers``): register, beat, drain, stop.

Wired to Celery's signals in ``runners.celery_app``:
- ``worker_init`` (sent while the WorkController is set up, before the pool step creates and forks the
  pool): register, and keep the id where the pool processes inherit it.
- ``worker_ready`` (sent from the consumer's loop, sender = the consumer): start a thread that beats
  and watches for a drain request.
- ``worker_shutdown`` (after a warm shutdown has waited for the running tasks), and at exit: record
  ``stopped``.

A drain: the thread asks the consumer's own loop (``consumer.call_soon``; kombu's consumers are not
thread-safe) to cancel every queue, waits until no task the master received is left, then sends this
process SIGTERM — the same warm shutdown as ``supervisorctl stop``, exit status 0. Messages arriving
meanwhile stay in the broker for the other workers.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import socket
import threading
import time
from typing import Any

from celery.worker import state as celery_state
from sqlalchemy.exc import SQLAlchemyError

from playdeck import workers
from playdeck.db import session_scope
from playdeck.settings import get_settings

log = logging.getLogger(__name__)


def register(controller: Any) -> int:
    """Record this worker master (``controller``: Celery's WorkController); retried until the DB answers.

    A worker that cannot reach the DB could not claim a run either, so it takes no message before it
    is registered.
    """
    queues = sorted(controller.app.amqp.queues.consume_from)
    while True:
        try:
            with session_scope() as session:
                worker_id = workers.register(
                    session,
                    name=controller.hostname,
                    hostname=socket.gethostname(),
                    pid=os.getpid(),
                    queues=queues,
                    concurrency=controller.concurrency,
                ).id
            break
        except SQLAlchemyError as exc:
            # Logging is not set up yet this early: Python's last-resort handler prints warnings.
            log.warning("cannot register worker %s yet, retrying: %s", controller.hostname, exc)
            time.sleep(get_settings().heartbeat_seconds)
    workers.set_current_worker_id(worker_id)
    # Also when Celery exits without a warm shutdown (cold shutdown, a crash in the master).
    atexit.register(record_stopped, os.getpid())
    return worker_id


def record_stopped(master_pid: int | None = None) -> None:
    worker_id = workers.current_worker_id()
    # Forked pool processes inherit the exit hook; only the master speaks for the worker.
    if worker_id is None or (master_pid is not None and os.getpid() != master_pid):
        return
    try:
        with session_scope() as session:
            workers.mark_stopped(session, worker_id)
    except SQLAlchemyError:
        log.exception("could not record worker %s as stopped; it will show as gone", worker_id)


class Watcher:
    """Beats every ``heartbeat_seconds``; every ``control_poll_seconds`` reads whether to drain."""

    def __init__(self, consumer: Any, worker_id: int) -> None:
        self.consumer = consumer
        self.worker_id = worker_id
        self.settings = get_settings()
        self.drain_scheduled = False
        self.consuming_stopped = threading.Event()
        self.shutdown_sent = False
        self.failing = False

    def run(self) -> None:
        next_beat = 0.0
        while True:
            now = time.monotonic()
            beat = now >= next_beat
            try:
                with session_scope() as session:
                    state = workers.control(session, self.worker_id, beat=beat)
                if beat:
                    next_beat = now + self.settings.heartbeat_seconds
                if self.failing:
                    log.warning("worker %s: heartbeat recorded again", self.worker_id)
                    self.failing = False
            except Exception:  # a DB blip must never take the worker down; it shows as gone meanwhile
                if not self.failing:  # once per outage, not every poll
                    log.exception("worker %s: heartbeat failed; retrying", self.worker_id)
                    self.failing = True
                state = None
            if state == workers.WorkerState.STOPPED:  # recorded by the shutdown hook: this process is ending
                return
            if state == workers.WorkerState.DRAINING and not self.drain_scheduled:
                self.drain_scheduled = True
                self.consumer.call_soon(self._stop_consuming)
            if self.consuming_stopped.is_set() and not self.shutdown_sent and not self._in_flight():
                log.info("worker %s drained: no task left; warm shutdown", self.worker_id)
                self.shutdown_sent = True
                os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(self.settings.control_poll_seconds)

    @staticmethod
    def _in_flight() -> int:
        # Every task message the master received and has not finished (running or waiting for a pool
        # process): read from the master's own bookkeeping, which no other process can see.
        return len(celery_state.reserved_requests)

    def _stop_consuming(self) -> None:
        """In the consumer's loop thread. An error must not escape into that loop: log, retry later."""
        try:
            queues = sorted(self.consumer.app.amqp.queues.consume_from)
            for queue in queues:
                # Also deselects it, so a consumer that reconnects to the broker does not take it up again.
                self.consumer.cancel_task_queue(queue)
        except Exception:
            log.exception("worker %s: could not stop consuming; trying again", self.worker_id)
            self.drain_scheduled = False
            return
        log.info(
            "worker %s draining: no longer taking runs from %s; waiting for %d task(s) in flight",
            self.worker_id,
            ", ".join(queues) or "(none)",
            self._in_flight(),
        )
        self.consuming_stopped.set()


def start(consumer: Any) -> threading.Thread | None:
    worker_id = workers.current_worker_id()
    if worker_id is None:  # not started through worker_init (e.g. an embedded test worker)
        return None
    thread = threading.Thread(target=Watcher(consumer, worker_id).run, name="worker-registry", daemon=True)
    thread.start()
    return thread
