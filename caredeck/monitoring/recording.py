"""Scheduling and recording: which runs are due where, and writing their results.

Every assignment (a check at a location) carries its stored `next_run_at`. A runner (the
built-in probe, or a remote agent through the API) *leases* the due ones — the lease is
an UPDATE with a guard, so two runners never take the same run — runs them, and posts
the outcomes here in batches: one bulk insert of results, one bulk update of the
assignments, and a row lock plus a verdict only for the few checks whose location
changed its mind (hysteresis), so 10,000 checks per cycle stay cheap.

The next run is due one interval after the run *was scheduled* (not after it ended), so
the cadence does not drift; runs missed while nothing ran are skipped, not replayed.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import connections, router, transaction
from django.db.models import Q
from django.utils import timezone

from caredeck.monitoring import evaluation
from caredeck.monitoring.models import (
    Check,
    CheckAssignment,
    CheckResult,
    ProbeLocation,
)
from caredeck.topology.models import FunctionalArea

LEASE_SECONDS = 120
# What recording a run changes on its assignment.
RECORDED_FIELDS = ["consecutive_failures", "consecutive_successes", "state", "first_failure_at",
                   "last_run_at", "last_ok", "last_duration_ms", "next_run_at", "leased_until"]


@dataclass
class DueRun:
    """One leased run, as the runner needs it."""

    assignment_id: int
    check_id: int
    location_id: int
    scheduled_at: datetime.datetime
    kind: str
    target: str
    timeout: int
    retries: int
    assertions: list
    config: dict


@dataclass
class RunOutcome:
    assignment_id: int
    scheduled_at: datetime.datetime
    started_at: datetime.datetime
    ok: bool
    duration_ms: float
    status_code: int | None = None
    error: str = ""
    steps: list | None = None
    evidence: str = ""
    tls_expires_at: datetime.datetime | None = None


def lease_due(locations: list[ProbeLocation] | list[int], *, limit: int = 500,
              now: datetime.datetime | None = None) -> list[DueRun]:
    """Lease up to `limit` due runs at `locations` (ids or rows)."""
    now = now or timezone.now()
    ids = [getattr(loc, "pk", loc) for loc in locations]
    free = Q(leased_until__isnull=True) | Q(leased_until__lte=now)
    candidates = list(
        CheckAssignment.objects.filter(
            free, location_id__in=ids, next_run_at__lte=now, synthetic_check__is_active=True,
        ).order_by("next_run_at").values_list("pk", flat=True)[:limit]
    )
    if not candidates:
        return []
    until = now + datetime.timedelta(seconds=LEASE_SECONDS)
    with transaction.atomic():
        # The guard repeats the filter: a row another runner leased meanwhile is skipped.
        CheckAssignment.objects.filter(free, pk__in=candidates).update(leased_until=until)
        rows = (
            CheckAssignment.objects.filter(pk__in=candidates, leased_until=until)
            .values_list("pk", "synthetic_check_id", "location_id", "next_run_at",
                         "synthetic_check__kind", "synthetic_check__target",
                         "synthetic_check__timeout", "synthetic_check__retries",
                         "synthetic_check__assertions", "synthetic_check__config")
        )
        return [DueRun(*row) for row in rows]


def _next_run(scheduled: datetime.datetime, interval: int, now: datetime.datetime):
    step = datetime.timedelta(seconds=interval)
    following = scheduled + step
    if following <= now:  # missed runs are skipped, keeping the phase
        missed = (now - following) // step + 1
        following += step * missed
    return following


def _save_assignments(rows: list[CheckAssignment]) -> None:
    """Save RECORDED_FIELDS of each row: one `UPDATE … WHERE id = %s` run with
    `executemany` (what `bulk_update(rows, RECORDED_FIELDS)` does, without its CASE WHEN
    per field and row, whose building was most of the built-in probe's CPU at 10,000
    checks per cycle). Values go through each field's own `get_db_prep_save`."""
    if not rows:
        return
    connection = connections[router.db_for_write(CheckAssignment)]
    meta = CheckAssignment._meta
    fields = [meta.get_field(name) for name in RECORDED_FIELDS]
    quote = connection.ops.quote_name
    # Only the model's own quoted table and column names go into the text; every value
    # is a parameter.
    columns = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    sql = f"UPDATE {quote(meta.db_table)} SET {columns} WHERE {quote(meta.pk.column)} = %s"  # noqa: S608
    params = [[field.get_db_prep_save(getattr(row, field.attname), connection)
               for field in fields] + [row.pk] for row in rows]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def record(outcomes: list[RunOutcome], *, now: datetime.datetime | None = None) -> int:
    """Write a batch of outcomes. Returns how many checks changed state."""
    if not outcomes:
        return 0
    outcomes = [o if isinstance(o, RunOutcome) else RunOutcome(**o) for o in outcomes]
    now = now or timezone.now()
    by_id = {o.assignment_id: o for o in outcomes}
    assignments = {
        a.pk: a for a in CheckAssignment.objects.select_related("synthetic_check")
        .filter(pk__in=list(by_id))
    }
    results, changed_checks = [], set()
    # Every run inside a maintenance window of its tenant is flagged (passing or not),
    # each at its own start: one query for the batch.
    starts = [o.started_at for o in outcomes]
    windows = evaluation.maintenance_rows(
        {a.synthetic_check.organization_id for a in assignments.values()},
        min(starts), max(starts),
    ) if assignments else {}
    area_slugs = dict(FunctionalArea.objects.filter(
        pk__in={a.synthetic_check.area_id for a in assignments.values()}
    ).values_list("pk", "slug")) if windows else {}
    for pk, outcome in by_id.items():
        assignment = assignments.get(pk)
        if assignment is None:  # the check was deleted meanwhile
            continue
        check = assignment.synthetic_check
        maintained = evaluation.covered(windows.get(check.organization_id, []),
                                        area_slugs.get(check.area_id, ""), outcome.started_at)
        results.append(CheckResult(
            synthetic_check_id=check.pk, location_id=assignment.location_id,
            started_at=outcome.started_at, scheduled_at=outcome.scheduled_at,
            duration_ms=max(0, round(outcome.duration_ms)), ok=outcome.ok,
            in_maintenance=maintained, status_code=outcome.status_code,
            error=(outcome.error or "")[:500], steps=outcome.steps or [],
            evidence=(outcome.evidence or "")[:4000] if not outcome.ok else "",
            tls_expires_at=outcome.tls_expires_at,
        ))
        if evaluation.apply_run(assignment, check, ok=outcome.ok,
                                started_at=outcome.started_at):
            changed_checks.add(check.pk)
        assignment.last_duration_ms = max(0, round(outcome.duration_ms))
        assignment.next_run_at = _next_run(outcome.scheduled_at, check.interval, now)
        assignment.leased_until = None
    with transaction.atomic():
        CheckResult.objects.bulk_create(results, batch_size=500)
        _save_assignments([assignments[pk] for pk in by_id if pk in assignments])
    settled = 0
    for check_id in sorted(changed_checks):
        with transaction.atomic():
            check = Check.objects.select_for_update().select_related("area").get(pk=check_id)
            settled += evaluation.settle(check, now=now)
    return settled
