"""A git project's run on a worker of another "host" (a namespace with a data dir of its own, its mirror empty):
it fetches the queued commit from the git server itself, over HTTPS with the project's token, and runs it."""

from __future__ import annotations

import json

from cryptography.fernet import Fernet

from playdeck import db, environments
from playdeck.runs.queries import get_run
from playdeck.runs.requests import RunRequest
from playdeck.settings import get_settings
from testing.git_servers import HttpsGitServer, RepoBuilder
from tests.conftest import TERMINAL, queue_run, use_key, wait_for_state
from tests.git.projects import add_git_project
from tests.netns.conftest import QUEUE

TOKEN = "t0ken-0f-the-second-host"
PLAYBOOK = """\
- hosts: all
  gather_facts: false
  tasks:
    - ansible.builtin.copy:
        dest: "{{ out_dir }}/{{ playdeck_run_id }}.json"
        content: "{{ {'app': lookup('file', playbook_dir ~ '/../app.txt'), 'commit': playdeck_commit} | to_json }}"
"""
INVENTORY = """\
local

[all:vars]
ansible_connection=local
ansible_python_interpreter={{ ansible_playbook_python }}
"""


def test_a_worker_on_another_host_fetches_and_runs_a_commit_it_has_never_seen(cluster, monkeypatch, tmp_path):
    net = cluster("w1")
    host = net.hosts[0]
    use_key(monkeypatch, Fernet.generate_key().decode())
    repo = RepoBuilder(tmp_path / "repos", "shop")
    files = {"deploy/site.yml": PLAYBOOK, "deploy/inventory.ini": INVENTORY}
    first = repo.commit("one", {**files, "app.txt": "app one\n"})
    repo.commit("two", {"app.txt": "app two\n"})
    # On the worker's side of its link: the one address of this host the namespace reaches.
    server = HttpsGitServer(repo.base, TOKEN, address=host.gateway)
    try:
        monkeypatch.setenv("PLAYDECK_GIT_CA_FILE", str(server.ca_file))
        get_settings.cache_clear()
        with db.session_scope() as session:
            add_git_project(session, "shop", server.url("shop"), token=TOKEN, lock_deploys=False)
            environments.set_options(session, "shop", "staging", queue=QUEUE)
        out = tmp_path / "out"
        out.mkdir()
        # Resolved here (this host's mirror fetched), executed there.
        run = queue_run(RunRequest("shop", "staging", ref=first, requested_by="ci", extra_vars={"out_dir": str(out)}))
        assert server.fetches() == 1
        worker_data = tmp_path / "w1-data"
        worker = net.start_worker(host, env={"PLAYDECK_DATA_DIR": str(worker_data)})
        assert wait_for_state(run.id, TERMINAL, timeout=180) == "successful", worker.output()
        with db.session_scope() as session:
            assert get_run(session, run.id).worker_host == worker.hostname
        assert json.loads((out / f"{run.id}.json").read_text()) == {"app": "app one", "commit": first}
        assert server.fetches() == 2  # the worker's own fetch, into its own empty mirror
        assert any((worker_data / "git").glob("project-*.git"))
    finally:
        server.close()
