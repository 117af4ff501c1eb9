"""Real git repositories and servers for the git tests (and benchmarks).

- ``RepoBuilder``: a bare repository served as ``file://`` (and by the servers below), written through a work
  clone with real commits, annotated and lightweight tags, branches, submodules, symlinks, many refs at once,
  and a force-push that leaves an old commit unreachable.
- ``HttpsGitServer``: git's smart HTTP (``git http-backend`` as CGI) behind a threaded Python HTTPS server with
  a self-signed CA (``ca_file``: what PLAYDECK_GIT_CA_FILE names), requiring HTTP Basic with one token; a wrong
  one gets 401. It counts the fetches it served.
- ``SshGitServer``: sshd in a network namespace where user ``git`` has ``git-shell`` as its login shell and
  logs in by key only; its host key is pinned with ``known_hosts_line()`` and can be changed.
- ``SilentServer``: accepts connections and never answers (a hung git server).
"""

from __future__ import annotations

import base64
import datetime
import hmac
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from testing.certificates import ca_signed
from testing.netns import Network, SshTarget, write_accounts

GIT = shutil.which("git") or "/usr/bin/git"
GIT_HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"
GIT_SHELL = shutil.which("git-shell") or "/usr/bin/git-shell"
# Commits get dates a minute apart from here, so "newest first" is well defined.
EPOCH = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)


class RepoBuilder:
    """``<base>/<name>.git`` (bare, what is served) and ``<base>/<name>.work`` (where commits are made)."""

    def __init__(self, base: Path, name: str = "repo") -> None:
        self.base = base
        self.name = name
        self.bare = base / f"{name}.git"
        self.work = base / f"{name}.work"
        self._clock = 0
        base.mkdir(parents=True, exist_ok=True)
        self._git(None, "init", "--quiet", "--bare", "--initial-branch=main", str(self.bare))
        self._git(None, "init", "--quiet", "--initial-branch=main", str(self.work))
        self.git("remote", "add", "origin", str(self.bare))

    @property
    def url(self) -> str:
        return f"file://{self.bare}"

    def _env(self) -> dict[str, str]:
        date = (EPOCH + datetime.timedelta(minutes=self._clock)).isoformat()
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.base),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_AUTHOR_NAME": "Ada Dev",
            "GIT_AUTHOR_EMAIL": "ada@example.test",
            "GIT_COMMITTER_NAME": "Ada Dev",
            "GIT_COMMITTER_EMAIL": "ada@example.test",
            "GIT_AUTHOR_DATE": date,
            "GIT_COMMITTER_DATE": date,
            # Submodules of file:// repositories (git refuses them by default since 2.38.1).
            "GIT_ALLOW_PROTOCOL": "file",
        }

    def _git(self, cwd: Path | None, *args: str, input: str | None = None) -> str:
        result = subprocess.run(
            [GIT, *args], cwd=cwd, env=self._env(), input=input, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)} failed: {result.stderr}")
        return result.stdout.strip()

    def git(self, *args: str, input: str | None = None) -> str:
        return self._git(self.work, *args, input=input)

    def publish(self) -> None:
        """Make the bare repository what the work clone is: every branch and tag, forced, deleted ones too."""
        refspecs = ("refs/heads/*:refs/heads/*", "refs/tags/*:refs/tags/*")
        self.git("push", "--quiet", "--force", "--prune", "origin", *refspecs)

    def commit(
        self, message: str, files: dict[str, str | bytes] | None = None, symlinks: dict[str, str] | None = None
    ) -> str:
        """A commit on the current branch writing ``files`` (and ``symlinks``: path → target); its id."""
        self._clock += 1
        for path, content in (files or {}).items():
            target = self.work / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content if isinstance(content, bytes) else content.encode())
        for path, link in (symlinks or {}).items():
            target = self.work / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(link)
        self.git("add", "--all")
        self.git("commit", "--quiet", "--allow-empty", "-m", message)
        self.publish()
        return self.head()

    def head(self, ref: str = "HEAD") -> str:
        return self.git("rev-parse", f"{ref}^{{commit}}")

    def branch(self, name: str, start: str = "HEAD", switch: bool = True) -> None:
        self.git("branch", name, start)
        if switch:
            self.switch(name)
        self.publish()

    def switch(self, name: str) -> None:
        self.git("switch", "--quiet", name)

    def tag(self, name: str, message: str | None = None, target: str = "HEAD") -> None:
        """An annotated tag with ``message``, else a lightweight one."""
        self.git("tag", *(["-a", "-m", message] if message else []), name, target)
        self.publish()

    def revert(self, sha: str) -> str:
        self._clock += 1
        self.git("revert", "--no-edit", sha)
        self.publish()
        return self.head()

    def rewrite_last(self, message: str) -> tuple[str, str]:
        """Replace the current branch's last commit by another and force-push: (removed id, new id)."""
        removed = self.head()
        self.git("reset", "--quiet", "--hard", "HEAD~1")
        return removed, self.commit(message, {"rewritten.txt": message})

    def add_submodule(self, path: str, other: RepoBuilder, url: str | None = None) -> str:
        """``other`` as a submodule at ``path`` (by ``url``, default its file:// URL), committed; the commit id."""
        self.git("submodule", "add", "--quiet", url or other.url, path)
        return self.commit(f"add submodule {path}")

    def many_refs(self, tags: int, branches: int) -> None:
        """``tags`` lightweight tags t00000… and ``branches`` branches b0000… on the existing commits, in one go."""
        commits = self.git("rev-list", "--all").split()
        lines = [f"create refs/tags/t{n:05d} {commits[n % len(commits)]}" for n in range(tags)]
        lines += [f"create refs/heads/b{n:04d} {commits[n % len(commits)]}" for n in range(branches)]
        self.git("update-ref", "--stdin", input="\n".join(lines) + "\n")
        self.publish()


class _GitHandler(BaseHTTPRequestHandler):
    server: _GitHttpServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass  # the requests are counted, not logged

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self._serve()

    def do_POST(self) -> None:  # noqa: N802
        self._serve()

    def _authorized(self) -> bool:
        expected = base64.b64encode(f"{self.server.username}:{self.server.token}".encode()).decode()
        return hmac.compare_digest(self.headers.get("Authorization", ""), f"Basic {expected}")

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                chunk = self.rfile.read(size)
                self.rfile.readline()
                if size == 0:
                    return b"".join(chunks)
                chunks.append(chunk)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _serve(self) -> None:
        path, _, query = self.path.partition("?")
        body = self._body() if self.command == "POST" else b""
        authorized = self._authorized()
        with self.server.lock:
            self.server.requests.append((self.command, path, query, authorized))
        if not authorized:
            self._answer(401, {"WWW-Authenticate": 'Basic realm="git"', "Content-Type": "text/plain"}, b"no\n")
            return
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.server.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": self.server.username,
            "REMOTE_ADDR": self.client_address[0],
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
        }
        result = subprocess.run([GIT_HTTP_BACKEND], input=body, env=env, capture_output=True, check=False)
        ends = [end for end in (result.stdout.find(b"\r\n\r\n"), result.stdout.find(b"\n\n")) if end >= 0]
        head_end = min(ends) if ends else 0
        head = result.stdout[:head_end].decode()
        content = result.stdout[head_end:].lstrip(b"\r\n") if ends else result.stdout
        headers = dict(line.split(": ", 1) for line in head.splitlines() if ": " in line)
        status = int(headers.pop("Status", "200").split()[0])
        self._answer(status, headers, content)

    def _answer(self, status: int, headers: dict[str, str], content: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)


class _GitHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    root: Path
    username: str
    token: str
    requests: list[tuple[str, str, str, bool]]  # method, path, query, authorized
    lock: threading.Lock


class HttpsGitServer:
    """Serves the bare repositories under ``root`` at ``https://<address>:<port>/<name>.git`` to whoever sends
    HTTP Basic ``username``:``token``. ``ca_file`` is the CA its certificate chains to. ``address``: where it
    listens (a namespace's gateway, for a worker inside it), 127.0.0.1 by default."""

    def __init__(self, root: Path, token: str, username: str = "deploy", address: str = "127.0.0.1") -> None:
        self.root = root
        self.address = address
        self.certs = Path(tempfile.mkdtemp(prefix="pd-git-tls-"))
        self.ca_file, certificate, key = ca_signed(self.certs, address)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate, key)
        self.server = _GitHttpServer((address, 0), _GitHandler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.server.root, self.server.username, self.server.token = root, username, token
        self.server.requests, self.server.lock = [], threading.Lock()
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name="https-git", daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"https://{self.address}:{self.port}/{name}.git"

    def fetches(self) -> int:
        """Fetches served: each begins with the upload-pack advertisement (401s not counted)."""
        with self.server.lock:
            requests = list(self.server.requests)
        return sum(1 for _, path, query, ok in requests if ok and path.endswith("/info/refs") and "pack" in query)

    def refused(self) -> int:
        """Requests answered 401."""
        with self.server.lock:
            return sum(1 for request in self.server.requests if not request[3])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        shutil.rmtree(self.certs, ignore_errors=True)


class SilentServer:
    """Listens on 127.0.0.1 and accepts connections, then says nothing: a git server that hangs."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(16)
        self.port = self.socket.getsockname()[1]

    def close(self) -> None:
        self.socket.close()


class SshGitServer:
    """sshd in a namespace of ``network``; user ``git`` (login shell git-shell) logs in with ``authorized_key``
    and reads the repositories copied in with ``serve``. The repositories live in a world-traversable
    temporary directory (the test's tmp dir is root's alone), owned by ``git``; ``close()`` removes it."""

    def __init__(self, network: Network, base: Path, authorized_key: str) -> None:
        self.shared = Path(tempfile.mkdtemp(prefix="pd-git-ssh-"))
        self.shared.chmod(0o755)
        self.uid = write_accounts(base / "accounts", "git", self.shared / "home", "unused", shell=GIT_SHELL)
        # sshd reads authorized_keys as the user: its files must be where git can read them.
        sshd_files = self.shared / "sshd"
        self.target = SshTarget(network, network.add_host("git"), sshd_files, authorized_key, base / "accounts")

    @property
    def address(self) -> str:
        return self.target.host.address

    def serve(self, repo: RepoBuilder) -> str:
        """A copy of ``repo``'s bare repository, readable by ``git``; its ssh:// URL."""
        served = self.shared / repo.bare.name
        shutil.rmtree(served, ignore_errors=True)
        shutil.copytree(repo.bare, served, symlinks=True)
        for folder, _, files in os.walk(served):
            shutil.chown(folder, self.uid, self.uid)
            for name in files:
                shutil.chown(os.path.join(folder, name), self.uid, self.uid)
        return f"ssh://git@{self.address}{served}"

    def known_hosts_line(self) -> str:
        return self.target.known_hosts_line()

    def change_host_key(self) -> None:
        self.target.change_host_key()

    def close(self) -> None:
        shutil.rmtree(self.shared, ignore_errors=True)
