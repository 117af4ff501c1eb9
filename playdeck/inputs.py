"""What every structured value from outside (a JSON body, extra vars typed as YAML) must be, before any service
looks at it: nested at most MAX_DEPTH levels, and text that is valid Unicode.

Depth: a document nested hundreds of levels deep costs seconds of CPU to load and to serialise again, and
Python's recursion limit in code that walks it; no request needs more than a few levels. Text: JSON's
``"\\ud800"`` escape decodes to a lone surrogate, which no UTF-8 encoder (the database driver, a log, a
webhook's body) accepts; it is refused here as a 400 instead of failing later as a 500.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from playdeck.errors import ValidationError

MAX_DEPTH = 20
# Who asks for or cancels a run, drains a worker: an account name (or the system's).
USER_RE = re.compile(r"[\w.@-]{1,100}")
# libyaml when PyYAML has it: its scanner stops at once on deep nesting, the pure Python one looks ahead.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def check_text(text: str, field: str) -> str:
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError(field, "has a lone surrogate (\\ud800-\\udfff): not valid Unicode text") from None
    return text


def check_value(value: Any, field: str, max_depth: int = MAX_DEPTH) -> Any:
    """``value`` (parsed JSON or YAML) if it nests at most ``max_depth`` containers deep and every string in
    it, keys included, is valid Unicode; else ValidationError naming ``field``."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            check_text(item, field)
        elif isinstance(item, dict | list):
            if depth > max_depth:
                raise ValidationError(field, f"is nested more than {max_depth} levels deep")
            if isinstance(item, dict):
                pending += ((key, depth) for key in item)
                pending += ((child, depth + 1) for child in item.values())
            else:
                pending += ((child, depth + 1) for child in item)
    return value


def load_yaml(text: str, field: str, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    """Safe-load YAML typed by a user: refused (ValidationError) if larger than ``max_bytes``, nested deeper
    than ``max_depth`` (found while parsing, before anything is built), or using aliases."""
    if len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise ValidationError(field, f"is larger than {max_bytes // 1024} KiB")
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_YAML_LOADER):
            # A few nested aliases expand exponentially once the value is serialised ("billion laughs"),
            # and nobody needs them in extra vars.
            if isinstance(event, yaml.AliasEvent):
                raise ValidationError(field, "YAML aliases (*name) are not allowed")
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > max_depth:
                    raise ValidationError(field, f"is nested more than {max_depth} levels deep")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
        value = yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader (CSafeLoader or SafeLoader)
    except yaml.YAMLError as exc:
        raise ValidationError(field, explain_yaml_error(exc)) from None
    return check_value(value, field, max_depth)


# What PyYAML's problems mean to a person typing variables (its own words quote marks, columns and parser states).
_YAML_PROBLEMS = (
    ("could not find expected ':'", "a mapping needs 'name: value'"),
    ("mapping values are not allowed", "a second ': ' on one line: quote a value that contains ': ', or put a "
     "nested 'name: value' on its own indented line"),
    ("expected ',' or ']'", "a '[' list is not closed with ']' (or a comma is missing)"),
    ("expected ',' or '}'", "a '{' mapping is not closed with '}' (or a comma is missing)"),
    ("end of stream", "a quote is not closed"),
    ("tab character", "a tab indents this line: indent with spaces"),
    ("expected key", "the indentation does not line up with the lines above"),
    ("'-' indicator", "list items ('- item') and 'name: value' lines are mixed at one level"),
    ("cannot start any token", "a value cannot start with @, ` or %: put it in quotes"),
    ("<document start>", "there is more text after the value ended"),
)  # fmt: skip
# Problems reported where the scanner gave up (often the end): the line that opened the construct is the one to mend.
_STARTED_AT = ("simple key", "quoted scalar", "flow sequence", "flow mapping")


def explain_yaml_error(exc: yaml.YAMLError) -> str:
    """ "line 2: a mapping needs 'name: value'": the line and what to mend, without the parser's positions."""
    problem = str(getattr(exc, "problem", "") or "")
    context = str(getattr(exc, "context", "") or "")
    fallback = f"this is not valid YAML or JSON ({problem})" if problem else "this is not valid YAML or JSON"
    explained = next((plain for words, plain in _YAML_PROBLEMS if words in problem), fallback)
    mark = getattr(exc, "context_mark", None) if any(words in context for words in _STARTED_AT) else None
    mark = mark or getattr(exc, "problem_mark", None)
    return f"line {mark.line + 1}: {explained}" if mark is not None else explained


def check_user_name(value: Any, field: str) -> str:
    """A user name recorded as who did something: 1-100 letters, digits and . @ _ -."""
    if not isinstance(value, str) or not USER_RE.fullmatch(value):
        raise ValidationError(field, "must be 1-100 characters of letters, digits and . @ _ -")
    return value
