"""The stored due times of maintenance windows, and acting on them.

A window has up to five clocks (`MaintenanceClock` rows): reminders 72 h, 24 h and 1 h
before its start, its start and its end. `clocks_plan` writes them when a window is
scheduled or moved; the scheduler (schedule entry "maintenance-clocks") calls
`enqueue_due` on every tick, which enqueues one task per clock whose time has come; the
task (`tasks.maintenance_clock_fire`) runs `clock_fire`, which locks the clock, checks it
is still undone, acts through the services and marks it done in the same transaction.
So two ticks, two workers or a restart in the middle never act twice, and a clock that
fell due while every process was down fires once when they are back.
"""

from __future__ import annotations

import datetime

from django.db import transaction
from django.utils import timezone

from caredeck.maintenance.models import (
    ClockKind,
    Maintenance,
    MaintenanceClock,
    MaintenanceStatus,
)
from caredeck.maintenance.notices import REMINDERS

# At most this many clocks are enqueued per tick; the rest follow on the next ones.
ENQUEUE_LIMIT = 500
# A clock whose action failed is tried again this much later (see clock_fire).
RETRY_AFTER = datetime.timedelta(minutes=5)


def clocks_plan(maintenance: Maintenance, *, now: datetime.datetime) -> list[MaintenanceClock]:
    """(Re)write the window's pending clocks from its current times.

    Clocks already acted on stay as its record. A reminder whose time has already
    passed is not planned: a "starts in 72 h" sent 10 hours before the start would be
    wrong, so a window scheduled 30 hours ahead gets only its 24 h and 1 h reminders.
    While in progress only the end is planned.
    """
    maintenance.clocks.filter(done_at__isnull=True).delete()
    planned: list[MaintenanceClock] = []
    if maintenance.status == MaintenanceStatus.SCHEDULED:
        for kind, (before, _label) in REMINDERS.items():
            due = maintenance.starts_at - before
            if due >= now:
                planned.append(MaintenanceClock(maintenance=maintenance, kind=kind, due_at=due))
        planned.append(
            MaintenanceClock(
                maintenance=maintenance, kind=ClockKind.START, due_at=maintenance.starts_at
            )
        )
    if maintenance.status in (MaintenanceStatus.SCHEDULED, MaintenanceStatus.IN_PROGRESS):
        planned.append(
            MaintenanceClock(
                maintenance=maintenance, kind=ClockKind.END, due_at=maintenance.ends_at
            )
        )
    return MaintenanceClock.objects.bulk_create(planned)


def clocks_close(
    maintenance: Maintenance,
    *,
    now: datetime.datetime,
    fulfilled: str | None = None,
    keep: tuple[str, ...] = (),
) -> None:
    """After a transition: the clock it fulfils (START on a start by hand, END on a
    completion) is marked done now; the kinds in `keep` stay planned (the end, after a
    start); every other pending clock no longer applies and is dropped (a "starts in
    1 h" reminder after the start would be wrong)."""
    pending = maintenance.clocks.filter(done_at__isnull=True)
    if fulfilled:
        pending.filter(kind=fulfilled).update(done_at=now)
    pending.exclude(kind__in=[fulfilled or "", *keep]).delete()


def pending_due(now: datetime.datetime):
    return MaintenanceClock.objects.filter(done_at__isnull=True, due_at__lte=now)


def enqueue_due() -> int:
    """Schedule entry: enqueue a task for each clock whose time has come. A clock still
    undone on the next tick (its task is queued, or waiting for the start) is enqueued
    again; the task's lock makes the extra run a no-op."""
    from caredeck.maintenance.tasks import maintenance_clock_fire

    ids = list(
        pending_due(timezone.now())
        .order_by("due_at", "pk")
        .values_list("pk", flat=True)[:ENQUEUE_LIMIT]
    )
    for clock_id in ids:
        maintenance_clock_fire.enqueue(clock_id)
    return len(ids)


def next_due() -> datetime.datetime | None:
    """Schedule entry: the earliest stored due time of a pending clock."""
    return (
        MaintenanceClock.objects.filter(done_at__isnull=True)
        .order_by("due_at")
        .values_list("due_at", flat=True)
        .first()
    )


def clock_fire(*, clock_id: int) -> str:
    """Act on one clock, once. Returns what happened (the task's result, for the log).

    Locks the window, then the clock (the order the services lock in), re-checks that
    the clock is still undone, acts and marks it done in one transaction. If acting
    fails, nothing of it is kept; the clock is pushed RETRY_AFTER ahead, so one broken
    window cannot make every tick fail again, and the error is raised for the log."""
    from caredeck.maintenance import services

    try:
        with transaction.atomic():
            now = timezone.now()
            window_id = (
                MaintenanceClock.objects.filter(pk=clock_id, done_at__isnull=True)
                .values_list("maintenance_id", flat=True)
                .first()
            )
            if window_id is None:
                # Done by another tick or worker, or dropped by a reschedule or a transition.
                return "gone"
            maintenance = Maintenance.objects.select_for_update().get(pk=window_id)
            clock = (
                MaintenanceClock.objects.select_for_update()
                .filter(pk=clock_id, done_at__isnull=True)
                .first()
            )
            if clock is None:
                return "gone"
            if clock.due_at > now:
                return "not due"
            if services.clock_must_wait(maintenance=maintenance, clock=clock):
                return "waiting"
            # Guarded claim: on a database without row locks, the loser of a race
            # updates nothing and stops here ("another worker got there first").
            claimed = MaintenanceClock.objects.filter(
                pk=clock.pk, done_at__isnull=True
            ).update(done_at=now)
            if not claimed:
                return "gone"
            clock.done_at = now
            return services.clock_act(maintenance=maintenance, clock=clock, now=now)
    except Exception:
        MaintenanceClock.objects.filter(pk=clock_id, done_at__isnull=True).update(
            due_at=timezone.now() + RETRY_AFTER
        )
        raise
