"""Synthetic transactions: checks per tenant and functional area, run from probe
locations (the PoPs that serve the tenant), their results, state with hysteresis, and
the alerts that turn confirmed failures into incidents.

- A **Check** belongs to one tenant and one functional area of its deployment.
- A **ProbeLocation** is where checks run from: a PoP (or region) with the built-in probe
  of `caredeck run`, or a remote agent (`caredeck probe`) that pulls its due checks over
  the API with its own token.
- A **CheckAssignment** is one check at one location: its stored `next_run_at`, the run of
  consecutive failures / successes, and the location's own up/down verdict (hysteresis:
  N failures to go down, M successes to come back).
- The check is **down** when at least `quorum` of its locations say down (k of n).
- **Results** are kept raw for `MONITORING_RAW_DAYS` (14) and rolled up per hour and day.
- **StateChange** rows are the check's history: availability is computed from them,
  minus maintenance windows.
"""

from __future__ import annotations

import hashlib

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone


class CheckKind(models.TextChoices):
    HTTP = "http", "Web (HTTP)"
    WEBSOCKET = "websocket", "Chat (WebSocket / HTTP script)"
    SIP_OPTIONS = "sip_options", "Voice: SIP OPTIONS"
    SIP_CALL = "sip_call", "Voice: SIP call"


class CheckState(models.TextChoices):
    PENDING = "pending", "Pending"
    UP = "up", "Up"
    DOWN = "down", "Down"


class ProbeLocation(models.Model):
    class Mode(models.TextChoices):
        BUILTIN = "builtin", "Built-in probe (caredeck run)"
        AGENT = "agent", "Remote probe agent"

    slug = models.SlugField(max_length=60, unique=True)  # a PoP or region id
    name = models.CharField(max_length=120)
    pop = models.ForeignKey("topology.Pop", null=True, blank=True, on_delete=models.SET_NULL,
                            related_name="probe_locations")
    region = models.ForeignKey("topology.Region", null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="probe_locations")
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.BUILTIN)
    # SHA-256 of the agent's token (shown once when created).
    token_digest = models.CharField(max_length=64, blank=True, db_index=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    # Set when the agent went silent (and cleared when it reports again): the silence
    # is announced once and its checks are not read as down meanwhile.
    silent_since = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    # A new agent gets the silence period to report for the first time.
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def digest_of(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()


def default_assertions() -> list:
    return []


class Check(models.Model):
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE,
                                     related_name="checks")
    area = models.ForeignKey("topology.FunctionalArea", on_delete=models.PROTECT,
                             related_name="checks")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=CheckKind.choices)
    target = models.CharField(max_length=500)  # URL or SIP URI
    interval = models.PositiveIntegerField(
        default=300, validators=[MinValueValidator(30), MaxValueValidator(86400)])
    timeout = models.PositiveIntegerField(
        default=10, validators=[MinValueValidator(1), MaxValueValidator(120)])
    retries = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(3)])
    # [{"type": "status", "value": 200}, {"type": "latency_ms", "max": 500}, ...]
    assertions = models.JSONField(default=default_assertions, blank=True)
    # Kind-specific: http steps, chat script, SIP transport / accepted codes / media.
    config = models.JSONField(default=dict, blank=True)
    failures_to_alert = models.PositiveSmallIntegerField(
        default=2, validators=[MinValueValidator(1), MaxValueValidator(20)])
    successes_to_recover = models.PositiveSmallIntegerField(
        default=2, validators=[MinValueValidator(1), MaxValueValidator(20)])
    # Down when at least this many locations agree (capped at the number of locations).
    quorum = models.PositiveSmallIntegerField(
        default=2, validators=[MinValueValidator(1), MaxValueValidator(20)])
    locations = models.ManyToManyField(ProbeLocation, through="CheckAssignment",
                                       related_name="checks")
    state = models.CharField(max_length=10, choices=CheckState.choices,
                             default=CheckState.PENDING)
    state_since = models.DateTimeField(default=timezone.now)
    # When the current failure began (the first failed run), kept while down.
    failing_since = models.DateTimeField(null=True, blank=True)
    # A confirmed failure waits this long for its neighbours before it alerts, so a
    # region's failure becomes one incident (correlation window).
    alert_due_at = models.DateTimeField(null=True, blank=True)
    incident = models.ForeignKey("incidents.Incident", null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="checks")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["organization__name", "name"]
        indexes = [models.Index(fields=["alert_due_at"]), models.Index(fields=["state"])]

    def __str__(self) -> str:
        return self.name


class CheckAssignment(models.Model):
    """One check at one location: its schedule and the location's hysteresis."""

    # Not "check": that name is Model.check(), Django's system-check hook.
    synthetic_check = models.ForeignKey(Check, on_delete=models.CASCADE, related_name="assignments")
    location = models.ForeignKey(ProbeLocation, on_delete=models.CASCADE,
                                 related_name="assignments")
    next_run_at = models.DateTimeField(default=timezone.now)
    # Leased to a runner until this instant (a crashed runner's lease runs out).
    leased_until = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    consecutive_successes = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=10, choices=CheckState.choices,
                             default=CheckState.PENDING)
    first_failure_at = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_ok = models.BooleanField(null=True)
    last_duration_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["synthetic_check", "location"],
                                               name="one_assignment_per_location")]
        indexes = [models.Index(fields=["location", "next_run_at"])]

    def __str__(self) -> str:
        return f"{self.synthetic_check} from {self.location}"


class CheckResult(models.Model):
    synthetic_check = models.ForeignKey(Check, on_delete=models.CASCADE, related_name="results")
    location = models.ForeignKey(ProbeLocation, on_delete=models.CASCADE, related_name="+")
    started_at = models.DateTimeField()
    # When the run was due: lateness = started_at - scheduled_at.
    scheduled_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    ok = models.BooleanField()
    # A run inside a maintenance window of the tenant: never alerts, not counted.
    in_maintenance = models.BooleanField(default=False)
    status_code = models.IntegerField(null=True, blank=True)  # HTTP or SIP
    error = models.CharField(max_length=500, blank=True)
    # [{"name", "ms", "ok", "detail"}]: each step's timing (HTTP steps, SIP call phases).
    steps = models.JSONField(default=list, blank=True)
    # A response excerpt or a SIP trace, for failures.
    evidence = models.TextField(blank=True)
    tls_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["synthetic_check", "-started_at"]),
                   models.Index(fields=["started_at"])]

    def __str__(self) -> str:
        return f"{self.synthetic_check_id} {'ok' if self.ok else 'failed'} at {self.started_at}"


class Rollup(models.Model):
    """Results per check, location and hour or day (raw results expire)."""

    class Period(models.TextChoices):
        HOUR = "hour", "Hour"
        DAY = "day", "Day"

    synthetic_check = models.ForeignKey(Check, on_delete=models.CASCADE, related_name="rollups")
    location = models.ForeignKey(ProbeLocation, on_delete=models.CASCADE, related_name="+")
    period = models.CharField(max_length=4, choices=Period.choices)
    bucket = models.DateTimeField()
    runs = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    total_ms = models.PositiveBigIntegerField(default=0)
    max_ms = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["synthetic_check", "location", "period", "bucket"],
            name="one_rollup_per_bucket")]
        indexes = [models.Index(fields=["synthetic_check", "period", "bucket"])]

    def __str__(self) -> str:
        return f"{self.synthetic_check_id} {self.period} {self.bucket}"


class StateChange(models.Model):
    """A check going up, down or back to pending: its availability history."""

    synthetic_check = models.ForeignKey(Check, on_delete=models.CASCADE,
                                        related_name="state_changes")
    at = models.DateTimeField()
    from_state = models.CharField(max_length=10, choices=CheckState.choices)
    to_state = models.CharField(max_length=10, choices=CheckState.choices)
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["synthetic_check", "at"])]

    def __str__(self) -> str:
        return f"{self.synthetic_check_id}: {self.from_state} → {self.to_state}"


class FailureProposal(models.Model):
    """Correlation: failures across tenants that share one element (a PoP, a region),
    proposed as that element's failure with its impact analysis, and the incident it
    opened or joined."""

    target = models.CharField(max_length=60)  # zone, region or PoP id
    failure_type = models.CharField(max_length=60, blank=True)
    detected_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    checks = models.ManyToManyField(Check, related_name="proposals")
    tenants = models.JSONField(default=list)  # slugs of the tenants whose checks failed
    impact = models.JSONField(default=dict)  # the impact analysis summary
    incident = models.ForeignKey("incidents.Incident", null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Proposed failure of {self.target}"




class SimulatedOutage(models.Model):
    """The demo: a region or PoP a provider admin "broke" on the simulator page. The
    simulator process (`caredeck demo`) reads these every second and lets the simulated
    endpoints behind the element fail until it is mended (the row deleted)."""

    target = models.SlugField(max_length=60, unique=True)  # region or PoP id
    started_at = models.DateTimeField(default=timezone.now)
    started_by = models.ForeignKey("accounts.User", null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["started_at"]

    def __str__(self) -> str:
        return f"Simulated outage of {self.target}"
