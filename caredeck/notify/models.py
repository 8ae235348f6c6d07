"""The outbox and what it delivers to: e-mail, organizations' webhooks, in-app inboxes.

Every message CareDeck sends is first an `OutboundMessage` row, written in the same
transaction as the event that caused it, then delivered by a task. A unique dedupe key
per (event, recipient, channel) means a retry, a double click or a racing worker can
never queue or send it twice.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone


class Channel(models.TextChoices):
    EMAIL = "email", "E-mail"
    WEBHOOK = "webhook", "Webhook"
    IN_APP = "in_app", "In-app"


class MessageStatus(models.TextChoices):
    # queued: waiting for a worker (next_attempt_at: when to enqueue it again if none came)
    QUEUED = "queued", "Queued"
    # sending: claimed by a worker (next_attempt_at: when the claim expires)
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    # failed: the last attempt failed (next_attempt_at: when to retry)
    FAILED = "failed", "Failed"
    # dead: retried for too long; the platform admins were alerted
    DEAD = "dead", "Dead"


class OutboundMessage(models.Model):
    dedupe_key = models.CharField(max_length=200, unique=True)
    channel = models.CharField(max_length=20, choices=Channel.choices, default=Channel.EMAIL)
    event = models.CharField(max_length=60, db_index=True)
    organization = models.ForeignKey(
        "accounts.Organization", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
        related_name="+", help_text="The person it is for (in-app and most e-mail).",
    )
    webhook = models.ForeignKey(
        "notify.WebhookEndpoint", null=True, blank=True, on_delete=models.CASCADE,
        related_name="messages",
    )
    recipient = models.CharField(max_length=500)  # e-mail address, webhook URL or user id
    subject = models.CharField(max_length=250)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)  # the page the message is about
    payload = models.JSONField(default=dict, blank=True)  # webhook body
    attachments = models.JSONField(default=list, blank=True)  # [{filename, mimetype, content}]
    mandatory = models.BooleanField(default=False)
    status = models.CharField(
        max_length=20, choices=MessageStatus.choices, default=MessageStatus.QUEUED
    )
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["organization", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.event} to {self.recipient} ({self.status})"


class WebhookFormat(models.TextChoices):
    JSON = "json", "CareDeck JSON"
    SLACK = "slack", "Slack incoming webhook"
    TEAMS = "teams", "Microsoft Teams incoming webhook"


def new_webhook_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


class WebhookEndpoint(models.Model):
    """An organization's HTTPS endpoint that receives its notifications as JSON."""

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="webhooks"
    )
    name = models.CharField(max_length=80)
    url = models.URLField(max_length=500)
    format = models.CharField(
        max_length=10, choices=WebhookFormat.choices, default=WebhookFormat.JSON
    )
    # Event types it receives; empty means all the organization's events.
    events = models.JSONField(default=list, blank=True)
    secret = models.CharField(max_length=80, default=new_webhook_secret)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["organization__name", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.organization})"


class WebhookDelivery(models.Model):
    """One attempt to deliver a message to a webhook: the endpoint's delivery log."""

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    message = models.ForeignKey(
        OutboundMessage, on_delete=models.CASCADE, related_name="webhook_deliveries"
    )
    attempted_at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-attempted_at", "-id"]

    def __str__(self) -> str:
        return f"{self.endpoint} {self.status_code or self.error[:30]}"

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class InAppNotification(models.Model):
    """An item in a person's in-app inbox (the bell in the page header)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    message = models.OneToOneField(
        OutboundMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    event = models.CharField(max_length=60)
    title = models.CharField(max_length=250)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"])]

    def __str__(self) -> str:
        return self.title


class Subscription(models.Model):
    """The channels a person chose for one event type (absent: the event's defaults)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subscriptions"
    )
    event = models.CharField(max_length=60)
    channels = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "event"], name="one_subscription_per_event")
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.event}: {', '.join(self.channels) or 'off'}"
