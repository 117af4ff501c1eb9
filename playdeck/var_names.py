"""Which names a launch may give a variable: Ansible's variable names, minus the platform's own and Ansible's.

Extra vars outrank every other variable in Ansible: a caller could otherwise replace the platform's own
(playdeck_*), the connection and privilege settings (ansible_ssh_common_args runs a command on the
controller, ansible_become_password, ansible_python_interpreter) or Ansible's magic variables.
"""

from __future__ import annotations

import re
from typing import Any

from playdeck.errors import ValidationError

# Matched in full (fullmatch): "$" would also accept a name followed by a newline.
VAR_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
RESERVED_VAR_PREFIXES = ("playdeck_", "ansible_")
RESERVED_VAR_NAMES = frozenset(
    {"hostvars", "groups", "group_names", "inventory_hostname", "inventory_hostname_short", "inventory_dir",
     "inventory_file", "playbook_dir", "play_hosts", "role_path", "omit", "environment", "vars"}
)  # fmt: skip


def check_var_name(name: Any, field: str) -> str:
    """``name`` if a launch may set it, else ValidationError on ``field``."""
    if not isinstance(name, str) or not VAR_NAME_RE.fullmatch(name):
        raise ValidationError(field, f"'{name}' is not a valid Ansible variable name")
    if name.startswith(RESERVED_VAR_PREFIXES) or name in RESERVED_VAR_NAMES:
        raise ValidationError(
            field, f"'{name}': names starting with playdeck_ or ansible_, and Ansible's magic variables, are reserved"
        )
    return name
