"""From results to verdicts: hysteresis per location, k-of-n per check, maintenance
suppression, and agent silence. Pure bookkeeping on rows the caller has locked.

- A location goes **down** for a check after `failures_to_alert` consecutive failed runs
  and comes back **up** after `successes_to_recover` consecutive successes.
- The check goes down when at least k = min(quorum, n) of its n reporting locations
  say down, and comes back up when that is no longer so and at least one location is up.
  A silent agent's location does not vote (its silence is its own alert).
- A check going down inside a maintenance window of its tenant never alerts.
"""

from __future__ import annotations

import datetime

from django.db.models import Q
from django.utils import timezone

from caredeck.maintenance.models import MaintenanceStatus, MaintenanceTenant
from caredeck.monitoring.models import Check, CheckAssignment, CheckState, StateChange


def apply_run(assignment: CheckAssignment, check: Check, *, ok: bool,
              started_at: datetime.datetime) -> bool:
    """Count one run at one location; returns True when the location's verdict changed."""
    before = assignment.state
    if ok:
        assignment.consecutive_successes += 1
        assignment.consecutive_failures = 0
        if assignment.state != CheckState.UP and (
            assignment.consecutive_successes >= check.successes_to_recover
            or assignment.state == CheckState.PENDING
        ):
            assignment.state = CheckState.UP
            assignment.first_failure_at = None
    else:
        # The failure begins at its first failed run: counted afresh after a success,
        # but kept while the location is down (a success short of M does not end it).
        if assignment.consecutive_failures == 0 and (
            assignment.state != CheckState.DOWN or assignment.first_failure_at is None
        ):
            assignment.first_failure_at = started_at
        assignment.consecutive_failures += 1
        assignment.consecutive_successes = 0
        if (assignment.state != CheckState.DOWN
                and assignment.consecutive_failures >= check.failures_to_alert):
            assignment.state = CheckState.DOWN
    assignment.last_ok = ok
    assignment.last_run_at = started_at
    return assignment.state != before


def covers_area(areas, area: str) -> bool:
    """A maintenance tenant row's `areas` covers `area`: empty means the whole tenant;
    the entries are the scope's area cells ({"area": slug, ...}) or plain slugs."""
    if not areas:
        return True
    return any((a.get("area") if isinstance(a, dict) else a) == area for a in areas)


def maintenance_rows(organization_ids, since: datetime.datetime,
                     until: datetime.datetime | None = None) -> dict[int, list[tuple]]:
    """Per tenant, the windows that may cover an instant in [since, until]: (status,
    starts_at, ends_at, areas). One query for a batch of results."""
    until = until or since
    rows = MaintenanceTenant.objects.filter(
        organization_id__in=list(organization_ids), removed_at__isnull=True,
    ).filter(
        Q(maintenance__status=MaintenanceStatus.IN_PROGRESS)
        | Q(maintenance__status=MaintenanceStatus.SCHEDULED, maintenance__starts_at__lte=until,
            maintenance__ends_at__gt=since)
    ).values_list("organization_id", "maintenance__status", "maintenance__starts_at",
                  "maintenance__ends_at", "areas")
    found: dict[int, list[tuple]] = {}
    for organization_id, *window in rows:
        found.setdefault(organization_id, []).append(tuple(window))
    return found


def covered(windows: list[tuple], area: str, at: datetime.datetime) -> bool:
    """One of `windows` (from maintenance_rows) covers `area` at `at`."""
    return any(
        covers_area(areas, area)
        and (status == MaintenanceStatus.IN_PROGRESS or starts_at <= at < ends_at)
        for status, starts_at, ends_at, areas in windows
    )


def in_maintenance(check: Check, at: datetime.datetime) -> bool:
    """A maintenance window of the check's tenant covers `at` (in progress, or scheduled
    with `at` inside its times) and the check's area (or the whole tenant)."""
    windows = maintenance_rows([check.organization_id], at).get(check.organization_id, [])
    area = check.area.slug if check.area_id else ""
    return covered(windows, area, at)


def verdict(check: Check) -> tuple[str, datetime.datetime | None, str]:
    """(state, failing since, reason) from the check's voting locations."""
    voting = list(
        CheckAssignment.objects.filter(synthetic_check=check, location__is_active=True,
                                       location__silent_since__isnull=True)
        .values_list("state", "first_failure_at", "location__name")
    )
    n = len(voting)
    if n == 0:
        return CheckState.PENDING, None, "no location reports"
    k = min(check.quorum, n)
    down = [(first, name) for state, first, name in voting if state == CheckState.DOWN]
    up = [name for state, _, name in voting if state == CheckState.UP]
    if len(down) >= k:
        since = min((first for first, _ in down if first), default=None)
        names = ", ".join(sorted(name for _, name in down))
        return CheckState.DOWN, since, f"down from {len(down)} of {n} locations ({names})"
    if up:
        return CheckState.UP, None, f"up from {len(up)} of {n} locations"
    return CheckState.PENDING, None, "waiting for results"


def settle(check: Check, *, now: datetime.datetime | None = None) -> bool:
    """Set the check's state from its locations; on a change, record it and (going down
    outside maintenance) start the correlation window before the alert. Returns True
    when the state changed. The caller holds the check's row lock and saves nothing
    else: this saves the check."""
    from django.conf import settings

    now = now or timezone.now()
    state, since, reason = verdict(check)
    if state == check.state:
        return False
    StateChange.objects.create(synthetic_check=check, at=now, from_state=check.state,
                               to_state=state, reason=reason[:300])
    previous = check.state
    check.state = state
    check.state_since = now
    if state == CheckState.DOWN:
        check.failing_since = since or now
        if in_maintenance(check, now):
            check.alert_due_at = None
        else:
            check.alert_due_at = now + datetime.timedelta(
                seconds=settings.MONITORING_CORRELATION_SECONDS)
    else:
        check.failing_since = None
        check.alert_due_at = None
    check.save(update_fields=["state", "state_since", "failing_since", "alert_due_at"])
    if previous == CheckState.DOWN and state == CheckState.UP and check.incident_id:
        from caredeck.monitoring.alerts import recovered

        recovered(check, now)
    return True
