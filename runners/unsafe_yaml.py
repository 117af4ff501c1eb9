"""A run's extra vars as YAML in which every string is data that Ansible never templates.

Ansible templates a variable's value when a task or a play's ``vars:`` reads it, so a launch value
``{{ lookup('pipe', 'id') }}`` runs ``id`` on the worker host as the worker's user, even under --check, and
checking the variables' names does not help: only the value's type does. A string tagged ``!unsafe`` is
never templated. AWX writes launch-time extra vars this way (its ``safe_dump`` tags every key and string;
CVE-2018-1104 was the hole before it), while Semaphore passed them as plain JSON on the command line and
had the same remote code execution (CVE-2023-39059).

ansible-playbook reads the run's ``env/extravars`` with ``-e @file`` through Ansible's own YAML loader,
which knows the tag. Every string that could hold a template, dictionary keys and values at any depth,
is written ``!unsafe``; numbers, booleans and null keep their types.

One catch, tried with ansible-core 2.19: its loader resolves an ``!unsafe`` scalar's type again as if it
were plain, so ``!unsafe "3"`` arrives as 3, ``!unsafe ""`` as None and ``!unsafe "1.10"`` as 1.1. A
string that YAML would read as another type (a number, a boolean, null, a date) contains no ``{`` and so
no template: it is written as a quoted string instead, which every version reads back as that string.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml
from yaml.resolver import Resolver

UNSAFE_TAG = "!unsafe"
_STR_TAG = "tag:yaml.org,2002:str"
# The resolver Ansible's loader uses (PyYAML's YAML 1.1 one), asked as for a plain scalar.
_RESOLVER = Resolver()
# Jinja's openings all start with "{" ({{ }}, {% %}, {# #}).
_TEMPLATE_START = "{"


class _UnsafeDumper(yaml.SafeDumper):
    pass


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Double quotes: any character is escaped, nothing is folded into another meaning.
    if _RESOLVER.resolve(yaml.ScalarNode, value, (True, False)) == _STR_TAG:
        return dumper.represent_scalar(UNSAFE_TAG, value, style='"')
    if _TEMPLATE_START in value:  # no YAML 1.1 number, boolean, null or date has one; stay sure anyway
        raise ValueError(f"cannot write {value!r} as an untemplated string")
    return dumper.represent_scalar(_STR_TAG, value, style='"')


_UnsafeDumper.add_representer(str, _represent_str)


def dump(variables: Mapping[str, Any]) -> str:
    """``variables`` (JSON-shaped: dicts, lists, strings, numbers, booleans, null) as an extra vars file."""
    return yaml.dump(dict(variables), Dumper=_UnsafeDumper, allow_unicode=True, sort_keys=True, width=float("inf"))
