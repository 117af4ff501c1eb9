"""Action plugin ``playdeck_dns_zone``: the zone module's work in Ansible's own process, when it may.

The module (playbooks/library/playdeck_dns_zone.py) imports Playdeck, so it runs with Playdeck's Python
on Playdeck's machine, where BIND runs too (inventory dns/local.ini: a local connection, the playbook's
own interpreter). There, starting it as a module buys nothing and costs 0.5-1 s a run (Ansible packs the
module and its module_utils into a zip, then a new Python unpacks and imports them), which is most of a
regeneration's time after the playbook's start: so this plugin calls ``playdeck.dns.bind.task_result``
itself. With any other connection, or with become (another user), or where this Python cannot import
Playdeck, it runs the module as usual.
"""

from __future__ import annotations

from typing import Any

from ansible.plugins.action import ActionBase

MODULE = "playdeck_dns_zone"


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        bind = self._local_bind()
        if bind is None:
            result.update(self._execute_module(module_name=MODULE, task_vars=task_vars))
            return result
        _, params = self.validate_argument_spec(argument_spec=bind.TASK_ARGUMENTS)
        result.update(bind.task_result(params, check_mode=self._task.check_mode))
        return result

    def _local_bind(self):
        """playdeck.dns.bind if the module may run here, in this process; None to run the module."""
        if self._connection.transport != "local" or self._play_context.become:
            return None
        try:
            from playdeck.dns import bind
        except ImportError:
            return None  # the module says what is wrong, with its interpreter's name
        return bind
