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
# Table option for tables whose ids the history or the audit log name: SQLite hands a deleted newest row's id
# to the next insert unless the table is AUTOINCREMENT, and one record's history would then tell of two.
# MariaDB's AUTO_INCREMENT never goes back, so the option only changes SQLite's DDL.
NEVER_REUSE_IDS = {"sqlite_autoincrement": True}
# Event payloads and logs can be large; MySQL TEXT stops at 64 KiB.
LongText = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def utcnow() -> dt.datetime:
    """Naive UTC, the form every timestamp column stores."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass
