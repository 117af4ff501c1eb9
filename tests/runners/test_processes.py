"""A run's orphaned processes in other sessions are still found and stopped (the subreaper remedy)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time

import psutil
import pytest

from runners import processes
from tests.cli.cli_support import wait_until

# Runs in a fresh interpreter: becoming a subreaper is per process and must not leak into pytest.
SCRIPT = textwrap.dedent(
    """
    import json, os, subprocess, sys, time
    from runners import processes

    def tagged(cmdline, tag):
        found = []
        for p in processes.psutil.process_iter(["cmdline"]):
            try:
                if p.info["cmdline"] == cmdline and p.environ().get("ORPHAN_TAG") == tag:
                    found.append(p)
            except processes.psutil.Error:
                pass
        return found

    subreaper = processes.become_subreaper() if sys.argv[1] == "subreaper" else False
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}  # never hold the test's pipes
    spared = subprocess.Popen(["sleep", "300"], **quiet)  # existed before the "run": must survive
    spare = processes.descendant_pids()
    # Like an ansible task worker: a new session, then its parent exits, orphaning it.
    seconds = sys.argv[2]
    tag = {**os.environ, "ORPHAN_TAG": str(os.getpid())}
    subprocess.run(["sh", "-c", f"setsid sh -c 'sleep {seconds} & sleep {seconds}' & sleep 0.3"], check=True,
                   env=tag, **quiet)
    # Both sleeps started (a loaded machine may take its time), wherever they were re-parented.
    deadline = time.monotonic() + 30
    while len(tagged(["sleep", seconds], tag["ORPHAN_TAG"])) < 2:
        assert time.monotonic() < deadline, "the orphaned sleeps never started"
        time.sleep(0.05)
    orphans = sorted(p.pid for p in processes.descendants() if p.pid not in spare)
    stopped = processes.stop_descendants(spare=spare, grace_seconds=1)
    alive = [pid for pid in orphans if processes.psutil.pid_exists(pid)
             and processes.psutil.Process(pid).status() != processes.psutil.STATUS_ZOMBIE]
    print(json.dumps({"subreaper": subreaper, "orphans": orphans, "stopped": sorted(stopped), "alive": alive,
                      "spared_alive": spared.poll() is None}))
    spared.kill()
    """
)


def run_script(mode: str, seconds: int) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode, str(seconds)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_orphans_in_their_own_session_are_adopted_and_stopped():
    outcome = run_script("subreaper", 300)
    assert outcome["subreaper"] is True
    assert len(outcome["orphans"]) >= 2  # the setsid shell and both sleeps, re-parented to us
    assert outcome["stopped"] == outcome["orphans"]
    assert outcome["alive"] == []
    assert outcome["spared_alive"]  # what existed before the run is left alone


def test_without_the_subreaper_the_orphans_escape():
    """Why the subreaper exists: otherwise the orphans belong to init and nobody stops them."""
    outcome = run_script("plain", 313)  # a duration no other test uses, to find the leak
    assert outcome["orphans"] == []
    leaked = [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", "313"]]
    assert len(leaked) == 2  # both sleeps outlived the process that started them
    for proc in leaked:  # clean up what this demonstration leaked
        proc.kill()


def test_a_process_that_exits_or_turns_zombie_is_not_live_and_raises_nothing():
    child = subprocess.Popen(["sleep", "300"])
    handle = psutil.Process(child.pid)
    assert processes.is_live(handle)
    child.kill()  # not reaped yet: a zombie, once the kill has landed
    wait_until(lambda: handle.status() == psutil.STATUS_ZOMBIE, 10, "the killed child to be a zombie")
    assert not processes.is_live(handle)
    child.wait()  # reaped: the pid no longer exists, as when a process exits between a walk and a look
    with pytest.raises(psutil.NoSuchProcess):
        handle.status()
    assert not processes.is_live(handle)
    assert processes.wait_gone([handle], timeout=1) == []


def test_the_cancel_callback_never_raises_and_stops_at_the_grace_deadline(monkeypatch):
    """ansible-runner turns an exception in the cancel callback into a run in ``error`` with its playbook
    left running: a failing look at the processes must fall back on the deadline instead."""

    def vanished() -> list:
        raise psutil.NoSuchProcess(4242)

    stop_requested = threading.Event()
    stopper = processes.GracefulStop(spare=processes.descendant_pids(), grace_seconds=0.5)
    should_cancel = stopper.cancel_callback(stop_requested, run_id=1)
    assert should_cancel() is False  # nothing asked yet
    stop_requested.set()
    stopper.begin()
    # From now on every look at the process table fails, as when a listed process vanished.
    monkeypatch.setattr(processes, "descendants", vanished)
    assert should_cancel() is False  # asked, but the grace period runs
    deadline = time.monotonic() + 10
    while not should_cancel():
        assert time.monotonic() < deadline, "the callback never said to cancel"
        time.sleep(0.05)


def test_processes_started_after_a_stop_get_their_term_at_the_next_look():
    """A cancel that arrives while the run is still being prepared finds no process to signal: the
    playbook started a moment later must still be stopped at once, not after the whole grace period."""
    stop_requested = threading.Event()
    stopper = processes.GracefulStop(spare=processes.descendant_pids(), grace_seconds=60)
    should_cancel = stopper.cancel_callback(stop_requested, run_id=1)
    stop_requested.set()
    stopper.begin()  # nothing of the run exists yet
    late = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        wait_until(should_cancel, 20, "the late process to be stopped well before the 60 s grace deadline")
        assert late.wait(timeout=5) == -15  # ended by its TERM
    finally:
        late.kill()
        late.wait()
