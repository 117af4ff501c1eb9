"""The webhook pages (admins): add a webhook from the form, pause it, send a test, delete it; a bad form
comes back with the message and what was typed."""

from __future__ import annotations

from flask.testing import FlaskClient

PAGE = "/projects/sampleapp/webhooks"


def test_an_admin_adds_pauses_tests_and_deletes_a_webhook_from_the_page(client: FlaskClient):
    # Found from the project's admin page, not by knowing the address.
    assert f'href="{PAGE}"' in client.get("/admin/projects/sampleapp").get_data(as_text=True)
    page = client.get(PAGE)
    assert page.status_code == 200 and "No webhooks yet" in page.get_data(as_text=True)
    form = {"url": "https://hooks.example.test/p", "format": "slack", "events": ["failed", "lost"], "active": "1"}
    added = client.post(PAGE, data=form)
    assert added.status_code == 303
    (hook,) = client.get("/api/v1/projects/sampleapp/webhooks").json["webhooks"]
    assert (hook["url"], hook["format"], hook["events"], hook["active"]) == (
        form["url"],
        "slack",
        ["failed", "lost"],
        True,
    )
    listed = client.get(PAGE).get_data(as_text=True)
    assert form["url"] in listed and "failed, lost" in listed and "Pause" in listed

    assert client.post(f"{PAGE}/{hook['id']}/active", data={"active": "0"}).status_code == 303
    assert "Resume" in client.get(PAGE).get_data(as_text=True)
    tested = client.post(f"{PAGE}/{hook['id']}/test")
    assert tested.status_code == 303 and tested.headers["Location"].endswith(f"{PAGE}/{hook['id']}")
    log = client.get(f"{PAGE}/{hook['id']}").get_data(as_text=True)
    assert "<td>test</td>" in log and "<td>pending</td>" in log
    assert client.post(f"{PAGE}/{hook['id']}/delete").status_code == 303
    assert client.get("/api/v1/projects/sampleapp/webhooks").json["webhooks"] == []


def test_a_bad_form_is_shown_again_with_the_message(client: FlaskClient):
    refused = client.post(PAGE, data={"url": "ftp://example.test/", "events": ["started"]})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "http:// or https://" in text and 'value="ftp://example.test/"' in text
    refused = client.post(PAGE, data={"url": "https://example.test/"})
    assert refused.status_code == 400 and "events" in refused.get_data(as_text=True)
    assert client.get("/api/v1/projects/sampleapp/webhooks").json["webhooks"] == []


def test_the_form_refuses_a_url_aimed_at_this_machine_or_an_internal_network(client: FlaskClient):
    for url in ("http://127.0.0.1:8000/api/v1/users", "http://[::1]/", "http://169.254.169.254/", "http://10.0.0.1/"):
        refused = client.post(PAGE, data={"url": url, "events": ["started"]})
        text = refused.get_data(as_text=True)
        assert refused.status_code == 400 and "which webhooks may not reach" in text, url
    assert client.get("/api/v1/projects/sampleapp/webhooks").json["webhooks"] == []


def test_an_unknown_project_is_not_found(client: FlaskClient):
    assert client.get("/projects/nosuch/webhooks").status_code == 404
