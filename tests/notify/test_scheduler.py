"""The scheduler: one active process by lease, periodic jobs that keep their rhythm across
restarts, stored due times that fire once after an outage, and `schedule list`."""

from __future__ import annotations

import datetime
import io

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError

from caredeck.core.models import PeriodicRun, SchedulerLease
from caredeck.core.scheduler import (
    LEASE_SECONDS,
    ScheduleEntry,
    lease_acquire,
    lease_release,
    next_due_of,
    run_forever,
    tick,
)
from caredeck.notify import services
from caredeck.notify.models import Channel, MessageStatus, OutboundMessage
from caredeck.schedule import SCHEDULE
from tests.factories import UserFactory

T0 = datetime.datetime(2030, 3, 4, 9, 0, tzinfo=datetime.UTC)
SECOND = datetime.timedelta(seconds=1)

RUNS: list[datetime.datetime] = []


def record_run() -> int:
    from django.utils import timezone

    RUNS.append(timezone.now())
    return 1


def broken_run() -> int:
    raise RuntimeError("this entry is broken")


HOURLY = ScheduleEntry(
    name="test-hourly", description="A test job.", run="tests.notify.test_scheduler.record_run",
    every=datetime.timedelta(hours=1),
)
BROKEN = ScheduleEntry(
    name="test-broken", description="Fails.", run="tests.notify.test_scheduler.broken_run",
    every=datetime.timedelta(hours=1),
)


@pytest.fixture(autouse=True)
def _clear_runs():
    RUNS.clear()


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


# --- The lease -----------------------------------------------------------------------------


def test_only_one_holder_gets_the_lease(db, clock):
    assert lease_acquire("machine-a")
    assert not lease_acquire("machine-b")
    assert lease_acquire("machine-a")  # renewing
    lease = SchedulerLease.objects.get()
    expires = T0 + datetime.timedelta(seconds=LEASE_SECONDS)
    assert (lease.holder, lease.expires_at) == ("machine-a", expires)


def test_standby_takes_over_after_the_holder_stops_renewing(db, clock):
    assert tick("machine-a", entries=[]) == {}
    assert tick("machine-b", entries=[]) is None
    # A renews every tick: B stays on standby past A's first expiry.
    clock.shift(datetime.timedelta(seconds=20))
    assert tick("machine-a", entries=[]) == {}
    clock.shift(datetime.timedelta(seconds=20))
    assert tick("machine-b", entries=[]) is None
    # A dies (stops renewing). B takes over once the lease ran out, well within a minute.
    clock.shift(datetime.timedelta(seconds=LEASE_SECONDS - 20))
    assert tick("machine-b", entries=[]) is None  # exactly at the expiry: not yet
    clock.shift(SECOND)
    assert tick("machine-b", entries=[]) == {}
    assert SchedulerLease.objects.get().holder == "machine-b"
    # A comes back and finds itself on standby.
    assert tick("machine-a", entries=[]) is None
    assert LEASE_SECONDS <= 60


def test_released_lease_is_taken_at_once(db, clock):
    assert lease_acquire("machine-a")
    lease_release("machine-a")
    assert lease_acquire("machine-b")
    lease_release("machine-a")  # not A's any more: B keeps it
    assert SchedulerLease.objects.get().holder == "machine-b"


def test_standby_runs_nothing(db, clock):
    assert lease_acquire("machine-a")
    assert tick("machine-b", entries=[HOURLY]) is None
    assert RUNS == []
    assert not PeriodicRun.objects.exists()


def test_run_forever_releases_the_lease_on_exit(db, clock, monkeypatch):
    # The loop recycles old connections each tick; inside a test transaction (and with
    # the clock moved years ahead) that would close the test's own connection.
    monkeypatch.setattr("caredeck.core.scheduler.close_old_connections", lambda: None)
    run_forever(0, max_ticks=1)
    assert not SchedulerLease.objects.exists()
    assert PeriodicRun.objects.filter(name="task-results-prune").exists()


# --- Periodic jobs -------------------------------------------------------------------------


def test_periodic_job_runs_once_per_period_across_restarts(db, clock):
    assert tick("process-1", entries=[HOURLY]) == {"test-hourly": 1}
    clock.shift(datetime.timedelta(minutes=30))
    assert tick("process-1", entries=[HOURLY]) == {}
    clock.shift(datetime.timedelta(minutes=29))
    assert tick("process-1", entries=[HOURLY]) == {}
    clock.shift(datetime.timedelta(minutes=1))
    assert tick("process-1", entries=[HOURLY]) == {"test-hourly": 1}
    assert [T0, T0 + datetime.timedelta(hours=1)] == RUNS

    # Restart: process 1 is gone (its lease expires), process 2 starts 40 minutes later.
    clock.shift(datetime.timedelta(minutes=40))
    assert tick("process-2", entries=[HOURLY]) == {}  # the last run is stored: not due
    clock.shift(datetime.timedelta(minutes=20))
    assert tick("process-2", entries=[HOURLY]) == {"test-hourly": 1}
    assert [T0, T0 + datetime.timedelta(hours=1), T0 + datetime.timedelta(hours=2)] == RUNS
    last_run = PeriodicRun.objects.get(name="test-hourly").last_run_at
    assert last_run == T0 + datetime.timedelta(hours=2)


def test_a_failing_entry_does_not_stop_the_others_and_is_retried(db, clock):
    assert tick("process-1", entries=[BROKEN, HOURLY]) == {"test-hourly": 1}
    assert not PeriodicRun.objects.filter(name="test-broken").exists()  # due again next tick
    assert RUNS == [T0]


def test_the_real_schedule_prunes_every_6_hours(db, clock):
    assert "task-results-prune" in tick("process-1")
    clock.shift(datetime.timedelta(hours=5, minutes=59))
    assert "task-results-prune" not in tick("process-1")
    clock.shift(datetime.timedelta(minutes=1))
    assert "task-results-prune" in tick("process-1")


# --- Stored due times ----------------------------------------------------------------------


class RecordingTask:
    """Stands in for the delivery task: records what is enqueued, delivers nothing."""

    def __init__(self):
        self.batches: list[list[int]] = []

    def enqueue(self, message_ids):
        self.batches.append(list(message_ids))


def _message_left_failed_during_outage(user) -> OutboundMessage:
    """A failed e-mail whose retry fell due 2 h ago, while no process was running."""
    return OutboundMessage.objects.create(
        dedupe_key=f"outage:{user.pk}:email", channel=Channel.EMAIL, event="access.requested",
        user=user, recipient=user.email, subject="Due during the outage", body_text="Hello",
        status=MessageStatus.FAILED, attempts=3, last_error="ConnectionRefusedError",
        created_at=T0 - datetime.timedelta(hours=3),
        next_attempt_at=T0 - datetime.timedelta(hours=2),
    )


def test_due_while_everything_was_down_is_enqueued_once(db, clock, monkeypatch):
    message = _message_left_failed_during_outage(UserFactory())
    task = RecordingTask()
    monkeypatch.setattr("caredeck.notify.tasks.deliver_messages", task)

    # Both schedulers come back; each ticks twice before the worker gets to the task.
    counts = tick("machine-a")
    assert counts["outbox-delivery"] == 1
    assert set(counts) == {entry.name for entry in SCHEDULE}  # every entry was asked
    assert sum(counts.values()) == 1
    assert tick("machine-b") is None
    assert tick("machine-a")["outbox-delivery"] == 0
    clock.shift(datetime.timedelta(seconds=5))
    assert tick("machine-a")["outbox-delivery"] == 0
    assert task.batches == [[message.pk]]
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED
    # The enqueued task was lost too: after the pick-up grace it is enqueued again.
    clock.shift(datetime.timedelta(seconds=60))
    assert tick("machine-a")["outbox-delivery"] == 1
    assert task.batches == [[message.pk], [message.pk]]


def test_due_while_everything_was_down_is_delivered_once(db, clock):
    message = _message_left_failed_during_outage(UserFactory(email="waiting@acme.test"))
    assert tick("machine-a")["outbox-delivery"] == 1
    assert tick("machine-a")["outbox-delivery"] == 0
    clock.shift(datetime.timedelta(hours=1))
    assert tick("machine-a")["outbox-delivery"] == 0
    assert [m.to for m in mail.outbox] == [["waiting@acme.test"]]
    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.SENT, 4)


def test_not_yet_due_is_left_alone(db, clock, monkeypatch):
    task = RecordingTask()
    monkeypatch.setattr("caredeck.notify.tasks.deliver_messages", task)
    message = _message_left_failed_during_outage(UserFactory())
    OutboundMessage.objects.filter(pk=message.pk).update(next_attempt_at=T0 + SECOND)
    assert tick("machine-a")["outbox-delivery"] == 0
    assert services.outbox_next_due() == T0 + SECOND
    clock.shift(SECOND)
    assert tick("machine-a")["outbox-delivery"] == 1
    assert task.batches == [[message.pk]]


def test_due_messages_are_enqueued_in_batches(db, clock, settings, monkeypatch):
    settings.OUTBOX_BATCH_SIZE = 4
    task = RecordingTask()
    monkeypatch.setattr("caredeck.notify.tasks.deliver_messages", task)
    for i in range(10):
        _message_left_failed_during_outage(UserFactory(email=f"p{i}@acme.test"))
    assert tick("machine-a")["outbox-delivery"] == 10
    assert [len(b) for b in task.batches] == [4, 4, 2]
    assert len({pk for b in task.batches for pk in b}) == 10


def test_sent_and_dead_messages_are_never_due(db, clock, monkeypatch):
    task = RecordingTask()
    monkeypatch.setattr("caredeck.notify.tasks.deliver_messages", task)
    for status in (MessageStatus.SENT, MessageStatus.DEAD):
        message = _message_left_failed_during_outage(UserFactory())
        OutboundMessage.objects.filter(pk=message.pk).update(status=status)
    assert tick("machine-a")["outbox-delivery"] == 0
    assert services.outbox_next_due() is None
    assert task.batches == []


# --- schedule list / tick ------------------------------------------------------------------


def test_schedule_list_shows_every_entry_with_its_next_due_time(db, clock):
    message = _message_left_failed_during_outage(UserFactory())
    OutboundMessage.objects.filter(pk=message.pk).update(
        next_attempt_at=T0 + datetime.timedelta(minutes=7)
    )
    PeriodicRun.objects.create(
        name="task-results-prune", last_run_at=T0 - datetime.timedelta(hours=1)
    )
    out = io.StringIO()
    call_command("schedule", "list", stdout=out)
    text = out.getvalue()
    assert len(SCHEDULE) >= 2
    lines = text.splitlines()
    for entry in SCHEDULE:
        (line,) = [line for line in lines if line.startswith(entry.name + " ")]
        due = next_due_of(entry)
        # A clock source with nothing stored (no incident open here) has no due time.
        assert due is not None or entry.next_due, entry.name
        if due is not None:
            assert f"{due:%Y-%m-%d %H:%M:%S}" in line
        assert entry.description in text
    assert "2030-03-04 09:07:00" in text  # the message's retry
    assert "2030-03-04 14:00:00" in text  # the prune job: 6 h after its last run
    assert "every 21600s" in text
    assert "No scheduler is active." in text

    lease_acquire("machine-a")
    out = io.StringIO()
    call_command("schedule", "list", stdout=out)
    assert "Active scheduler: machine-a" in out.getvalue()


def test_schedule_list_on_a_fresh_install(db, clock):
    out = io.StringIO()
    call_command("schedule", "list", stdout=out)
    text = out.getvalue()
    for entry in SCHEDULE:
        assert entry.name in text
    assert "nothing due" in text  # an empty outbox
    assert "now (due since 2030-03-04 09:00:00)" in text  # a job that never ran


def test_schedule_tick_command(db, clock):
    out = io.StringIO()
    call_command("schedule", "tick", stdout=out)
    assert "outbox-delivery: enqueued 0" in out.getvalue()
    assert "task-results-prune: enqueued 0" in out.getvalue()
    lease_release("manual-tick")
    lease_acquire("machine-a")
    with pytest.raises(CommandError, match="Another scheduler holds the lease"):
        call_command("schedule", "tick", stdout=io.StringIO())
