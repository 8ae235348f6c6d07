"""Webhook delivery to a receiver on loopback: signature, retries, delivery log, formats,
timeout."""

from __future__ import annotations

import datetime
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine

from caredeck.core.scheduler import tick
from caredeck.notify import services
from caredeck.notify.models import (
    MessageStatus,
    OutboundMessage,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookFormat,
)
from caredeck.notify.services import notify_webhooks, sign_webhook, verify_webhook_signature

T0 = datetime.datetime(2030, 3, 4, 9, 0, tzinfo=datetime.UTC)
HOLDER = "test-scheduler"


class Receiver:
    """An HTTP server in a thread. It answers each POST with the next status of
    `statuses` (the last one repeats) after `delay` seconds, and records what came."""

    def __init__(self, statuses=(200,), delay: float = 0.0):
        self.statuses = list(statuses)
        self.delay = delay
        self.requests: list[dict] = []
        self.secret = ""  # set once the endpoint exists
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                signature = self.headers.get("X-CareDeck-Signature", "")
                receiver.requests.append({
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body,
                    "verified": verify_webhook_signature(receiver.secret, signature, body),
                })
                if receiver.delay:
                    time.sleep(receiver.delay)
                statuses = receiver.statuses
                status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the client gave up (timeout)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def json(self, index=-1) -> dict:
        return json.loads(self.requests[index]["body"])


@pytest.fixture
def receivers():
    made = []

    def make(**kwargs):
        made.append(Receiver(**kwargs))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


def _endpoint(org, receiver, path="/hook", **kwargs):
    endpoint = WebhookEndpoint.objects.create(
        organization=org, name=kwargs.pop("name", "Ops"), url=receiver.url + path, **kwargs
    )
    receiver.secret = endpoint.secret
    return endpoint


def _send(org, dedupe_base="INC-000007:notice:1", event="incident.notice"):
    return notify_webhooks(
        event=event, organization=org, dedupe_base=dedupe_base,
        subject="INC-000007 Calls drop in Cloud CX", text="We are investigating.",
        url="/incidents/7/", data={"incident": "INC-000007", "severity": "major"},
    )


def test_signed_json_retried_after_500s_until_sent(
    db, tenant_a, receivers, settings, django_capture_on_commit_callbacks
):
    settings.BASE_URL = "https://care.example.com"
    receiver = receivers(statuses=[500, 500, 200])
    endpoint = _endpoint(tenant_a, receiver)
    with time_machine.travel(T0, tick=False) as clock:
        with django_capture_on_commit_callbacks(execute=True):
            (message,) = _send(tenant_a)
        message.refresh_from_db()
        assert message.status == MessageStatus.FAILED
        assert message.last_error == "HTTP 500"
        assert message.next_attempt_at == T0 + datetime.timedelta(minutes=1)

        clock.shift(datetime.timedelta(seconds=59))
        assert tick(HOLDER)["outbox-delivery"] == 0
        assert len(receiver.requests) == 1

        clock.shift(datetime.timedelta(seconds=1))
        assert tick(HOLDER)["outbox-delivery"] == 1
        message.refresh_from_db()
        assert (message.status, message.attempts) == (MessageStatus.FAILED, 2)
        assert message.next_attempt_at == T0 + datetime.timedelta(minutes=1 + 2)

        clock.move_to(message.next_attempt_at)
        assert tick(HOLDER)["outbox-delivery"] == 1
        message.refresh_from_db()
        assert (message.status, message.attempts) == (MessageStatus.SENT, 3)

        clock.shift(datetime.timedelta(hours=2))
        assert tick(HOLDER)["outbox-delivery"] == 0

    assert len(receiver.requests) == 3
    assert all(r["verified"] for r in receiver.requests)
    # The same delivery id each time, so the receiver can de-duplicate.
    assert {r["headers"]["x-caredeck-delivery"] for r in receiver.requests} == {message.dedupe_key}
    assert {r["headers"]["x-caredeck-event"] for r in receiver.requests} == {"incident.notice"}
    assert {r["headers"]["content-type"] for r in receiver.requests} == {"application/json"}
    assert receiver.json() == {
        "id": message.dedupe_key,
        "event": "incident.notice",
        "organization": "acme",
        "created_at": T0.isoformat(),
        "subject": "INC-000007 Calls drop in Cloud CX",
        "text": "We are investigating.",
        "url": "https://care.example.com/incidents/7/",
        "data": {"incident": "INC-000007", "severity": "major"},
    }
    log = list(WebhookDelivery.objects.filter(endpoint=endpoint).order_by("attempted_at", "pk"))
    assert [d.status_code for d in log] == [500, 500, 200]
    assert [d.ok for d in log] == [False, False, True]
    assert [d.attempted_at for d in log] == [
        T0, T0 + datetime.timedelta(minutes=1), T0 + datetime.timedelta(minutes=3)
    ]
    assert {d.message_id for d in log} == {message.pk}


def test_signature_is_hmac_over_timestamp_and_body(db, tenant_a, receivers,
                                                   django_capture_on_commit_callbacks):
    receiver = receivers()
    endpoint = _endpoint(tenant_a, receiver)
    with django_capture_on_commit_callbacks(execute=True):
        _send(tenant_a)
    (request,) = receiver.requests
    header, body = request["headers"]["x-caredeck-signature"], request["body"]
    timestamp = int(header.split(",")[0].removeprefix("t="))
    assert abs(timestamp - time.time()) < 5
    import hashlib
    import hmac

    expected = hmac.new(endpoint.secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    assert header == f"t={timestamp},v1={expected.hexdigest()}"
    assert verify_webhook_signature(endpoint.secret, header, body)
    # Another endpoint's secret, a changed body or an old replayed timestamp fail.
    assert not verify_webhook_signature("whsec_other", header, body)
    assert not verify_webhook_signature(endpoint.secret, header, body + b" ")
    old = sign_webhook(endpoint.secret, timestamp - 301, body)
    assert not verify_webhook_signature(endpoint.secret, old, body)
    assert not verify_webhook_signature(endpoint.secret, "garbage", body)


def test_slack_and_teams_formats(db, tenant_a, receivers, settings,
                                 django_capture_on_commit_callbacks):
    settings.BASE_URL = "https://care.example.com"
    receiver = receivers()
    _endpoint(tenant_a, receiver, "/slack", name="Slack", format=WebhookFormat.SLACK)
    _endpoint(tenant_a, receiver, "/teams", name="Teams", format=WebhookFormat.TEAMS)
    with django_capture_on_commit_callbacks(execute=True):
        _send(tenant_a)
    bodies = {r["path"]: json.loads(r["body"]) for r in receiver.requests}
    assert bodies["/slack"] == {
        "text": "*INC-000007 Calls drop in Cloud CX*\nWe are investigating.\n"
        "<https://care.example.com/incidents/7/|Open in CareDeck>"
    }
    assert bodies["/teams"] == {
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": "INC-000007 Calls drop in Cloud CX",
        "title": "INC-000007 Calls drop in Cloud CX",
        "text": "We are investigating.",
        "potentialAction": [{
            "@type": "OpenUri", "name": "Open in CareDeck",
            "targets": [{"os": "default", "uri": "https://care.example.com/incidents/7/"}],
        }],
    }
    assert set(OutboundMessage.objects.values_list("status", flat=True)) == {MessageStatus.SENT}


def test_only_active_endpoints_that_want_the_event(db, tenant_a, tenant_b, receivers,
                                                   django_capture_on_commit_callbacks):
    receiver = receivers()
    _endpoint(tenant_a, receiver, "/all", name="All")
    _endpoint(tenant_a, receiver, "/incidents", name="Incidents", events=["incident.notice"])
    _endpoint(tenant_a, receiver, "/maint", name="Maintenance", events=["maintenance.notice"])
    _endpoint(tenant_a, receiver, "/off", name="Off", is_active=False)
    _endpoint(tenant_b, receiver, "/other-tenant", name="Globex")
    with django_capture_on_commit_callbacks(execute=True):
        _send(tenant_a)
    with django_capture_on_commit_callbacks(execute=True):
        _send(tenant_a)  # the same occurrence again: nothing new
    assert sorted(r["path"] for r in receiver.requests) == ["/all", "/incidents"]


def test_default_timeout_is_ten_seconds(db, tenant_a, receivers, monkeypatch,
                                        django_capture_on_commit_callbacks):
    from django.conf import settings

    assert settings.WEBHOOK_TIMEOUT_SECONDS == 10
    receiver = receivers()
    _endpoint(tenant_a, receiver)
    seen = []
    urlopen = services.urllib.request.urlopen

    def spy(request, timeout=None):
        seen.append(timeout)
        return urlopen(request, timeout=timeout)

    monkeypatch.setattr(services.urllib.request, "urlopen", spy)
    with django_capture_on_commit_callbacks(execute=True):
        _send(tenant_a)
    assert seen == [10]
    assert len(receiver.requests) == 1


def test_a_slow_receiver_times_out_and_is_retried(db, tenant_a, receivers, settings,
                                                  django_capture_on_commit_callbacks):
    settings.WEBHOOK_TIMEOUT_SECONDS = 1
    receiver = receivers(delay=2.5)
    endpoint = _endpoint(tenant_a, receiver)
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        (message,) = _send(tenant_a)
    assert time.monotonic() - started < 2.4  # gave up after the timeout, not the answer
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert "timed out" in message.last_error
    (attempt,) = WebhookDelivery.objects.filter(endpoint=endpoint)
    assert attempt.status_code is None
    assert "timed out" in attempt.error
    assert 900 <= attempt.duration_ms < 2400
    assert len(receiver.requests) == 1


def test_an_unreachable_endpoint_is_logged_and_retried(db, tenant_a,
                                                       django_capture_on_commit_callbacks):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    endpoint = WebhookEndpoint.objects.create(
        organization=tenant_a, name="Gone", url=f"http://127.0.0.1:{port}/hook"
    )
    with django_capture_on_commit_callbacks(execute=True):
        (message,) = _send(tenant_a)
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    (attempt,) = WebhookDelivery.objects.filter(endpoint=endpoint)
    assert attempt.status_code is None and "Connection refused" in attempt.error
