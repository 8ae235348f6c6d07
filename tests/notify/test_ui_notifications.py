"""The inbox, the channel choices and the delivery dashboard in a real browser.

Drives Debian's Chromium through Playwright against pytest-django's live server. With
CAREDECK_SCREENSHOTS=<dir> set, each test also saves screenshots of what it saw there.
"""

from __future__ import annotations

import datetime
import http.server
import os
import re
import threading
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect, sync_playwright

from caredeck.accounts.models import Contract, Organization
from caredeck.accounts.roles import OrganizationKind
from caredeck.notify.models import (
    Channel,
    InAppNotification,
    MessageStatus,
    OutboundMessage,
    WebhookDelivery,
    WebhookEndpoint,
)
from tests.conftest import PASSWORD

# Playwright's sync API runs an event loop in this thread; the ORM calls made by the
# fixtures would otherwise be refused as "called from an async context".
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
SHOTS = os.environ.get("CAREDECK_SCREENSHOTS")


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _page(browser, live_server, width, height):
    context = browser.new_context(base_url=live_server.url, viewport={"width": width,
                                                                       "height": height})
    context.set_default_timeout(5_000)
    return context, context.new_page()


@pytest.fixture
def page(browser, live_server):
    context, page = _page(browser, live_server, 1280, 800)
    yield page
    context.close()


@pytest.fixture
def phone(browser, live_server):
    context, page = _page(browser, live_server, 390, 844)
    yield page
    context.close()


@pytest.fixture(autouse=True)
def provider_row(transactional_db):
    # A transactional test flushes the tables afterwards, taking along the provider
    # organization that a data migration created; the next test needs it back.
    if not Organization.objects.filter(kind=OrganizationKind.PROVIDER).exists():
        provider = Organization.objects.create(
            kind=OrganizationKind.PROVIDER, name="Provider", slug="provider"
        )
        Contract.objects.create(organization=provider)


def sign_in(page, email: str) -> None:
    page.goto("/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/home/$"))


def shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def _ago(minutes: int) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(minutes=minutes)


def test_reading_notifications_updates_the_bell_in_place(page, member_a):
    for minutes, title, body in [
        (3, "INC-000042 · Calls fail in us-east", "First notice: agents in us-east cannot "
            "place outbound calls. Next update within 30 minutes."),
        (25, "MNT-000007 · Database maintenance tonight", "22:00–23:00 UTC; recordings "
             "are read-only during the window."),
        (300, "INC-000041 resolved", "Inbound routing is back to normal."),
    ]:
        InAppNotification.objects.create(
            user=member_a, event="incident.notice", title=title, body=body, url="/home/",
            created_at=_ago(minutes), read_at=_ago(minutes - 1) if minutes > 100 else None,
        )
    sign_in(page, member_a.email)
    bell = page.locator("#notification-bell")
    expect(bell).to_contain_text("Notifications")
    expect(bell).to_contain_text("2 unread")
    bell.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Notifications")
    shot(page, "inbox")

    first = page.locator(".notice.unread").first
    expect(first).to_contain_text("INC-000042")
    first.get_by_role("button", name=re.compile("Mark read")).click()
    expect(page.locator(".notice.unread")).to_have_count(1)
    expect(page.locator("#notification-bell")).to_contain_text("1 unread")
    expect(page.get_by_role("button", name="Mark all 1 read")).to_be_visible()

    page.get_by_role("button", name="Mark all 1 read").click()
    expect(page.locator(".notice.unread")).to_have_count(0)
    expect(page.locator("#notification-bell")).to_contain_text("none unread")
    expect(page.locator("#notification-bell")).to_contain_text("Notifications")


def test_a_mandatory_notice_keeps_a_channel(page, member_a):
    sign_in(page, member_a.email)
    page.goto("/notifications/settings/")
    page.get_by_label("E-mail: Outage notices").uncheck()
    page.get_by_label("In-app: Outage notices").uncheck()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert").first).to_contain_text("cannot be switched off")
    expect(page.get_by_label("In-app: Outage notices")).not_to_be_checked()
    shot(page, "settings-error")
    page.get_by_label("In-app: Outage notices").check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("Saved")
    expect(page.get_by_label("E-mail: Outage notices")).not_to_be_checked()
    expect(page.get_by_label("In-app: Outage notices")).to_be_checked()


def _busy_outbox(tenant_a, tenant_b):
    hook = WebhookEndpoint.objects.create(
        organization=tenant_a, name="Acme on-call Slack",
        url="https://hooks.slack.example/services/T000/B000/xyz", format="slack",
    )
    rows = [
        (tenant_a, MessageStatus.QUEUED, Channel.EMAIL, "INC-000042: calls fail in us-east",
         "", 14, None),
        (tenant_b, MessageStatus.SENDING, Channel.EMAIL, "MNT-000007 starts in 1 hour", "", 1,
         None),
        (tenant_a, MessageStatus.SENT, Channel.IN_APP, "INC-000042: calls fail in us-east",
         "", 16, None),
        (tenant_a, MessageStatus.FAILED, Channel.WEBHOOK, "INC-000042: calls fail in us-east",
         "HTTP 502", 16, hook),
        (tenant_b, MessageStatus.DEAD, Channel.EMAIL, "Invitation to CareDeck",
         "SMTPRecipientsRefused: {'ops@globex.example': (550, b'5.1.1 mailbox unavailable')}",
         1500, None),
        (None, MessageStatus.SENT, Channel.EMAIL, "New CareDeck access request from Initech",
         "", 60, None),
    ]
    messages = []
    for n, (org, status, channel, subject, error, minutes, webhook) in enumerate(rows):
        messages.append(OutboundMessage.objects.create(
            dedupe_key=f"ui:{n}", channel=channel, event="incident.notice", organization=org,
            webhook=webhook, recipient=webhook.url if webhook else "ops@example.test",
            subject=subject, body_text=f"{subject}\n\nMore details in CareDeck.",
            status=status, attempts=0 if status == MessageStatus.QUEUED else 3,
            last_error=error, created_at=_ago(minutes),
            next_attempt_at=_ago(minutes - 4),
            sent_at=_ago(minutes - 1) if status == MessageStatus.SENT else None,
        ))
    WebhookDelivery.objects.create(
        endpoint=hook, message=messages[3], status_code=502, duration_ms=312, error="HTTP 502"
    )
    return messages


def test_staff_retry_a_failed_delivery_from_the_dashboard(
    page, care_analyst, tenant_a, tenant_b
):
    messages = _busy_outbox(tenant_a, tenant_b)
    sign_in(page, care_analyst.email)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Deliveries").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Deliveries")
    expect(page.locator(".tile.msg-dead")).to_contain_text("1")
    expect(page.locator(".tile.oldest")).to_contain_text("14 min")
    shot(page, "dashboard")

    page.get_by_label("Status").select_option("dead")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.deliveries tbody tr")).to_have_count(1)
    page.get_by_role("button", name=re.compile("Retry now")).click()
    expect(page.locator(".messages")).to_contain_text("queued again")
    expect(page).to_have_url(re.compile(r"status=dead"))
    dead = OutboundMessage.objects.get(pk=messages[4].pk)
    assert dead.status in (MessageStatus.QUEUED, MessageStatus.SENT)

    page.goto(f"/notifications/deliveries/{messages[3].pk}/")
    expect(page.locator("main")).to_contain_text("312 ms")
    shot(page, "delivery-detail")


def test_the_dashboard_and_inbox_work_on_a_phone(phone, care_analyst, tenant_a, tenant_b):
    _busy_outbox(tenant_a, tenant_b)
    InAppNotification.objects.create(
        user=care_analyst, event="outbox.dead", title="A notification could not be delivered",
        body="Invitation to CareDeck for ops@globex.example: mailbox unavailable.",
        url="/notifications/deliveries/",
    )
    sign_in(phone, care_analyst.email)
    phone.goto("/notifications/deliveries/")
    expect(phone.locator(".tile.msg-failed")).to_be_visible()
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the dashboard scrolls sideways on a phone ({width}px)"
    shot(phone, "dashboard-phone")
    phone.locator("#notification-bell").click()
    expect(phone.locator(".notice.unread")).to_have_count(1)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    shot(phone, "inbox-phone")


class _Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - the http.server API
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    server = http.server.HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/caredeck"
    server.shutdown()
    server.server_close()


def test_an_admin_adds_a_webhook_and_sees_the_test_arrive(page, admin_a, receiver):
    sign_in(page, admin_a.email)
    page.goto("/notifications/settings/")
    page.get_by_role("link", name="manage webhooks").click()
    expect(page.get_by_role("heading", name="No webhooks yet")).to_be_visible()
    page.get_by_label("Name").fill("On-call receiver")
    page.get_by_label("URL").fill("ftp://nope.example/")
    page.get_by_role("button", name="Add webhook").click()
    expect(page.locator(".field.has-error")).to_contain_text("http")
    expect(page.get_by_label("Name")).to_have_value("On-call receiver")
    page.get_by_label("URL").fill(receiver)
    page.get_by_label("Outage notices").check()
    page.get_by_role("button", name="Add webhook").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("On-call receiver")

    page.get_by_role("button", name="Send test").click()
    expect(page.locator(".messages")).to_contain_text("Test message queued")
    page.reload()
    expect(page.locator("main")).to_contain_text("✓ 204")
    page.get_by_text("Show the signing secret").click()
    expect(page.get_by_label("Signing secret")).to_have_value(re.compile(r"^whsec_"))
    shot(page, "webhook-detail")
    page.goto("/notifications/webhooks/")
    shot(page, "webhook-list")
