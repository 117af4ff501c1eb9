"""Which regular expressions may take exponential time to match: refused in launch forms, where a launcher
chooses the value (Python's ``re`` backtracks and has no time limit).

The shapes are those of the classic ReDoS patterns: a repeated part that holds a variable repeat, an
alternation or a back-reference, with nothing to tell its repetitions apart (``(a+)+``, ``(a|aa)*``,
``(x\\w*)+``). A repeated part with a literal of its own that none of its inner repeats can consume is
fine: each repetition has one place to begin (``[a-z]+(-[a-z]+)*``, ``\\d{1,3}(\\.\\d{1,3}){3}``). The check
errs on the side of refusing; the message says how to write the pattern instead.

It reads the parse tree of ``re``'s own parser (``re._parser``, private but the one ``re`` compiles from):
a pattern is judged exactly as Python reads it.
"""

from __future__ import annotations

import re
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any


def exponential_shape(pattern: str) -> bool:
    """True if matching ``pattern`` may take exponential time; re.error if it is not a pattern."""
    return _costly(list(sre_parse.parse(pattern)))


REPEATS = (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, sre_constants.POSSESSIVE_REPEAT)


def _costly(items: list[Any]) -> bool:
    """True if a repeated part holds a variable repeat, an alternation or a back-reference, and no literal
    character of its own that none of those can match: the shapes that let a backtracking matcher try
    exponentially many ways to split a value (``(a+)+``, ``(x\\w*)+``, ``(a|aa)*``). ``(-[a-z]+)*`` is safe:
    each repetition starts at a "-" that ``[a-z]+`` cannot consume."""
    for op, argument in items:
        if op in (sre_constants.GROUPREF, sre_constants.GROUPREF_EXISTS):
            return True
        body = _bodies(op, argument)
        if op in REPEATS and argument[1] > 1:
            ambiguous = _variable_parts(list(argument[2]))
            if ambiguous and not _separated(list(argument[2]), ambiguous):
                return True
        if any(_costly(part) for part in body):
            return True
    return False


def _bodies(op: Any, argument: Any) -> list[list[Any]]:
    """The nested item lists of one parsed item (a group's, a repeat's, each branch's)."""
    if op in REPEATS:
        return [list(argument[2])]
    if op == sre_constants.BRANCH:
        return [list(branch) for branch in argument[1]]
    if op in (sre_constants.SUBPATTERN, sre_constants.ASSERT, sre_constants.ASSERT_NOT):
        return [list(argument[-1])]
    if op == sre_constants.ATOMIC_GROUP:
        return [list(argument)]
    return []


def _variable_parts(items: list[Any]) -> list[tuple[Any, Any]]:
    """The variable repeats and alternations anywhere in ``items``."""
    found = []
    for op, argument in items:
        if (op in REPEATS and argument[0] != argument[1]) or op == sre_constants.BRANCH:
            found.append((op, argument))
        for part in _bodies(op, argument):
            found += _variable_parts(part)
    return found


def _separated(items: list[Any], ambiguous: list[tuple[Any, Any]]) -> bool:
    """True if ``items`` (a repeated part) has, outside any repeat, a literal that no ``ambiguous`` part can
    match: each repetition then has exactly one place to begin."""
    for op, argument in items:
        if op == sre_constants.LITERAL and not any(_may_match(part, chr(argument)) for part in ambiguous):
            return True
        # A group that is not repeated is matched once, like the literals around it.
        if op == sre_constants.SUBPATTERN and _separated(list(argument[-1]), ambiguous):
            return True
    return False


_CATEGORY_PATTERNS = {
    sre_constants.CATEGORY_DIGIT: r"\d", sre_constants.CATEGORY_NOT_DIGIT: r"\D",
    sre_constants.CATEGORY_WORD: r"\w", sre_constants.CATEGORY_NOT_WORD: r"\W",
    sre_constants.CATEGORY_SPACE: r"\s", sre_constants.CATEGORY_NOT_SPACE: r"\S",
}  # fmt: skip


def _may_match(item: tuple[Any, Any], char: str) -> bool:
    """Whether ``item`` might consume ``char``; True whenever that is not plain to see."""
    op, argument = item
    if op == sre_constants.LITERAL:
        return chr(argument) == char
    if op == sre_constants.NOT_LITERAL:
        return chr(argument) != char
    if op == sre_constants.IN:
        return _in_set(argument, char)
    parts = _bodies(op, argument)
    if not parts:
        return True  # ANY, AT, ...: assume the worst
    return any(_may_match(inner, char) for part in parts for inner in part)


def _in_set(entries: list[tuple[Any, Any]], char: str) -> bool:
    negate = any(op == sre_constants.NEGATE for op, _ in entries)
    hit = False
    for op, argument in entries:
        if op == sre_constants.LITERAL:
            hit |= chr(argument) == char
        elif op == sre_constants.RANGE:
            hit |= argument[0] <= ord(char) <= argument[1]
        elif op == sre_constants.CATEGORY and argument in _CATEGORY_PATTERNS:
            hit |= re.fullmatch(_CATEGORY_PATTERNS[argument], char) is not None
        elif op != sre_constants.NEGATE:
            return True
    return hit != negate
