"""Test-only become method: runs the command as the same user, with the SHA-256 of the become password Ansible
was given in its environment (PLAYDECK_TEST_BECOME_SHA256), so a test can check that the password arrived
without it appearing anywhere. Found by Ansible next to the playbooks (tests/playbooks/become_plugins)."""

from __future__ import annotations

import hashlib

from ansible.plugins.become import BecomeBase

DOCUMENTATION = """
    name: playdeck_test
    short_description: Test-only; tells the command the SHA-256 of the become password
    description:
        - Runs the command unchanged, as the same user, with PLAYDECK_TEST_BECOME_SHA256 in its environment.
    author: Playdeck
    options:
        become_user:
            description: Ignored.
            default: ''
        become_pass:
            description: The become password (given with --ask-become-pass).
            required: False
            vars:
              - name: ansible_become_password
"""


class BecomeModule(BecomeBase):
    name = "playdeck_test"

    def build_become_command(self, cmd, shell):
        super().build_become_command(cmd, shell)
        if not cmd:
            return cmd
        digest = hashlib.sha256((self.get_option("become_pass") or "").encode()).hexdigest()
        return f"PLAYDECK_TEST_BECOME_SHA256={digest} {self._build_success_command(cmd, shell)}"
