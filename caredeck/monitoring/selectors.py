"""Reads of synthetic monitoring, scoped: staff who serve every tenant see every check; a
TAM the checks of its accounts; a tenant's people their own tenant's checks."""

from __future__ import annotations

import datetime

from django.db.models import QuerySet
from django.utils import timezone

from caredeck.accounts.access import has_capability, tenants_for
from caredeck.accounts.roles import Capability
from caredeck.core.selectors import one_or_404
from caredeck.core.validation import is_id
from caredeck.maintenance.models import MaintenanceStatus, MaintenanceTenant
from caredeck.monitoring.evaluation import covers_area
from caredeck.monitoring.models import Check, CheckResult, CheckState, ProbeLocation


def checks_visible(user) -> QuerySet[Check]:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Check.objects.none()
    if has_capability(user, Capability.SERVE_ALL_TENANTS):
        return Check.objects.all()
    return Check.objects.filter(organization__in=tenants_for(user))


def check_get(user, check_id) -> Check:
    if not is_id(check_id):
        one_or_404(Check.objects.none(), "check")
    return one_or_404(checks_visible(user).select_related("organization", "area"),
                      "check", pk=int(check_id))


def locations_visible(user) -> QuerySet[ProbeLocation]:
    if has_capability(user, Capability.SERVE_ALL_TENANTS):
        return ProbeLocation.objects.select_related("pop", "region")
    return ProbeLocation.objects.none()


def results_of(check: Check, *, location=None, failures_only: bool = False):
    results = check.results.select_related("location")
    if location is not None:
        results = results.filter(location=location)
    if failures_only:
        results = results.filter(ok=False)
    return results.order_by("-started_at", "-pk")


def _maintenance_windows(check: Check, since, until) -> list[tuple]:
    """(start, end) of the tenant's maintenance windows covering the check's area."""
    rows = MaintenanceTenant.objects.filter(
        organization_id=check.organization_id, removed_at__isnull=True,
        maintenance__starts_at__lt=until, maintenance__ends_at__gt=since,
    ).exclude(maintenance__status=MaintenanceStatus.CANCELLED).values_list(
        "areas", "maintenance__starts_at", "maintenance__ends_at")
    area = check.area.slug
    return [(start, end) for areas, start, end in rows if covers_area(areas, area)]


def _subtract(intervals, holes):
    result = []
    for start, end in intervals:
        pieces = [(start, end)]
        for hole_start, hole_end in holes:
            next_pieces = []
            for a, b in pieces:
                if hole_end <= a or hole_start >= b:
                    next_pieces.append((a, b))
                    continue
                if a < hole_start:
                    next_pieces.append((a, hole_start))
                if hole_end < b:
                    next_pieces.append((hole_end, b))
            pieces = next_pieces
        result.extend(pieces)
    return result


def _down_intervals(check: Check, until: datetime.datetime) -> list[tuple]:
    """Every interval the check was down before `until`, from its state changes."""
    changes = list(check.state_changes.filter(at__lt=until).order_by("at", "pk")
                   .values_list("at", "to_state"))
    intervals, down_from = [], None
    for at, state in changes:
        if state == CheckState.DOWN and down_from is None:
            down_from = at
        elif state != CheckState.DOWN and down_from is not None:
            intervals.append((down_from, at))
            down_from = None
    if down_from is not None:
        intervals.append((down_from, until))
    return intervals


def _clip(intervals, since, until) -> list[tuple]:
    return [(max(a, since), min(b, until)) for a, b in intervals if b > since and a < until]


def _merge(intervals) -> list[tuple]:
    """Overlapping windows as one (two overlapping maintenances are not counted twice)."""
    merged: list[list] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [tuple(pair) for pair in merged]


def _seconds(intervals) -> float:
    return sum((b - a).total_seconds() for a, b in intervals)


def _availability_from(down, windows, since, until) -> float:
    """% over [since, until) from already-read down intervals and maintenance windows
    (maintenance taken out of both the downtime and the period)."""
    maintenance = _merge(_clip(windows, since, until))
    measured = max((until - since).total_seconds() - _seconds(maintenance), 1)
    lost = _seconds(_subtract(_clip(down, since, until), windows))
    return round(100 * (1 - lost / measured), 4)


def downtime(check: Check, since: datetime.datetime, until: datetime.datetime):
    """The intervals the check was down within [since, until), maintenance removed."""
    return _subtract(_clip(_down_intervals(check, until), since, until),
                     _maintenance_windows(check, since, until))


def availability(check: Check, since: datetime.datetime, until: datetime.datetime) -> float:
    """Time-based availability in % over [since, until) (maintenance excluded from both
    the downtime and the period)."""
    return _availability_from(_down_intervals(check, until),
                              _maintenance_windows(check, since, until), since, until)


def daily_bars(check: Check, days: int = 90, *, now=None) -> list[dict]:
    """90-day bars: availability per day (None before the check existed). Two queries
    for the whole period: its state changes and its maintenance windows."""
    now = now or timezone.now()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    first = today - datetime.timedelta(days=days - 1)
    down = _down_intervals(check, now)
    windows = _maintenance_windows(check, first, now)
    bars = []
    for back in range(days - 1, -1, -1):
        start = today - datetime.timedelta(days=back)
        end = min(start + datetime.timedelta(days=1), now)
        if end <= check.created_at:
            bars.append({"day": start.date(), "availability": None})
            continue
        bars.append({"day": start.date(), "availability": _availability_from(
            down, windows, max(start, check.created_at), end)})
    return bars


def latest_results(check: Check, limit: int = 50) -> list[CheckResult]:
    return list(results_of(check)[:limit])


def measured_availability(organization, since: datetime.datetime,
                          until: datetime.datetime) -> dict:
    """Availability as the synthetic checks measured it, for one tenant over
    [since, until) (from its first check on): per functional area, down while any check
    of the area was down; for the tenant, down while any check was. Maintenance windows
    covering an area are taken out of that area's downtime and period; the tenant's period
    loses only the windows that cover every area it is measured on.
    {"tenant": % or None, "areas": {slug: {"name", "availability"}}, "checks": n}."""
    checks = list(Check.objects.filter(organization=organization, created_at__lt=until)
                  .select_related("area"))
    if not checks:
        return {"tenant": None, "areas": {}, "checks": 0}
    start = max(since, min(c.created_at for c in checks))
    down_by_area: dict[str, list] = {}
    windows_by_area: dict[str, list] = {}
    for check in checks:
        area = check.area.slug
        down_by_area.setdefault(area, []).extend(_clip(_down_intervals(check, until),
                                                       start, until))
        windows_by_area.setdefault(area, _maintenance_windows(check, start, until))
    names = {check.area.slug: check.area.name for check in checks}
    areas = {area: {"name": names[area], "availability": _availability_from(
                 _merge(down), windows_by_area[area], start, until)}
             for area, down in sorted(down_by_area.items())}
    lost = _merge([piece for area, down in down_by_area.items()
                   for piece in _subtract(_merge(down), windows_by_area[area])])
    first, *others = windows_by_area.values()
    everywhere = [w for w in first if all(w in other for other in others)]
    return {"tenant": _availability_from(lost, everywhere, start, until), "areas": areas,
            "checks": len(checks)}
