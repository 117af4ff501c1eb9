"""Fixtures for the multi-host tests: a network of namespaces, removed with everything in it after each test,
and a "cluster" on it: throwaway MariaDB and Redis answering on the host's side of the links, workers inside
worker namespaces, a reaper, all with short heartbeat and reaper settings."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from playdeck import db, environments, projects
from playdeck.settings import Settings
from testing.servers import PLAYDECK
from tests.conftest import REPO_ROOT, configure
from tests.netns.hosts import Host, NamespaceWorker, Network, database_url, kill_group, listen_also_on, root_everywhere

QUEUE = "zone-b"  # the environment's own queue, not one of the defaults
# Seconds. The reaper declares a run lost after LOST_AFTER without heartbeat; a worker cut off from the DB
# stops its playbook after PARTITION_STOP, before that.
LOST_AFTER = 6
FAST = {
    "heartbeat_seconds": 1,
    "control_poll_seconds": 0.5,
    "lost_after_seconds": LOST_AFTER,
    "partition_stop_seconds": 4,
    "reaper_interval_seconds": 0.5,
    "redispatch_after_seconds": 600,
    "stop_grace_seconds": 1,
    "db_outage_patience_seconds": 120,
}


@pytest.fixture
def network() -> Iterator[Network]:
    with Network() as net:
        yield net


@dataclass
class Cluster:
    network: Network
    settings: Settings
    tmp_path: Path
    hosts: list[Host]
    workers: list[NamespaceWorker] = field(default_factory=list)
    reaper: subprocess.Popen | None = None

    @property
    def marker_file(self) -> Path:
        return self.tmp_path / "executions"

    def executions(self) -> list[str]:
        return self.marker_file.read_text().splitlines() if self.marker_file.exists() else []

    def start_worker(self, host: Host, env: dict[str, str] | None = None) -> NamespaceWorker:
        log = self.tmp_path / f"worker-{host.name}.log"
        worker = NamespaceWorker(self.network, host, log, queues=QUEUE, env=env)
        self.workers.append(worker)
        return worker

    def start_reaper(self) -> None:
        with open(self.tmp_path / "reaper.log", "ab") as log:
            self.reaper = subprocess.Popen(
                [str(PLAYDECK), "reaper"], stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT, start_new_session=True
            )


@pytest.fixture
def cluster(network, monkeypatch, tmp_path, throwaway_mariadb, throwaway_redis) -> Iterator[Callable[..., Cluster]]:
    """``cluster("w1", "w2")``: a worker namespace per name, each linked to this host, whose side of the links
    serves a throwaway MariaDB and Redis; project "ticks" (tests/playbooks/marked_ticks.yml on 2 local hosts),
    environment "prod" routed to QUEUE. Workers and reaper are started by the test, stopped here."""
    made: list[Cluster] = []

    def build(*names: str) -> Cluster:
        hosts = [network.add_host(name) for name in names]
        gateways = [host.gateway for host in hosts]
        server = throwaway_mariadb(f"--bind-address={','.join(['127.0.0.1', *gateways])}")
        root_everywhere(server)
        settings = configure(
            monkeypatch,
            seed_sample=False,
            data_dir=str(tmp_path / "data"),
            # Every process uses the same URL (the run processes' tag is derived from it).
            database_url=database_url(server, gateways[0]),
            broker_url=listen_also_on(throwaway_redis, *gateways),
            playbook_dir=str(REPO_ROOT / "tests" / "playbooks"),
            inventory_dir=str(REPO_ROOT / "tests" / "inventory"),
            **FAST,
        )
        with db.session_scope() as session:
            projects.add_project(session, "ticks", "marked_ticks.yml", {"prod": "local2.ini"}, lock_deploys=False)
            environments.set_options(session, "ticks", "prod", queue=QUEUE)
        made.append(Cluster(network, settings, tmp_path, hosts))
        return made[-1]

    yield build
    for built in made:
        if built.reaper is not None:
            kill_group(built.reaper)
        for worker in built.workers:
            worker.stop()
