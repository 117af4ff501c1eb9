"""Prometheus metrics, computed from the DB on every scrape.

The web runs as several gunicorn processes and the runs are executed by other processes altogether:
counters kept in one process's memory would each tell a part. The DB holds the whole truth, so each
scrape asks it, with aggregate queries only (no rows loaded beyond one per running run).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from typing import Any

import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from sqlalchemy import and_, case, func, literal_column, select
from sqlalchemy.orm import Session

from playdeck.commit_label import short_sha
from playdeck.db import session_scope
from playdeck.db_clock import database_time
from playdeck.models import Environment, Project, Run, RunEvent, WebhookDelivery, Worker, utcnow
from playdeck.pipelines.models import Pipeline, PipelineRun
from playdeck.runs.queries import deployed_runs
from playdeck.runs.states import RunState
from playdeck.runs.taskqueue import QUEUES
from playdeck.settings import Settings, get_settings
from playdeck.workers import LIVE_STATES, gone_after

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds: from a quick DNS regeneration to the longest deploy a project allows by default (4 h).
DURATION_BUCKETS = (1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400)
# kombu's Redis transport keeps a queue's messages of priority n > 0 under "<queue>\x06\x16<n>".
_PRIORITY_SEP = "\x06\x16"
_PRIORITY_STEPS = (0, 3, 6, 9)
BROKER_TIMEOUT_SECONDS = 1.0


def _duration(session: Session):
    """A run's duration in seconds, as SQL (each dialect has its own date arithmetic)."""
    if session.get_bind().dialect.name == "sqlite":
        return (func.julianday(Run.finished_at) - func.julianday(Run.started_at)) * 86400.0
    return func.timestampdiff(literal_column("MICROSECOND"), Run.started_at, Run.finished_at) / 1e6


def runs_by_state(session: Session) -> GaugeMetricFamily:
    metric = GaugeMetricFamily("playdeck_runs", "Runs in the database, by kind and state.", labels=["kind", "state"])
    rows = session.execute(select(Run.kind, Run.state, func.count()).group_by(Run.kind, Run.state)).all()
    for kind, state, count in rows:
        metric.add_metric([kind, state], count)
    return metric


def pipeline_runs_by_state(session: Session) -> GaugeMetricFamily:
    labels = ["project", "pipeline", "state"]
    metric = GaugeMetricFamily("playdeck_pipeline_runs", "Pipeline runs by project, pipeline, state.", labels=labels)
    rows = session.execute(
        select(Project.name, Pipeline.name, PipelineRun.state, func.count())
        .join(Pipeline, Pipeline.id == PipelineRun.pipeline_id)
        .join(Project, Project.id == PipelineRun.project_id)
        .group_by(Project.name, Pipeline.name, PipelineRun.state)
    ).all()
    for project, pipeline, state, count in rows:
        metric.add_metric([project, pipeline, state], count)
    return metric


def queued_runs(session: Session, now: dt.datetime) -> Iterator[Metric]:
    depth = GaugeMetricFamily(
        "playdeck_queue_runs_queued",
        "Runs waiting in state queued, by the broker queue they go to (a worker consuming it takes them).",
        labels=["queue"],
    )
    oldest = GaugeMetricFamily(
        "playdeck_queue_oldest_run_age_seconds",
        "Seconds since the oldest run still queued in each queue was requested (or approved, if it awaited approval).",
        labels=["queue"],
    )
    rows = session.execute(
        select(Run.queue, func.count(), func.min(func.coalesce(Run.approved_at, Run.queued_at)))
        .where(Run.state == RunState.QUEUED.value)
        .group_by(Run.queue)
    ).all()
    found = {queue: (count, first) for queue, count, first in rows}
    # The known queues always appear, so an alert on "> 0" has a series to watch while it is 0.
    for queue in sorted(set(QUEUES) | set(found)):
        count, first = found.get(queue, (0, None))
        depth.add_metric([queue], count)
        oldest.add_metric([queue], 0.0 if first is None else max(0.0, (now - first).total_seconds()))
    yield depth
    yield oldest


def broker_messages(settings: Settings, queues: list[str]) -> Iterator[Metric]:
    """Messages waiting in the Redis broker per queue; nothing for the embedded filesystem broker."""
    if not settings.broker_url.startswith(("redis://", "rediss://")):
        return
    up = GaugeMetricFamily("playdeck_broker_up", "1 if the Redis broker answered this scrape, else 0.")
    client = redis.Redis.from_url(
        settings.broker_url, socket_timeout=BROKER_TIMEOUT_SECONDS, socket_connect_timeout=BROKER_TIMEOUT_SECONDS
    )
    try:
        with client.pipeline(transaction=False) as pipe:
            for queue in queues:
                for step in _PRIORITY_STEPS:
                    pipe.llen(queue if step == 0 else f"{queue}{_PRIORITY_SEP}{step}")
            lengths = pipe.execute()
    except redis.RedisError as exc:
        log.warning("metrics: the broker did not answer: %s", exc)
        up.add_metric([], 0)
        yield up
        return
    finally:
        client.close()
    up.add_metric([], 1)
    yield up
    messages = GaugeMetricFamily(
        "playdeck_broker_queue_messages",
        "Messages waiting in the broker's queue (not yet taken by a worker), by queue.",
        labels=["queue"],
    )
    steps = len(_PRIORITY_STEPS)
    for index, queue in enumerate(queues):
        messages.add_metric([queue], sum(lengths[index * steps : (index + 1) * steps]))
    yield messages


def run_durations(session: Session) -> HistogramMetricFamily:
    metric = HistogramMetricFamily(
        "playdeck_run_duration_seconds",
        "From start to end, of every ended run that started (by kind and how it ended).",
        labels=["kind", "state"],
    )
    duration = _duration(session)
    columns: list[Any] = [Run.kind, Run.state, func.count(), func.coalesce(func.sum(duration), 0.0)]
    columns += [func.sum(case((duration <= bound, 1), else_=0)) for bound in DURATION_BUCKETS]
    rows = session.execute(
        select(*columns)
        .where(Run.started_at.is_not(None), Run.finished_at.is_not(None))
        .group_by(Run.kind, Run.state)
        .order_by(Run.kind, Run.state)
    ).all()
    for kind, state, count, total, *cumulative in rows:
        buckets = [(str(float(bound)), int(n or 0)) for bound, n in zip(DURATION_BUCKETS, cumulative, strict=True)]
        buckets.append(("+Inf", int(count)))
        metric.add_metric([kind, state], buckets, float(total))
    return metric


def ingestion_lag(session: Session, now: dt.datetime) -> GaugeMetricFamily:
    metric = GaugeMetricFamily(
        "playdeck_event_ingestion_lag_seconds",
        "Over the running runs, the largest age of a run's newest event in the database: now minus the time "
        "ansible created that event on the worker (the run's start if none is stored yet). It grows when events "
        "are produced faster than they are stored, and also while a playbook runs a long quiet task; "
        "0 when no run is running.",
    )
    running = Run.state == RunState.RUNNING.value
    # The newest event per running run, by the (run_id, counter) unique index: no event rows are scanned.
    newest = (
        select(RunEvent.run_id, func.max(RunEvent.counter).label("counter"))
        .join(Run, Run.id == RunEvent.run_id)
        .where(running)
        .group_by(RunEvent.run_id)
        .subquery()
    )
    rows = session.execute(
        select(Run.started_at, RunEvent.created)
        .select_from(Run)
        .outerjoin(newest, newest.c.run_id == Run.id)
        .outerjoin(RunEvent, and_(RunEvent.run_id == Run.id, RunEvent.counter == newest.c.counter))
        .where(running)
    ).all()
    ages = [(now - (created or started)).total_seconds() for started, created in rows if (created or started)]
    metric.add_metric([], max([0.0, *ages]))
    return metric


def workers_online(session: Session) -> Iterator[Metric]:
    workers = GaugeMetricFamily(
        "playdeck_workers_online",
        "Worker masters whose heartbeat is recent, by state (active, or draining: finishing its runs, taking no "
        "new ones).",
        labels=["state"],
    )
    slots = GaugeMetricFamily(
        "playdeck_worker_slots", "Runs the online active workers can execute at once (their concurrency)."
    )
    last_sign = func.coalesce(Worker.heartbeat_at, Worker.started_at)
    rows = session.execute(
        select(Worker.state, func.count(), func.coalesce(func.sum(Worker.concurrency), 0))
        .where(Worker.state.in_(LIVE_STATES), last_sign >= database_time(session) - gone_after())
        .group_by(Worker.state)
    ).all()
    found = {state: (count, concurrency) for state, count, concurrency in rows}
    for state in LIVE_STATES:
        workers.add_metric([state], found.get(state, (0, 0))[0])
    slots.add_metric([], found.get(LIVE_STATES[0], (0, 0))[1])
    yield workers
    yield slots


def webhook_deliveries(session: Session) -> GaugeMetricFamily:
    metric = GaugeMetricFamily(
        "playdeck_webhook_deliveries",
        "Webhook notifications by state: pending (not yet delivered, retrying), delivered, failed (given up).",
        labels=["state"],
    )
    rows = dict(session.execute(select(WebhookDelivery.state, func.count()).group_by(WebhookDelivery.state)).all())
    for state in ("pending", "delivered", "failed"):
        metric.add_metric([state], rows.get(state, 0))
    return metric


def deployed_versions(session: Session) -> GaugeMetricFamily:
    """What each environment runs: its last successful real deploy, as an info series whose value is when it
    finished. One series per environment (the labels change with each deploy, they do not pile up)."""
    metric = GaugeMetricFamily(
        "playdeck_deployed_version_finished_timestamp_seconds",
        "The last successful deploy of each environment: its version, ref and commit, and when it finished.",
        labels=["project", "environment", "version", "ref", "commit"],
    )
    last = deployed_runs().subquery()
    rows = session.execute(
        select(Project.name, Environment.name, Run.version, Run.ref, Run.commit_sha, Run.finished_at)
        .join(last, last.c.run_id == Run.id)
        .join(Environment, Environment.id == Run.environment_id)
        .join(Project, Project.id == Run.project_id)
        .where(Project.archived_at.is_(None))
        .order_by(Project.name, Environment.name)
    )
    for project, environment, version, ref, commit, finished_at in rows:
        when = finished_at.replace(tzinfo=dt.UTC).timestamp() if finished_at else 0
        metric.add_metric([project, environment, version, ref, short_sha(commit)], when)
    return metric


class PlaydeckCollector:
    """Registered in a fresh registry per scrape: nothing is kept between scrapes."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        now = utcnow()
        with session_scope() as session:
            families: list[Metric] = [runs_by_state(session)]
            families += queued_runs(session, now)
            families.append(run_durations(session))
            families.append(ingestion_lag(session, now))
            families += workers_online(session)
            families.append(webhook_deliveries(session))
            families.append(deployed_versions(session))
            families.append(pipeline_runs_by_state(session))
        queues = sorted({sample.labels["queue"] for sample in families[1].samples})
        families += broker_messages(self.settings, queues)
        yield from families


def exposition(settings: Settings | None = None) -> bytes:
    """The Prometheus text exposition of every metric, as of now."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PlaydeckCollector(settings or get_settings()))
    return generate_latest(registry)
