"""Customer Care: support cases routed tier-less to an expert, their SLA clocks, the
escalations customers raise on them, the knowledge base and the hot-fix log.

A case belongs to one tenant (`organization`). Its clocks are stored instants that
sla.py keeps right (first response and resolution, each with a warning instant, paused
while the case waits on the customer) and clocks.py acts on when they come; the
customer-wait reminders and the auto-close are stored instants too.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from caredeck.core.numbering import PublicNumberMixin


def default_workdays() -> list[int]:
    return [0, 1, 2, 3, 4]  # Monday to Friday (datetime.weekday())


class Deployment(models.TextChoices):
    CLOUD = "cloud", "Cloud"
    PREMISE = "premise", "Premise"


class Criticality(models.IntegerChoices):
    CRITICAL = 1, "1 · Critical"
    HIGH = 2, "2 · High"
    MEDIUM = 3, "3 · Medium"
    LOW = 4, "4 · Low"


# Shown on the form beside each choice, so the customer picks the right one.
CRITICALITY_DEFINITIONS = {
    1: "Production down: the contact center cannot take or make calls or chats, or a "
       "core function is unavailable for all users, with no work-around.",
    2: "High: a core function is seriously degraded or down for many users; a "
       "work-around exists but is hard to sustain.",
    3: "Medium: a function is impaired for some users, or a work-around keeps the "
       "business running.",
    4: "Low: a question, a cosmetic problem or a request for information.",
}


class CaseStatus(models.TextChoices):
    INFO_REQUESTED = "info_requested", "Waiting for information"
    OPEN = "open", "In progress"
    SOLUTION_PROPOSED = "solution_proposed", "Solution proposed"
    CONFIRMED = "confirmed", "Solution confirmed"
    CLOSED = "closed", "Closed"


# While a case waits on the customer its SLA clocks pause and the wait clock runs.
WAITING_ON_CUSTOMER = (CaseStatus.INFO_REQUESTED, CaseStatus.SOLUTION_PROPOSED)
ACTIVE = (CaseStatus.INFO_REQUESTED, CaseStatus.OPEN, CaseStatus.SOLUTION_PROPOSED,
          CaseStatus.CONFIRMED)


class Complexity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class Channel(models.TextChoices):
    WEB = "web", "Online"
    API = "api", "API"
    PHONE = "phone", "Phone call to Care"


class CloseReason(models.TextChoices):
    RESOLVED = "resolved", "Resolved"
    NO_INFORMATION = "no_information", "Closed: the information we asked for did not come"
    NOT_CONFIRMED = "not_confirmed", "Closed: the solution was not confirmed in time"


class SupportGroup(models.Model):
    """A product support group of experts around the world. Its business hours and
    holiday calendar are the calendar of its cases' SLAs (criticality 1 runs 24x7)."""

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    products = models.ManyToManyField("accounts.Product", blank=True, related_name="support_groups")
    # Takes cases of products no other group supports (the Customer Care desk).
    is_default = models.BooleanField(default=False)
    timezone = models.CharField(max_length=64, default="UTC")
    country = models.CharField("holiday calendar (country code)", max_length=2, default="US")
    day_start = models.TimeField(default="08:00")
    day_end = models.TimeField(default="18:00")
    workdays = models.JSONField(default=default_workdays)
    # The care manager told of SLA breaches in this group's cases.
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="managed_support_groups",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Expert(models.Model):
    """An analyst's place in routing: group, products with skill levels, own working
    hours in their own time zone (follow-the-sun), and how many cases they carry."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="expert"
    )
    group = models.ForeignKey(SupportGroup, on_delete=models.PROTECT, related_name="experts")
    timezone = models.CharField(max_length=64, default="UTC")
    country = models.CharField("holiday calendar (country code)", max_length=2, default="US")
    shift_start = models.TimeField(default="08:00")
    shift_end = models.TimeField(default="17:00")
    workdays = models.JSONField(default=default_workdays)
    max_open_cases = models.PositiveIntegerField(default=20)
    # Off (leave, training): routing passes them by.
    is_available = models.BooleanField(default=True)

    class Meta:
        ordering = ["user__name"]

    def __str__(self) -> str:
        return f"{self.user} ({self.group})"


class Skill(models.Model):
    class Level(models.IntegerChoices):
        WORKING = 1, "Working knowledge"
        SKILLED = 2, "Skilled"
        EXPERT = 3, "Expert"

    expert = models.ForeignKey(Expert, on_delete=models.CASCADE, related_name="skills")
    product = models.ForeignKey("accounts.Product", on_delete=models.CASCADE, related_name="+")
    level = models.PositiveSmallIntegerField(choices=Level.choices, default=Level.SKILLED)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["expert", "product"], name="one_skill_per_product")
        ]

    def __str__(self) -> str:
        return f"{self.product}: {self.get_level_display()}"


class CaseRequirement(models.Model):
    """A fact the case form asks for a product, which completeness needs (e.g. the
    affected phone number for Telephony, the report name for Reporting)."""

    product = models.ForeignKey(
        "accounts.Product", on_delete=models.CASCADE, related_name="case_requirements"
    )
    name = models.SlugField(max_length=50)
    label = models.CharField(max_length=120)
    help_text = models.CharField(max_length=300, blank=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["product", "order", "name"]
        constraints = [
            models.UniqueConstraint(fields=["product", "name"], name="one_requirement_name")
        ]

    def __str__(self) -> str:
        return f"{self.product}: {self.label}"


class EscalationContact(models.Model):
    """The management contact escalations of a platform (cloud or premise) go to, and
    the number to call for critical / production-down escalations."""

    deployment = models.CharField(max_length=10, choices=Deployment.choices, unique=True)
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    phone = models.CharField(max_length=40)

    def __str__(self) -> str:
        return f"{self.get_deployment_display()} escalations: {self.manager}"


class KnowledgeArticle(PublicNumberMixin):
    NUMBER_PREFIX = "KB"

    class Visibility(models.TextChoices):
        PUBLIC = "public", "Public: every customer"
        INTERNAL = "internal", "Provider-internal"

    title = models.CharField(max_length=200)
    body = models.TextField()  # Markdown, rendered sanitized
    product = models.ForeignKey(
        "accounts.Product", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-updated_at"]


class Hotfix(PublicNumberMixin):
    """A fix logged for a future release, with the cases (and so the customers) that
    wait for it."""

    NUMBER_PREFIX = "HF"

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        RELEASED = "released", "Released"

    product = models.ForeignKey("accounts.Product", on_delete=models.PROTECT, related_name="+")
    version = models.CharField(max_length=40)
    description = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PLANNED)
    released_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.number} {self.product} {self.version}"


class Case(PublicNumberMixin):
    NUMBER_PREFIX = "CS"

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, related_name="cases"
    )
    product = models.ForeignKey("accounts.Product", on_delete=models.PROTECT, related_name="cases")
    deployment = models.CharField(max_length=10, choices=Deployment.choices)
    criticality = models.PositiveSmallIntegerField(choices=Criticality.choices)
    summary = models.CharField(max_length=200)
    description = models.TextField()  # Markdown
    # Answers to the product's CaseRequirement names.
    facts = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=CaseStatus.choices, default=CaseStatus.OPEN)
    # The customer's person on the case (a designated contact, or the caller on a phone
    # case); `opened_by` is who typed it (a partner, or Care for a phone call).
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="requested_cases",
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.WEB)
    # Assessment and routing, with the reasons shown on the case.
    complexity = models.CharField(max_length=10, choices=Complexity.choices, blank=True)
    assessment = models.JSONField(default=dict, blank=True)
    routing = models.JSONField(default=dict, blank=True)
    group = models.ForeignKey(
        SupportGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="cases"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="owned_cases",
    )
    collaborators = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="collaborating_cases"
    )
    # Closure.
    root_cause = models.TextField(blank=True)
    kb_article = models.ForeignKey(
        KnowledgeArticle, null=True, blank=True, on_delete=models.SET_NULL, related_name="cases"
    )
    hotfix = models.ForeignKey(
        Hotfix, null=True, blank=True, on_delete=models.SET_NULL, related_name="cases"
    )
    close_reason = models.CharField(max_length=20, choices=CloseReason.choices, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    routed_at = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    solution_proposed_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Counters for the reports (first-contact resolution).
    solutions_proposed = models.PositiveSmallIntegerField(default=0)
    solutions_rejected = models.PositiveSmallIntegerField(default=0)
    info_requests = models.PositiveSmallIntegerField(default=0)
    reopened = models.PositiveSmallIntegerField(default=0)
    # SLA clocks (sla.py): due and warning instants; while paused, the business minutes
    # that were left, so a resume puts the due times right in the group's calendar.
    response_due_at = models.DateTimeField(null=True, blank=True)
    response_warn_at = models.DateTimeField(null=True, blank=True)
    response_warned_at = models.DateTimeField(null=True, blank=True)
    response_breached_at = models.DateTimeField(null=True, blank=True)
    resolution_due_at = models.DateTimeField(null=True, blank=True)
    resolution_warn_at = models.DateTimeField(null=True, blank=True)
    resolution_warned_at = models.DateTimeField(null=True, blank=True)
    resolution_breached_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    sla_paused_at = models.DateTimeField(null=True, blank=True)
    response_left_minutes = models.IntegerField(null=True, blank=True)
    resolution_left_minutes = models.IntegerField(null=True, blank=True)
    # Waiting on the customer: two reminders, then the case closes itself.
    waiting_since = models.DateTimeField(null=True, blank=True)
    customer_remind_at = models.DateTimeField(null=True, blank=True)
    customer_reminders_sent = models.PositiveSmallIntegerField(default=0)
    auto_close_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["organization", "-created_at"]),
            models.Index(fields=["owner", "status", "-created_at"]),
            models.Index(fields=["group", "status", "-created_at"]),
            models.Index(fields=["status", "-created_at"]),
            # The "breaching soon" queue and its count on every queue page: the running
            # clocks of the active cases, read from the index alone (bench/case_queue.py).
            models.Index(fields=["status", "sla_paused_at", "response_due_at",
                                 "first_response_at", "resolution_due_at", "resolved_at"],
                         name="case_breaching_idx"),
            models.Index(fields=["response_warn_at"]),
            models.Index(fields=["resolution_warn_at"]),
            models.Index(fields=["customer_remind_at"]),
            models.Index(fields=["auto_close_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.summary}"

    @property
    def waiting_on_customer(self) -> bool:
        return self.status in WAITING_ON_CUSTOMER

    @property
    def criticality_definition(self) -> str:
        return CRITICALITY_DEFINITIONS.get(self.criticality, "")


class EventKind(models.TextChoices):
    OPENED = "opened", "Opened"
    ASSESSED = "assessed", "Assessed"
    ROUTED = "routed", "Routed"
    COMMENT = "comment", "Comment"
    NOTE = "note", "Internal note"
    INFO_REQUESTED = "info_requested", "Information requested"
    INFO_PROVIDED = "info_provided", "Information provided"
    SOLUTION_PROPOSED = "solution_proposed", "Solution proposed"
    SOLUTION_REJECTED = "solution_rejected", "Solution rejected"
    CONFIRMED = "confirmed", "Solution confirmed"
    CLOSED = "closed", "Closed"
    REOPENED = "reopened", "Reopened"
    ASSIGNED = "assigned", "Handed over"
    COLLABORATOR = "collaborator", "Collaborator added"
    CRITICALITY = "criticality", "Criticality changed"
    ESCALATED = "escalated", "Escalated"
    ESCALATION_ACK = "escalation_ack", "Escalation acknowledged"
    SLA = "sla", "SLA"
    REMINDER = "reminder", "Reminder"
    HOTFIX = "hotfix", "Hot fix"


class CaseEvent(models.Model):
    """One entry of a case's timeline. Customers read the `public` ones."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    body = models.TextField(blank=True)  # Markdown for comments and solutions
    public = models.BooleanField(default=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["case", "at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.case_id}"


class CaseAttachment(models.Model):
    """A file on a case. Always served as a download (never inline), after the case's
    permission check."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="attachments")
    event = models.ForeignKey(
        CaseEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="attachments"
    )
    file = models.FileField(upload_to="cases/%Y/%m/")
    name = models.CharField(max_length=200)
    size = models.PositiveIntegerField()
    public = models.BooleanField(default=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["uploaded_at", "pk"]

    def __str__(self) -> str:
        return self.name


class CaseEscalation(models.Model):
    """A customer's or partner's request for management attention on a case."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="escalations")
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    raised_at = models.DateTimeField(default=timezone.now)
    business_impact = models.TextField()
    # Routed to the platform's management contact; the account's TAM coordinates.
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    tam = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    phone = models.CharField(max_length=40, blank=True)
    ack_due_at = models.DateTimeField()
    ack_overdue_notified_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    next_steps = models.TextField(blank=True)
    communication_plan = models.TextField(blank=True)

    class Meta:
        ordering = ["-raised_at"]
        indexes = [models.Index(fields=["acknowledged_at", "ack_due_at"])]

    def __str__(self) -> str:
        return f"Escalation of {self.case_id}"

    @property
    def is_open(self) -> bool:
        return self.acknowledged_at is None
