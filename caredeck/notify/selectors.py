"""Reads of inboxes, subscriptions, webhooks and the outbox, always scoped to the actor.

Another person's notification, another tenant's webhook or message answers 404, exactly
as if it did not exist.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db.models import BooleanField, Count, ExpressionWrapper, Min, Q, QuerySet
from django.utils import timezone

from caredeck.accounts.access import has_capability, is_provider_staff, tenants_for
from caredeck.accounts.roles import Capability
from caredeck.core.selectors import one_or_404
from caredeck.notify.events import EVENT_TYPES
from caredeck.notify.models import (
    InAppNotification,
    MessageStatus,
    OutboundMessage,
    WebhookDelivery,
    WebhookEndpoint,
)
from caredeck.notify.services import effective_channels

# --- In-app inbox ----------------------------------------------------------------------


def inbox_of(user) -> QuerySet[InAppNotification]:
    """The person's own notifications, unread first, newest first within each."""
    return (
        InAppNotification.objects.filter(user=user)
        .annotate(
            unread=ExpressionWrapper(Q(read_at__isnull=True), output_field=BooleanField())
        )
        .order_by("-unread", "-created_at", "-id")
    )


def unread_count(user) -> int:
    """For the bell in every page's header: one indexed count (user, read_at)."""
    return InAppNotification.objects.filter(user=user, read_at__isnull=True).count()


def notification_get(user, notification_id) -> InAppNotification:
    return one_or_404(inbox_of(user), "notification", pk=notification_id)


# --- Subscriptions ---------------------------------------------------------------------


@dataclass(frozen=True)
class SubscriptionRow:
    event: str
    label: str
    description: str
    mandatory: bool
    channels: tuple[str, ...]  # those one may choose
    effective: tuple[str, ...]  # those in use now (chosen, or the event's defaults)


def subscriptions_of(user) -> list[SubscriptionRow]:
    """Every event type a person can choose channels for, with the channels in use."""
    return [
        SubscriptionRow(
            event=kind.slug, label=kind.label, description=kind.description,
            mandatory=kind.mandatory, channels=tuple(str(c) for c in kind.channels),
            effective=tuple(str(c) for c in effective_channels(user, kind.slug)),
        )
        for kind in EVENT_TYPES.values()
        if kind.channels and (not kind.staff_only or is_provider_staff(user))
    ]


# --- Webhooks --------------------------------------------------------------------------


def webhooks_visible(user) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(organization__in=tenants_for(user)).select_related(
        "organization"
    )


def webhooks_of(user, organization) -> QuerySet[WebhookEndpoint]:
    """An organization's endpoints, for those who manage them (else PermissionDenied)."""
    if not has_capability(user, Capability.MANAGE_WEBHOOKS, organization):
        raise PermissionDenied("Only the organization's administrators manage its webhooks.")
    return webhooks_visible(user).filter(organization=organization)


def webhook_get(user, webhook_id) -> WebhookEndpoint:
    """404 for another tenant's endpoint; 403 for a colleague who may not manage them."""
    endpoint = one_or_404(webhooks_visible(user), "webhook", pk=webhook_id)
    if not has_capability(user, Capability.MANAGE_WEBHOOKS, endpoint.organization):
        raise PermissionDenied("Only the organization's administrators manage its webhooks.")
    return endpoint


def webhook_deliveries(endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    return endpoint.deliveries.select_related("message")


# --- The outbox (delivery dashboard) ---------------------------------------------------


def messages_visible(user) -> QuerySet[OutboundMessage]:
    """Staff who serve every tenant see every message, the provider's own included; a
    TAM sees the messages of the tenants it serves (provider-wide ones, like access
    request notices, are not theirs to see)."""
    if not has_capability(user, Capability.VIEW_DELIVERIES):
        return OutboundMessage.objects.none()
    messages = OutboundMessage.objects.select_related("organization", "webhook")
    if has_capability(user, Capability.SERVE_ALL_TENANTS):
        return messages
    return messages.filter(organization__in=tenants_for(user))


def message_get(user, message_id) -> OutboundMessage:
    return one_or_404(messages_visible(user), "message", pk=message_id)


QUEUE_LATE_AFTER = datetime.timedelta(minutes=5)


@dataclass(frozen=True)
class OutboxSummary:
    counts: dict[str, int]  # every status, zero included
    oldest_queued_at: datetime.datetime | None

    @property
    def oldest_queued_age(self) -> datetime.timedelta | None:
        if self.oldest_queued_at is None:
            return None
        return max(timezone.now() - self.oldest_queued_at, datetime.timedelta(0))

    @property
    def queue_is_late(self) -> bool:
        """Workers pick a message up within a minute; five means they are behind or down."""
        age = self.oldest_queued_age
        return age is not None and age > QUEUE_LATE_AFTER


def outbox_summary(messages: QuerySet[OutboundMessage]) -> OutboxSummary:
    """Counts per status and the oldest queued message, in one query."""
    aggregates = {
        status: Count("pk", filter=Q(status=status)) for status in MessageStatus.values
    }
    row = messages.order_by().aggregate(
        **aggregates,
        oldest_queued_at=Min("created_at", filter=Q(status=MessageStatus.QUEUED)),
    )
    oldest = row.pop("oldest_queued_at")
    return OutboxSummary(counts={status: row[status] for status in MessageStatus.values},
                         oldest_queued_at=oldest)
