"""Linux network namespaces as the tests' own "machines", and an sshd of its own in one.

``Network`` makes namespaces with a link each to the host (a /30 in 10.231.N.0/24: the host side .4i+1, the
namespace side .4i+2, a default route via the host side), starts processes inside them, cuts and restores a
link, and removes everything it made in ``close()`` (every process group it started killed, every namespace
and veth deleted), whatever happened before. ``SshTarget`` is an sshd of its own in a namespace: its own host
key, config, authorized key and address; root (or a user of ``write_accounts``) logs in by key only.
Shared by the multi-host tests (tests/netns) and the git server over SSH (testing.git_servers).
"""

from __future__ import annotations

import ipaddress
import os
import random
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from testing.servers import REPO_ROOT

SSHD = "/usr/sbin/sshd"
SUBNET_PREFIX = "10.231"
READY_SECONDS = 30


def _ip(*args: str, netns: str | None = None) -> str:
    command = ["ip", *(["-n", netns] if netns else []), *args]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{shlex.join(command)} failed: {result.stderr.strip()}")
    return result.stdout


def _free_subnet() -> int:
    """A third octet no address on this host uses yet (tests in other processes make networks too)."""
    used = {int(m) for m in re.findall(rf"inet {re.escape(SUBNET_PREFIX)}\.(\d+)\.", _ip("-4", "addr"))}
    free = [n for n in range(256) if n not in used]
    if not free:
        raise RuntimeError(f"every {SUBNET_PREFIX}.N.0/24 is in use")
    return random.choice(free)


@dataclass
class Host:
    """A namespace and its link to the host."""

    name: str
    netns: str
    host_side: str  # veth name in the host namespace
    inside: str  # veth name in the namespace
    gateway: str  # the host side's address: what the namespace reaches the host by
    address: str  # the namespace's address


class Network:
    def __init__(self) -> None:
        self.subnet = _free_subnet()
        self.tag = f"pd{self.subnet}{uuid.uuid4().hex[:3]}"
        self.hosts: dict[str, Host] = {}
        self.processes: list[subprocess.Popen] = []
        self._made_netns: list[str] = []
        self._made_links: list[str] = []

    def add_host(self, name: str) -> Host:
        index = len(self.hosts)
        if index >= 63:
            raise RuntimeError("at most 63 hosts per network")
        base = ipaddress.IPv4Address(f"{SUBNET_PREFIX}.{self.subnet}.0") + 4 * index
        gateway, address = str(base + 1), str(base + 2)
        netns = f"{self.tag}-{name}"
        # Interface names are at most 15 bytes.
        host_side, inside = f"{self.tag}{index}h", f"{self.tag}{index}n"
        try:
            _ip("netns", "add", netns)
        except RuntimeError as exc:
            pytest.fail(f"cannot create a network namespace (the netns tests need root and ip netns): {exc}")
        self._made_netns.append(netns)
        _ip("link", "add", host_side, "type", "veth", "peer", "name", inside)
        self._made_links.append(host_side)
        _ip("link", "set", inside, "netns", netns)
        _ip("addr", "add", f"{gateway}/30", "dev", host_side)
        _ip("link", "set", host_side, "up")
        _ip("link", "set", "lo", "up", netns=netns)
        _ip("addr", "add", f"{address}/30", "dev", inside, netns=netns)
        _ip("link", "set", inside, "up", netns=netns)
        _ip("route", "add", "default", "via", gateway, netns=netns)
        host = Host(name, netns, host_side, inside, gateway, address)
        self.hosts[name] = host
        return host

    def cut(self, host: Host) -> None:
        """Take the namespace's end of its link down: it reaches nothing, and nothing reaches it. (The host's
        end stays up, so the host still answers on the gateway address itself.)"""
        _ip("link", "set", host.inside, "down", netns=host.netns)

    def restore(self, host: Host) -> None:
        _ip("link", "set", host.inside, "up", netns=host.netns)
        _ip("route", "replace", "default", "via", host.gateway, netns=host.netns)

    def spawn(self, host: Host, command: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
        """Start ``command`` inside ``host``'s namespace, in a process group of its own (killed by close())."""
        output = open(log, "ab")  # noqa: SIM115 - the child holds it; closed with the process
        try:
            process = subprocess.Popen(
                ["ip", "netns", "exec", host.netns, *command],
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=REPO_ROOT,
                env=env,
                start_new_session=True,
            )
        finally:
            output.close()
        self.processes.append(process)
        return process

    def __enter__(self) -> Network:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Kill every process group started here, delete every veth and namespace made (fails the test if a
        namespace is left)."""
        for process in self.processes:
            kill_group(process)
        for netns in self._made_netns:
            # Anything still running inside (a daemon that left its group) goes with the namespace's pids.
            for pid in subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True).stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
        for link in self._made_links:
            subprocess.run(["ip", "link", "del", link], capture_output=True, check=False)
        for netns in self._made_netns:
            subprocess.run(["ip", "netns", "del", netns], capture_output=True, check=False)
        listed = subprocess.run(["ip", "netns"], capture_output=True, text=True).stdout.split()
        leftover = set(self._made_netns) & set(listed)
        assert not leftover, f"namespaces left behind: {leftover}"


def kill_group(process: subprocess.Popen, grace: float = 5) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        except ProcessLookupError:
            pass
    # Stray members of the group (it may outlive its leader).
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def wait_for_port(address: str, port: int, what: str, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            socket.create_connection((address, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{what} does not answer on {address}:{port} after {READY_SECONDS}s")


def ssh_keygen(path: Path, comment: str) -> str:
    """A new ed25519 key pair at ``path`` (and ``path``.pub); returns the public key line."""
    for existing in (path, path.with_name(path.name + ".pub")):
        existing.unlink(missing_ok=True)
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], check=True, capture_output=True
    )
    return path.with_name(path.name + ".pub").read_text().strip()


ACCOUNT_FILES = ("passwd", "group", "shadow")


def write_accounts(directory: Path, user: str, home: Path, root_password: str, shell: str = "/bin/sh") -> int:
    """This host's passwd, group and shadow in ``directory``, plus ``user`` (key logins only, home ``home``,
    login shell ``shell``) and root with ``root_password`` (what ``su`` asks for): a target's own accounts,
    without adding any here. Returns the user's uid (also its gid)."""
    etc = Path("/etc")
    taken = {int(line.split(":")[2]) for line in (etc / "passwd").read_text().splitlines() if line.count(":") >= 6}
    uid = next(number for number in range(42000, 60000) if number not in taken)
    root_hash = subprocess.run(
        ["openssl", "passwd", "-6", "-stdin"], input=root_password, capture_output=True, text=True, check=True
    ).stdout.strip()
    shadow = [
        f"root:{root_hash}:{line.split(':', 2)[2]}" if line.startswith("root:") else line
        for line in (etc / "shadow").read_text().splitlines()
    ]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "passwd").write_text(f"{(etc / 'passwd').read_text()}{user}:x:{uid}:{uid}::{home}:{shell}\n")
    (directory / "group").write_text(f"{(etc / 'group').read_text()}{user}:x:{uid}:\n")
    # "*": no password to log in with, and not a locked account (sshd refuses a "!" even a key login).
    (directory / "shadow").write_text("\n".join([*shadow, f"{user}:*:19000:0:99999:7:::", ""]))
    (directory / "shadow").chmod(0o640)
    shutil.chown(directory / "shadow", group="shadow")
    home.mkdir(parents=True, exist_ok=True)
    shutil.chown(home, user=uid, group=uid)
    return uid


class SshTarget:
    """An sshd of its own in ``host``'s namespace, on the namespace's address, port 22.

    With ``accounts`` (a folder made by ``write_accounts``), sshd and every session it starts see that folder's
    passwd, group and shadow over /etc's, in a mount namespace of their own.
    """

    def __init__(
        self, network: Network, host: Host, base: Path, authorized_key: str, accounts: Path | None = None
    ) -> None:
        self.network, self.host, self.base, self.accounts = network, host, base, accounts
        base.mkdir(parents=True, exist_ok=True)
        self.host_key = base / "ssh_host_ed25519_key"
        self.host_public_key = ssh_keygen(self.host_key, f"root@{host.name}")
        (base / "authorized_keys").write_text(authorized_key + "\n")
        self.config = base / "sshd_config"
        self.config.write_text(
            "\n".join(
                [
                    f"ListenAddress {host.address}",
                    "Port 22",
                    f"HostKey {self.host_key}",
                    f"PidFile {base / 'sshd.pid'}",
                    f"AuthorizedKeysFile {base / 'authorized_keys'}",
                    "PermitRootLogin prohibit-password",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    # The pytest tmp dirs are not root-only; the key files in them are the test's own.
                    "StrictModes no",
                    "MaxStartups 100",
                    "LogLevel VERBOSE",
                    "",
                ]
            )
        )
        self.log = base / "sshd.log"
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        # sshd's privilege-separation directory; Debian creates it at boot only when sshd runs as a service.
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        sshd = [SSHD, "-D", "-e", "-f", str(self.config)]
        if self.accounts is not None:
            mounts = " && ".join(f"mount --bind {self.accounts / name} /etc/{name}" for name in ACCOUNT_FILES)
            private_mounts = ["unshare", "--mount", "--propagation", "private"]
            sshd = [*private_mounts, "sh", "-c", f"{mounts} && exec {shlex.join(sshd)}"]
        self.process = self.network.spawn(self.host, sshd, self.log)
        wait_for_port(self.host.address, 22, f"sshd of {self.host.name}", self.process)

    def known_hosts_line(self) -> str:
        return f"{self.host.address} {' '.join(self.host_public_key.split()[:2])}"

    def change_host_key(self) -> None:
        """As a reinstalled host (or an impostor) would: a new host key, sshd restarted with it."""
        assert self.process is not None
        kill_group(self.process)
        self.host_public_key = ssh_keygen(self.host_key, f"root@{self.host.name}")
        self.start()
