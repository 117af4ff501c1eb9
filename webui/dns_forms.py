"""The DNS pages' forms: what the user typed, kept as typed so a refused form is shown again unchanged.

Values are only reshaped here (blank optional fields left out, lists split); what they may be is decided
by ``playdeck.dns`` — the one place that knows what a valid zone or record is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from flask import request
from werkzeug.datastructures import MultiDict

from playdeck.dns.validation import FORWARD
from playdeck.errors import ValidationError
from webui.params import int_param

SOA_TIMERS = ("refresh", "retry", "expire", "minimum")
LIST_SEPARATORS = re.compile(r"[\s,]+")


# Fields the service reads with ``parse_ttl``, which accepts digit strings (form fields).
SECONDS_FIELDS = ("ttl", "default_ttl", *SOA_TIMERS)


def is_number(text: str) -> bool:
    """Only ASCII digits: ``str.isdigit`` is also true for "²" or "١", which ``int()`` refuses or reads."""
    return text.isascii() and text.isdigit()


def refuse_odd_digits(fields: Mapping[str, Any]) -> None:
    """A 400 for seconds written with non-ASCII digits ("²"): ``validation.parse_ttl`` would pass them to
    ``int()`` and fail with a 500 (reported to the DNS service; harmless to keep once fixed there)."""
    for name in SECONDS_FIELDS:
        value = fields.get(name)
        if isinstance(value, str) and value.strip().isdigit() and not is_number(value.strip()):
            raise ValidationError(name, "must be a whole number of seconds")


def query_int(name: str, default: int, minimum: int, maximum: int) -> int:
    """``webui.params.int_param`` for a query parameter, refusing non-ASCII digits with a 400 first."""
    value = request.args.get(name)
    if value is not None and not value.isascii():
        raise ValidationError(name, f"must be a whole number from {minimum} to {maximum}, got '{value}'")
    return int_param(name, value, default, minimum, maximum)


def _version(form: MultiDict[str, str]) -> int | None:
    text = form.get("version", "").strip()
    return int(text) if is_number(text) and len(text) <= 10 else None


def require_version(version: int | None) -> int:
    if version is None:
        # Only a hand-made request lacks it: the forms always carry the version they were drawn with.
        raise ValidationError("version", "is missing; reload the page and try again")
    return version


@dataclass
class RecordForm:
    name: str = ""
    type: str = "A"
    value: str = ""
    ttl: str = ""
    comment: str = ""
    version: int | None = None

    @classmethod
    def from_form(cls, form: MultiDict[str, str]) -> RecordForm:
        return cls(
            name=form.get("name", ""),
            type=form.get("type", ""),
            value=form.get("value", ""),
            ttl=form.get("ttl", "").strip(),
            comment=form.get("comment", ""),
            version=_version(form),
        )

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> RecordForm:
        return cls(
            name=record["name"],
            type=record["type"],
            value=record["value"],
            ttl=str(record["ttl"]),
            comment=record["comment"],
            version=record["version"],
        )

    def fields(self) -> dict[str, Any]:
        """Keyword arguments of ``records.create_record``/``update_record``; a blank TTL is the RRset's."""
        fields = {"name": self.name, "rtype": self.type, "value": self.value, "ttl": self.ttl or None}
        refuse_odd_digits(fields)
        return {**fields, "comment": self.comment}


@dataclass
class ZoneForm:
    """A new zone: its name, SOA names, name servers and their addresses, and optional timers."""

    name: str = ""
    mname: str = ""
    rname: str = ""
    nameservers: str = ""
    glue: str = ""
    default_ttl: str = ""
    refresh: str = ""
    retry: str = ""
    expire: str = ""
    minimum: str = ""
    auto_ptr: bool = False

    @classmethod
    def from_form(cls, form: MultiDict[str, str]) -> ZoneForm:
        texts = {name: form.get(name, "").strip() for name in ("default_ttl", *SOA_TIMERS)}
        return cls(
            name=form.get("name", "").strip(),
            mname=form.get("mname", "").strip(),
            rname=form.get("rname", "").strip(),
            nameservers=form.get("nameservers", ""),
            glue=form.get("glue", ""),
            auto_ptr=form.get("auto_ptr") is not None,
            **texts,
        )

    def fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"name": self.name, "mname": self.mname, "rname": self.rname}
        for name in ("default_ttl", *SOA_TIMERS):
            if getattr(self, name):
                fields[name] = getattr(self, name)
        if self.auto_ptr:
            fields["auto_ptr"] = True
        servers = [server for server in LIST_SEPARATORS.split(self.nameservers) if server]
        if servers:
            fields["nameservers"] = servers
        glue = parse_glue(self.glue)
        if glue:
            fields["glue"] = glue
        refuse_odd_digits(fields)
        return fields


def parse_glue(text: str) -> dict[str, list[str]]:
    """Lines of "name-server address [address ...]"."""
    glue: dict[str, list[str]] = {}
    for line in text.splitlines():
        words = [word for word in LIST_SEPARATORS.split(line) if word]
        if not words:
            continue
        if len(words) < 2:
            raise ValidationError("glue", f"'{words[0]}': give the name server and its address on one line")
        glue.setdefault(words[0], []).extend(words[1:])
    return glue


@dataclass
class SettingsForm:
    """A zone's editable settings, drawn from the zone and sent back with the version it was drawn at."""

    values: dict[str, str] = field(default_factory=dict)
    auto_ptr: bool = False
    version: int | None = None

    TEXT_FIELDS: ClassVar[tuple[str, ...]] = ("mname", "rname", "default_ttl", *SOA_TIMERS)

    @classmethod
    def from_zone(cls, zone: dict[str, Any]) -> SettingsForm:
        settings = zone["settings"]
        return cls(
            values={name: str(settings[name]) for name in cls.TEXT_FIELDS},
            auto_ptr=bool(settings["auto_ptr"]),
            version=zone["version"],
        )

    @classmethod
    def from_form(cls, form: MultiDict[str, str]) -> SettingsForm:
        return cls(
            values={name: form.get(name, "").strip() for name in cls.TEXT_FIELDS},
            auto_ptr=form.get("auto_ptr") is not None,
            version=_version(form),
        )

    def fields(self, kind: str) -> dict[str, Any]:
        changes: dict[str, Any] = dict(self.values)
        # Automatic PTRs are made for forward zones only; a reverse zone's form has no such box.
        if kind == FORWARD:
            changes["auto_ptr"] = self.auto_ptr
        refuse_odd_digits(changes)
        return changes
