"""Customer Care reports for care managers, each table with a CSV export.

The cohort is the cases **opened in the period** (UTC days, `since` to `until` both
included; default the last 30 days), of every tenant, optionally of one support group.
Escalations are those **raised in the period** on such a group's cases.

- **Volume per criticality**: opened, still active, closed as resolved, closed otherwise
  (no information / not confirmed).
- **First-contact resolution**: of the cases closed as resolved, the share whose first
  proposed solution was confirmed: no solution rejected, no information requested after
  routing (the automatic request of an incomplete case at opening does not count), never
  reopened.
- **Time to first response and to resolution** per group and criticality: wall-clock
  time from opening to the first answer of Care (a public reply, an information request
  or a proposed solution) and to the customer's confirmation; median and 90th percentile
  (nearest rank) over the cases that got there.
- **SLA attainment** per group: of the clocks decided (stopped, or still running but
  already breached), the share that met the target, as `sla.met` decides it (never
  breached, stopped before it was due).
- **Escalations**: raised, acknowledged, acknowledged in time (by `ack_due_at`), open
  (and overdue now), median time to acknowledge.

Access: MANAGE_CARE (care managers, platform administrators). The figures cover every
tenant, so they read the tables directly rather than through `cases_visible`; the page
is refused to everyone else. The whole report is three reads whatever the number of
tenants (the groups, one values_list of the period's cases, one of its escalations);
medians and percentiles are computed in Python from them.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from caredeck.accounts.access import has_capability
from caredeck.accounts.roles import Capability
from caredeck.cases import sla
from caredeck.cases.models import (
    ACTIVE,
    Case,
    CaseEscalation,
    CaseStatus,
    CloseReason,
    Criticality,
    SupportGroup,
)
from caredeck.core.csv import csv_text

DEFAULT_DAYS = 30
MAX_DAYS = 3 * 366
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SLUG_RE = re.compile(r"^[-a-zA-Z0-9_]{1,50}$")
TABLES = ("volume", "fcr", "times", "sla", "escalations")
TABLE_LABELS = {
    "volume": "Volume per criticality",
    "fcr": "First-contact resolution",
    "times": "Time to first response and resolution",
    "sla": "SLA attainment",
    "escalations": "Escalations",
}
NO_GROUP = "Not routed to a group"


def can_read_case_reports(user) -> bool:
    return has_capability(user, Capability.MANAGE_CARE)


# --- Filters -------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    since: dt.date
    until: dt.date  # included

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.since, dt.time(), tzinfo=dt.UTC)

    @property
    def end(self) -> dt.datetime:
        return dt.datetime.combine(self.until + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)

    @property
    def days(self) -> int:
        return (self.until - self.since).days + 1

    @property
    def key(self) -> str:
        return f"{self.since:%Y-%m-%d}_{self.until:%Y-%m-%d}"


def default_period(now: dt.datetime | None = None) -> Period:
    today = (now or timezone.now()).astimezone(dt.UTC).date()
    return Period(today - dt.timedelta(days=DEFAULT_DAYS - 1), today)


def _date(name: str, value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    try:
        if not isinstance(value, str) or not DATE_RE.match(value.strip()):
            raise ValueError
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError({name: ["Give a date as YYYY-MM-DD, e.g. 2026-05-01."]}) from None


def parse_period(since: Any, until: Any, now: dt.datetime | None = None) -> Period:
    """The period of `since` and `until` (either may be left out: 30 days before the
    other, or up to today). Raises ValidationError on the field at fault."""
    default = default_period(now)
    first, last = _date("since", since), _date("until", until)
    if last is None:
        last = default.until if first is None else max(
            first, min(default.until, first + dt.timedelta(days=DEFAULT_DAYS - 1)))
    if first is None:
        first = last - dt.timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise ValidationError({"until": ["The end of the period comes before its start."]})
    if (last - first).days >= MAX_DAYS:
        raise ValidationError({"since": [f"Choose a period of at most {MAX_DAYS} days."]})
    return Period(first, last)


def parse_group(value: Any) -> SupportGroup | None:
    if value in (None, ""):
        return None
    group = None
    if isinstance(value, str) and SLUG_RE.match(value):
        group = SupportGroup.objects.filter(slug=value).first()
    if group is None:
        raise ValidationError({"group": ["No such support group: choose one from the list."]})
    return group


# --- Figures -------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0-100) of `values`; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def minutes_text(minutes: float | None) -> str:
    """`45 min`, `3 h 20 min`, `2 d 4 h`; an em dash when there is nothing."""
    if minutes is None:
        return "—"
    minutes = round(minutes)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"


def percent_text(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


@dataclass
class VolumeRow:
    criticality: int
    opened: int = 0
    active: int = 0
    resolved: int = 0
    closed_other: int = 0

    @property
    def label(self) -> str:
        return Criticality(self.criticality).label if self.criticality else "All"


@dataclass
class FcrRow:
    label: str
    slug: str
    resolved: int = 0
    first_contact: int = 0

    @property
    def rate(self) -> float | None:
        return share(self.first_contact, self.resolved)

    @property
    def rate_text(self) -> str:
        return percent_text(self.rate)


@dataclass
class TimeRow:
    group: str
    slug: str
    criticality: int  # 0: every criticality
    opened: int = 0
    response: list[float] = field(default_factory=list, repr=False)
    resolution: list[float] = field(default_factory=list, repr=False)

    @property
    def criticality_label(self) -> str:
        return Criticality(self.criticality).label if self.criticality else "All"

    @property
    def responded(self) -> int:
        return len(self.response)

    @property
    def resolved(self) -> int:
        return len(self.resolution)

    @property
    def response_median(self) -> float | None:
        return median(self.response)

    @property
    def response_p90(self) -> float | None:
        return percentile(self.response, 90)

    @property
    def resolution_median(self) -> float | None:
        return median(self.resolution)

    @property
    def resolution_p90(self) -> float | None:
        return percentile(self.resolution, 90)

    def texts(self) -> dict[str, str]:
        return {name: minutes_text(getattr(self, name)) for name in (
            "response_median", "response_p90", "resolution_median", "resolution_p90")}


@dataclass
class SlaRow:
    label: str
    slug: str
    response_decided: int = 0
    response_met: int = 0
    resolution_decided: int = 0
    resolution_met: int = 0

    @property
    def response_rate(self) -> float | None:
        return share(self.response_met, self.response_decided)

    @property
    def resolution_rate(self) -> float | None:
        return share(self.resolution_met, self.resolution_decided)

    @property
    def response_text(self) -> str:
        return percent_text(self.response_rate)

    @property
    def resolution_text(self) -> str:
        return percent_text(self.resolution_rate)


@dataclass
class EscalationRow:
    label: str
    slug: str
    raised: int = 0
    acknowledged: int = 0
    in_time: int = 0
    open: int = 0
    overdue: int = 0
    ack_minutes: list[float] = field(default_factory=list, repr=False)

    @property
    def in_time_rate(self) -> float | None:
        return share(self.in_time, self.acknowledged + self.overdue)

    @property
    def in_time_text(self) -> str:
        return percent_text(self.in_time_rate)

    @property
    def ack_median(self) -> float | None:
        return median(self.ack_minutes)

    @property
    def ack_median_text(self) -> str:
        return minutes_text(self.ack_median)


@dataclass
class CaseReport:
    period: Period
    group: SupportGroup | None
    volume: list[VolumeRow]
    fcr: list[FcrRow]
    times: list[TimeRow]
    sla: list[SlaRow]
    escalations: list[EscalationRow]

    @property
    def total(self) -> VolumeRow:
        return self.volume[-1]

    @property
    def fcr_total(self) -> FcrRow:
        return self.fcr[-1]

    @property
    def sla_total(self) -> SlaRow:
        return self.sla[-1]

    @property
    def escalation_total(self) -> EscalationRow:
        return self.escalations[-1]


class _Clocks:
    """Just the fields `sla.met` reads, from a values_list row."""

    __slots__ = ("first_response_at", "response_due_at", "response_breached_at",
                 "resolved_at", "resolution_due_at", "resolution_breached_at")

    def __init__(self, *values):
        for name, value in zip(self.__slots__, values, strict=True):
            setattr(self, name, value)


def _minutes(later: dt.datetime | None, earlier: dt.datetime) -> float | None:
    if later is None:
        return None
    return max((later - earlier).total_seconds() / 60, 0.0)


def _groups(group: SupportGroup | None) -> dict[int | None, tuple[str, str]]:
    """Group id -> (name, slug), in the order of the page; cases without a group last."""
    groups = [group] if group is not None else list(SupportGroup.objects.order_by("name"))
    named: dict[int | None, tuple[str, str]] = {g.pk: (g.name, g.slug) for g in groups}
    if group is None:
        named[None] = (NO_GROUP, "")
    return named


CASE_FIELDS = (
    "group_id", "criticality", "status", "close_reason", "created_at",
    "solutions_rejected", "info_requests", "reopened",
    *_Clocks.__slots__,
)


def case_report(*, period: Period, group: SupportGroup | None = None,
                now: dt.datetime | None = None) -> CaseReport:
    """Every table of the report for the cases opened in `period` (of `group`)."""
    now = now or timezone.now()
    cases = Case.objects.filter(created_at__gte=period.start, created_at__lt=period.end)
    if group is not None:
        cases = cases.filter(group=group)
    # A deleted group leaves its cases without one (SET_NULL): every key is known.
    names = _groups(group)
    all_label = "All groups"

    volume = {c: VolumeRow(c) for c in Criticality.values}
    volume_all = VolumeRow(0)
    fcr = {pk: FcrRow(name, slug) for pk, (name, slug) in names.items()}
    fcr_all = FcrRow(all_label, "")
    times = {(pk, c): TimeRow(name, slug, c)
             for pk, (name, slug) in names.items() for c in [*Criticality.values, 0]}
    times_all = {c: TimeRow(all_label, "", c) for c in [*Criticality.values, 0]}
    sla_rows = {pk: SlaRow(name, slug) for pk, (name, slug) in names.items()}
    sla_all = SlaRow(all_label, "")

    for row in cases.values_list(*CASE_FIELDS).iterator(chunk_size=5000):
        (group_id, crit, status, close_reason, created_at, rejected, info, reopened,
         *clock_values) = row
        clocks = _Clocks(*clock_values)
        for v in (volume[crit], volume_all):
            v.opened += 1
            if status in ACTIVE:
                v.active += 1
            elif close_reason == CloseReason.RESOLVED:
                v.resolved += 1
            else:
                v.closed_other += 1
        if status == CaseStatus.CLOSED and close_reason == CloseReason.RESOLVED:
            first = rejected == 0 and info == 0 and reopened == 0
            for f in (fcr[group_id], fcr_all):
                f.resolved += 1
                f.first_contact += first
        response = _minutes(clocks.first_response_at, created_at)
        resolution = _minutes(clocks.resolved_at, created_at)
        for t in (times[group_id, crit], times[group_id, 0], times_all[crit], times_all[0]):
            t.opened += 1
            if response is not None:
                t.response.append(response)
            if resolution is not None:
                t.resolution.append(resolution)
        # SLA attainment: the decided clocks (stopped, or running but already breached).
        for prefix in ("response", "resolution"):
            met = sla.met(clocks, prefix)
            if met is None and getattr(clocks, f"{prefix}_breached_at") is None:
                continue
            for s in (sla_rows[group_id], sla_all):
                setattr(s, f"{prefix}_decided", getattr(s, f"{prefix}_decided") + 1)
                if met:
                    setattr(s, f"{prefix}_met", getattr(s, f"{prefix}_met") + 1)

    # Per group, the criticalities that had cases and the group's total; the row of
    # cases without a group only when there are some.
    time_rows = [t for t in times.values() if t.opened]
    fcr_rows = [r for pk, r in fcr.items() if pk is not None or r.resolved]
    sla_out = [r for pk, r in sla_rows.items()
               if pk is not None or r.response_decided or r.resolution_decided]
    if group is None:
        time_rows += [t for t in times_all.values() if t.opened]
        fcr_rows.append(fcr_all)
        sla_out.append(sla_all)
    return CaseReport(
        period=period, group=group, volume=[*volume.values(), volume_all], fcr=fcr_rows,
        times=time_rows, sla=sla_out,
        escalations=escalation_rows(period=period, group=group, names=names, now=now),
    )


def escalation_rows(*, period: Period, group: SupportGroup | None,
                    names: dict[int | None, tuple[str, str]],
                    now: dt.datetime) -> list[EscalationRow]:
    escalations = CaseEscalation.objects.filter(raised_at__gte=period.start,
                                                raised_at__lt=period.end)
    if group is not None:
        escalations = escalations.filter(case__group=group)
    rows = {pk: EscalationRow(name, slug) for pk, (name, slug) in names.items()}
    total = EscalationRow("All groups" if group is None else group.name,
                          "" if group is None else group.slug)
    for group_id, raised_at, due, acked in escalations.values_list(
            "case__group_id", "raised_at", "ack_due_at", "acknowledged_at"):
        for r in ((rows[group_id], total) if group is None else (total,)):
            r.raised += 1
            if acked is None:
                r.open += 1
                r.overdue += due < now
            else:
                r.acknowledged += 1
                r.in_time += acked <= due
                r.ack_minutes.append(_minutes(acked, raised_at))
    if group is not None:
        return [total]
    return [*(r for pk, r in rows.items() if pk is not None or r.raised), total]


# --- CSV -----------------------------------------------------------------------------


def _m(value: float | None) -> float | str:
    return "" if value is None else round(value, 1)


def _r(value: float | None) -> float | str:
    return "" if value is None else round(value, 4)


def report_csv(report: CaseReport, table: str) -> str:
    """One table of the report as CSV; durations in minutes, rates as fractions."""
    since, until = report.period.since.isoformat(), report.period.until.isoformat()
    if table == "volume":
        return csv_text(
            ["since", "until", "criticality", "opened", "active", "closed_resolved",
             "closed_other"],
            ([since, until, r.criticality or "all", r.opened, r.active, r.resolved,
              r.closed_other] for r in report.volume))
    if table == "fcr":
        return csv_text(
            ["since", "until", "group", "group_name", "closed_resolved",
             "first_contact_resolved", "first_contact_resolution_rate"],
            ([since, until, r.slug or "all", r.label, r.resolved, r.first_contact,
              _r(r.rate)] for r in report.fcr))
    if table == "times":
        return csv_text(
            ["since", "until", "group", "group_name", "criticality", "opened", "responded",
             "response_median_minutes", "response_p90_minutes", "resolved",
             "resolution_median_minutes", "resolution_p90_minutes"],
            ([since, until, r.slug or ("all" if r.group == "All groups" else ""), r.group,
              r.criticality or "all", r.opened, r.responded, _m(r.response_median),
              _m(r.response_p90), r.resolved, _m(r.resolution_median),
              _m(r.resolution_p90)] for r in report.times))
    if table == "sla":
        return csv_text(
            ["since", "until", "group", "group_name", "response_decided", "response_met",
             "response_attainment", "resolution_decided", "resolution_met",
             "resolution_attainment"],
            ([since, until, r.slug or "all", r.label, r.response_decided, r.response_met,
              _r(r.response_rate), r.resolution_decided, r.resolution_met,
              _r(r.resolution_rate)] for r in report.sla))
    if table == "escalations":
        return csv_text(
            ["since", "until", "group", "group_name", "raised", "acknowledged",
             "acknowledged_in_time", "open", "open_overdue", "in_time_rate",
             "ack_median_minutes"],
            ([since, until, r.slug or "all", r.label, r.raised, r.acknowledged, r.in_time,
              r.open, r.overdue, _r(r.in_time_rate), _m(r.ack_median)]
             for r in report.escalations))
    raise ValueError(table)


def csv_filename(report: CaseReport, table: str) -> str:
    """e.g. `cases-sla-telephony-2026-04-01_2026-04-30.csv`."""
    parts = ["cases", table]
    if report.group is not None:
        parts.append(report.group.slug)
    parts.append(report.period.key)
    return "-".join(parts) + ".csv"
