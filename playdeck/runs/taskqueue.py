"""Celery configuration shared by the producers (web, CLI) and the workers.

Kept here, not in ``runners/``, so the web process can enqueue without importing runner internals.
"""

from __future__ import annotations

import functools

from celery import Celery
from kombu import Queue

from playdeck import embedded_broker
from playdeck.settings import Settings, get_settings

EXECUTE_RUN_TASK = "playdeck.execute_run"
QUEUES = ("deploy", "dns")


def celery_config(settings: Settings) -> dict:
    transport_options: dict = {
        # Above the longest run: an unacked message older than this is redelivered by Redis even
        # while its run is still executing (celery#5935).
        "visibility_timeout": settings.visibility_timeout,
    }
    if settings.is_embedded_broker:
        embedded_broker.install()
        folder = settings.broker_dir
        for sub in ("out", "processed", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        transport_options.update(
            {
                "data_folder_in": str(folder / "out"),
                "data_folder_out": str(folder / "out"),
                "processed_folder": str(folder / "processed"),
                # Exchange bindings; kombu's default is a "control" folder in the current directory.
                "control_folder": str(folder / "control"),
                "store_processed": False,
                # The filesystem transport polls; 50 ms keeps dispatch well under the 250 ms target.
                "polling_interval": 0.05,
            }
        )
    return {
        "broker_url": settings.broker_url,
        "broker_transport_options": transport_options,
        "broker_connection_retry_on_startup": True,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        # The DB holds every result; a result backend would only be a second, weaker truth.
        "task_ignore_result": True,
        "result_backend": None,
        # Ack only after the run ends, and requeue if the pool child dies: the DB claim then decides
        # whether a redelivered message may execute (it never re-executes a claimed run).
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_queues": [Queue(name, routing_key=name) for name in QUEUES],
        "task_default_queue": "deploy",
        "task_routes": {EXECUTE_RUN_TASK: {"queue": "deploy"}},
        "worker_hijack_root_logger": False,
        "worker_send_task_events": False,
        "broker_heartbeat": 0,
    }


def make_celery(settings: Settings | None = None, name: str = "playdeck") -> Celery:
    settings = settings or get_settings()
    app = Celery(name)
    app.conf.update(celery_config(settings))
    return app


@functools.cache
def producer() -> Celery:
    """The Celery app the web and CLI processes send messages with (one connection pool per process)."""
    return make_celery(name="playdeck-producer")
