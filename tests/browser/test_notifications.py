"""The notification admin page in a real browser: an admin adds an e-mail destination and a subscription from
the pages and sees both listed; "Send a test" queues a mail that the sender (this process, as the reaper's
thread would) delivers over STARTTLS to a real SMTP server (aiosmtpd), and the delivery log says delivered."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from playdeck import webhook_delivery
from playdeck.settings import get_settings
from tests.browser.browser_testing import screenshot
from tests.smtp_receiver import smtp_server

ADDRESS = "release-managers@example.test"


@pytest.fixture
def smtp(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """A real SMTP server, and this process's sender pointed at it (the web only queues the mail)."""
    with smtp_server(tmp_path) as server:
        for name, value in {"SMTP_HOST": server.host, "SMTP_PORT": str(server.port), "SMTP_CA_FILE": str(server.cert),
                            "SMTP_FROM": "playdeck@example.test", "SMTP_TIMEOUT_SECONDS": "10"}.items():  # fmt: skip
            monkeypatch.setenv(f"PLAYDECK_{name}", value)
        get_settings.cache_clear()
        yield server


def test_an_admin_adds_a_destination_and_a_subscription_and_test_sends_a_mail(page: Page, smtp) -> None:
    page.goto("/admin/notifications")
    page.get_by_label("Name").fill("release-mail")
    page.get_by_label("Kind").select_option("email")
    page.get_by_label("URL (slack, teams, json) or e-mail addresses").fill(ADDRESS)
    page.get_by_role("button", name="Add destination").click()
    expect(page.get_by_role("heading", name="Destination release-mail")).to_be_visible()
    expect(page.locator("#subscriptions")).to_contain_text("Not subscribed to anything")

    page.get_by_label("Project").select_option("chatty")
    page.get_by_label("Environment").select_option("prod")
    for box in page.locator("#new-subscription input[name=events]").all():
        box.uncheck()
    page.locator("#subscription-event-failed").check()
    page.locator("#subscription-event-approval_requested").check()
    page.get_by_role("button", name="Subscribe").click()
    row = page.locator("#subscriptions tbody tr").first
    expect(row).to_contain_text("chatty")
    expect(row).to_contain_text("prod")
    expect(row).to_contain_text("failed, approval_requested")

    page.get_by_role("link", name="← Notification destinations").click()
    listed = page.locator("#destination-release-mail")
    expect(listed).to_contain_text("email")
    expect(listed).to_contain_text(ADDRESS)
    expect(listed).to_contain_text("active")

    listed.get_by_role("link", name="release-mail").click()
    page.get_by_role("button", name="Send a test").click()
    expect(page.locator("#deliveries tbody tr").first).to_contain_text("pending")
    webhook_delivery.deliver_due()
    (mail,) = smtp.wait_for(1)
    assert mail.recipients == [ADDRESS] and mail.over_tls
    assert mail.message["Subject"] == "[Playdeck] test notification"
    assert "test notification for destination release-mail (sent by" in mail.message.get_content()
    page.reload()
    delivered = page.locator("#deliveries tbody tr").first
    expect(delivered).to_contain_text("delivered")
    expect(delivered.locator(".attempts")).to_contain_text("accepted")  # a mail has no HTTP status
    screenshot(page, "notification-destination")
