"""The built-in probe end to end against a loopback target: runs are leased, run, and
recorded; the schedule keeps its phase; a broken target turns the check down after the
configured failures from enough locations, and it comes back up."""

from __future__ import annotations

import asyncio
import datetime
import time

import pytest
import time_machine

from caredeck.monitoring.models import CheckAssignment, CheckResult, CheckState
from caredeck.monitoring.runner import DatabaseSource, Runner

pytestmark = pytest.mark.django_db(transaction=True)


def run_due() -> int:
    """One pass of the runner over what is due now."""
    runner = Runner(DatabaseSource(), concurrency=50)
    return asyncio.run(runner.loop(until=time.monotonic() + 1.5))


def test_runs_are_recorded_and_rescheduled(make_check):
    check = make_check()
    CheckAssignment.objects.update(next_run_at=datetime.datetime.now(datetime.UTC))
    assert run_due() == 2  # one run per location
    results = CheckResult.objects.filter(synthetic_check=check)
    assert results.count() == 2 and all(r.ok for r in results)
    check.refresh_from_db()
    assert check.state == CheckState.UP
    for assignment in check.assignments.all():
        assert assignment.leased_until is None
        assert assignment.next_run_at > datetime.datetime.now(datetime.UTC)


def test_a_broken_target_goes_down_after_n_failures_then_recovers(make_check, http_target):
    check = make_check(failures_to_alert=2, successes_to_recover=2, quorum=2)
    start = datetime.datetime.now(datetime.UTC)
    http_target.broken = True
    for minute in range(2):
        with time_machine.travel(start + datetime.timedelta(minutes=minute, seconds=1),
                                 tick=True):
            CheckAssignment.objects.update(next_run_at=datetime.datetime.now(datetime.UTC))
            run_due()
    check.refresh_from_db()
    assert check.state == CheckState.DOWN
    assert check.failing_since is not None and check.alert_due_at is not None
    http_target.broken = False
    for minute in range(2, 4):
        with time_machine.travel(start + datetime.timedelta(minutes=minute, seconds=1),
                                 tick=True):
            CheckAssignment.objects.update(next_run_at=datetime.datetime.now(datetime.UTC))
            run_due()
    check.refresh_from_db()
    assert check.state == CheckState.UP
    # Broken from the first run: pending → down, then back up.
    assert [c.to_state for c in check.state_changes.all()] == ["down", "up"]
