"""Problem management: post-incident reviews, their action items, and problem records
(root cause, known-error work-around, the RCA document and its due time)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from caredeck.core.numbering import PublicNumberMixin

# A cause hit again within this many days (same functional area or element) is recurring.
RECURRENCE_DAYS = 30


class ProblemStatus(models.TextChoices):
    OPEN = "open", "Open"
    ROOT_CAUSE_KNOWN = "root_cause_known", "Root cause known"
    KNOWN_ERROR = "known_error", "Known error (work-around)"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


class Problem(PublicNumberMixin):
    NUMBER_PREFIX = "PRB"

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    status = models.CharField(
        max_length=20, choices=ProblemStatus.choices, default=ProblemStatus.OPEN
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="problems_owned"
    )
    root_cause = models.TextField(blank=True)
    workaround = models.TextField("known-error work-around", blank=True)
    # What it hit: for spotting a recurring cause.
    area = models.CharField("functional area", max_length=60, blank=True)
    element = models.CharField("topology element", max_length=60, blank=True)
    rca_document = models.TextField("root-cause analysis", blank=True)
    rca_due_at = models.DateTimeField(null=True, blank=True)
    # When the owner is reminded that the RCA falls due (one business day before);
    # cleared once sent or published, so the scheduler fires it once per due time.
    rca_remind_at = models.DateTimeField(null=True, blank=True, db_index=True)
    rca_published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]


class PostIncidentReview(models.Model):
    incident = models.OneToOneField(
        "incidents.Incident", on_delete=models.CASCADE, related_name="review"
    )
    held_on = models.DateField()
    facilitator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    summary = models.TextField()
    went_well = models.TextField("what went well", blank=True)
    went_wrong = models.TextField("what went wrong", blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Review of {self.incident}"


class ActionItem(models.Model):
    review = models.ForeignKey(
        PostIncidentReview, on_delete=models.CASCADE, related_name="action_items"
    )
    problem = models.ForeignKey(
        Problem, null=True, blank=True, on_delete=models.SET_NULL, related_name="action_items"
    )
    title = models.CharField(max_length=200)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    due_on = models.DateField()
    # The owner's reminder on the due date; cleared once sent or when the item is done.
    remind_at = models.DateTimeField(null=True, blank=True, db_index=True)
    done_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["done_at", "due_on", "pk"]

    def __str__(self) -> str:
        return self.title
