"""E-mail delivery through the outbox to a real SMTP server (aiosmtpd) on loopback.

Time moves with time-machine; the scheduler's `tick` re-enqueues what is due, and the
test settings' ImmediateBackend runs each enqueued delivery task inline.
"""

from __future__ import annotations

import datetime
import email
import hashlib
import socket
from email import policy

import pytest
import time_machine
from aiosmtpd.controller import Controller

from caredeck.accounts.roles import Role
from caredeck.core.scheduler import tick
from caredeck.notify import services
from caredeck.notify.ics import CalendarWindow, build_ics, uid_for
from caredeck.notify.models import Channel, InAppNotification, MessageStatus, OutboundMessage
from caredeck.notify.services import email_queue, message_id_header, notify_users
from tests.factories import UserFactory

T0 = datetime.datetime(2030, 3, 4, 9, 0, tzinfo=datetime.UTC)
HOLDER = "test-scheduler"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """aiosmtpd handler: keeps every accepted message; refuses listed recipients with a
    temporary 450 (a full mailbox, a greylisting server)."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.refuse:
            return "450 4.2.1 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


class SmtpServer:
    def __init__(self):
        self.inbox = Inbox()
        self.port = _free_port()
        self.controller: Controller | None = None

    def start(self):
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp(settings):
    server = SmtpServer()
    server.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    yield server
    server.stop()


def _access_request_context(company="Initech"):
    request = {
        "name": "Peter Gibbons", "email": "peter@initech.test", "company": company,
        "get_kind_display": "Customer", "message": "",
    }
    return {"access_request": request, "link": "http://127.0.0.1:8000/access-requests/1/"}


def _notify(users, dedupe_base="access-requested:1", event="access.requested", **kwargs):
    return notify_users(
        event=event, users=users, dedupe_base=dedupe_base, template="access_requested",
        context=_access_request_context(), url="/access-requests/1/", **kwargs,
    )


def _emails(**filters):
    return list(OutboundMessage.objects.filter(channel=Channel.EMAIL, **filters).order_by("pk"))


def _expected_message_id(dedupe_key: str) -> str:
    return f"<{hashlib.sha256(dedupe_key.encode()).hexdigest()[:40]}@localhost>"


# --- Delivery ------------------------------------------------------------------------------


def test_each_person_gets_one_mail_with_a_message_id_from_the_dedupe_key(
    db, smtp, django_capture_on_commit_callbacks
):
    people = [UserFactory(email=f"person{i}@acme.test") for i in range(5)]
    with django_capture_on_commit_callbacks(execute=True):
        _notify(people)

    received = smtp.inbox.messages
    assert sorted(m["To"] for m in received) == sorted(p.email for p in people)
    assert len({m["Message-ID"] for m in received}) == 5
    for row in _emails():
        assert row.status == MessageStatus.SENT and row.attempts == 1 and row.sent_at
        (mail,) = smtp.inbox.to(row.recipient)
        assert mail["Message-ID"] == _expected_message_id(row.dedupe_key)
        assert mail["Message-ID"] == message_id_header(row)
        assert mail["X-CareDeck-Event"] == "access.requested"
        assert mail["Subject"] == "New CareDeck access request from Initech"


def test_an_inactive_person_gets_nothing(db, smtp, django_capture_on_commit_callbacks):
    active, gone = UserFactory(email="on@acme.test"), UserFactory(email="off@acme.test")
    gone.is_active = False
    gone.save()
    with django_capture_on_commit_callbacks(execute=True):
        _notify([active, gone])
    assert [m["To"] for m in smtp.inbox.messages] == ["on@acme.test"]


def test_server_down_nothing_lost_backoff_then_everything_arrives_once(
    db, smtp, django_capture_on_commit_callbacks
):
    people = [UserFactory(email=f"person{i}@acme.test") for i in range(4)]
    smtp.stop()
    with time_machine.travel(T0, tick=False) as clock:
        with django_capture_on_commit_callbacks(execute=True):
            _notify(people)
        rows = _emails()
        assert len(rows) == 4
        for row in rows:
            assert row.status == MessageStatus.FAILED
            assert row.attempts == 1
            assert row.next_attempt_at == T0 + datetime.timedelta(minutes=1)
            assert "ConnectionRefusedError" in row.last_error
        # The in-app copies of the same batch are not held up by the failing e-mails.
        assert InAppNotification.objects.count() == 4

        # Not due yet: the scheduler leaves them alone.
        clock.shift(datetime.timedelta(seconds=59))
        assert tick(HOLDER)["outbox-delivery"] == 0
        assert {r.attempts for r in _emails()} == {1}

        # Every retry fails while the server is down; the delay doubles, capped at 1 h.
        delays = [60]
        for attempt in range(2, 10):
            clock.move_to(_emails()[0].next_attempt_at)
            failed_at = datetime.datetime.now(datetime.UTC)
            assert tick(HOLDER)["outbox-delivery"] == 4
            rows = _emails()
            assert {r.status for r in rows} == {MessageStatus.FAILED}
            assert {r.attempts for r in rows} == {attempt}
            assert len({r.next_attempt_at for r in rows}) == 1
            assert all(r.last_error for r in rows)
            delays.append(int((rows[0].next_attempt_at - failed_at).total_seconds()))
        assert delays == [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]
        assert smtp.inbox.messages == []

        # The server comes back; the next due retry delivers every message, once.
        smtp.start()
        clock.move_to(_emails()[0].next_attempt_at)
        assert tick(HOLDER)["outbox-delivery"] == 4
        for _ in range(5):
            clock.shift(datetime.timedelta(hours=1))
            assert tick(HOLDER)["outbox-delivery"] == 0

    assert sorted(m["To"] for m in smtp.inbox.messages) == sorted(p.email for p in people)
    assert len({m["Message-ID"] for m in smtp.inbox.messages}) == 4
    for row in _emails():
        assert row.status == MessageStatus.SENT
        assert row.attempts == 10
        assert row.last_error == ""
    assert services.outbox_next_due() is None


def test_dead_after_24_hours_alerts_platform_admins_once(
    db, smtp, provider, django_capture_on_commit_callbacks
):
    admins = {"organization": provider, "roles": [Role.PLATFORM_ADMIN]}
    admin = UserFactory(email="admin@provider.test", **admins)
    # A second admin whose own mailbox refuses too: their alert dies as well, and a dead
    # alert must not raise an alert about itself.
    admin2 = UserFactory(email="admin2@provider.test", **admins)
    customer = UserFactory(email="gone@acme.test")
    smtp.inbox.refuse = {"gone@acme.test", "admin2@provider.test"}

    with time_machine.travel(T0, tick=False) as clock:
        with django_capture_on_commit_callbacks(execute=True):
            _notify([customer], dedupe_base="access-requested:7")
        (row,) = _emails(user=customer)
        assert row.status == MessageStatus.FAILED
        assert "450" in row.last_error

        for _ in range(40):
            row.refresh_from_db()
            if row.status != MessageStatus.FAILED:
                break
            clock.move_to(row.next_attempt_at)
            with django_capture_on_commit_callbacks(execute=True):
                tick(HOLDER)
        row.refresh_from_db()
        now = datetime.datetime.now(datetime.UTC)
        assert row.status == MessageStatus.DEAD
        assert "450" in row.last_error
        # Given up at the first failure whose next retry would be past 24 h.
        assert datetime.timedelta(hours=23) < now - T0 <= datetime.timedelta(hours=24)
        assert row.attempts > 20

        alerts = OutboundMessage.objects.filter(event="outbox.dead")
        assert {(a.user_id, a.channel) for a in alerts} == {
            (admin.pk, Channel.EMAIL), (admin.pk, Channel.IN_APP),
            (admin2.pk, Channel.EMAIL), (admin2.pk, Channel.IN_APP),
        }
        assert all(a.mandatory for a in alerts)
        (mail,) = smtp.inbox.to("admin@provider.test")
        assert mail["Subject"].startswith("Undeliverable: ")
        assert "gone@acme.test" in mail.get_body(("plain",)).get_content()
        assert "List-Unsubscribe" not in mail  # mandatory notice
        assert InAppNotification.objects.filter(event="outbox.dead").count() == 2

        # Two more days of ticks: admin2's alert dies too, and nothing alerts again.
        (alert2,) = _emails(user=admin2, event="outbox.dead")
        for _ in range(80):
            clock.shift(datetime.timedelta(hours=1))
            with django_capture_on_commit_callbacks(execute=True):
                tick(HOLDER)
        alert2.refresh_from_db()
        assert alert2.status == MessageStatus.DEAD
        assert OutboundMessage.objects.filter(event="outbox.dead").count() == 4
        assert len(smtp.inbox.to("admin@provider.test")) == 1
        assert InAppNotification.objects.filter(event="outbox.dead").count() == 2
        row.refresh_from_db()
        assert row.status == MessageStatus.DEAD  # dead stays dead: no more attempts
        assert smtp.inbox.to("gone@acme.test") == []


def test_dead_line_is_configurable(db, smtp, settings, django_capture_on_commit_callbacks):
    settings.OUTBOX_DEAD_AFTER_HOURS = 1
    smtp.stop()
    with time_machine.travel(T0, tick=False) as clock:
        with django_capture_on_commit_callbacks(execute=True):
            _notify([UserFactory(email="x@acme.test")])
        (row,) = _emails()
        attempts = 1
        while row.status == MessageStatus.FAILED:
            clock.move_to(row.next_attempt_at)
            tick(HOLDER)
            row.refresh_from_db()
            attempts += 1
            assert attempts < 10
    # 1, 2, 4, 8, 16 min: failed at 0, 1, 3, 7, 15, 31 min; 31 + 32 > 60 -> dead.
    assert row.status == MessageStatus.DEAD
    assert row.attempts == 6


# --- Idempotence ---------------------------------------------------------------------------


def test_same_event_twice_queues_and_sends_once(db, smtp, django_capture_on_commit_callbacks):
    people = [UserFactory(email=f"person{i}@acme.test") for i in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        first = _notify(people, dedupe_base="access-requested:42")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        second = _notify(people, dedupe_base="access-requested:42")
    assert callbacks == []  # nothing new: no delivery task is even enqueued
    assert sorted(m.pk for m in first) == sorted(m.pk for m in second)
    # One row per person and channel (e-mail + in-app by default).
    assert OutboundMessage.objects.count() == 6
    assert sorted(m["To"] for m in smtp.inbox.messages) == sorted(p.email for p in people)
    assert InAppNotification.objects.count() == 3


def test_email_queue_twice_with_the_same_key_is_one_message(
    db, smtp, tenant_a, django_capture_on_commit_callbacks
):
    person = UserFactory(email="new@acme.test", organization=tenant_a)
    context = {"user": person, "organization": tenant_a, "inviter": "Ann", "link": "http://x/i/1"}
    for _ in range(2):  # a double click
        with django_capture_on_commit_callbacks(execute=True):
            email_queue(
                dedupe_key=f"invitation:{person.pk}:1", to=person.email, template="invitation",
                context=context, event="user.invited", organization=tenant_a, user=person,
            )
    assert OutboundMessage.objects.count() == 1
    assert len(smtp.inbox.messages) == 1


def test_two_workers_with_the_same_batch_send_once(db, smtp):
    people = [UserFactory(email=f"person{i}@acme.test") for i in range(3)]
    # Outside a commit-capturing block the rows stay queued: no task ran yet.
    ids = [m.pk for m in _notify(people) if m.channel == Channel.EMAIL]
    assert {m.status for m in _emails()} == {MessageStatus.QUEUED}

    assert services.messages_deliver(message_ids=ids) == 3
    assert services.messages_deliver(message_ids=ids) == 0
    assert len(smtp.inbox.messages) == 3


def test_a_worker_arriving_while_another_sends_skips_the_claimed_messages(db, smtp, monkeypatch):
    people = [UserFactory(email=f"person{i}@acme.test") for i in range(3)]
    ids = [m.pk for m in _notify(people) if m.channel == Channel.EMAIL]
    original = services._deliver_emails
    second_worker = []

    def racing(messages):
        # Worker B gets the same task while worker A holds the claims and is sending.
        second_worker.append(services.messages_deliver(message_ids=ids))
        return original(messages)

    monkeypatch.setattr(services, "_deliver_emails", racing)
    assert services.messages_deliver(message_ids=ids) == 3
    assert second_worker == [0]
    assert len(smtp.inbox.messages) == 3
    assert {(m.status, m.attempts) for m in _emails()} == {(MessageStatus.SENT, 1)}


# --- Headers and parts ---------------------------------------------------------------------


def test_a_resend_of_the_same_row_carries_the_same_message_id(
    db, smtp, settings, monkeypatch, django_capture_on_commit_callbacks
):
    """The worker hands the mail to the server, then dies before recording it: after its
    claim runs out the message is sent again, recognisably the same one."""
    person = UserFactory(email="person@acme.test")
    with time_machine.travel(T0, tick=False) as clock:
        mark_sent = services._mark_sent
        monkeypatch.setattr(  # the crash, between the SMTP server's 250 and the update
            services, "_mark_sent", lambda m: None if m.channel == Channel.EMAIL else mark_sent(m)
        )
        with django_capture_on_commit_callbacks(execute=True):
            _notify([person])
        monkeypatch.undo()
        (row,) = _emails()
        assert (row.status, row.attempts) == (MessageStatus.SENDING, 1)
        assert len(smtp.inbox.messages) == 1

        clock.shift(datetime.timedelta(seconds=settings.OUTBOX_SENDING_LEASE_SECONDS - 1))
        assert tick(HOLDER)["outbox-delivery"] == 0
        clock.shift(datetime.timedelta(seconds=1))
        assert tick(HOLDER)["outbox-delivery"] == 1

    row.refresh_from_db()
    assert (row.status, row.attempts) == (MessageStatus.SENT, 2)
    first, second = smtp.inbox.messages
    assert first["Message-ID"] == second["Message-ID"] == _expected_message_id(row.dedupe_key)
    assert first["To"] == second["To"] == "person@acme.test"


def test_optional_mail_has_list_unsubscribe_and_html_and_text(
    db, smtp, settings, django_capture_on_commit_callbacks
):
    settings.BASE_URL = "https://care.example.com"
    with django_capture_on_commit_callbacks(execute=True):
        _notify([UserFactory(email="person@acme.test")])
    (mail,) = smtp.inbox.messages
    assert mail["List-Unsubscribe"] == "<https://care.example.com/notifications/settings/>"
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "Peter Gibbons <peter@initech.test> of Initech" in text
    assert "<strong>Initech</strong>" in html and "<p>" not in text


def test_mandatory_notice_has_no_list_unsubscribe(db, smtp, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _notify([UserFactory(email="contact@acme.test")], event="incident.notice",
                dedupe_base="INC-000001:notice:1")
    (mail,) = smtp.inbox.messages
    assert mail["X-CareDeck-Event"] == "incident.notice"
    assert "List-Unsubscribe" not in mail


def test_invitation_has_no_list_unsubscribe(db, smtp, tenant_a, django_capture_on_commit_callbacks):
    person = UserFactory(email="new@acme.test", organization=tenant_a, name="Nora New")
    with django_capture_on_commit_callbacks(execute=True):
        email_queue(
            dedupe_key=f"invitation:{person.pk}:1", to=person.email, template="invitation",
            context={"user": person, "organization": tenant_a, "inviter": "Ann",
                     "link": "http://x/invitation/abc/"},
            event="user.invited", organization=tenant_a, user=person,
        )
    (mail,) = smtp.inbox.messages
    assert mail["Subject"] == "You are invited to CareDeck (Acme Telecom)"
    assert "List-Unsubscribe" not in mail
    assert "http://x/invitation/abc/" in mail.get_body(("plain",)).get_content()
    assert 'href="http://x/invitation/abc/"' in mail.get_body(("html",)).get_content()


def test_calendar_invite_arrives_as_text_calendar_attachment(
    db, smtp, django_capture_on_commit_callbacks
):
    import icalendar

    window = CalendarWindow(
        uid=uid_for("MNT-000042"), sequence=2, summary="Database maintenance",
        starts_at=T0, ends_at=T0 + datetime.timedelta(hours=2),
    )
    invite = {
        "filename": "MNT-000042.ics", "mimetype": "text/calendar", "content": build_ics(window)
    }
    with django_capture_on_commit_callbacks(execute=True):
        _notify([UserFactory(email="contact@acme.test")], event="maintenance.notice",
                dedupe_base="MNT-000042:announce:2", attachments=[invite])
    # Only the e-mail carries the attachment.
    assert OutboundMessage.objects.get(channel=Channel.IN_APP).attachments == []

    (mail,) = smtp.inbox.messages
    assert mail.get_content_type() == "multipart/mixed"
    assert mail.get_body(("plain",)) is not None and mail.get_body(("html",)) is not None
    (attachment,) = list(mail.iter_attachments())
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_filename() == "MNT-000042.ics"
    calendar = icalendar.Calendar.from_ical(attachment.get_payload(decode=True))
    (event,) = calendar.walk("VEVENT")
    assert str(calendar["METHOD"]) == "REQUEST"
    assert str(event["UID"]) == window.uid
    assert int(event["SEQUENCE"]) == 2
    assert event.decoded("DTSTART") == T0


def test_binary_attachment_survives_the_outbox(db, smtp, django_capture_on_commit_callbacks):
    pdf = b"%PDF-1.4\n\xff\xfe\x00binary\x80"
    with django_capture_on_commit_callbacks(execute=True):
        _notify([UserFactory(email="contact@acme.test")],
                attachments=[{"filename": "r.pdf", "mimetype": "application/pdf", "content": pdf}])
    (mail,) = smtp.inbox.messages
    (attachment,) = list(mail.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_payload(decode=True) == pdf
