"""The notification pages and API: the in-app inbox and its bell, people's channel
choices, organizations' webhooks and the provider's delivery dashboard.

Tenant A ("acme") owns what is looked at; B ("globex") is the outsider. Each area has a
`test_it_checks_ownership`-style test: another tenant's object answers 404.
"""

from __future__ import annotations

import datetime
import http.server
import json
import threading

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from caredeck.accounts.models import PartnerLink
from caredeck.accounts.roles import Role
from caredeck.core.models import AuditEntry
from caredeck.notify import services
from caredeck.notify.models import (
    Channel,
    InAppNotification,
    MessageStatus,
    OutboundMessage,
    Subscription,
    WebhookDelivery,
    WebhookEndpoint,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


# --- Helpers ---------------------------------------------------------------------------



@pytest.fixture
def api_as(api):
    def make(user):
        api.force_authenticate(user)
        return api

    return make


def notice(user, title, *, read=False, minutes_ago=0, url="", event="incident.notice"):
    created = timezone.now() - datetime.timedelta(minutes=minutes_ago)
    return InAppNotification.objects.create(
        user=user,
        event=event,
        title=title,
        body=f"Body of {title}",
        url=url,
        created_at=created,
        read_at=created if read else None,
    )


_keys = iter(range(10_000))


def message(
    organization,
    *,
    status=MessageStatus.FAILED,
    channel=Channel.EMAIL,
    subject="Outage in us-east",
    error="SMTPConnectError: connection refused",
    webhook=None,
    minutes_ago=5,
    event="incident.notice",
):
    created = timezone.now() - datetime.timedelta(minutes=minutes_ago)
    return OutboundMessage.objects.create(
        dedupe_key=f"test:{next(_keys)}",
        channel=channel,
        event=event,
        organization=organization,
        webhook=webhook,
        recipient=webhook.url if webhook else "someone@example.test",
        subject=subject,
        body_text=f"{subject}\n\nDetails follow.",
        status=status,
        attempts=3 if status != MessageStatus.QUEUED else 0,
        last_error=error,
        created_at=created,
        next_attempt_at=created + datetime.timedelta(minutes=1),
        sent_at=created if status == MessageStatus.SENT else None,
    )


def endpoint(organization, name="Ops Slack", url="https://hooks.example.test/a", **kwargs):
    return WebhookEndpoint.objects.create(organization=organization, name=name, url=url, **kwargs)


# --- In-app inbox ----------------------------------------------------------------------


def test_inbox_lists_unread_first_then_newest(page_as, member_a):
    notice(member_a, "Old read news", read=True, minutes_ago=1)
    notice(member_a, "Older unread", minutes_ago=30)
    notice(member_a, "Newest unread", minutes_ago=2)
    body = page_as(member_a).get("/notifications/").content.decode()
    assert body.index("Newest unread") < body.index("Older unread") < body.index("Old read news")
    assert "Mark all 2 read" in body


def test_inbox_can_show_only_unread(page_as, member_a):
    notice(member_a, "Seen it", read=True)
    notice(member_a, "Not yet")
    body = page_as(member_a).get("/notifications/?show=unread").content.decode()
    assert "Not yet" in body and "Seen it" not in body


def test_empty_inbox_says_what_it_is_for(page_as, member_a):
    body = page_as(member_a).get("/notifications/").content.decode()
    assert "No notifications yet" in body and "/notifications/settings/" in body


def test_header_bell_shows_the_unread_count_on_every_page(page_as, member_a):
    notice(member_a, "One")
    notice(member_a, "Two")
    notice(member_a, "Read", read=True)
    body = page_as(member_a).get("/home/").content.decode()
    assert 'id="notification-bell"' in body
    assert "Notifications" in body
    assert '2<span class="sr-only"> unread</span>' in body


def test_header_bell_counts_in_one_query(page_as, member_a):
    for i in range(30):
        notice(member_a, f"N{i}")
    client = page_as(member_a)
    with CaptureQueriesContext(connection) as queries:
        client.get("/home/")
    bell = [q for q in queries.captured_queries if "notify_inappnotification" in q["sql"]]
    assert len(bell) == 1 and "COUNT" in bell[0]["sql"].upper()


def test_marking_one_read_redirects_back_to_the_inbox(page_as, member_a):
    item = notice(member_a, "Read me")
    response = page_as(member_a).post(f"/notifications/{item.pk}/read/")
    assert response.status_code == 302 and response.url == "/notifications/"
    item.refresh_from_db()
    assert item.read_at is not None


def test_marking_one_read_with_htmx_returns_the_item_and_the_new_bell(page_as, member_a):
    item = notice(member_a, "Read me")
    notice(member_a, "Still unread")
    response = page_as(member_a).post(f"/notifications/{item.pk}/read/", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert f'id="notification-{item.pk}"' in body and "Mark read" not in body
    assert 'id="notification-bell"' in body and 'hx-swap-oob="true"' in body
    assert '1<span class="sr-only"> unread</span>' in body


def test_marking_read_keeps_the_first_read_time(member_a):
    item = notice(member_a, "Twice")
    services.notification_mark_read(actor=member_a, notification=item)
    first = item.read_at
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=1)):
        services.notification_mark_read(actor=member_a, notification=item)
    assert item.read_at == first


def test_mark_all_read(page_as, member_a, admin_a):
    notice(member_a, "A")
    notice(member_a, "B")
    colleagues = notice(admin_a, "Not mine")
    response = page_as(member_a).post("/notifications/read-all/", follow=True)
    assert "Marked 2 notifications read." in response.content.decode()
    assert not InAppNotification.objects.filter(user=member_a, read_at__isnull=True).exists()
    colleagues.refresh_from_db()
    assert colleagues.read_at is None


def test_mark_all_read_with_htmx_returns_the_inbox_and_a_quiet_bell(page_as, member_a):
    notice(member_a, "A")
    body = (
        page_as(member_a).post("/notifications/read-all/", HTTP_HX_REQUEST="true").content.decode()
    )
    assert 'id="inbox"' in body and "none unread" in body


def test_inbox_checks_ownership(page_as, api_as, member_a, admin_a, member_b):
    """Someone else's notification, even a colleague's, answers 404."""
    colleague = notice(admin_a, "Admin only")
    outsider = notice(member_b, "Globex only")
    client = page_as(member_a)
    for item in (colleague, outsider):
        assert client.post(f"/notifications/{item.pk}/read/").status_code == 404
    assert "Globex only" not in client.get("/notifications/").content.decode()
    api = api_as(member_a)
    for item in (colleague, outsider):
        assert api.post(f"/api/v1/notifications/{item.pk}/read/").status_code == 404
    colleague.refresh_from_db()
    outsider.refresh_from_db()
    assert colleague.read_at is None and outsider.read_at is None


def test_api_lists_the_callers_inbox_paginated(api_as, member_a, member_b):
    notice(member_a, "Mine, read", read=True)
    notice(member_a, "Mine, unread")
    notice(member_b, "Theirs")
    data = api_as(member_a).get("/api/v1/notifications/").json()
    assert set(data) >= {"count", "next", "previous", "results"}
    assert [n["title"] for n in data["results"]] == ["Mine, unread", "Mine, read"]
    assert data["results"][0]["unread"] is True and data["results"][1]["unread"] is False
    unread = api_as(member_a).get("/api/v1/notifications/?unread=true").json()
    assert [n["title"] for n in unread["results"]] == ["Mine, unread"]


def test_api_marks_read(api_as, member_a):
    item = notice(member_a, "Ping")
    response = api_as(member_a).post(f"/api/v1/notifications/{item.pk}/read/")
    assert response.status_code == 200
    assert response.json()["unread"] is False and response.json()["read_at"]
    marked = api_as(member_a).post("/api/v1/notifications/read-all/")
    assert marked.json() == {"marked": 0}


def test_delivered_in_app_messages_reach_the_inbox(
    page_as, member_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.notify_users(
            event="incident.notice",
            users=[member_a],
            dedupe_base="INC-1:notice",
            template="access_requested",
            context={
                "access_request": {
                    "name": "X",
                    "company": "Y",
                    "email": "x@y.test",
                    "get_kind_display": "Customer",
                },
                "link": "",
            },
            url="/home/",
        )
    assert InAppNotification.objects.filter(user=member_a).count() == 1
    assert (
        '1<span class="sr-only"> unread</span>'
        in page_as(member_a).get("/notifications/").content.decode()
    )


# --- Subscriptions ---------------------------------------------------------------------


def test_settings_page_lists_event_types_with_channels(page_as, member_a, platform_admin):
    body = page_as(member_a).get("/notifications/settings/").content.decode()
    assert "Outage notices" in body
    assert "Access requests" not in body  # staff-only events are not a customer's choice
    assert "Webhook test" not in body  # no channel a person could choose
    assert (
        "Access requests"
        in page_as(platform_admin).get("/notifications/settings/").content.decode()
    )
    assert "Mandatory" in body and "cannot be switched off" in body
    # The defaults are ticked: e-mail and in-app for outage notices.
    assert 'name="incident.notice" value="email"' in body
    assert body.count("checked") >= 2


def test_saving_channels_stores_only_what_changed(page_as, member_a):
    response = page_as(member_a).post(
        "/notifications/settings/",
        {
            "incident.notice": ["in_app"],  # re-routed: in-app only
            "maintenance.notice": ["email", "in_app"],  # the defaults, unchanged
            "incident.report": ["email", "in_app"],
            "idea.moderation": ["email", "in_app"],
            "idea.status": ["email", "in_app"],
            "idea.comment": ["in_app"],
            "case.update": ["email", "in_app"],
            "access.requested": [],  # staff-only: not a customer's choice, ignored
        },
    )
    assert response.status_code == 302
    chosen = dict(Subscription.objects.filter(user=member_a).values_list("event", "channels"))
    assert chosen == {"incident.notice": ["in_app"]}
    assert services.effective_channels(member_a, "incident.notice") == ["in_app"]
    assert (
        AuditEntry.objects.filter(
            object_kind="user", object_id=str(member_a.pk), action="subscription_changed"
        ).count()
        == 1
    )


def test_a_mandatory_notice_cannot_be_switched_off_on_the_page(page_as, member_a):
    response = page_as(member_a).post(
        "/notifications/settings/",
        {
            "incident.notice": [],
            "maintenance.notice": ["email"],
            "access.requested": [],
            "outbox.dead": ["email"],
        },
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "Outage notices cannot be switched off; choose at least one channel." in body
    assert 'aria-invalid="true"' in body
    # What was typed is kept, and nothing at all was saved.
    assert not Subscription.objects.filter(user=member_a).exists()


def test_api_lists_subscriptions(api_as, platform_admin):
    services.subscription_set(actor=platform_admin, event="access.requested", channels=["email"])
    data = api_as(platform_admin).get("/api/v1/subscriptions/").json()
    rows = {row["event"]: row for row in data["results"]}
    assert "webhook.test" not in rows
    assert rows["incident.notice"] == {
        "event": "incident.notice",
        "label": "Outage notices",
        "description": rows["incident.notice"]["description"],
        "mandatory": True,
        "channels": ["email", "in_app"],
        "available_channels": ["email", "in_app"],
    }
    assert rows["access.requested"]["channels"] == ["email"]
    assert rows["access.requested"]["mandatory"] is False


def test_api_sets_channels(api_as, member_a):
    response = api_as(member_a).post(
        "/api/v1/subscriptions/",
        {"event": "incident.notice", "channels": ["in_app"]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["channels"] == ["in_app"]
    assert services.effective_channels(member_a, "incident.notice") == ["in_app"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"event": "incident.notice", "channels": []}, "channels"),  # mandatory
        ({"event": "incident.notice", "channels": ["sms"]}, "channels"),
        ({"event": "no.such.event", "channels": ["email"]}, "event"),
        ({"event": "webhook.test", "channels": []}, "event"),
        ({"channels": ["email"]}, "event"),
        ({"event": "incident.notice", "channels": "email"}, "channels"),
    ],
)
def test_api_refuses_bad_choices_with_field_errors(api_as, member_a, body, field):
    response = api_as(member_a).post("/api/v1/subscriptions/", body, format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not Subscription.objects.filter(user=member_a).exists()


def test_choices_decide_the_channels_of_later_notices(platform_admin):
    services.subscription_set(actor=platform_admin, event="access.requested", channels=["in_app"])
    rows = services.notify_users(
        event="access.requested",
        users=[platform_admin],
        dedupe_base="AR-1",
        template="access_requested",
        context={"access_request": {"name": "X", "company": "Y", "email": "x@y.test"}, "link": ""},
    )
    assert [m.channel for m in rows] == [Channel.IN_APP]


# --- Webhooks --------------------------------------------------------------------------


def test_webhook_list_shows_the_current_tenants_endpoints(page_as, admin_a, tenant_a, tenant_b):
    endpoint(tenant_a, "Acme Slack")
    endpoint(tenant_b, "Globex Teams")
    body = page_as(admin_a).get("/notifications/webhooks/").content.decode()
    assert "Acme Slack" in body and "Globex Teams" not in body
    assert "Add a webhook" in body


def test_webhook_list_empty_state(page_as, admin_a):
    body = page_as(admin_a).get("/notifications/webhooks/").content.decode()
    assert "No webhooks yet" in body


def test_only_managers_reach_webhooks(page_as, api_as, member_a, care_analyst, tenant_a):
    hook = endpoint(tenant_a)
    for user in (member_a, care_analyst):
        client = page_as(user)
        assert client.get("/notifications/webhooks/").status_code == 403
        assert client.get(f"/notifications/webhooks/{hook.pk}/").status_code == 403
    assert api_as(member_a).get("/api/v1/webhooks/").status_code == 403
    assert api_as(member_a).get(f"/api/v1/webhooks/{hook.pk}/").status_code == 403


def test_webhooks_check_ownership(page_as, api_as, admin_b, tenant_a):
    hook = endpoint(tenant_a, "Acme secret hook")
    client = page_as(admin_b)
    assert client.get(f"/notifications/webhooks/{hook.pk}/").status_code == 404
    for action in ("test", "delete", "rotate-secret"):
        assert client.post(f"/notifications/webhooks/{hook.pk}/{action}/").status_code == 404
    api = api_as(admin_b)
    for method, url in [
        ("get", f"/api/v1/webhooks/{hook.pk}/"),
        ("patch", f"/api/v1/webhooks/{hook.pk}/"),
        ("delete", f"/api/v1/webhooks/{hook.pk}/"),
        ("post", f"/api/v1/webhooks/{hook.pk}/test/"),
        ("get", f"/api/v1/webhooks/{hook.pk}/deliveries/"),
        ("get", "/api/v1/webhooks/?organization=acme"),
    ]:
        body = None if method == "get" else {"name": "Hijacked"}
        response = getattr(api, method)(url, body, format="json")
        assert response.status_code == 404, (method, url, response.status_code)
    hook.refresh_from_db()
    assert hook.name == "Acme secret hook"
    assert not OutboundMessage.objects.filter(webhook=hook).exists()


def test_creating_a_webhook_on_the_page(page_as, admin_a, tenant_a):
    response = page_as(admin_a).post(
        "/notifications/webhooks/",
        {
            "name": "On-call Slack",
            "url": "https://hooks.slack.test/T0/B0/x",
            "format": "slack",
            "events": ["incident.notice", "maintenance.notice"],
        },
    )
    hook = WebhookEndpoint.objects.get(organization=tenant_a)
    assert response.status_code == 302 and response.url == f"/notifications/webhooks/{hook.pk}/"
    assert hook.format == "slack" and hook.events == ["incident.notice", "maintenance.notice"]
    assert hook.secret.startswith("whsec_")
    entry = AuditEntry.objects.get(object_kind="webhook", object_id=str(hook.pk))
    assert entry.action == "created" and entry.organization == tenant_a
    assert hook.secret not in json.dumps(entry.changes)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://files.example.test/x",
        "javascript:alert(1)",
        "not a url",
        "https://user:pw@hooks.example.test/",
    ],
)
def test_a_webhook_needs_an_http_url(page_as, admin_a, tenant_a, url):
    response = page_as(admin_a).post(
        "/notifications/webhooks/", {"name": "Bad", "url": url, "format": "json"}
    )
    assert response.status_code == 200
    assert 'class="field has-error' in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_webhook_detail_shows_secret_and_delivery_log(page_as, admin_a, tenant_a):
    hook = endpoint(tenant_a)
    sent = message(tenant_a, channel=Channel.WEBHOOK, webhook=hook, status=MessageStatus.FAILED)
    WebhookDelivery.objects.create(
        endpoint=hook, message=sent, status_code=502, duration_ms=123, error="HTTP 502"
    )
    WebhookDelivery.objects.create(
        endpoint=hook,
        message=sent,
        status_code=None,
        duration_ms=10000,
        error="TimeoutError: timed out",
    )
    body = page_as(admin_a).get(f"/notifications/webhooks/{hook.pk}/").content.decode()
    assert hook.secret in body
    assert "✕ 502" in body and "123 ms" in body and "HTTP 502" in body
    assert "TimeoutError: timed out" in body and "no answer" in body
    # A customer cannot open the provider's delivery dashboard, so no link to it.
    assert "/notifications/deliveries/" not in body


def test_editing_a_webhook(page_as, admin_a, tenant_a):
    hook = endpoint(tenant_a)
    response = page_as(admin_a).post(
        f"/notifications/webhooks/{hook.pk}/",
        {
            "name": "Renamed",
            "url": "https://new.example.test/hook",
            "format": "teams",
            "events": ["incident.notice"],
        },
    )
    assert response.status_code == 302
    hook.refresh_from_db()
    assert (hook.name, hook.url, hook.format, hook.events, hook.is_active) == (
        "Renamed",
        "https://new.example.test/hook",
        "teams",
        ["incident.notice"],
        False,
    )
    entry = AuditEntry.objects.get(object_kind="webhook", action="updated")
    assert entry.changes["name"] == ["Ops Slack", "Renamed"]


def test_rotating_the_secret(page_as, admin_a, tenant_a):
    hook = endpoint(tenant_a)
    old = hook.secret
    page_as(admin_a).post(f"/notifications/webhooks/{hook.pk}/rotate-secret/")
    hook.refresh_from_db()
    assert hook.secret != old and hook.secret.startswith("whsec_")
    entry = AuditEntry.objects.get(object_kind="webhook", action="updated")
    assert old not in json.dumps(entry.changes) and hook.secret not in json.dumps(entry.changes)


def test_deleting_a_webhook(page_as, admin_a, tenant_a):
    hook = endpoint(tenant_a)
    response = page_as(admin_a).post(f"/notifications/webhooks/{hook.pk}/delete/")
    assert response.status_code == 302 and response.url == "/notifications/webhooks/"
    assert not WebhookEndpoint.objects.exists()
    assert AuditEntry.objects.filter(object_kind="webhook", action="deleted").exists()


def test_send_test_queues_one_message_for_that_endpoint_only(page_as, admin_a, tenant_a):
    hook = endpoint(tenant_a, events=["incident.notice"])  # a test ignores the filter
    other = endpoint(tenant_a, "Other", "https://other.example.test/")
    client = page_as(admin_a)
    response = client.post(f"/notifications/webhooks/{hook.pk}/test/", follow=True)
    assert "Test message queued" in response.content.decode()
    (queued,) = OutboundMessage.objects.filter(event="webhook.test")
    assert queued.webhook == hook and queued.channel == Channel.WEBHOOK
    assert queued.organization == tenant_a and queued.status == MessageStatus.QUEUED
    assert not OutboundMessage.objects.filter(webhook=other).exists()
    # Each click is a new test (not deduplicated away).
    client.post(f"/notifications/webhooks/{hook.pk}/test/")
    assert OutboundMessage.objects.filter(event="webhook.test", webhook=hook).count() == 2


class _Receiver(http.server.BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 - the http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.headers, body))  # case-insensitive
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    _Receiver.received = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, _Receiver.received
    server.shutdown()
    server.server_close()


def test_a_test_message_arrives_signed_and_shows_in_the_log(
    page_as, admin_a, tenant_a, receiver, django_capture_on_commit_callbacks
):
    server, received = receiver
    hook = endpoint(tenant_a, url=f"http://127.0.0.1:{server.server_port}/hook")
    with django_capture_on_commit_callbacks(execute=True):
        page_as(admin_a).post(f"/notifications/webhooks/{hook.pk}/test/")
    ((headers, body),) = received
    assert services.verify_webhook_signature(hook.secret, headers["X-CareDeck-Signature"], body)
    assert json.loads(body)["event"] == "webhook.test"
    assert OutboundMessage.objects.get(webhook=hook).status == MessageStatus.SENT
    page = page_as(admin_a).get(f"/notifications/webhooks/{hook.pk}/").content.decode()
    assert "✓ 204" in page


def test_api_lists_the_callers_organizations_webhooks(api_as, admin_a, tenant_a, tenant_b):
    endpoint(tenant_a, "Acme hook")
    endpoint(tenant_b, "Globex hook")
    data = api_as(admin_a).get("/api/v1/webhooks/").json()
    assert [w["name"] for w in data["results"]] == ["Acme hook"]
    assert data["results"][0]["organization"] == "acme"
    assert data["results"][0]["secret"].startswith("whsec_")


def test_a_platform_admin_names_the_organization(api_as, platform_admin, tenant_a):
    endpoint(tenant_a, "Acme hook")
    api = api_as(platform_admin)
    assert api.get("/api/v1/webhooks/").json()["results"] == []  # the provider's own
    data = api.get("/api/v1/webhooks/?organization=acme").json()
    assert [w["name"] for w in data["results"]] == ["Acme hook"]
    created = api.post(
        "/api/v1/webhooks/",
        {"organization": "acme", "name": "Made by staff", "url": "https://x.example.test/"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert WebhookEndpoint.objects.get(name="Made by staff").organization == tenant_a


def test_api_creates_updates_tests_and_deletes(api_as, admin_a, tenant_a):
    api = api_as(admin_a)
    created = api.post(
        "/api/v1/webhooks/",
        {
            "name": "CI",
            "url": "https://ci.example.test/hook",
            "format": "json",
            "events": ["incident.notice"],
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    hook_id = created.json()["id"]
    assert created.json()["organization"] == "acme"
    patched = api.patch(
        f"/api/v1/webhooks/{hook_id}/",
        {"is_active": False, "organization": "globex"},
        format="json",
    )
    assert patched.status_code == 200 and patched.json()["is_active"] is False
    assert patched.json()["organization"] == "acme"  # an endpoint never moves
    tested = api.post(f"/api/v1/webhooks/{hook_id}/test/")
    assert tested.status_code == 202 and tested.json()["event"] == "webhook.test"
    log = api.get(f"/api/v1/webhooks/{hook_id}/deliveries/").json()
    assert log["count"] == 0 and log["results"] == []
    assert api.delete(f"/api/v1/webhooks/{hook_id}/").status_code == 204
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "X", "url": "ftp://x.example.test/"}, "url"),
        ({"name": "X", "url": "https://x.example.test/", "events": ["nope"]}, "events"),
        ({"name": "X", "url": "https://x.example.test/", "format": "xml"}, "format"),
        ({"name": "", "url": "https://x.example.test/"}, "name"),
        ({"name": "X", "url": "https://x.example.test/", "organization": "globex"}, "organization"),
    ],
)
def test_api_refuses_bad_webhooks_with_field_errors(api_as, admin_a, body, field):
    response = api_as(admin_a).post("/api/v1/webhooks/", body, format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not WebhookEndpoint.objects.exists()


def test_api_delivery_log(api_as, admin_a, tenant_a):
    hook = endpoint(tenant_a)
    sent = message(tenant_a, channel=Channel.WEBHOOK, webhook=hook, status=MessageStatus.SENT)
    WebhookDelivery.objects.create(endpoint=hook, message=sent, status_code=200, duration_ms=42)
    data = api_as(admin_a).get(f"/api/v1/webhooks/{hook.pk}/deliveries/").json()
    (row,) = data["results"]
    assert row["status_code"] == 200 and row["duration_ms"] == 42 and row["ok"] is True
    assert row["event"] == "incident.notice" and row["message"] == sent.pk


# --- Delivery dashboard ----------------------------------------------------------------


@pytest.fixture
def outbox(tenant_a, tenant_b):
    """A few messages in every state, of both tenants and of the provider."""
    return {
        "queued_old": message(
            tenant_a,
            status=MessageStatus.QUEUED,
            error="",
            minutes_ago=42,
            subject="Queued long ago",
        ),
        "queued": message(tenant_b, status=MessageStatus.QUEUED, error="", minutes_ago=1),
        "sending": message(tenant_a, status=MessageStatus.SENDING, error=""),
        "sent": message(tenant_a, status=MessageStatus.SENT, error="", subject="All fine"),
        "failed": message(
            tenant_a,
            status=MessageStatus.FAILED,
            subject="Acme failed",
            error="SMTPServerDisconnected: gone",
        ),
        "dead": message(
            tenant_b, status=MessageStatus.DEAD, subject="Globex dead", error="HTTP 410"
        ),
        "provider": message(
            None, status=MessageStatus.FAILED, subject="Access request", event="access.requested"
        ),
    }


def test_dashboard_counts_each_status_and_the_oldest_queued_age(page_as, care_analyst, outbox):
    body = page_as(care_analyst).get("/notifications/deliveries/").content.decode()
    tiles = body[body.index('class="tiles"') : body.index("</ul>", body.index('class="tiles"'))]
    for status, count in [("queued", 2), ("sending", 1), ("sent", 1), ("failed", 2), ("dead", 1)]:
        assert f'href="?status={status}"><span class="tile-num">{count}</span>' in tiles
    assert '<span class="tile-num">42 min</span>' in tiles
    assert "oldest queued" in tiles and "tile oldest alert" in tiles
    assert "SMTPServerDisconnected: gone" in body and "HTTP 410" in body


def test_dashboard_filters_by_status_and_channel(page_as, care_analyst, outbox, tenant_a):
    hook = endpoint(tenant_a)
    message(tenant_a, channel=Channel.WEBHOOK, webhook=hook, subject="Hook failed")
    client = page_as(care_analyst)
    failed = client.get("/notifications/deliveries/?status=failed").content.decode()
    assert "Acme failed" in failed and "Hook failed" in failed
    assert "All fine" not in failed and "Globex dead" not in failed
    webhooks = client.get(
        "/notifications/deliveries/?status=failed&channel=webhook"
    ).content.decode()
    assert "Hook failed" in webhooks and "Acme failed" not in webhooks
    empty = client.get("/notifications/deliveries/?channel=in_app").content.decode()
    assert "No messages match" in empty


def test_retry_button_only_on_failed_and_dead_rows(page_as, care_analyst, outbox):
    body = page_as(care_analyst).get("/notifications/deliveries/").content.decode()
    for key in ("failed", "dead", "provider"):
        assert f"/notifications/deliveries/{outbox[key].pk}/retry/" in body
    for key in ("queued", "sending", "sent"):
        assert f"/notifications/deliveries/{outbox[key].pk}/retry/" not in body


def test_retry_now_requeues_and_comes_back_to_the_filtered_list(page_as, care_analyst, outbox):
    failed = outbox["failed"]
    response = page_as(care_analyst).post(
        f"/notifications/deliveries/{failed.pk}/retry/",
        {"next": "/notifications/deliveries/?status=failed"},
    )
    assert response.status_code == 302
    assert response.url == "/notifications/deliveries/?status=failed"
    failed.refresh_from_db()
    assert failed.status == MessageStatus.QUEUED
    assert AuditEntry.objects.filter(
        object_kind="message", object_id=str(failed.pk), action="retry_requested"
    ).exists()


def test_retry_now_sends_it(page_as, care_analyst, outbox, django_capture_on_commit_callbacks):
    dead = outbox["dead"]
    with django_capture_on_commit_callbacks(execute=True):
        page_as(care_analyst).post(f"/notifications/deliveries/{dead.pk}/retry/")
    dead.refresh_from_db()
    assert dead.status == MessageStatus.SENT
    assert [m.subject for m in mail.outbox] == ["Globex dead"]


def test_retry_of_a_sent_message_shows_the_conflict(page_as, care_analyst, outbox):
    sent = outbox["sent"]
    response = page_as(care_analyst).post(
        f"/notifications/deliveries/{sent.pk}/retry/",
        {"next": "https://evil.example/"},
        follow=True,
    )
    body = response.content.decode()
    assert response.redirect_chain[0][0] == f"/notifications/deliveries/{sent.pk}/"
    assert "This message is sent, not failed." in body
    sent.refresh_from_db()
    assert sent.status == MessageStatus.SENT


def test_delivery_detail_shows_message_attempts_errors_and_history(page_as, care_analyst, tenant_a):
    hook = endpoint(tenant_a, "Acme hook")
    failed = message(
        tenant_a, channel=Channel.WEBHOOK, webhook=hook, subject="Hook failed", error="HTTP 503"
    )
    WebhookDelivery.objects.create(
        endpoint=hook, message=failed, status_code=503, duration_ms=77, error="HTTP 503"
    )
    client = page_as(care_analyst)
    client.post(f"/notifications/deliveries/{failed.pk}/retry/")
    body = client.get(f"/notifications/deliveries/{failed.pk}/").content.decode()
    assert "Hook failed" in body and "Acme hook" in body and "Acme Telecom" in body
    assert "✕ 503" in body and "77 ms" in body
    assert "retry requested" in body  # the history
    assert f"/history/message/{failed.pk}/" in body


def test_only_provider_staff_see_deliveries(page_as, api_as, admin_a, member_a, outbox):
    for user in (admin_a, member_a):
        client = page_as(user)
        assert client.get("/notifications/deliveries/").status_code == 403
        failed = outbox["failed"]  # their own tenant's message: still not theirs to see
        assert client.get(f"/notifications/deliveries/{failed.pk}/").status_code == 404
        assert client.post(f"/notifications/deliveries/{failed.pk}/retry/").status_code == 404
        api = api_as(user)
        assert api.get("/api/v1/deliveries/").status_code == 403
        assert api.post(f"/api/v1/deliveries/{failed.pk}/retry/").status_code == 404
    outbox["failed"].refresh_from_db()
    assert outbox["failed"].status == MessageStatus.FAILED


def test_a_tam_sees_only_the_tenants_it_serves(page_as, api_as, tam, tenant_b, outbox):
    tenant_b.tam = tam
    tenant_b.save()
    client = page_as(tam)
    body = client.get("/notifications/deliveries/").content.decode()
    assert "Globex dead" in body
    assert "Acme failed" not in body and "Access request" not in body
    assert client.get(f"/notifications/deliveries/{outbox['failed'].pk}/").status_code == 404
    assert client.post(f"/notifications/deliveries/{outbox['failed'].pk}/retry/").status_code == 404
    data = api_as(tam).get("/api/v1/deliveries/").json()
    assert data["counts"] == {"queued": 1, "sending": 0, "sent": 0, "failed": 0, "dead": 1}
    assert {m["subject"] for m in data["results"]} == {"Globex dead", "Outage in us-east"}


def test_api_dashboard_counts_and_list(api_as, care_analyst, outbox):
    data = api_as(care_analyst).get("/api/v1/deliveries/?status=failed").json()
    assert data["counts"] == {"queued": 2, "sending": 1, "sent": 1, "failed": 2, "dead": 1}
    assert 42 * 60 <= data["oldest_queued_age_seconds"] < 43 * 60
    assert data["count"] == 2
    assert {m["last_error"] for m in data["results"]} == {
        "SMTPServerDisconnected: gone",
        "SMTPConnectError: connection refused",
    }
    detail = api_as(care_analyst).get(f"/api/v1/deliveries/{outbox['failed'].pk}/").json()
    assert detail["body_text"].startswith("Acme failed") and detail["webhook_deliveries"] == []


def test_api_retry_now_and_its_conflict(api_as, care_analyst, outbox):
    api = api_as(care_analyst)
    response = api.post(f"/api/v1/deliveries/{outbox['failed'].pk}/retry/")
    assert response.status_code == 200 and response.json()["status"] == "queued"
    again = api.post(f"/api/v1/deliveries/{outbox['failed'].pk}/retry/")
    assert again.status_code == 409
    assert again.json() == {"detail": "This message is queued, not failed."}


def test_empty_dashboard_says_what_it_is_for(page_as, care_analyst):
    body = page_as(care_analyst).get("/notifications/deliveries/").content.decode()
    assert "The outbox is empty" in body and '<span class="tile-num">—</span>' in body


# --- Navigation ------------------------------------------------------------------------


def test_staff_get_a_deliveries_entry_customers_do_not(page_as, care_analyst, admin_a):
    staff = page_as(care_analyst).get("/home/").content.decode()
    assert '<a href="/notifications/deliveries/">Deliveries</a>' in staff
    customer = page_as(admin_a).get("/home/").content.decode()
    assert "/notifications/deliveries/" not in customer
    assert 'href="/notifications/"' in customer


def test_a_partner_manages_a_customers_webhooks_only_with_the_right(api_as, partner, tenant_a):
    pat = UserFactory(organization=partner, roles=[Role.PARTNER_USER])
    hook = endpoint(tenant_a)
    assert api_as(pat).get(f"/api/v1/webhooks/{hook.pk}/").status_code == 403
    link = PartnerLink.objects.get(partner=partner, customer=tenant_a)
    link.rights = [*link.rights, "manage_webhooks"]
    link.save()
    pat = type(pat).objects.get(pk=pat.pk)  # capabilities are cached per instance
    assert api_as(pat).get(f"/api/v1/webhooks/{hook.pk}/").status_code == 200


def test_the_audit_log_keeps_no_webhook_token(admin_a, tenant_a):
    """Slack's incoming-webhook URL is its credential; the history shows the host only."""
    token_url = "https://hooks.slack.com/services/T000/B000/sEcReTtOkEn"
    hook = services.webhook_create(
        actor=admin_a, organization=tenant_a, name="Slack", url=token_url, format="slack"
    )
    services.webhook_update(actor=admin_a, endpoint=hook, url=token_url + "2")
    services.webhook_delete(actor=admin_a, endpoint=hook)
    logged = json.dumps(
        list(AuditEntry.objects.filter(object_kind="webhook").values_list("changes", flat=True)),
        ensure_ascii=False,
    )
    assert "sEcReTtOkEn" not in logged
    assert "https://hooks.slack.com/…" in logged and "(new path)" in logged
