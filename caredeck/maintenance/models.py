"""Planned maintenance windows: scope per tenant, the notices' stored due times, and the
record of every notice sent (announcement with its invite, reminders, start, end, ...)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from caredeck.core.numbering import PublicNumberMixin


class MaintenanceStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class Maintenance(PublicNumberMixin):
    NUMBER_PREFIX = "MNT"

    title = models.CharField(max_length=200)
    impact = models.TextField("expected impact")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(
        max_length=20, choices=MaintenanceStatus.choices, default=MaintenanceStatus.SCHEDULED
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="maintenances_owned"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    failure_target = models.CharField(max_length=60, blank=True)
    failure_type = models.CharField(max_length=60, blank=True)
    # End by itself at ends_at with the end notice; otherwise the owner completes it and
    # passing ends_at while in progress is an overrun.
    auto_complete = models.BooleanField(default=False)
    sequence = models.PositiveIntegerField(default=0)  # the .ics SEQUENCE
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    overrun_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-starts_at", "-pk"]
        indexes = [models.Index(fields=["status", "starts_at"])]


class MaintenanceTenant(models.Model):
    maintenance = models.ForeignKey(
        Maintenance, on_delete=models.CASCADE, related_name="tenants"
    )
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="maintenance_impacts"
    )
    areas = models.JSONField(default=list, blank=True)
    impact_text = models.TextField(blank=True)
    added_at = models.DateTimeField(default=timezone.now)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["maintenance", "organization"], name="one_row_per_maintenance_tenant"
            )
        ]
        ordering = ["organization__name"]

    def __str__(self) -> str:
        return f"{self.maintenance_id} · {self.organization}"


class ClockKind(models.TextChoices):
    REMINDER_72H = "reminder_72h", "Reminder 72 h before"
    REMINDER_24H = "reminder_24h", "Reminder 24 h before"
    REMINDER_1H = "reminder_1h", "Reminder 1 h before"
    START = "start", "Start at the window's start"
    END = "end", "End (or overrun) at the window's end"


class MaintenanceClock(models.Model):
    """A stored due time of a window; `done_at` once the scheduler acted on it."""

    maintenance = models.ForeignKey(Maintenance, on_delete=models.CASCADE, related_name="clocks")
    kind = models.CharField(max_length=20, choices=ClockKind.choices)
    due_at = models.DateTimeField()
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at", "pk"]
        indexes = [models.Index(fields=["done_at", "due_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.due_at:%Y-%m-%d %H:%M}"


class NoticeKind(models.TextChoices):
    ANNOUNCEMENT = "announcement", "Announcement"
    REMINDER = "reminder", "Reminder"
    START = "start", "Start notice"
    END = "end", "End notice"
    RESCHEDULED = "rescheduled", "Rescheduled"
    CANCELLED = "cancelled", "Cancelled"
    OVERRUN = "overrun", "Running over"


class MaintenanceNotice(models.Model):
    maintenance = models.ForeignKey(Maintenance, on_delete=models.CASCADE, related_name="notices")
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="maintenance_notices"
    )
    kind = models.CharField(max_length=20, choices=NoticeKind.choices)
    detail = models.CharField(max_length=40, blank=True)  # e.g. "72h" for a reminder
    sequence = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(default=timezone.now)
    recipients = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["sent_at", "pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.organization}"
