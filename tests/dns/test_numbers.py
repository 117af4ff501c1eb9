"""Whole numbers written as text: only ASCII digits pass, everything else is a 400 (not a 500).

``str.isdigit`` is true for "²" (``int()`` refuses it: that was a 500) and "١٢" (``int()`` reads 12);
``int()`` also refuses over 4,300 digits.
"""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from playdeck import db
from playdeck.dns import listing, records
from playdeck.dns.validation import parse_ttl
from playdeck.errors import ValidationError
from tests.conftest import web_client
from tests.dns.conftest import ZONE, zone_state
from webui.params import int_param, parse_page

NOT_NUMBERS = ["²", "١٢", "+5", " 5", "5 ", "-1", "5.0", "", "9" * 5000]


@pytest.fixture
def client(zone) -> FlaskClient:
    return web_client()


@pytest.mark.parametrize("text", NOT_NUMBERS)
def test_a_ttl_is_ascii_digits(text):
    with pytest.raises(ValidationError) as refused:
        parse_ttl(text)
    assert refused.value.field == "ttl"


def test_a_ttl_in_digits_is_read():
    assert parse_ttl("300") == 300 and parse_ttl("0") == 0 and parse_ttl(300) == 300
    with pytest.raises(ValidationError, match="between 0 and"):
        parse_ttl("2147483648")


@pytest.mark.parametrize("text", NOT_NUMBERS)
def test_a_record_with_an_odd_ttl_is_refused_and_nothing_is_stored(zone, text):
    before = zone_state()
    with pytest.raises(ValidationError) as refused, db.session_scope() as session:
        records.create_record(session, zone, name="www", rtype="A", value="192.0.2.10", ttl=text, who="mallory")
    assert refused.value.field == "ttl"
    assert zone_state() == before


@pytest.mark.parametrize("field", ["per_page", "page"])
@pytest.mark.parametrize("text", NOT_NUMBERS)
def test_listing_numbers_are_ascii_digits(zone, field, text):
    with pytest.raises(ValidationError) as refused, db.session_scope() as session:
        listing.list_records(session, zone, **{field: text})
    assert refused.value.field == field


def test_listing_numbers_in_digits_are_read(zone):
    with db.session_scope() as session:
        page = listing.list_records(session, zone, per_page="1", page="2")
    assert [(row.name, row.rtype) for row in page.rows] == [("ns1", "A")]


@pytest.mark.parametrize("text", [t for t in NOT_NUMBERS if t])
def test_run_page_numbers_and_query_numbers_are_ascii_digits(text):
    with pytest.raises(ValidationError):
        parse_page(text)
    with pytest.raises(ValidationError):
        int_param("per_page", text, 50, 1, 500)
    assert parse_page("7") == 7 and int_param("per_page", "7", 50, 1, 500) == 7


@pytest.mark.parametrize("text", ["²", "١٢", "+5", " 5"])
def test_the_web_answers_400(client, text):
    assert client.get("/api/v1/runs", query_string={"per_page": text}).status_code == 400
    assert client.get("/runs", query_string={"page": text}).status_code == 400
    records_url = f"/api/v1/zones/{ZONE}/records"
    assert client.get(records_url, query_string={"per_page": text}).status_code == 400
    made = client.post(records_url, json={"name": "www", "type": "A", "value": "192.0.2.10", "ttl": text})
    assert made.status_code == 400 and made.json["field"] == "ttl"
    assert client.get(records_url).json["record_count"] == 2  # NS and ns1's A
