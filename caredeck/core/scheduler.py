"""The scheduler loop (`caredeck scheduler`, also inside `caredeck run`).

It never does the work itself: each tick it asks the periodic jobs what is due and
enqueues tasks for it, so a restart loses nothing (due times live in the database).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import close_old_connections

log = logging.getLogger("caredeck.scheduler")


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every_seconds: int
    run: Callable[[], int]  # returns how many tasks it enqueued


def _outbox_sweep() -> int:
    """Re-enqueue outbox rows whose delivery is due (retries, or a lost enqueue)."""
    from caredeck.notify.services import messages_due
    from caredeck.notify.tasks import deliver_message

    due = messages_due()
    for message_id in due:
        deliver_message.enqueue(message_id)
    return len(due)


PERIODIC_JOBS: list[PeriodicJob] = [
    PeriodicJob("outbox-sweep", 60, _outbox_sweep),
]


def run_forever(tick_seconds: float = 5.0, *, max_ticks: int | None = None) -> None:
    last_run: dict[str, float] = {}
    ticks = 0
    while max_ticks is None or ticks < max_ticks:
        now = time.monotonic()
        for job in PERIODIC_JOBS:
            if now - last_run.get(job.name, float("-inf")) < job.every_seconds:
                continue
            last_run[job.name] = now
            close_old_connections()
            try:
                enqueued = job.run()
            except Exception:
                # One failing job must not stop the others; it runs again next period.
                log.exception("periodic job %s failed", job.name)
                continue
            if enqueued:
                log.info("%s enqueued %d task(s)", job.name, enqueued)
        ticks += 1
        if max_ticks is None or ticks < max_ticks:
            time.sleep(tick_seconds)
