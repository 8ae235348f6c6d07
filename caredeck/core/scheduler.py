"""The scheduler loop (`caredeck scheduler`, also inside `caredeck run`).

It never does the work itself. Each tick, the process holding the lease walks the one
schedule table (caredeck/schedule.py): periodic jobs whose period has passed since their
stored last run, and due-time sources whose stored due times have come. Both only
enqueue tasks. Due times and last runs live in the database, so after a restart (or a
take-over by another machine's scheduler) every clock is still right, and something that
fell due while every process was down fires once when they come back.
"""

from __future__ import annotations

import datetime
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass

from django.db import IntegrityError, close_old_connections, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from caredeck.core.models import PeriodicRun, SchedulerLease

log = logging.getLogger("caredeck.scheduler")

LEASE_NAME = "scheduler"
# A dead holder's lease runs out after this; a standby takes over on its next tick.
LEASE_SECONDS = 30


@dataclass(frozen=True)
class ScheduleEntry:
    """One row of the schedule table.

    `run` names a function (dotted path) that enqueues what is due and returns how many
    tasks it enqueued. A periodic job has `every`; a due-time source has `next_due`, a
    function returning its earliest stored due time (for `schedule list`), and is asked
    on every tick.
    """

    name: str
    description: str
    run: str
    every: datetime.timedelta | None = None
    next_due: str | None = None


def _holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def lease_acquire(holder: str, *, seconds: int = LEASE_SECONDS) -> bool:
    """Take or renew the scheduler lease. True if `holder` has it now."""
    now = timezone.now()
    expires = now + datetime.timedelta(seconds=seconds)
    renewed = SchedulerLease.objects.filter(
        Q(name=LEASE_NAME) & (Q(holder=holder) | Q(expires_at__lt=now))
    ).update(holder=holder, expires_at=expires, acquired_at=now)
    if renewed:
        return True
    try:
        with transaction.atomic():
            SchedulerLease.objects.create(
                name=LEASE_NAME, holder=holder, expires_at=expires, acquired_at=now
            )
        return True
    except IntegrityError:
        return False  # another scheduler holds an unexpired lease


def lease_release(holder: str) -> None:
    SchedulerLease.objects.filter(name=LEASE_NAME, holder=holder).delete()


def _periodic_due(entry: ScheduleEntry, now: datetime.datetime) -> bool:
    last = PeriodicRun.objects.filter(name=entry.name).values_list("last_run_at", flat=True).first()
    return last is None or now - last >= entry.every


def next_due_of(entry: ScheduleEntry) -> datetime.datetime | None:
    if entry.every is not None:
        last = PeriodicRun.objects.filter(name=entry.name).values_list(
            "last_run_at", flat=True
        ).first()
        return (last + entry.every) if last else timezone.now()
    if entry.next_due:
        return import_string(entry.next_due)()
    return None


def tick(holder: str, entries: list[ScheduleEntry] | None = None) -> dict[str, int] | None:
    """One pass over the schedule if `holder` holds the lease: enqueued counts per entry.
    None when another scheduler is active."""
    from caredeck.schedule import SCHEDULE

    if not lease_acquire(holder):
        return None
    now = timezone.now()
    enqueued: dict[str, int] = {}
    for entry in entries if entries is not None else SCHEDULE:
        if entry.every is not None and not _periodic_due(entry, now):
            continue
        try:
            enqueued[entry.name] = import_string(entry.run)()
        except Exception:
            # One failing entry must not stop the others; it is retried next tick.
            log.exception("schedule entry %s failed", entry.name)
            continue
        if entry.every is not None:
            PeriodicRun.objects.update_or_create(name=entry.name, defaults={"last_run_at": now})
    return enqueued


def run_forever(tick_seconds: float = 5.0, *, max_ticks: int | None = None) -> None:
    holder = _holder_id()
    ticks = 0
    active = False
    try:
        while max_ticks is None or ticks < max_ticks:
            close_old_connections()
            try:
                counts = tick(holder)
            except Exception:
                # The database may be briefly unreachable; keep the loop alive.
                log.exception("scheduler tick failed")
                counts = None
            if (counts is not None) != active:
                active = counts is not None
                log.info("scheduler %s is %s", holder, "active" if active else "standing by")
            for name, count in (counts or {}).items():
                if count:
                    log.info("%s enqueued %d task(s)", name, count)
            ticks += 1
            if max_ticks is None or ticks < max_ticks:
                time.sleep(tick_seconds)
    finally:
        try:
            lease_release(holder)
        except Exception:  # noqa: BLE001 - best effort; the lease expires anyway
            log.warning("could not release the scheduler lease")
