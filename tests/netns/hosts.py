"""The tests' own "machines": Linux network namespaces joined to this host by veth pairs.

``Network`` makes namespaces with a link each to the host (a /30 in 10.231.N.0/24: the host side .4i+1, the
namespace side .4i+2, a default route via the host side), starts processes inside them, cuts and restores a
link, and removes everything it made in ``close()`` (every process group it started killed, every namespace
and veth deleted), whatever happened before. ``SshTarget`` is an sshd of its own in a namespace: its own host
key, config, authorized key and address; root logs in by key only. ``NamespaceWorker`` is a real
``playdeck worker`` inside a namespace under a hostname of its own (a UTS namespace), so runs show which
"host" executed them. (The namespaces and sshd themselves are in testing.netns, shared with the git tests.)
"""

from __future__ import annotations

import os
import shlex
import shutil
import uuid
from pathlib import Path

import pymysql

from testing.netns import (  # noqa: F401 - the namespace tests import these from here
    ACCOUNT_FILES,
    SUBNET_PREFIX,
    Host,
    Network,
    SshTarget,
    kill_group,
    ssh_keygen,
    wait_for_port,
    write_accounts,
)
from testing.servers import PLAYDECK, ThrowawayMariaDB, ThrowawayRedis, Worker


def root_everywhere(server: ThrowawayMariaDB) -> None:
    """Let root in from the namespaces too (mariadb-install-db creates root for local connections only)."""
    conn = pymysql.connect(host="127.0.0.1", port=server.port, user="root", autocommit=True)
    with conn.cursor() as cursor:
        cursor.execute(f"CREATE USER IF NOT EXISTS 'root'@'{SUBNET_PREFIX}.%'")
        cursor.execute(f"GRANT ALL PRIVILEGES ON *.* TO 'root'@'{SUBNET_PREFIX}.%' WITH GRANT OPTION")
    conn.close()


def database_url(server: ThrowawayMariaDB, address: str) -> str:
    """The URL for the server at ``address``, with socket timeouts: a query on a connection the partition
    cut fails within seconds instead of TCP's 15 minutes (see docs/operators.md)."""
    timeouts = "connect_timeout=2&read_timeout=3&write_timeout=3"
    return f"mysql+pymysql://root@{address}:{server.port}/playdeck?charset=utf8mb4&{timeouts}"


def listen_also_on(redis_server: ThrowawayRedis, *addresses: str) -> str:
    """Make the throwaway Redis answer on ``addresses`` too; returns the broker URL on the first."""
    client = redis_server.client()
    client.config_set("bind", " ".join(["127.0.0.1", *addresses]))
    client.config_set("protected-mode", "no")
    return f"redis://{addresses[0]}:{redis_server.port}/0"


class NamespaceWorker(Worker):
    """``playdeck worker`` inside ``host``'s namespace, with ``hostname`` as its host name (own UTS namespace);
    ``env``: variables of its own over this process's (e.g. PLAYDECK_DATA_DIR: a host's own disk)."""

    def __init__(
        self,
        network: Network,
        host: Host,
        log_path: Path,
        queues: str,
        concurrency: int = 1,
        env: dict[str, str] | None = None,
    ) -> None:
        self.log_path = log_path
        self.name = f"test-{uuid.uuid4().hex[:8]}"
        self.hostname = f"{network.tag}-{host.name}"
        worker = shlex.join(
            [str(PLAYDECK), "worker", "--queues", queues, "--concurrency", str(concurrency), "--name", self.name]
        )
        log_path.touch()
        self.log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = network.spawn(
            host,
            [shutil.which("unshare") or "unshare", "--uts", "sh", "-c", f"hostname {self.hostname} && exec {worker}"],
            log_path,
            env={**os.environ, **(env or {})},
        )
        self.wait_ready()
