"""The promise report and the SLA report: did the provider keep what it promised?

**Promises** (per incident, per affected tenant). The first notice is measured from the
moment the tenant's clock started (detection, or when the tenant was added to the scope
later) to the first notice of kind "first", against the due time stored on that notice.
Every later notice that carried a due time (status updates, the resolution notice) is
kept or missed, and by how much. While an incident is open, a clock whose due time has
passed with nothing sent is an "overdue now" line; it counts as missed. A due time still
ahead is "pending" and counts neither way. The month view takes the incidents detected
in that month (UTC).

**SLA** (per tenant, per calendar month in UTC). An area is impacted while it is in the
scope of an incident affecting the tenant: from detection (or the tenant's addition) to
resolution (or its removal, or now). Only SEV1 and SEV2 incidents, and areas whose
scope says the service is unavailable, count as unavailable time; SEV3 and SEV4
degradations are reported as impacted minutes but leave the service available, as the
contract measures availability, not performance. Outage minutes are the union over the
tenant's areas, so two areas down at once (or two incidents at once) count once.
Maintenance windows that concern the tenant (actual start, else announced start, to actual
end, else announced end) are taken out of the month and out of the outage minutes:

    measured availability = 1 − outage minutes / (minutes of the month − maintenance minutes)

The SLA credit is the contract's tier for the lowest level the availability falls below.
For the month in progress, the month so far is measured.

Reading is a fixed handful of aggregate queries whatever the number of tenants; the
minutes are counted in Python on intervals (intervals.py).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import QuerySet
from django.utils import timezone

from caredeck.accounts.models import Organization, default_sla_credit_tiers
from caredeck.incidents.models import (
    OPEN_STATUSES,
    AffectedTenant,
    ClockKind,
    Incident,
    Notice,
    NoticeKind,
)
from caredeck.incidents.selectors import affected_visible, sees_every_tenant
from caredeck.maintenance.models import MaintenanceTenant
from caredeck.status.intervals import clipped, total_seconds, without
from caredeck.status.selectors import (
    ALL_AREAS,
    TOLD_OR_CURRENT,
    IncidentSpan,
    MaintenanceSpan,
    area_catalog,
    areas_shown,
    incident_spans,
    maintenance_spans,
    percent_text,
    tenant_areas,
)

MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
DEFAULT_TARGET = Decimal("99.990")


# --- Months ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @property
    def start(self) -> dt.datetime:
        return dt.datetime(self.year, self.month, 1, tzinfo=dt.UTC)

    @property
    def end(self) -> dt.datetime:
        if self.month == 12:
            return dt.datetime(self.year + 1, 1, 1, tzinfo=dt.UTC)
        return dt.datetime(self.year, self.month + 1, 1, tzinfo=dt.UTC)

    @property
    def key(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def title(self) -> str:
        return self.start.strftime("%B %Y")

    @property
    def previous(self) -> Month:
        return Month(self.year - 1, 12) if self.month == 1 else Month(self.year, self.month - 1)

    @property
    def next(self) -> Month:
        return Month(self.year + 1, 1) if self.month == 12 else Month(self.year, self.month + 1)

    def __str__(self) -> str:
        return self.key


def current_month(now: dt.datetime | None = None) -> Month:
    now = (now or timezone.now()).astimezone(dt.UTC)
    return Month(now.year, now.month)


def parse_month(value: Any, *, now: dt.datetime | None = None, field: str = "month") -> Month:
    """`YYYY-MM` as a Month; empty means the current month. A malformed month, or one
    that has not begun, raises ValidationError on `field` (a 400 in the API, a message on
    the page), never a 500."""
    if value in (None, ""):
        return current_month(now)
    match = MONTH_RE.match(value) if isinstance(value, str) else None
    if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1970:
        raise ValidationError({field: ["Give a month as YYYY-MM, e.g. 2026-01."]})
    month = Month(int(match.group(1)), int(match.group(2)))
    if month.start > (now or timezone.now()):
        raise ValidationError({field: [f"{month.key} has not begun yet."]})
    return month


def minutes(seconds: float) -> float:
    return round(seconds / 60, 1)


# --- Promises ----------------------------------------------------------------------------


class Outcome(models.TextChoices):
    KEPT = "kept", "Kept"
    MISSED = "missed", "Missed"
    OVERDUE = "overdue", "Overdue now"
    PENDING = "pending", "Due"
    NO_PROMISE = "no_promise", "No due time"


FIRST_NOTICE_LABEL = "First notice"


@dataclass(frozen=True)
class PromiseLine:
    kind: str  # a NoticeKind value, or a ClockKind value for a clock still running
    label: str
    due_at: dt.datetime | None
    sent_at: dt.datetime | None
    outcome: Outcome
    late_by: dt.timedelta | None = None

    @property
    def counts(self) -> bool:
        return self.outcome in (Outcome.KEPT, Outcome.MISSED, Outcome.OVERDUE)

    @property
    def broken(self) -> bool:
        return self.outcome in (Outcome.MISSED, Outcome.OVERDUE)

    @property
    def late_minutes(self) -> float | None:
        return None if self.late_by is None else minutes(self.late_by.total_seconds())


def _outcome(due_at, sent_at) -> tuple[Outcome, dt.timedelta | None]:
    if due_at is None:
        return Outcome.NO_PROMISE, None
    if sent_at <= due_at:
        return Outcome.KEPT, None
    return Outcome.MISSED, sent_at - due_at


@dataclass
class TenantPromises:
    """One tenant's promises in one incident."""

    organization_id: int
    slug: str
    name: str
    clock_start: dt.datetime
    first_notice: PromiseLine | None
    time_to_first_notice: dt.timedelta | None
    updates: list[PromiseLine]
    removed: bool = False

    @property
    def lines(self) -> list[PromiseLine]:
        return [*([self.first_notice] if self.first_notice else []), *self.updates]

    @property
    def first_notice_due(self) -> dt.datetime | None:
        return self.first_notice.due_at if self.first_notice else None

    @property
    def first_notice_sent(self) -> dt.datetime | None:
        return self.first_notice.sent_at if self.first_notice else None

    @property
    def first_notice_kept(self) -> bool | None:
        """True/False once it is decided; None while pending or with no due time."""
        if self.first_notice is None or not self.first_notice.counts:
            return None
        return not self.first_notice.broken

    @property
    def updates_kept(self) -> int:
        return sum(1 for line in self.updates if line.outcome == Outcome.KEPT)

    @property
    def updates_missed(self) -> int:
        return sum(1 for line in self.updates if line.broken)

    @property
    def overdue_now(self) -> PromiseLine | None:
        return next((line for line in self.lines if line.outcome == Outcome.OVERDUE), None)

    @property
    def kept(self) -> int:
        return sum(1 for line in self.lines if line.outcome == Outcome.KEPT)

    @property
    def missed(self) -> int:
        return sum(1 for line in self.lines if line.broken)

    @property
    def worst_lateness(self) -> dt.timedelta | None:
        late = [line.late_by for line in self.lines if line.late_by is not None]
        return max(late) if late else None

    @property
    def time_to_first_notice_minutes(self) -> float | None:
        if self.time_to_first_notice is None:
            return None
        return minutes(self.time_to_first_notice.total_seconds())


@dataclass
class PromiseTotals:
    first_kept: int = 0
    first_missed: int = 0
    updates_kept: int = 0
    updates_missed: int = 0
    overdue: int = 0

    def add(self, tenant: TenantPromises) -> None:
        if tenant.first_notice is not None and tenant.first_notice.counts:
            if tenant.first_notice.broken:
                self.first_missed += 1
            else:
                self.first_kept += 1
        self.updates_kept += tenant.updates_kept
        self.updates_missed += tenant.updates_missed
        self.overdue += sum(1 for line in tenant.lines if line.outcome == Outcome.OVERDUE)

    @property
    def kept(self) -> int:
        return self.first_kept + self.updates_kept

    @property
    def missed(self) -> int:
        return self.first_missed + self.updates_missed

    @property
    def share_kept(self) -> Fraction | None:
        total = self.kept + self.missed
        return Fraction(self.kept, total) if total else None

    @property
    def share_kept_text(self) -> str:
        return percent_text(self.share_kept, places=1)

    @property
    def first_share_text(self) -> str:
        total = self.first_kept + self.first_missed
        return percent_text(Fraction(self.first_kept, total) if total else None, places=1)

    @property
    def updates_share_text(self) -> str:
        total = self.updates_kept + self.updates_missed
        return percent_text(Fraction(self.updates_kept, total) if total else None, places=1)


def tenant_promises(
    *,
    row: dict[str, Any],
    notices: list[tuple[str, dt.datetime | None, dt.datetime]],
    incident_open: bool,
    detected_at: dt.datetime,
    now: dt.datetime,
) -> TenantPromises:
    """One tenant's promises from its affected-tenant row and its notices (kind, due_at,
    sent_at) in the order sent. Pure."""
    clock_start = max(detected_at, row["added_at"])
    first: PromiseLine | None = None
    time_to_first = None
    updates: list[PromiseLine] = []
    for kind, due_at, sent_at in notices:
        if kind == NoticeKind.FIRST and first is None:
            outcome, late_by = _outcome(due_at, sent_at)
            first = PromiseLine(kind, FIRST_NOTICE_LABEL, due_at, sent_at, outcome, late_by)
            time_to_first = sent_at - clock_start
        elif due_at is not None:
            outcome, late_by = _outcome(due_at, sent_at)
            label = NoticeKind(kind).label if kind in NoticeKind.values else kind
            updates.append(PromiseLine(kind, label, due_at, sent_at, outcome, late_by))
    clock_due = row["due_at"]
    if incident_open and row["removed_at"] is None and clock_due is not None:
        is_first = row["due_kind"] == ClockKind.FIRST_NOTICE or first is None
        if clock_due < now:
            line = PromiseLine(
                row["due_kind"] or ClockKind.UPDATE,
                FIRST_NOTICE_LABEL if is_first else ClockKind.UPDATE.label,
                clock_due, None, Outcome.OVERDUE, now - clock_due,
            )
        else:
            line = PromiseLine(
                row["due_kind"] or ClockKind.UPDATE,
                FIRST_NOTICE_LABEL if is_first else ClockKind.UPDATE.label,
                clock_due, None, Outcome.PENDING,
            )
        if is_first and first is None:
            first = line
        elif not is_first:
            updates.append(line)
    return TenantPromises(
        organization_id=row["organization_id"], slug=row["organization__slug"],
        name=row["organization__name"], clock_start=clock_start, first_notice=first,
        time_to_first_notice=time_to_first, updates=updates,
        removed=row["removed_at"] is not None,
    )


ROW_FIELDS = (
    "incident_id", "organization_id", "organization__slug", "organization__name",
    "added_at", "removed_at", "due_kind", "due_at",
)


def _notices_by_pair(notices: QuerySet[Notice]) -> dict[tuple[int, int], list]:
    grouped: dict[tuple[int, int], list] = defaultdict(list)
    for incident_id, org_id, kind, due_at, sent_at in notices.order_by(
        "sent_at", "pk"
    ).values_list("incident_id", "organization_id", "kind", "due_at", "sent_at"):
        grouped[(incident_id, org_id)].append((kind, due_at, sent_at))
    return grouped


def incident_promises(
    incident: Incident, organizations=None, *, now: dt.datetime | None = None
) -> list[TenantPromises]:
    """Per affected tenant of `incident` (only those of `organizations`, a queryset or
    list, when given): first notice due / sent / kept, updates kept / missed, worst
    lateness, and any clock overdue now. For the incident page; two queries."""
    now = now or timezone.now()
    rows = AffectedTenant.objects.filter(TOLD_OR_CURRENT, incident=incident)
    notices = Notice.objects.filter(incident=incident)
    if organizations is not None:
        rows = rows.filter(organization__in=organizations)
        notices = notices.filter(organization__in=organizations)
    grouped = _notices_by_pair(notices)
    return [
        tenant_promises(
            row=row, notices=grouped.get((incident.pk, row["organization_id"]), []),
            incident_open=incident.status in OPEN_STATUSES,
            detected_at=incident.detected_at, now=now,
        )
        for row in rows.order_by("organization__name").values(*ROW_FIELDS)
    ]


@dataclass
class IncidentPromises:
    number: str
    title: str
    severity: str
    status: str
    status_label: str
    detected_at: dt.datetime
    tenants: list[TenantPromises]
    totals: PromiseTotals = field(default_factory=PromiseTotals)

    @property
    def broken_tenants(self) -> list[TenantPromises]:
        return [t for t in self.tenants if t.missed]


@dataclass
class MonthPromises:
    month: Month
    incidents: list[IncidentPromises]
    totals: PromiseTotals


def promises_month(
    user, month: Month, *, organization: Organization | None = None,
    now: dt.datetime | None = None,
) -> MonthPromises:
    """The promise report of the incidents detected in `month`, for the tenants `user`
    may see (provider staff: all; others: their own), or only `organization` (which
    the caller has checked the user may see). Three queries."""
    now = now or timezone.now()
    rows = affected_visible(user).filter(
        incident__detected_at__gte=month.start, incident__detected_at__lt=month.end
    )
    if organization is not None:
        rows = rows.filter(organization=organization)
    rows = list(rows.order_by("organization__name").values(*ROW_FIELDS))
    incidents = {
        i.pk: i
        for i in Incident.objects.filter(pk__in={r["incident_id"] for r in rows}).only(
            "pk", "number", "title", "severity", "status", "detected_at"
        )
    }
    notices = Notice.objects.filter(incident_id__in=list(incidents))
    if organization is not None:
        notices = notices.filter(organization=organization)
    elif not sees_every_tenant(user):
        notices = notices.filter(organization_id__in={r["organization_id"] for r in rows})
    grouped = _notices_by_pair(notices)

    by_incident: dict[int, list[TenantPromises]] = defaultdict(list)
    for row in rows:
        incident = incidents[row["incident_id"]]
        by_incident[incident.pk].append(
            tenant_promises(
                row=row, notices=grouped.get((incident.pk, row["organization_id"]), []),
                incident_open=incident.status in OPEN_STATUSES,
                detected_at=incident.detected_at, now=now,
            )
        )
    month_totals = PromiseTotals()
    reports = []
    for incident in sorted(incidents.values(), key=lambda i: (i.detected_at, i.pk)):
        report = IncidentPromises(
            number=incident.number, title=incident.title, severity=incident.severity,
            status=incident.status, status_label=incident.get_status_display(),
            detected_at=incident.detected_at, tenants=by_incident[incident.pk],
        )
        for tenant in report.tenants:
            report.totals.add(tenant)
            month_totals.add(tenant)
        reports.append(report)
    return MonthPromises(month=month, incidents=reports, totals=month_totals)


# --- SLA ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AreaMinutes:
    area: str
    name: str
    impacted_minutes: float
    outage_minutes: float


@dataclass
class SlaReport:
    organization_id: int
    slug: str
    name: str
    month: Month
    period_start: dt.datetime
    period_end: dt.datetime
    month_to_date: bool
    period_minutes: float
    maintenance_minutes: float
    impacted_minutes: float
    outage_minutes: float
    areas: list[AreaMinutes]
    availability: Fraction  # a share in [0, 1]
    target: Decimal  # percent
    credit: Decimal  # percent of the monthly fee
    credit_below: Decimal | None  # the tier's level, None when no tier applies

    @property
    def counted_minutes(self) -> float:
        return round(self.period_minutes - self.maintenance_minutes, 1)

    @property
    def availability_percent(self) -> Fraction:
        return self.availability * 100

    @property
    def availability_text(self) -> str:
        return percent_text(self.availability, places=3)

    @property
    def availability_decimal(self) -> str:
        """The percentage to 4 places, rounded down (for CSV and JSON)."""
        return percent_text(self.availability, places=4).removesuffix(" %")

    @property
    def meets_target(self) -> bool:
        return self.availability_percent >= Fraction(self.target)

    @property
    def target_text(self) -> str:
        return f"{_plain_decimal(self.target)} %"

    @property
    def credit_text(self) -> str:
        return f"{_plain_decimal(self.credit)} %"


def _plain_decimal(value: Decimal) -> str:
    """99.990 -> "99.99", 5 -> "5" (no exponent for round numbers)."""
    return format(value.normalize(), "f")


def credit_tier(
    availability_percent: Fraction, tiers: Iterable[Any] | None
) -> tuple[Decimal, Decimal | None]:
    """(credit %, tier level) for the lowest level the availability falls below, or
    (0, None). Malformed tiers are skipped rather than failing the whole report."""
    applicable = []
    for tier in tiers or []:
        try:
            below = Decimal(str(tier["below"]))
            credit = Decimal(str(tier["credit"]))
        except (KeyError, TypeError, InvalidOperation):
            continue
        if below.is_finite() and credit.is_finite() and availability_percent < Fraction(below):
            applicable.append((below, credit))
    if not applicable:
        return Decimal(0), None
    below, credit = min(applicable)
    return credit, below


def sla_compute(
    *,
    spans: list[IncidentSpan],
    windows: list[MaintenanceSpan],
    areas: list[tuple[str, str]],
    period_start: dt.datetime,
    period_end: dt.datetime,
) -> dict[str, Any]:
    """The minutes of one tenant over [period_start, period_end): per area impacted and
    outage minutes, and for the tenant the maintenance, impacted and outage minutes and
    the measured availability. Pure; see the module docstring for the rules."""
    holes = clipped((w.interval for w in windows), period_start, period_end)
    period_seconds = (period_end - period_start).total_seconds()
    maintenance_seconds = total_seconds(holes)

    def counted(chosen: Iterable[IncidentSpan]) -> float:
        return total_seconds(
            without(clipped((s.interval for s in chosen), period_start, period_end), holes)
        )

    rows = []
    for slug, name in areas:
        own = [s for s in spans if s.area == slug or s.area == ALL_AREAS]
        rows.append(
            AreaMinutes(
                area=slug, name=name,
                impacted_minutes=minutes(counted(own)),
                outage_minutes=minutes(counted(s for s in own if s.outage)),
            )
        )
    outage_seconds = counted(s for s in spans if s.outage)
    available_seconds = period_seconds - maintenance_seconds
    # Whole seconds: exact arithmetic on the ratio without float noise.
    availability = (
        1 - Fraction(round(outage_seconds), round(available_seconds))
        if round(available_seconds) > 0 else Fraction(1)
    )
    return {
        "areas": rows,
        "period_minutes": minutes(period_seconds),
        "maintenance_minutes": minutes(maintenance_seconds),
        "impacted_minutes": minutes(counted(spans)),
        "outage_minutes": minutes(outage_seconds),
        "availability": max(availability, Fraction(0)),
    }


def sla_reports(
    organizations: QuerySet[Organization], month: Month, *, now: dt.datetime | None = None,
    per_area: bool = True,
) -> list[SlaReport]:
    """The SLA report of each of `organizations` (a queryset the caller has scoped to
    the reader) for `month`. Five queries for any number of tenants; `per_area=False`
    skips the per-area minutes (the all-tenants table shows totals only)."""
    now = now or timezone.now()
    period_start, period_end = month.start, min(month.end, now)
    # The queryset goes into each query as a subquery, never as hundreds of bound ids.
    chosen = organizations.values("pk")
    in_scope = {"organization_id__in": chosen}
    spans_of: dict[int, list[IncidentSpan]] = defaultdict(list)
    for span in incident_spans(
        AffectedTenant.objects.filter(**in_scope), since=period_start, until=period_end, now=now
    ):
        spans_of[span.organization_id].append(span)
    windows_of: dict[int, list[MaintenanceSpan]] = defaultdict(list)
    for window in maintenance_spans(
        MaintenanceTenant.objects.filter(**in_scope), since=period_start, until=period_end,
        now=now,
    ):
        windows_of[window.organization_id].append(window)
    used = tenant_areas(chosen) if per_area else {}
    catalog = area_catalog() if per_area else {}
    organizations = list(organizations.select_related("contract").order_by("name", "pk"))

    reports = []
    for organization in organizations:
        spans = spans_of.get(organization.pk, [])
        areas = areas_shown(
            used.get(organization.pk, []), {s.area: s.area_name for s in spans}, catalog
        ) if per_area else []
        numbers = sla_compute(
            spans=spans, windows=windows_of.get(organization.pk, []), areas=areas,
            period_start=period_start, period_end=period_end,
        )
        contract = getattr(organization, "contract", None)
        target = getattr(contract, "availability_target", None) or DEFAULT_TARGET
        tiers = contract.sla_credit_tiers if contract is not None else default_sla_credit_tiers()
        credit, below = credit_tier(numbers["availability"] * 100, tiers)
        reports.append(
            SlaReport(
                organization_id=organization.pk, slug=organization.slug,
                name=organization.name, month=month, period_start=period_start,
                period_end=period_end, month_to_date=period_end < month.end,
                target=Decimal(target), credit=credit, credit_below=below, **numbers,
            )
        )
    return reports


def sla_report(
    organization: Organization, month: Month, *, now: dt.datetime | None = None
) -> SlaReport:
    return sla_reports(Organization.objects.filter(pk=organization.pk), month, now=now)[0]


def worst_first(reports: list[SlaReport]) -> list[SlaReport]:
    """Tenants below target first, lowest availability first, then by name."""
    return sorted(reports, key=lambda r: (r.availability, r.name.lower(), r.slug))


# --- CSV ---------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (names come from users)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _csv(header: list[str], rows: Iterable[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()


PROMISE_CSV_HEADER = [
    "month", "incident", "title", "severity", "organization", "organization_name",
    "promise", "due_at", "sent_at", "outcome", "late_by_minutes",
    "time_to_first_notice_minutes",
]


def promises_csv(report: MonthPromises) -> str:
    """One line per promise: each first notice, each update with a due time, and each
    clock overdue or pending now."""

    def rows():
        for incident in report.incidents:
            for tenant in incident.tenants:
                for line in tenant.lines:
                    yield [
                        report.month.key, incident.number, incident.title, incident.severity,
                        tenant.slug, tenant.name, line.label, line.due_at, line.sent_at,
                        line.outcome.value, line.late_minutes,
                        tenant.time_to_first_notice_minutes
                        if line is tenant.first_notice and line.sent_at else None,
                    ]

    return _csv(PROMISE_CSV_HEADER, rows())


SLA_CSV_HEADER = [
    "organization", "organization_name", "month", "month_to_date", "area", "area_name",
    "impacted_minutes", "outage_minutes", "maintenance_minutes", "counted_minutes",
    "availability_percent", "target_percent", "meets_target", "credit_percent",
]


def _sla_total_row(r: SlaReport, area: str = "", area_name: str = "All areas") -> list[Any]:
    return [
        r.slug, r.name, r.month.key, r.month_to_date, area, area_name, r.impacted_minutes,
        r.outage_minutes, r.maintenance_minutes, r.counted_minutes, r.availability_decimal,
        _plain_decimal(r.target), r.meets_target, _plain_decimal(r.credit),
    ]


def sla_csv(reports: list[SlaReport], *, per_area: bool) -> str:
    """Per tenant a line for the whole service; with `per_area`, first a line per
    functional area (its impacted and outage minutes, the tenant's figures beside)."""

    def rows():
        for r in reports:
            if per_area:
                for a in r.areas:
                    row = _sla_total_row(r, a.area, a.name)
                    row[6], row[7] = a.impacted_minutes, a.outage_minutes
                    yield row
            yield _sla_total_row(r)

    return _csv(SLA_CSV_HEADER, rows())
