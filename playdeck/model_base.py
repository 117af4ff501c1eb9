"""What every table is built from: the declarative base and the column types and clock they share.

A module of its own so the account and DNS tables (``playdeck.auth.models``, ``playdeck.dns.models``) can
build on it without importing ``playdeck.models``, which imports them to put every table in one metadata.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, DateTime, Integer, Text
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase

# Microsecond timestamps on MySQL too: dispatch latency is measured in milliseconds.
Timestamp = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
# SQLite only auto-increments a column declared exactly INTEGER.
BigId = BigInteger().with_variant(Integer(), "sqlite")
# Event payloads and logs can be large; MySQL TEXT stops at 64 KiB.
LongText = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def utcnow() -> dt.datetime:
    """Naive UTC, the form every timestamp column stores."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass
