"""Queueing and delivering outbound messages."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone

from caredeck.notify.models import Channel, MessageStatus, OutboundMessage

# A failed delivery is retried after this long (the next issue refines the back-off).
RETRY_AFTER = datetime.timedelta(minutes=1)
# A row still "sending" this long after its claim belongs to a worker that died.
SENDING_LEASE = datetime.timedelta(minutes=10)


def email_queue(
    *, dedupe_key: str, to: str, template: str, context: dict, event: str, organization=None
) -> OutboundMessage:
    """Render `notify/email/<template>.{subject,txt,html}` into an outbox row.

    Must run inside the caller's transaction; delivery is enqueued once it commits.
    """
    context = {"base_url": settings.BASE_URL, **context}
    subject = " ".join(
        render_to_string(f"notify/email/{template}.subject.txt", context).split()
    )
    message, created = OutboundMessage.objects.get_or_create(
        dedupe_key=dedupe_key,
        defaults={
            "channel": Channel.EMAIL,
            "event": event,
            "organization": organization,
            "recipient": to,
            "subject": subject,
            "body_text": render_to_string(f"notify/email/{template}.txt", context),
            "body_html": render_to_string(f"notify/email/{template}.html", context),
        },
    )
    if created:
        from caredeck.notify.tasks import deliver_message

        transaction.on_commit(lambda: deliver_message.enqueue(message.pk))
    return message


def message_deliver(*, message_id: int) -> bool:
    """Send one queued message. Returns True if this call sent it."""
    now = timezone.now()
    # Claim with a guarded update: if another worker got there first, it returns 0.
    claimed = OutboundMessage.objects.filter(
        pk=message_id, status__in=[MessageStatus.QUEUED, MessageStatus.FAILED],
        next_attempt_at__lte=now,
    ).update(
        status=MessageStatus.SENDING,
        attempts=F("attempts") + 1,
        # A lease: if this worker dies mid-send, the row is due again after it.
        next_attempt_at=now + SENDING_LEASE,
    )
    if claimed != 1:
        return False
    message = OutboundMessage.objects.get(pk=message_id)
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.body_text,
        to=[message.recipient],
        headers={"X-CareDeck-Message": message.dedupe_key},
    )
    if message.body_html:
        email.attach_alternative(message.body_html, "text/html")
    try:
        email.send()
    except Exception as exc:
        OutboundMessage.objects.filter(pk=message.pk).update(
            status=MessageStatus.FAILED,  # retried by the scheduler's outbox sweep
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
            next_attempt_at=timezone.now() + RETRY_AFTER,
        )
        raise
    OutboundMessage.objects.filter(pk=message.pk).update(
        status=MessageStatus.SENT, sent_at=timezone.now(), last_error=""
    )
    return True


def messages_due() -> list[int]:
    """Messages that should be (re)delivered now: queued or failed and due, or stuck."""
    now = timezone.now()
    OutboundMessage.objects.filter(
        status=MessageStatus.SENDING, next_attempt_at__lte=now
    ).update(status=MessageStatus.FAILED, last_error="worker stopped while sending")
    return list(
        OutboundMessage.objects.filter(
            status__in=[MessageStatus.QUEUED, MessageStatus.FAILED], next_attempt_at__lte=now
        ).values_list("pk", flat=True)[:500]
    )




def outbox_enqueue_due() -> int:
    """Schedule entry: enqueue delivery of every message that is due now."""
    from caredeck.notify.tasks import deliver_message

    due = messages_due()
    for message_id in due:
        deliver_message.enqueue(message_id)
    return len(due)


def outbox_next_due():
    """Schedule entry: the earliest stored next-attempt time of an undelivered message."""
    return (
        OutboundMessage.objects.filter(
            status__in=[MessageStatus.QUEUED, MessageStatus.FAILED, MessageStatus.SENDING]
        )
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
