"""Approvals (issue 24), on MariaDB + Redis with the real web and a worker.

- Approval → queued → running: a run awaiting one approval is approved through the API (``POST
  /api/v1/runs/<id>/approve`` by a release manager) and the worker records it ``running``; the median of
  that, from the approver's send, against a plain deploy's send → running measured alternately in the same
  stack (project ``trivial`` vs ``gated``, the same playbook). Target: at most 50 ms beyond it.
- 10,000 runs awaiting approval (inserted in bulk) and 1,000 freeze windows (``bench.freeze``'s mix: 300
  global, 700 on the gated environment, none in effect now): ``/attention`` and the deploy form of the gated
  project, p95 under 20 closed-loop clients as ``bench.scale`` measures pages (target 100 ms), one client
  alone beside, and the CPU each request cost the web processes, MariaDB and the clients.
- The expiry pass (``approval_expiry.expire_requests``, in this process) over them: once with none due, then
  with all 10,000 past their deadline (target 1 s for that pass).
"""

from __future__ import annotations

import datetime as dt
import time

from bench.freeze import GLOBAL_WINDOWS, OWN_WINDOWS, add_windows
from bench.harness import Row, Stack, loadavg, median, percentile, utcnow
from bench.scale import CLIENTS, hammer, observed_hammer

AWAITING = 10_000
APPROVER = "bench-approver"


def _gate(stack: Stack) -> str:
    """Project ``gated`` (trivial's playbook) whose environment needs one release manager's approval; the
    approver's token."""
    from playdeck import db, environments
    from playdeck.auth import credentials, users

    stack.register_project("gated", "trivial.yml", {"local": "local1.ini"})
    with db.session_scope() as session:
        environments.set_options(session, "gated", "local", approvals_required=1, approver_roles=["release_manager"])
        users.create_user(session, APPROVER, "release_manager", None)
        return credentials.create_token(session, APPROVER, name="bench").token


def _started_after(stack: Stack, run_id: int, sent: dt.datetime) -> float:
    run = stack.wait_finished(run_id)
    if run.state != "successful":
        raise RuntimeError(f"run {run_id} ended {run.state}: {run.reason}")
    return (run.started_at - sent).total_seconds() * 1000


def approval_latency(stack: Stack, token: str, runs: int, warmup: int = 3) -> tuple[list[float], list[float]]:
    """(plain send → running, approval send → running) in ms, alternately, ``runs`` of each after a warmup."""
    plain, approved = [], []
    for i in range(warmup + runs):
        sent = utcnow()
        plain_ms = _started_after(stack, stack.deploy("trivial"), sent)
        run_id = stack.deploy("gated")
        sent = utcnow()
        response = stack.http.post(
            f"{stack.api}/runs/{run_id}/approve", json={"comment": "bench"},
            headers={"Authorization": f"Bearer {token}"}, timeout=10,
        )  # fmt: skip
        response.raise_for_status()
        approved_ms = _started_after(stack, run_id, sent)
        if i >= warmup:
            plain.append(plain_ms)
            approved.append(approved_ms)
    return plain, approved


def _insert_awaiting(count: int, expires_at: dt.datetime) -> None:
    from sqlalchemy import insert, select

    from playdeck import db
    from playdeck.models import Environment, Project, Run

    with db.session_scope() as session:
        project_id, environment_id = session.execute(
            select(Project.id, Environment.id).join(Environment).where(Project.name == "gated")
        ).one()
        now = utcnow()
        rows = [
            {"kind": "deploy", "project_id": project_id, "environment_id": environment_id, "requested_by": "bench",
             "queue": "deploy", "state": "awaiting_approval", "queued_at": now, "approvals_required": 1,
             "approval_expires_at": expires_at}
            for _ in range(count)
        ]  # fmt: skip
        session.execute(insert(Run), rows)


def _set_deadlines(expires_at: dt.datetime) -> None:
    from sqlalchemy import update

    from playdeck import db
    from playdeck.models import Run

    with db.session_scope() as session:
        session.execute(update(Run).where(Run.state == "awaiting_approval").values(approval_expires_at=expires_at))


def page_rows(stack: Stack, seconds: float) -> list[Row]:
    token = stack.http.headers["Authorization"]
    base = f"http://127.0.0.1:{stack.port}"
    rows = []
    for name, url in {"GET /attention": f"{base}/attention", "GET /api/v1/attention": f"{base}/api/v1/attention",
                      "GET /projects/gated/deploy (deploy form)": f"{base}/projects/gated/deploy"}.items():  # fmt: skip
        alone, _, _ = hammer(url, token, 3.0, clients=1)
        latencies, errors, cpu, _ = observed_hammer(stack, url, token, seconds, CLIENTS)
        rows.append(
            Row(
                f"approvals p95, {AWAITING} awaiting, {GLOBAL_WINDOWS + OWN_WINDOWS} windows: {name}",
                percentile(latencies, 0.95),
                "ms",
                100,
                note=f"{CLIENTS} clients closed loop {seconds:g} s, n={len(latencies)}, median "
                f"{percentile(latencies, 0.5):.0f} ms, errors {errors}; 1 client alone: p95 "
                f"{percentile(alone, 0.95):.0f} ms; CPU ms/request: {cpu}; load {loadavg()}",
            )
        )
    return rows


def expiry_rows() -> list[Row]:
    from playdeck.release_control import approval_expiry
    from playdeck.settings import get_settings

    started = time.perf_counter()
    none_due = approval_expiry.expire_requests(get_settings(), utcnow())
    idle_ms = (time.perf_counter() - started) * 1000
    _set_deadlines(utcnow() - dt.timedelta(seconds=1))
    started = time.perf_counter()
    expired = approval_expiry.expire_requests(get_settings(), utcnow())
    all_s = time.perf_counter() - started
    return [
        Row(f"approvals: expiry pass, {AWAITING} awaiting, none due", idle_ms, "ms", None,
            note=f"expired {len(none_due)}"),
        Row(f"approvals: expiry pass, {AWAITING} awaiting, all due", all_s, "s", 1.0,
            note=f"expired {len(expired)} (audited, in transactions of {approval_expiry.BATCH}); load {loadavg()}"),
    ]  # fmt: skip


def run(runs: int = 20, seconds: float = 10.0) -> list[Row]:
    with Stack("production") as stack:
        token = _gate(stack)
        plain, approved = approval_latency(stack, token, runs)
        extra = median(approved) - median(plain)
        rows = [
            Row("approvals: plain deploy, client send→running (median)", median(plain), "ms", None, note=f"n={runs}"),
            Row("approvals: approval send→queued→running (median)", median(approved), "ms", None,
                note=f"n={runs}, p95 {percentile(approved, 0.95):.0f} ms"),
            Row("approvals: approval→running beyond a plain dispatch (median)", extra, "ms", 50,
                note=f"medians {median(approved):.0f} - {median(plain):.0f} ms; load {loadavg()}"),
        ]  # fmt: skip
        _insert_awaiting(AWAITING, utcnow() + dt.timedelta(days=1))
        # After the latency runs: windows in effect now would refuse their deploys (the mix starts in an hour).
        add_windows("gated", "local")
        rows += page_rows(stack, seconds)
        rows += expiry_rows()
    return rows
