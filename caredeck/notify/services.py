"""Queueing, fanning out and delivering notifications.

Services of every app call `notify_users` / `notify_webhooks` (or `email_queue` for a
message to one address) inside their own transaction. The rows commit with the event;
delivery tasks are enqueued once it commits, in batches. The scheduler re-enqueues what
a lost task, a dead worker or a failed attempt left due (see caredeck/schedule.py).
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import hmac
import html
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from caredeck.notify.events import EVENT_TYPES, TRANSACTIONAL_EVENTS, event_type
from caredeck.notify.models import (
    Channel,
    InAppNotification,
    MessageStatus,
    OutboundMessage,
    Subscription,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookFormat,
)

log = logging.getLogger("caredeck.notify")


def _seconds(name: str, default: int) -> datetime.timedelta:
    return datetime.timedelta(seconds=getattr(settings, name, default))


def retry_delay(attempts: int) -> datetime.timedelta:
    """Back-off after the n-th failed attempt: 1 min, doubling, capped at 1 h."""
    base = _seconds("OUTBOX_RETRY_BASE_SECONDS", 60)
    cap = _seconds("OUTBOX_RETRY_MAX_SECONDS", 3600)
    return min(base * (2 ** max(attempts - 1, 0)), cap)


# --- Queueing ------------------------------------------------------------------------


_batching = threading.local()


@contextlib.contextmanager
def outbox_batched():
    """Inside this block (within the caller's transaction), the outbox rows written by
    every notify call are enqueued together when the block ends, in full batches of
    OUTBOX_BATCH_SIZE, instead of one small batch per call. For an event fanned out
    tenant by tenant (one `notify_users` per tenant): 1,000 tenants × 5 contacts make
    200 tasks of 50 rather than 1,000 tasks of 10, each task costing a worker round
    and an SMTP connection (bench/README.md). If the block raises, nothing is enqueued
    (the rows roll back with the caller's transaction, or the scheduler picks them up)."""
    if getattr(_batching, "ids", None) is not None:
        yield  # nested: the outermost block enqueues
        return
    _batching.ids = []
    try:
        yield
        ids = _batching.ids
    finally:
        _batching.ids = None
    _enqueue_on_commit(ids)


def _enqueue_on_commit(message_ids: list[int]) -> None:
    if not message_ids:
        return
    gathering = getattr(_batching, "ids", None)
    if gathering is not None:
        gathering.extend(message_ids)
        return
    batch = getattr(settings, "OUTBOX_BATCH_SIZE", 50)

    def enqueue():
        from caredeck.notify.tasks import deliver_messages

        for start in range(0, len(message_ids), batch):
            deliver_messages.enqueue(message_ids[start : start + batch])

    transaction.on_commit(enqueue)


def _storable(attachments: list[dict]) -> list[dict]:
    """Attachments as JSON: bytes content (e.g. `ics.build_ics`) becomes text, or base64
    (marked "encoding") when it is not UTF-8."""
    stored = []
    for attachment in attachments:
        content = attachment["content"]
        if isinstance(content, bytes):
            try:
                attachment = {**attachment, "content": content.decode()}
            except UnicodeDecodeError:
                attachment = {
                    **attachment,
                    "content": base64.b64encode(content).decode(),
                    "encoding": "base64",
                }
        stored.append(attachment)
    return stored


def outbox_add(rows: list[dict[str, Any]]) -> list[OutboundMessage]:
    """Write outbox rows (each with a `dedupe_key`); a key already there is kept as is.

    Returns the rows for all keys, new and existing. Must run in the caller's transaction.
    """
    keys = _outbox_insert(rows)
    return list(OutboundMessage.objects.filter(dedupe_key__in=keys)) if keys else []


def outbox_write(rows: list[dict[str, Any]]) -> int:
    """`outbox_add` for fan-outs that need nothing back (thousands of rows): it does not
    read the messages again. Returns how many rows were new."""
    return len(_outbox_insert(rows, created_only=True))


def _outbox_insert(rows: list[dict[str, Any]], *, created_only: bool = False) -> list[str]:
    """Insert the rows whose keys are new and enqueue them on commit; the keys of all
    rows (or of the new ones only)."""
    if not rows:
        return []
    keys = [row["dedupe_key"] for row in rows]
    existing = set(
        OutboundMessage.objects.filter(dedupe_key__in=keys).values_list("dedupe_key", flat=True)
    )
    grace = _seconds("OUTBOX_PICKUP_GRACE_SECONDS", 60)
    now = timezone.now()
    rows = [{**row, "attachments": _storable(row.get("attachments") or [])} for row in rows]
    new = [
        OutboundMessage(**row, created_at=now, next_attempt_at=now + grace)
        for row in rows
        if row["dedupe_key"] not in existing
    ]
    # A racing transaction may have written the same key meanwhile: its row wins.
    OutboundMessage.objects.bulk_create(new, ignore_conflicts=True, batch_size=500)
    created = {m.dedupe_key for m in new}
    # Only the ids and states: the bodies were just written and are not needed again.
    stored = OutboundMessage.objects.filter(dedupe_key__in=keys).values_list(
        "pk", "dedupe_key", "status"
    )
    _enqueue_on_commit(
        [pk for pk, key, status in stored if key in created and status == MessageStatus.QUEUED]
    )
    return list(created) if created_only else keys


def render_email(template: str, context: dict) -> dict[str, str]:
    context = {"base_url": settings.BASE_URL, **context}
    return {
        # A subject is plain text: undo the HTML escaping the template engine applies
        # (an idea titled "Agents' breaks" must not arrive as "Agents&#x27; breaks").
        "subject": html.unescape(" ".join(
            render_to_string(f"notify/email/{template}.subject.txt", context).split()
        ))[:250],
        "body_text": render_to_string(f"notify/email/{template}.txt", context),
        "body_html": render_to_string(f"notify/email/{template}.html", context),
    }


def email_queue(
    *,
    dedupe_key: str,
    to: str,
    template: str,
    context: dict,
    event: str,
    organization=None,
    user=None,
    attachments: list[dict] | None = None,
) -> OutboundMessage:
    """One e-mail to one address (invitations, password resets): always sent."""
    return outbox_add(
        [
            {
                "dedupe_key": dedupe_key,
                "channel": Channel.EMAIL,
                "event": event,
                "organization": organization,
                "user": user,
                "recipient": to,
                "mandatory": True,
                "attachments": attachments or [],
                **render_email(template, context),
            }
        ]
    )[0]


def _channels_from(kind, chosen: list[str] | None) -> list[str]:
    if chosen is None:
        return list(kind.default_channels)
    if not chosen and kind.mandatory:
        return list(kind.default_channels)
    return [c for c in chosen if c in kind.channels]


def effective_channels(user, event: str) -> list[str]:
    kind = event_type(event)
    chosen = (
        Subscription.objects.filter(user=user, event=event)
        .values_list("channels", flat=True)
        .first()
    )
    return _channels_from(kind, chosen)


def notify_users(
    *,
    event: str,
    users: Iterable,
    dedupe_base: str,
    template: str,
    context: dict,
    organization=None,
    url: str = "",
    attachments: list[dict] | None = None,
) -> list[OutboundMessage]:
    """Fan an event out to people, on the channels each chose (or the event's defaults).

    The e-mail is rendered from notify/email/<template>.*; the in-app item uses the same
    subject and plain text. `dedupe_base` names the event occurrence, e.g. "INC-000042:
    notice:1": with the user and channel it makes each message's unique key.
    """
    return outbox_add(
        user_rows(
            event=event, users=users, dedupe_base=dedupe_base, template=template,
            context=context, organization=organization, url=url, attachments=attachments,
        )
    )


def user_rows(
    *,
    event: str,
    users: Iterable,
    dedupe_base: str,
    template: str,
    context: dict,
    organization=None,
    url: str = "",
    attachments: list[dict] | None = None,
    chosen: dict[int, list[str]] | None = None,
) -> list[dict[str, Any]]:
    """The outbox rows of `notify_users`, for callers that write many events at once.
    `chosen` (user id -> channels) spares the subscription query when already read."""
    kind = event_type(event)
    users = [user for user in users if user.is_active]
    if not users:
        return []
    rendered = render_email(template, {**context, "url": url})
    if chosen is None:
        # One query for everyone's channel choices: an outage notice reaches thousands.
        chosen = dict(
            Subscription.objects.filter(event=event, user__in=[u.pk for u in users])
            .values_list("user_id", "channels")
        )
    rows = []
    for user in users:
        for channel in _channels_from(kind, chosen.get(user.pk)):
            rows.append(
                {
                    "dedupe_key": f"{dedupe_base}:{user.pk}:{channel}"[:200],
                    "channel": channel,
                    "event": event,
                    "organization": organization,
                    "user": user,
                    "recipient": user.email if channel == Channel.EMAIL else str(user.pk),
                    "mandatory": kind.mandatory,
                    "url": url,
                    "attachments": (attachments or []) if channel == Channel.EMAIL else [],
                    **rendered,
                }
            )
    return rows


def notify_webhooks(
    *,
    event: str,
    organization,
    dedupe_base: str,
    subject: str,
    text: str,
    url: str = "",
    data: dict | None = None,
    endpoints: Iterable[WebhookEndpoint] | None = None,
) -> list[OutboundMessage]:
    """Send an organization's event to each of its active endpoints that wants it (or to
    the `endpoints` given, e.g. the one a "send test" click is for)."""
    return outbox_add(
        webhook_rows(
            event=event, organization=organization, dedupe_base=dedupe_base,
            subject=subject, text=text, url=url, data=data, endpoints=endpoints,
        )
    )


def webhook_rows(
    *,
    event: str,
    organization,
    dedupe_base: str,
    subject: str,
    text: str,
    url: str = "",
    data: dict | None = None,
    endpoints: Iterable[WebhookEndpoint] | None = None,
) -> list[dict[str, Any]]:
    """The outbox rows of `notify_webhooks` (see `user_rows`)."""
    if endpoints is None:
        endpoints = [
            endpoint
            for endpoint in WebhookEndpoint.objects.filter(
                organization=organization, is_active=True
            )
            if not endpoint.events or event in endpoint.events
        ]
    return [
        {
            "dedupe_key": f"{dedupe_base}:webhook:{endpoint.pk}"[:200],
            "channel": Channel.WEBHOOK,
            "event": event,
            "organization": organization,
            "webhook": endpoint,
            "recipient": endpoint.url,
            "subject": subject[:250],
            "body_text": text,
            "url": url,
            "payload": data or {},
        }
        for endpoint in endpoints
    ]


# --- Delivery --------------------------------------------------------------------------


def _claim(message_ids: list[int]) -> list[OutboundMessage]:
    """Claim the batch's queued messages in one short transaction: a row another worker
    got to first (no longer queued, or locked by its claim) is skipped.

    Two statements per batch rather than one update per message: on PostgreSQL the rows
    are locked (SKIP LOCKED) between the read and the update; SQLite's IMMEDIATE
    transactions hold the write lock for the whole block."""
    now = timezone.now()
    lease = _seconds("OUTBOX_SENDING_LEASE_SECONDS", 300)
    with transaction.atomic():
        claimed = list(
            OutboundMessage.objects.select_for_update(skip_locked=True)
            .filter(pk__in=message_ids, status=MessageStatus.QUEUED)
            .values_list("pk", flat=True)
        )
        OutboundMessage.objects.filter(pk__in=claimed, status=MessageStatus.QUEUED).update(
            status=MessageStatus.SENDING,
            attempts=F("attempts") + 1,
            next_attempt_at=now + lease,
        )
    return list(
        OutboundMessage.objects.filter(pk__in=claimed).select_related(
            "webhook", "organization", "user"
        )
    )


def _mark_sent(message: OutboundMessage) -> None:
    OutboundMessage.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
        status=MessageStatus.SENT, sent_at=timezone.now(), last_error=""
    )


def _mark_failed(message: OutboundMessage, error: str) -> None:
    """Postpone with back-off; past the dead line, give up and alert the admins."""
    now = timezone.now()
    retry_at = now + retry_delay(message.attempts)
    dead_after = datetime.timedelta(hours=getattr(settings, "OUTBOX_DEAD_AFTER_HOURS", 24))
    with transaction.atomic():
        if retry_at - message.created_at > dead_after:
            updated = OutboundMessage.objects.filter(
                pk=message.pk, status=MessageStatus.SENDING
            ).update(status=MessageStatus.DEAD, last_error=error[:2000])
            if updated:
                _alert_dead(message, error)
        else:
            OutboundMessage.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
                status=MessageStatus.FAILED, last_error=error[:2000], next_attempt_at=retry_at
            )


def _alert_dead(message: OutboundMessage, error: str) -> None:
    if message.event == "outbox.dead":
        return  # an undeliverable alert must not alert about itself, forever
    from caredeck.accounts.models import User
    from caredeck.accounts.roles import OrganizationKind, Role

    admins = User.objects.filter(
        is_active=True,
        role_grants__role=Role.PLATFORM_ADMIN,
        organization__kind=OrganizationKind.PROVIDER,
    ).distinct()
    notify_users(
        event="outbox.dead",
        users=admins,
        dedupe_base=f"outbox-dead:{message.pk}",
        template="outbox_dead",
        context={"message": message, "error": error},
        url=reverse("delivery-list"),
    )


def message_id_header(message: OutboundMessage) -> str:
    """A Message-ID derived from the dedupe key: a re-send carries the same one."""
    digest = hashlib.sha256(message.dedupe_key.encode()).hexdigest()[:40]
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip(">").strip() or "caredeck"
    return f"<{digest}@{domain}>"


def _email_for(message: OutboundMessage, connection) -> EmailMultiAlternatives:
    headers = {"Message-ID": message_id_header(message), "X-CareDeck-Event": message.event}
    if not message.mandatory and message.event not in TRANSACTIONAL_EVENTS:
        headers["List-Unsubscribe"] = f"<{settings.BASE_URL}/notifications/settings/>"
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.body_text,
        to=[message.recipient],
        headers=headers,
        connection=connection,
    )
    if message.body_html:
        email.attach_alternative(message.body_html, "text/html")
    for attachment in message.attachments:
        content = attachment["content"]
        if attachment.get("encoding") == "base64":
            content = base64.b64decode(content)
        email.attach(attachment["filename"], content, attachment["mimetype"])
    return email


def _deliver_emails(messages: list[OutboundMessage]) -> list[str]:
    errors = []
    connection = get_connection()
    try:
        connection.open()
    except Exception as exc:  # the server is down: every message waits for a retry
        error = f"{type(exc).__name__}: {exc}"
        for message in messages:
            _mark_failed(message, error)
        return [error] * len(messages)
    try:
        for message in messages:
            try:
                _email_for(message, connection).send()
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                _mark_failed(message, errors[-1])
                # The connection may be broken now; later messages reconnect.
                connection.close()
            else:
                _mark_sent(message)
    finally:
        connection.close()
    return errors


def webhook_body(message: OutboundMessage) -> bytes:
    endpoint = message.webhook
    link = f"{settings.BASE_URL}{message.url}" if message.url.startswith("/") else message.url
    if endpoint.format == WebhookFormat.SLACK:
        text = f"*{message.subject}*\n{message.body_text}"
        if link:
            text += f"\n<{link}|Open in CareDeck>"
        body: dict = {"text": text}
    elif endpoint.format == WebhookFormat.TEAMS:
        body = {
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": message.subject,
            "title": message.subject,
            "text": message.body_text,
        }
        if link:
            body["potentialAction"] = [
                {
                    "@type": "OpenUri",
                    "name": "Open in CareDeck",
                    "targets": [{"os": "default", "uri": link}],
                }
            ]
    else:
        body = {
            "id": message.dedupe_key,
            "event": message.event,
            "organization": message.organization.slug if message.organization else None,
            "created_at": message.created_at.isoformat(),
            "subject": message.subject,
            "text": message.body_text,
            "url": link,
            "data": message.payload,
        }
    return json.dumps(body, sort_keys=True, default=str).encode()


def sign_webhook(secret: str, timestamp: int, body: bytes) -> str:
    """`X-CareDeck-Signature`: t=<unix time>,v1=<HMAC-SHA256 of "<t>." + body>."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify_webhook_signature(
    secret: str, header: str, body: bytes, *, tolerance: int = 300
) -> bool:
    """What a receiver does: check the HMAC and refuse old (replayed) timestamps."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = sign_webhook(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def _deliver_webhook(message: OutboundMessage) -> str | None:
    endpoint = message.webhook
    body = webhook_body(message)
    # Endpoint URLs are validated as http(s) when saved (webhook_create/_update).
    request = urllib.request.Request(  # noqa: S310
        endpoint.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "CareDeck-Webhooks/1",
            "X-CareDeck-Event": message.event,
            "X-CareDeck-Delivery": message.dedupe_key,
            "X-CareDeck-Signature": sign_webhook(endpoint.secret, int(time.time()), body),
        },
    )
    started = time.monotonic()
    status_code, error = None, ""
    try:
        timeout = getattr(settings, "WEBHOOK_TIMEOUT_SECONDS", 10)
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status_code = response.status
    except urllib.error.HTTPError as exc:
        status_code, error = exc.code, f"HTTP {exc.code}"
    except Exception as exc:  # connection refused, timeout, TLS, DNS
        error = f"{type(exc).__name__}: {exc}"
    WebhookDelivery.objects.create(
        endpoint=endpoint,
        message=message,
        status_code=status_code,
        duration_ms=int((time.monotonic() - started) * 1000),
        error=error[:2000],
    )
    if status_code is not None and 200 <= status_code < 300:
        _mark_sent(message)
        return None
    _mark_failed(message, error or f"HTTP {status_code}")
    return error or f"HTTP {status_code}"


def _deliver_in_app(messages: list[OutboundMessage]) -> None:
    """The batch's inbox items and their 'sent' marks in one transaction (not one per
    message: bench/README.md). An item already there (a re-delivery) is kept: the
    message is unique per item."""
    if not messages:
        return
    with transaction.atomic():
        InAppNotification.objects.bulk_create(
            [
                InAppNotification(
                    message=message,
                    user_id=message.user_id,
                    event=message.event,
                    title=message.subject,
                    body=message.body_text.strip(),
                    url=message.url,
                )
                for message in messages
            ],
            ignore_conflicts=True,
        )
        OutboundMessage.objects.filter(
            pk__in=[m.pk for m in messages], status=MessageStatus.SENDING
        ).update(status=MessageStatus.SENT, sent_at=timezone.now(), last_error="")


class DeliveryFailed(Exception):
    """Some messages of a batch failed; each is already postponed for a retry."""


def messages_deliver(*, message_ids: list[int]) -> int:
    """Deliver a batch: claim each message, send, record the outcome. Returns the number
    sent. Failures are postponed with back-off, then reported by raising DeliveryFailed,
    so the task shows as failed without losing or blocking the other messages."""
    messages = _claim(message_ids)
    errors: list[str] = []
    emails = [m for m in messages if m.channel == Channel.EMAIL]
    if emails:
        errors += _deliver_emails(emails)
    for message in messages:
        if message.channel == Channel.WEBHOOK:
            error = _deliver_webhook(message)
            if error:
                errors.append(error)
    _deliver_in_app([m for m in messages if m.channel == Channel.IN_APP])
    if errors:
        raise DeliveryFailed(f"{len(errors)} of {len(messages)} failed; first: {errors[0]}")
    return len(messages)


# --- The scheduler's side --------------------------------------------------------------


def outbox_enqueue_due() -> int:
    """Schedule entry: enqueue every message that is due now: failed ones whose retry
    time came, queued ones no worker picked up, and 'sending' ones whose worker died."""
    now = timezone.now()
    grace = _seconds("OUTBOX_PICKUP_GRACE_SECONDS", 60)
    due = Q(next_attempt_at__lte=now) & Q(
        status__in=[MessageStatus.QUEUED, MessageStatus.FAILED, MessageStatus.SENDING]
    )
    ids = list(OutboundMessage.objects.filter(due).values_list("pk", flat=True)[:5000])
    if not ids:
        return 0
    # Guarded: only rows still due are moved, so two ticks never enqueue one row twice.
    OutboundMessage.objects.filter(due, pk__in=ids).update(
        status=MessageStatus.QUEUED, next_attempt_at=now + grace
    )
    requeued = list(
        OutboundMessage.objects.filter(
            pk__in=ids, status=MessageStatus.QUEUED, next_attempt_at=now + grace
        ).values_list("pk", flat=True)
    )
    from caredeck.notify.tasks import deliver_messages

    batch = getattr(settings, "OUTBOX_BATCH_SIZE", 50)
    for start in range(0, len(requeued), batch):
        deliver_messages.enqueue(requeued[start : start + batch])
    return len(requeued)


def outbox_next_due():
    """Schedule entry: the earliest stored due time of an undelivered message."""
    return (
        OutboundMessage.objects.filter(
            status__in=[MessageStatus.QUEUED, MessageStatus.FAILED, MessageStatus.SENDING]
        )
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )


# --- People's and organizations' settings ----------------------------------------------


def subscription_set(*, actor, event: str, channels: list[str]):
    """Choose the channels of one event type for oneself."""
    from caredeck.accounts.access import is_provider_staff
    from caredeck.core.audit import audit_record

    kind = EVENT_TYPES.get(event)
    if kind is None or not kind.channels or (kind.staff_only and not is_provider_staff(actor)):
        raise ValidationError({"event": ["Unknown event type."]})
    bad = [c for c in channels if c not in kind.channels]
    if bad:
        raise ValidationError({"channels": [f"Choose among: {', '.join(kind.channels)}."]})
    if kind.mandatory and not channels:
        raise ValidationError(
            {"channels": [f"{kind.label} cannot be switched off; choose where they go."]}
        )
    channels = sorted(set(channels))
    with transaction.atomic():
        before = effective_channels(actor, event)
        Subscription.objects.update_or_create(
            user=actor,
            event=event,
            defaults={"channels": channels, "updated_at": timezone.now()},
        )
        if before != channels:
            audit_record(
                actor=actor,
                obj=actor,
                action="subscription_changed",
                changes={event: [before, channels]},
            )
    return channels


def message_retry_now(*, actor, message: OutboundMessage) -> OutboundMessage:
    """Delivery dashboard: try a failed or dead message again now."""
    from caredeck.accounts.access import has_capability
    from caredeck.accounts.roles import Capability
    from caredeck.core.audit import audit_record
    from caredeck.core.exceptions import Conflict

    if not has_capability(actor, Capability.VIEW_DELIVERIES):
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied("Only provider staff retry deliveries.")
    with transaction.atomic():
        moved = OutboundMessage.objects.filter(
            pk=message.pk, status__in=[MessageStatus.FAILED, MessageStatus.DEAD]
        ).update(
            status=MessageStatus.QUEUED,
            next_attempt_at=timezone.now() + _seconds("OUTBOX_PICKUP_GRACE_SECONDS", 60),
        )
        if not moved:
            message.refresh_from_db()
            raise Conflict(f"This message is {message.get_status_display().lower()}, not failed.")
        audit_record(
            actor=actor,
            obj=message,
            action="retry_requested",
            changes={"status": [message.status, MessageStatus.QUEUED.value]},
        )
        _enqueue_on_commit([message.pk])
    message.refresh_from_db()
    return message


# --- Organizations' webhooks -------------------------------------------------------------

WEBHOOK_FIELDS = ("name", "url", "format", "events", "is_active")


def webhook_event_choices(organization=None) -> list[tuple[str, str]]:
    """Event types an endpoint may subscribe to (the test message always goes through);
    staff-only events only for the provider's own endpoints."""
    provider = organization is not None and organization.is_provider
    return [
        (slug, kind.label)
        for slug, kind in EVENT_TYPES.items()
        if slug != "webhook.test" and (provider or not kind.staff_only)
    ]


def _webhook_require(actor, organization) -> None:
    from django.core.exceptions import PermissionDenied

    from caredeck.accounts.access import has_capability
    from caredeck.accounts.roles import Capability

    if not has_capability(actor, Capability.MANAGE_WEBHOOKS, organization):
        raise PermissionDenied("Only the organization's administrators manage its webhooks.")


def _webhook_clean(
    *, name: str, url: str, format: str, events: list[str], organization=None
) -> dict[str, Any]:
    from urllib.parse import urlsplit

    from django.core.validators import URLValidator

    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = ["Name the endpoint, e.g. “On-call Slack”."]
    elif len(name) > 80:
        errors["name"] = ["At most 80 characters."]
    url = (url or "").strip()
    try:
        URLValidator(schemes=["http", "https"])(url)
        if len(url) > 500:
            raise ValidationError("too long")
    except ValidationError:
        errors["url"] = ["Enter an http:// or https:// URL of at most 500 characters."]
    else:
        if urlsplit(url).username or urlsplit(url).password:
            errors["url"] = ["Put no user name or password in the URL; we sign each request."]
    if format not in WebhookFormat.values:
        errors["format"] = [f"Choose one of: {', '.join(WebhookFormat.values)}."]
    allowed = dict(webhook_event_choices(organization))
    if not isinstance(events, list | tuple) or not all(isinstance(e, str) for e in events):
        errors["events"] = ["Give a list of event types."]
    else:
        unknown = sorted({e for e in events if e not in allowed})
        if unknown:
            errors["events"] = [
                f"Unknown event type(s): {', '.join(unknown)[:200]}. "
                f"Choose among: {', '.join(allowed)}."
            ]
    if errors:
        raise ValidationError(errors)
    return {"name": name, "url": url, "format": format, "events": sorted(set(events))}


def _webhook_snapshot(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {name: getattr(endpoint, name) for name in WEBHOOK_FIELDS}


def _audit_url(url: str) -> str:
    """The part of an endpoint URL the audit log keeps: scheme and host. Slack's and
    Teams' incoming-webhook URLs carry their token in the path and query, and the
    history is readable by more people than those who manage webhooks."""
    from urllib.parse import urlsplit

    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.hostname or ''}/…" if parts.scheme else ""


def _audit_changes(changes: dict[str, list[Any]]) -> dict[str, list[Any]]:
    if "url" in changes:
        before, after = (_audit_url(v) if v else v for v in changes["url"])
        if before == after:  # another path on the same host: a change, just not which
            after += " (new path)"
        changes["url"] = [before, after]
    return changes


def webhook_create(
    *,
    actor,
    organization,
    name: str,
    url: str,
    format: str = WebhookFormat.JSON,
    events: list[str] | None = None,
) -> WebhookEndpoint:
    """Add an endpoint to an organization; it gets a fresh signing secret."""
    from caredeck.core.audit import audit_record

    _webhook_require(actor, organization)
    cleaned = _webhook_clean(
        name=name, url=url, format=format, events=list(events or []), organization=organization
    )
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(organization=organization, **cleaned)
        audit_record(
            actor=actor,
            obj=endpoint,
            action="created",
            changes=_audit_changes(
                {key: [None, value] for key, value in _webhook_snapshot(endpoint).items()}
            ),
        )
    return endpoint


def webhook_update(
    *,
    actor,
    endpoint: WebhookEndpoint,
    rotate_secret: bool = False,
    **fields: Any,
) -> WebhookEndpoint:
    """Change some of name, url, format, events, is_active; optionally a new secret."""
    from caredeck.core.audit import audit_record, changes_between

    _webhook_require(actor, endpoint.organization)
    unknown = set(fields) - set(WEBHOOK_FIELDS)
    if unknown:
        raise ValidationError({name: ["This cannot be changed."] for name in sorted(unknown)})
    before = _webhook_snapshot(endpoint)
    merged = {**before, **fields}
    cleaned = _webhook_clean(
        name=merged["name"],
        url=merged["url"],
        format=merged["format"],
        events=merged["events"] if merged["events"] is not None else [],
        organization=endpoint.organization,
    )
    cleaned["is_active"] = bool(merged["is_active"])
    with transaction.atomic():
        for key, value in cleaned.items():
            setattr(endpoint, key, value)
        changes = _audit_changes(changes_between(before, _webhook_snapshot(endpoint)))
        if rotate_secret:
            from caredeck.notify.models import new_webhook_secret

            endpoint.secret = new_webhook_secret()
            # The secret itself never goes into the audit log.
            changes["secret"] = ["(old)", "(new)"]
        if changes:
            endpoint.save()
            audit_record(actor=actor, obj=endpoint, action="updated", changes=changes)
    return endpoint


def webhook_delete(*, actor, endpoint: WebhookEndpoint) -> None:
    """Remove an endpoint with its delivery log; its undelivered messages go with it."""
    from caredeck.core.audit import audit_record

    _webhook_require(actor, endpoint.organization)
    with transaction.atomic():
        audit_record(
            actor=actor,
            obj=endpoint,
            action="deleted",
            changes=_audit_changes(
                {key: [value, None] for key, value in _webhook_snapshot(endpoint).items()}
            ),
        )
        endpoint.delete()


def webhook_test(*, actor, endpoint: WebhookEndpoint) -> OutboundMessage:
    """Queue a "webhook.test" message to this one endpoint (each click sends a new one),
    whatever event types it subscribes to and even while it is paused."""
    import uuid

    from django.urls import reverse

    from caredeck.core.audit import audit_record

    _webhook_require(actor, endpoint.organization)
    with transaction.atomic():
        (message,) = notify_webhooks(
            event="webhook.test",
            organization=endpoint.organization,
            endpoints=[endpoint],
            dedupe_base=f"webhook-test:{uuid.uuid4().hex}",
            subject=f"Test message for “{endpoint.name}”",
            text=(
                f"{getattr(actor, 'name', '') or actor.email} sent this test from "
                f"CareDeck. If you can read it, the endpoint works."
            ),
            url=reverse("webhook-detail", args=[endpoint.pk]),
            data={"test": True, "endpoint": endpoint.pk},
        )
        audit_record(
            actor=actor,
            obj=endpoint,
            action="test_sent",
            changes={"message": [None, message.pk]},
        )
    return message


# --- The in-app inbox ------------------------------------------------------------------


def notification_mark_read(*, actor, notification: InAppNotification) -> InAppNotification:
    """Mark one of one's own notifications read (again: nothing changes)."""
    from django.http import Http404

    if notification.user_id != actor.pk:
        raise Http404("No such notification.")
    if notification.read_at is None:
        now = timezone.now()
        # Guarded: a second tab marking it at the same moment keeps the first time.
        InAppNotification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
            read_at=now
        )
        notification.refresh_from_db(fields=["read_at"])
    return notification


def notifications_mark_all_read(*, actor) -> int:
    """Mark every unread notification of one's own read; returns how many."""
    return InAppNotification.objects.filter(user=actor, read_at__isnull=True).update(
        read_at=timezone.now()
    )
