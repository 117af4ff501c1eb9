"""The DNS pages as a person uses them: zone list and status, the record table, the add/edit/delete forms
with their conflict messages, import with preview, settings, history."""

from __future__ import annotations

import re
from html import unescape

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from playdeck import db
from playdeck.models import Run
from playdeck.settings import Settings
from tests.conftest import as_user
from tests.webui.test_dns_api import (
    RECORDS,
    ZONE,
    ZONE_FILE,
    ZONES,
    add,
    bulk_add,
    create_zone,
    mark_served,
    queued_regenerations,
    stored,
)

PAGE = f"/dns/{ZONE}"


@pytest.fixture
def dns_ready(embedded: Settings) -> Settings:
    return embedded


@pytest.fixture
def zone(client: FlaskClient, dns_ready: Settings) -> str:
    return create_zone(client)


def text(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def by_id(response: TestResponse, element_id: str) -> str:
    """The HTML of the element with this id (up to its closing tag of the same name, not nested)."""
    found = re.search(rf'<(\w+)[^>]*\bid="{re.escape(element_id)}"[^>]*>(.*?)</\1>', text(response), re.S)
    assert found, f"no element #{element_id}"
    return found.group(2)


def hidden(response: TestResponse, form_id: str, name: str) -> str:
    form = by_id(response, form_id)
    found = re.search(rf'name="{name}" value="([^"]*)"', form)
    assert found, f"no {name} in #{form_id}"
    return unescape(found.group(1))


def record_names(response: TestResponse) -> list[tuple[str, str]]:
    rows = re.findall(r'class="record-name">([^<]*)</td>\s*<td class="record-type">([^<]*)</td>', text(response))
    return [(unescape(name), rtype) for name, rtype in rows]


def next_link(response: TestResponse) -> str | None:
    found = re.search(r'id="next-page" href="([^"]+)"|href="([^"]+)" id="next-page"', text(response))
    return unescape(found.group(1) or found.group(2)) if found else None


# --- the zone list -------------------------------------------------------------------------------


def test_nav_links_to_dns(client: FlaskClient, dns_ready: Settings) -> None:
    assert '<a href="/dns">DNS</a>' in text(client.get("/"))
    empty = client.get("/dns")
    assert empty.status_code == 200 and "No zones yet." in text(empty)


def test_zone_list_shows_serials_status_and_runs(client: FlaskClient, zone: str) -> None:
    (queued,) = queued_regenerations()
    row = by_id(client.get("/dns"), f"zone-{ZONE}")
    assert "status-pending" in row and f'href="/runs/{queued}"' in row
    assert re.search(r'class="count serial-served"><span class="muted">never', row)

    with db.session_scope() as session:
        session.get(Run, queued).state = "running"
    mark_served(run_id=queued)
    served = by_id(client.get("/dns"), f"zone-{ZONE}")
    serial = int(re.search(r'class="count serial-db">(\d+)<', served).group(1))
    assert serial > 0 and f'class="count serial-served">{serial}<' in served
    assert "status-up-to-date" in served and f'href="/runs/{queued}"' in served

    add(client, "www", "A", "192.0.2.10")
    mark_served(run_id=queued, error="named-checkzone: zone example.test/IN: loading from master file failed")
    failed = client.get("/dns")
    row = by_id(failed, f"zone-{ZONE}")
    assert "status-failed" in row and "loading from master file failed" in row
    zone_page = client.get(PAGE)
    assert "loading from master file failed" in by_id(zone_page, "zone-last-error")
    assert f'href="/runs/{queued}"' in by_id(zone_page, "last-run")


# --- creating a zone -----------------------------------------------------------------------------


def test_a_zone_is_created_from_the_form(client: FlaskClient, dns_ready: Settings) -> None:
    form = {"name": "example.test", "mname": "ns1", "rname": "hostmaster@example.test", "glue": "ns1 192.0.2.1"}
    response = client.post("/dns/new", data={**form, "default_ttl": "600"}, headers=as_user("erin"))
    assert response.status_code == 303 and response.headers["Location"] == PAGE
    created = client.get(ZONES).json["zones"][0]
    assert created["settings"]["default_ttl"] == 600 and created["record_count"] == 2
    assert client.get(f"{ZONES}/{ZONE}/history").json["changes"][-1]["who"] == "erin"


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"name": "exa mple.test", "mname": "ns1.other.test.", "rname": "h@other.test"}, "label"),
        ({"name": "example.test", "mname": "ns1", "rname": "hostmaster@example.test"}, "give its IPv4 or IPv6"),
        ({"name": "example.test", "mname": "ns1.other.test.", "rname": "h@other.test", "default_ttl": "x"}, "whole"),
        ({"name": "example.test", "mname": "ns1", "rname": "h@example.test", "glue": "ns1"}, "on one line"),
    ],
)
def test_a_bad_zone_form_comes_back_with_the_message(
    client: FlaskClient, dns_ready: Settings, form: dict, message: str
) -> None:
    response = client.post("/dns/new", data=form)
    assert response.status_code == 400
    assert message in unescape(text(response))
    assert f'value="{form["mname"]}"' in text(response)  # what was typed is kept
    assert client.get(ZONES).json["zones"] == []


def test_an_existing_zone_is_a_409(client: FlaskClient, zone: str) -> None:
    form = {"name": "example.test", "mname": "ns1.other.test.", "rname": "h@other.test"}
    response = client.post("/dns/new", data=form)
    assert response.status_code == 409 and "already exists" in text(response)


# --- the record table ----------------------------------------------------------------------------


def test_zone_page_pages_through_records_in_order(client: FlaskClient, zone: str) -> None:
    bulk_add([(f"host{i:03d}", "A", f"192.0.2.{i % 250 + 1}") for i in range(120)])
    first = client.get(PAGE)
    assert first.status_code == 200
    assert "122" in by_id(first, "record-count")
    seen, url, pages = [], PAGE, 0
    while url:
        page = client.get(url)
        assert page.status_code == 200
        seen += record_names(page)
        url = next_link(page)
        pages += 1
        if pages > 1:
            assert 'id="first-page"' in text(page)
    assert pages == 3 and len(seen) == 122 and seen == sorted(seen)
    assert seen[0] == ("@", "NS") and ("host119", "A") in seen

    descending = client.get(f"{PAGE}?sort=name&order=desc")
    assert record_names(descending)[0] == ("ns1", "A")
    assert 'aria-sort="descending"' in text(descending)
    # The column header flips the order.
    assert re.search(r'href="[^"]*sort=name&amp;order=asc"[^>]*data-sort="name"', text(descending))


def test_search_and_type_filter(client: FlaskClient, zone: str) -> None:
    add(client, "www", "A", "192.0.2.10")
    add(client, "www", "TXT", "hello web")
    add(client, "mail", "A", "192.0.2.25")
    assert record_names(client.get(f"{PAGE}?q=www")) == [("www", "A"), ("www", "TXT")]
    assert record_names(client.get(f"{PAGE}?q=hello")) == [("www", "TXT")]
    assert record_names(client.get(f"{PAGE}?type=A")) == [("mail", "A"), ("ns1", "A"), ("www", "A")]
    filtered = client.get(f"{PAGE}?type=A&q=mail")
    assert record_names(filtered) == [("mail", "A")]
    assert "<option selected>A</option>" in by_id(filtered, "record-filters")
    assert "No records match." in text(client.get(f"{PAGE}?q=nothing-like-this"))


@pytest.mark.parametrize(
    "query", ["type=HINFO", "after=garbage", "order=up", "per_page=9999", "per_page=%C2%B2", "q=a%0Ab"]
)
def test_bad_table_parameters_show_a_message(client: FlaskClient, zone: str, query: str) -> None:
    response = client.get(f"{PAGE}?{query}")
    assert response.status_code == 400
    assert 'class="error" role="alert"' in text(response)
    assert 'id="add-record"' in text(response)  # the rest of the page is still there


def test_unknown_zone_is_a_404_page(client: FlaskClient, dns_ready: Settings) -> None:
    response = client.get("/dns/nosuch.test.")
    assert response.status_code == 404 and "does not exist" in text(response)
    assert client.get("/dns/nosuch.test./records/1").status_code == 404


# --- adding, editing, deleting -------------------------------------------------------------------


def test_a_record_is_added_from_the_form(client: FlaskClient, zone: str) -> None:
    form = {"name": "www", "type": "TXT", "value": 'v=spf1 -all "quoted"', "ttl": "300", "comment": "spf"}
    response = client.post(f"{PAGE}/records", data=form)
    assert response.status_code == 303
    shown = client.get(response.headers["Location"])
    assert record_names(shown) == [("www", "TXT")]
    assert "v=spf1 -all" in unescape(by_id(shown, "records"))
    (made,) = [r for r in client.get(RECORDS).json["records"] if r["name"] == "www"]
    assert (made["ttl"], made["comment"]) == (300, "spf")


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        ({"name": "www", "type": "A", "value": "999.1.1.1"}, 400, "not a valid A value"),
        ({"name": "www", "type": "A", "value": "192.0.2.1\n$INCLUDE /etc/passwd"}, 400, "control characters"),
        ({"name": "www.other.test.", "type": "A", "value": "192.0.2.1"}, 400, "outside the zone"),
        ({"name": "www", "type": "A", "value": "192.0.2.1", "ttl": "soon"}, 400, "whole number of seconds"),
        ({"name": "www", "type": "A", "value": "192.0.2.1", "ttl": "\u00b2"}, 400, "whole number of seconds"),
        ({"name": "@", "type": "CNAME", "value": "www"}, 400, "apex"),
        ({"name": "ns1", "type": "A", "value": "192.0.2.1"}, 409, "already exists"),
    ],
)
def test_a_bad_record_form_comes_back_with_the_message_and_nothing_is_stored(
    client: FlaskClient, zone: str, form: dict, status: int, message: str
) -> None:
    before = stored()
    response = client.post(f"{PAGE}/records", data=form)
    assert response.status_code == status
    assert message in unescape(text(response))
    add_form = by_id(response, "add-record")
    assert f'value="{form["name"]}"' in add_form  # the user's input is kept for correcting
    assert stored() == before


def test_an_edit_based_on_an_old_version_shows_a_conflict_instead_of_overwriting(
    client: FlaskClient, zone: str
) -> None:
    made = add(client, "www", "A", "192.0.2.10")
    form_page = client.get(f"{PAGE}/records/{made['id']}")
    assert form_page.status_code == 200
    assert hidden(form_page, "edit-record", "version") == "1"

    # Someone else changes the record while the form is open.
    assert client.patch(made["url"], json={"value": "192.0.2.20", "version": 1}).status_code == 200
    before = stored()

    mine = {"name": "www", "type": "A", "value": "192.0.2.30", "ttl": "3600", "comment": "", "version": "1"}
    conflict = client.post(f"{PAGE}/records/{made['id']}", data=mine)
    assert conflict.status_code == 409
    assert "changed by someone else" in text(conflict)
    assert "192.0.2.20" in by_id(conflict, "current-record")  # theirs, shown
    assert 'value="192.0.2.30"' in by_id(conflict, "edit-record")  # mine, kept
    assert stored() == before

    # Saving again after seeing the conflict is a decision: the form now carries the current version.
    assert hidden(conflict, "edit-record", "version") == "2"
    saved = client.post(f"{PAGE}/records/{made['id']}", data={**mine, "version": "2"})
    assert saved.status_code == 303
    assert client.get(made["url"]).json["value"] == "192.0.2.30"


def test_a_bad_edit_comes_back_with_the_message(client: FlaskClient, zone: str) -> None:
    made = add(client, "www", "A", "192.0.2.10")
    before = stored()
    form = {"name": "www", "type": "AAAA", "value": "192.0.2.10", "ttl": "", "comment": "", "version": "1"}
    response = client.post(f"{PAGE}/records/{made['id']}", data=form)
    assert response.status_code == 400 and "use an A record" in unescape(text(response))
    assert "<option selected>AAAA</option>" in by_id(response, "edit-record")
    for version in ("", "\u00b2"):
        missing_version = client.post(f"{PAGE}/records/{made['id']}", data={**form, "type": "A", "version": version})
        assert missing_version.status_code == 400 and "reload the page" in text(missing_version)
    assert stored() == before


def test_delete_needs_the_current_version(client: FlaskClient, zone: str) -> None:
    made = add(client, "www", "A", "192.0.2.10")
    page = client.get(f"{PAGE}/records/{made['id']}")
    version = hidden(page, "delete-record", "version")
    client.patch(made["url"], json={"comment": "changed meanwhile", "version": 1})

    refused = client.post(f"{PAGE}/records/{made['id']}/delete", data={"version": version})
    assert refused.status_code == 409 and "was not deleted" in text(refused)
    assert "changed meanwhile" in by_id(refused, "current-record")
    assert client.get(made["url"]).status_code == 200

    deleted = client.post(
        f"{PAGE}/records/{made['id']}/delete", data={"version": hidden(refused, "delete-record", "version")}
    )
    assert deleted.status_code == 303 and deleted.headers["Location"] == PAGE
    assert client.get(made["url"]).status_code == 404


def test_pages_refuse_posts_from_other_sites(client: FlaskClient, zone: str) -> None:
    before = stored()
    evil = {"Origin": "http://evil.test"}
    made_from_elsewhere = [
        client.post(f"{PAGE}/records", data={"name": "x", "type": "A", "value": "192.0.2.1"}, headers=evil),
        client.post(f"{PAGE}/settings", data={"default_ttl": "1", "version": "1"}, headers=evil),
        client.post(f"{PAGE}/delete", data={"confirm": ZONE, "version": "1"}, headers=evil),
        client.post(f"{PAGE}/import", data={"zonefile": ZONE_FILE, "action": "preview"}, headers=evil),
        client.post("/dns/new", data={"name": "b.test", "mname": "ns.x.test.", "rname": "h@x.test"}, headers=evil),
    ]
    assert [response.status_code for response in made_from_elsewhere] == [403] * 5
    assert stored() == before


# --- settings and deletion -----------------------------------------------------------------------


def test_settings_are_saved_with_their_version(client: FlaskClient, zone: str) -> None:
    page = client.get(f"{PAGE}/settings")
    version = hidden(page, "zone-settings", "version")
    form = {
        "mname": "ns1.example.test.", "rname": "hostmaster.example.test.", "default_ttl": "900",
        "refresh": "3600", "retry": "600", "expire": "1209600", "minimum": "300", "version": version,
    }  # fmt: skip
    assert client.post(f"{PAGE}/settings", data=form).status_code == 303
    assert client.get(f"{ZONES}/{ZONE}").json["settings"]["default_ttl"] == 900

    stale = client.post(f"{PAGE}/settings", data={**form, "default_ttl": "60"})
    assert stale.status_code == 409 and "changed by someone else" in text(stale)
    assert 'data-setting="default_ttl">900<' in by_id(stale, "current-settings")
    bad = client.post(f"{PAGE}/settings", data={**form, "default_ttl": "-5", "version": str(int(version) + 1)})
    assert bad.status_code == 400 and "whole number" in text(bad)
    assert client.get(f"{ZONES}/{ZONE}").json["settings"]["default_ttl"] == 900


def test_a_zone_is_deleted_only_when_its_name_is_typed(client: FlaskClient, zone: str) -> None:
    page = client.get(f"{PAGE}/settings")
    version = hidden(page, "delete-zone", "version")
    unconfirmed = client.post(f"{PAGE}/delete", data={"version": version, "confirm": "yes"})
    assert unconfirmed.status_code == 400 and "to confirm" in text(unconfirmed)
    assert client.get(f"{ZONES}/{ZONE}").status_code == 200

    deleted = client.post(f"{PAGE}/delete", data={"version": version, "confirm": "example.test"})
    assert deleted.status_code == 303 and deleted.headers["Location"] == "/dns"
    assert "No zones yet." in text(client.get("/dns"))
    history = client.get(f"{PAGE}/history")
    assert history.status_code == 200 and "has been deleted" in text(history)


# --- import --------------------------------------------------------------------------------------


def test_import_preview_then_apply(client: FlaskClient, zone: str) -> None:
    add(client, "old", "A", "192.0.2.99")
    before = stored()
    assert client.get(f"{PAGE}/import").status_code == 200
    preview = client.post(f"{PAGE}/import", data={"zonefile": ZONE_FILE, "delete_missing": "1", "action": "preview"})
    assert preview.status_code == 200
    counts = re.sub(r"<[^>]+>", "", by_id(preview, "preview-counts"))
    assert "5 to add" in counts and "1 to delete" in counts and "0 TTL changes" in counts and "2 unchanged" in counts
    assert "192.0.2.99" in by_id(preview, "preview-deletes")
    assert "mail.example.test." in by_id(preview, "preview-adds")
    assert stored() == before  # nothing written by a preview

    confirm = {
        "action": "apply",
        "zonefile": unescape(
            re.search(r'<textarea name="zonefile"[^>]*>(.*?)</textarea>', by_id(preview, "apply-import"), re.S).group(1)
        ),
        "delete_missing": "1",
        "base_change_seq": hidden(preview, "apply-import", "base_change_seq"),
    }
    applied = client.post(f"{PAGE}/import", data=confirm)
    assert applied.status_code == 200
    assert "5 added, 1 deleted" in by_id(applied, "import-result")
    assert client.get(f"{ZONES}/{ZONE}").json["record_count"] == 7


def test_an_import_after_someone_elses_change_shows_a_fresh_preview(client: FlaskClient, zone: str) -> None:
    preview = client.post(f"{PAGE}/import", data={"zonefile": ZONE_FILE, "delete_missing": "1", "action": "preview"})
    base = hidden(preview, "apply-import", "base_change_seq")
    add(client, "late", "A", "192.0.2.77")
    before = stored()
    confirm = {"action": "apply", "zonefile": ZONE_FILE, "delete_missing": "1", "base_change_seq": base}
    stale = client.post(f"{PAGE}/import", data=confirm)
    assert stale.status_code == 409 and "nothing was imported" in text(stale)
    assert "192.0.2.77" in by_id(stale, "preview-deletes")  # the fresh preview sees the late record
    assert hidden(stale, "apply-import", "base_change_seq") != base
    assert stored() == before


def test_a_bad_zone_file_comes_back_with_the_message(client: FlaskClient, zone: str) -> None:
    before = stored()
    response = client.post(
        f"{PAGE}/import", data={"zonefile": "$INCLUDE /etc/passwd\n", "delete_missing": "1", "action": "preview"}
    )
    assert response.status_code == 400 and "INCLUDE" in text(response)
    assert "$INCLUDE /etc/passwd" in by_id(response, "import-zonefile")
    for base in ("", "\u00b2"):
        apply = {"zonefile": ZONE_FILE, "delete_missing": "1", "action": "apply", "base_change_seq": base}
        unpreviewed = client.post(f"{PAGE}/import", data=apply)
        assert unpreviewed.status_code == 400 and "preview the import first" in text(unpreviewed)
    assert stored() == before


# --- history -------------------------------------------------------------------------------------


def test_history_pages_show_before_and_after(client: FlaskClient, zone: str) -> None:
    made = add(client, "www", "A", "192.0.2.10")
    client.patch(made["url"], json={"value": "192.0.2.11", "version": 1}, headers=as_user("carol"))

    record_history = client.get(f"{PAGE}/records/{made['id']}/history")
    assert record_history.status_code == 200
    changes = re.findall(r'<tbody class="change" id="change-(\d+)" data-action="([^"]+)"', text(record_history))
    assert [action for _, action in changes] == ["update", "create"]
    update = by_id(record_history, f"change-{changes[0][0]}")
    assert "carol" in update
    changed_row = re.search(r'<tr class="changed">(.*?)</tr>', update, re.S).group(1)
    assert "value" in changed_row and "192.0.2.10" in changed_row and "192.0.2.11" in changed_row

    zone_history = client.get(f"{PAGE}/history")
    actions = re.findall(r'data-action="([^"]+)"', text(zone_history))
    assert actions == ["update", "create", "create", "create", "zone-create"]
    assert f'href="/dns/{ZONE}/records/{made["id"]}/history"' in text(zone_history)


def test_long_histories_are_paged(client: FlaskClient, zone: str) -> None:
    made = add(client, "www", "A", "192.0.2.10")
    for version in range(1, 50):
        client.patch(made["url"], json={"comment": f"c{version}", "version": version})
    first = client.get(f"{PAGE}/history")
    assert len(re.findall(r'<tbody class="change"', text(first))) == 50
    older = re.search(r'href="([^"]+)" id="older-changes"', text(first)).group(1)
    rest = client.get(unescape(older))
    assert len(re.findall(r'<tbody class="change"', text(rest))) == 3  # 53 changes: 49 edits, 3 creates, zone
    assert 'id="older-changes"' not in text(rest)
