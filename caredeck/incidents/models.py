"""Incidents: scope per tenant with its notice clocks, updates, the timeline, evidence.

Every promise of the major-incident workflow is a stored due time on `AffectedTenant`
(first notice, next update) with the reminder and escalation instants derived from it;
the scheduler fires them (incidents/clocks.py). Every customer notice sent is a `Notice`
row, so the promise report can say per tenant whether each one was on time.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from caredeck.core.numbering import PublicNumberMixin


class Severity(models.TextChoices):
    SEV1 = "SEV1", "SEV1 · critical"
    SEV2 = "SEV2", "SEV2 · major"
    SEV3 = "SEV3", "SEV3 · minor"
    SEV4 = "SEV4", "SEV4 · low"


SEVERITY_DEFINITIONS = {
    Severity.SEV1: "A core service (calls, chat, agent log-in) is down or data is being lost "
    "for one or more tenants; no work-around.",
    Severity.SEV2: "A core service is badly degraded, or a secondary service is down, for "
    "one or more tenants; no work-around.",
    Severity.SEV3: "A service is degraded with limited impact, or a work-around exists.",
    Severity.SEV4: "Little or no customer-facing impact; tracked for follow-up.",
}


class IncidentStatus(models.TextChoices):
    INVESTIGATING = "investigating", "Investigating"
    IDENTIFIED = "identified", "Identified"
    MONITORING = "monitoring", "Monitoring"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


OPEN_STATUSES = (IncidentStatus.INVESTIGATING, IncidentStatus.IDENTIFIED, IncidentStatus.MONITORING)
# The statuses an update may set (closing is its own action, after the report).
UPDATE_STATUSES = (*OPEN_STATUSES, IncidentStatus.RESOLVED)


class IncidentSource(models.TextChoices):
    MANUAL = "manual", "Declared by a person"
    MONITOR = "monitor", "Raised by monitoring"


class Incident(PublicNumberMixin):
    NUMBER_PREFIX = "INC"

    title = models.CharField(max_length=200)
    severity = models.CharField(max_length=4, choices=Severity.choices)
    status = models.CharField(
        max_length=20, choices=IncidentStatus.choices, default=IncidentStatus.INVESTIGATING
    )
    source = models.CharField(
        max_length=10, choices=IncidentSource.choices, default=IncidentSource.MANUAL
    )
    detected_at = models.DateTimeField()
    declared_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="incidents_managed"
    )
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    # The scope: a failed element (impact computed from the catalog) or chosen tenants.
    failure_target = models.CharField(max_length=60, blank=True)
    failure_type = models.CharField(max_length=60, blank=True)
    # Forensics and findings.
    customer_impact = models.TextField(blank=True)
    customer_experience = models.TextField(blank=True)
    technical_description = models.TextField(blank=True)
    report = models.TextField("customer incident report", blank=True)
    report_due_at = models.DateTimeField(null=True, blank=True)
    report_published_at = models.DateTimeField(null=True, blank=True)
    security_involved = models.BooleanField(default=False)
    executive_involved = models.BooleanField(default=False)
    problem = models.ForeignKey(
        "problems.Problem", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="incidents",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-detected_at", "-pk"]
        indexes = [models.Index(fields=["status", "-detected_at"])]

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class TeamRole(models.TextChoices):
    """The parties the major-incident workflow notifies (seed digest §8)."""

    MANAGER = "manager", "Incident manager"
    ENGINEERING = "engineering", "Engineering"
    CARE = "care", "Customer Care / TAM"
    SECURITY = "security", "Security"
    EXECUTIVE = "executive", "Executive"


class TeamMember(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="team")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=20, choices=TeamRole.choices)
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["incident", "user", "role"], name="one_team_role")
        ]
        ordering = ["role", "user__name"]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()}"


class ClockKind(models.TextChoices):
    FIRST_NOTICE = "first_notice", "First notice"
    UPDATE = "update", "Status update"


class AffectedTenant(models.Model):
    """One tenant in an incident's scope, with what it feels and its notice clock.

    `due_at` is the next customer notice the tenant is owed (its first notice, then each
    update); `remind_at` and `escalate_at` are the instants the scheduler acts on, cleared
    once done so each fires once per due time.
    """

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="affected")
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="incident_impacts"
    )
    areas = models.JSONField(default=list, blank=True)
    impact_text = models.TextField("what the tenant feels", blank=True)
    added_at = models.DateTimeField(default=timezone.now)
    removed_at = models.DateTimeField(null=True, blank=True)
    due_kind = models.CharField(max_length=20, choices=ClockKind.choices, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    remind_at = models.DateTimeField(null=True, blank=True)
    escalate_at = models.DateTimeField(null=True, blank=True)
    first_notice_at = models.DateTimeField(null=True, blank=True)
    last_notice_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "organization"], name="one_row_per_affected_tenant"
            )
        ]
        indexes = [
            models.Index(fields=["remind_at"]),
            models.Index(fields=["escalate_at"]),
        ]
        ordering = ["organization__name"]

    def __str__(self) -> str:
        return f"{self.incident_id} · {self.organization}"

    @property
    def is_current(self) -> bool:
        return self.removed_at is None


class NoticeKind(models.TextChoices):
    FIRST = "first", "First notice"
    UPDATE = "update", "Status update"
    RESOLVED = "resolved", "Resolution notice"
    REPORT = "report", "Incident report"
    RCA = "rca", "Root-cause analysis"


class Notice(models.Model):
    """A customer notice sent to one tenant: the record the promise report is built on."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="notices")
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="incident_notices"
    )
    kind = models.CharField(max_length=20, choices=NoticeKind.choices)
    update = models.ForeignKey(
        "IncidentUpdate", null=True, blank=True, on_delete=models.SET_NULL, related_name="notices"
    )
    due_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(default=timezone.now)
    recipients = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["sent_at", "pk"]
        indexes = [models.Index(fields=["organization", "sent_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.organization}"

    @property
    def late_by(self):
        """How late it went out (None: on time or no due time)."""
        if self.due_at is None or self.sent_at <= self.due_at:
            return None
        return self.sent_at - self.due_at


class IncidentUpdate(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="updates")
    status = models.CharField(max_length=20, choices=IncidentStatus.choices)
    body = models.TextField()
    public = models.BooleanField(default=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.get_status_display()}: {self.body[:60]}"


class EventKind(models.TextChoices):
    DECLARED = "declared", "Declared"
    SCOPE = "scope", "Scope changed"
    UPDATE = "update", "Update"
    NOTE = "note", "Internal note"
    NOTICE = "notice", "Customer notice sent"
    REMINDER = "reminder", "Reminder"
    ESCALATION = "escalation", "Escalation"
    TEAM = "team", "Team"
    EVIDENCE = "evidence", "Evidence"
    FINDINGS = "findings", "Findings"
    REPORT = "report", "Report published"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"
    REVIEW = "review", "Post-incident review"
    PROBLEM = "problem", "Problem"


class TimelineEvent(models.Model):
    """One entry of an incident's timeline, automatic or written by a person.

    `public` entries are shown to affected tenants; `organization` narrows an entry to
    one tenant (its own notices), so no tenant reads what concerns another.
    """

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline")
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    text = models.TextField(blank=True)
    public = models.BooleanField(default=False)
    organization = models.ForeignKey(
        "accounts.Organization", null=True, blank=True, on_delete=models.CASCADE,
        related_name="+",
    )
    attachment = models.FileField(upload_to="incidents/%Y/%m/", blank=True)
    attachment_name = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.at:%Y-%m-%d %H:%M}"
