"""SOA serials: 32-bit numbers compared with RFC 1982 serial arithmetic.

The next serial is ``max(old + 1, YYYYMMDD00)`` in that arithmetic: it follows the date while fewer than
100 regenerations a day happen, and simply counts on (never stuck, never backwards) when more do.
"""

from __future__ import annotations

import datetime as dt

SERIAL_MODULO = 2**32
# RFC 1982: s1 is greater than s2 when it is ahead by less than half the number space.
HALF_RANGE = 2**31


def serial_gt(s1: int, s2: int) -> bool:
    """Whether ``s1`` is greater than ``s2`` in RFC 1982 arithmetic (undefined, so False, at exactly half)."""
    return s1 != s2 and (s1 - s2) % SERIAL_MODULO < HALF_RANGE


def dated_serial(day: dt.date) -> int:
    return int(day.strftime("%Y%m%d")) * 100


def next_serial(old: int, today: dt.date) -> int:
    """The serial after ``old`` on ``today`` (UTC): greater than ``old`` for any old value."""
    bumped = (old + 1) % SERIAL_MODULO
    dated = dated_serial(today)
    return dated if serial_gt(dated, bumped) else bumped
