"""Maintenance clocks with time frozen and moved: the announcement at scheduling,
reminders 72 h, 24 h and 1 h before (not a minute early), the start at the window's
start, the end or the overrun at its end; each exactly once when the scheduler ticks
twice, when another scheduler takes over after a restart, or when a task runs twice.
Everything the clocks need is in the database."""

from __future__ import annotations

import datetime

import icalendar
import pytest
from django.core import mail

from caredeck.core.models import AuditEntry
from caredeck.core.scheduler import next_due_of, tick
from caredeck.maintenance import clocks, services
from caredeck.maintenance.models import (
    ClockKind,
    MaintenanceClock,
    MaintenanceNotice,
    MaintenanceStatus,
    NoticeKind,
)
from caredeck.maintenance.tasks import maintenance_clock_fire
from caredeck.notify.ics import uid_for
from caredeck.notify.models import Channel, OutboundMessage
from caredeck.schedule import SCHEDULE
from tests.maintenance.conftest import END, HOUR, MINUTE, START, T0

ENTRY = next(e for e in SCHEDULE if e.name == "maintenance-clocks")


def _notices(kind: str, detail: str = "") -> list[tuple[str, str]]:
    rows = MaintenanceNotice.objects.filter(kind=kind)
    if detail:
        rows = rows.filter(detail=detail)
    return sorted((n.organization.slug, n.detail) for n in rows)


def _tick_twice(holder: str = "scheduler-1") -> None:
    first = tick(holder)
    second = tick(holder)
    assert first is not None and second is not None


BOTH = ["acme", "globex"]


def test_the_schedule_lists_the_maintenance_clocks(clock, schedule):
    assert ENTRY.run == "caredeck.maintenance.clocks.enqueue_due"
    assert next_due_of(ENTRY) is None
    schedule()
    assert next_due_of(ENTRY) == START - 72 * HOUR


def test_every_notice_fires_at_its_minute_and_only_once(clock, schedule, incident_manager):
    window = schedule()
    assert _notices(NoticeKind.ANNOUNCEMENT) == [(s, "") for s in BOTH]

    reminders = [("72 h", 72 * HOUR), ("24 h", 24 * HOUR), ("1 h", HOUR)]
    for label, before in reminders:
        clock.move_to(START - before - MINUTE)
        _tick_twice()
        assert _notices(NoticeKind.REMINDER, label) == [], f"{label} reminder came early"
        clock.move_to(START - before)
        _tick_twice()
        assert _notices(NoticeKind.REMINDER, label) == [(s, label) for s in BOTH]

    clock.move_to(START - MINUTE)
    _tick_twice()
    window.refresh_from_db()
    assert window.status == MaintenanceStatus.SCHEDULED
    assert _notices(NoticeKind.START) == []

    clock.move_to(START)
    _tick_twice()
    window.refresh_from_db()
    assert (window.status, window.started_at) == (MaintenanceStatus.IN_PROGRESS, START)
    assert _notices(NoticeKind.START) == [(s, "") for s in BOTH]

    clock.move_to(END - MINUTE)
    _tick_twice()
    assert _notices(NoticeKind.OVERRUN) == []

    # Not completed by its end (no auto-completion): an overrun, reported once.
    clock.move_to(END)
    _tick_twice()
    clock.move_to(END + HOUR)
    _tick_twice()
    window.refresh_from_db()
    assert window.status == MaintenanceStatus.IN_PROGRESS and window.overrun_at == END
    assert _notices(NoticeKind.OVERRUN) == [(s, "") for s in BOTH]
    owner_alerts = OutboundMessage.objects.filter(
        event="maintenance.team", user=incident_manager, channel=Channel.EMAIL
    )
    assert sorted(m.subject.split(" MNT")[0] for m in owner_alerts) == [
        "Your maintenance", "Your maintenance"
    ]
    assert [m.dedupe_key.split(":")[2] for m in owner_alerts.order_by("pk")] == [
        "started", "overrun"
    ]
    assert "runs past its planned end" in owner_alerts.order_by("pk").last().subject
    # Nothing is left to fire until the owner completes it.
    assert clocks.next_due() is None
    (overrun,) = AuditEntry.objects.filter(object_id=window.number, action="overrun")
    assert overrun.actor_label == "system"
    assert overrun.changes == {"overrun_at": [None, END.isoformat()]}

    services.maintenance_complete(actor=incident_manager, maintenance=window)
    assert _notices(NoticeKind.END) == [(s, "") for s in BOTH]
    # Each notice was written once per tenant: no duplicate outbox rows either.
    emails = OutboundMessage.objects.filter(event="maintenance.notice", channel=Channel.EMAIL)
    assert emails.count() == 2 * (1 + 3 + 1 + 1 + 1)


def test_auto_complete_ends_the_window_with_the_end_notice(clock, schedule, incident_manager):
    window = schedule(auto_complete=True)
    clock.move_to(START)
    tick("scheduler-1")
    clock.move_to(END)
    _tick_twice()
    window.refresh_from_db()
    assert (window.status, window.completed_at) == (MaintenanceStatus.COMPLETED, END)
    assert _notices(NoticeKind.END) == [(s, "") for s in BOTH]
    assert _notices(NoticeKind.OVERRUN) == []
    alert = OutboundMessage.objects.filter(event="maintenance.team", user=incident_manager)
    assert {m.dedupe_key.split(":")[2] for m in alert} == {"started", "completed"}


def test_reminders_already_past_at_scheduling_are_skipped(clock, schedule):
    window = schedule(starts_at=T0 + 30 * HOUR, ends_at=T0 + 31 * HOUR)
    kinds = [c.kind for c in window.clocks.all()]
    assert kinds == [ClockKind.REMINDER_24H, ClockKind.REMINDER_1H, ClockKind.START, ClockKind.END]
    clock.move_to(T0 + 6 * HOUR)
    tick("scheduler-1")
    assert _notices(NoticeKind.REMINDER, "24 h") == [(s, "24 h") for s in BOTH]
    assert _notices(NoticeKind.REMINDER, "72 h") == []


def test_a_restart_and_a_second_scheduler_never_fire_twice(clock, schedule):
    window = schedule()
    clock.move_to(START - 72 * HOUR)
    assert tick("machine-a")["maintenance-clocks"] == 1
    # machine-a dies; machine-b takes over once the lease runs out, with nothing due.
    clock.move_to(START - 72 * HOUR + 31 * datetime.timedelta(seconds=1))
    assert tick("machine-b")["maintenance-clocks"] == 0
    reminder = MaintenanceClock.objects.get(maintenance=window, kind=ClockKind.REMINDER_72H)
    assert reminder.done_at == START - 72 * HOUR
    # A task enqueued twice (a tick before the worker caught up) acts once.
    assert maintenance_clock_fire.call(reminder.pk) == "gone"
    assert _notices(NoticeKind.REMINDER) == [(s, "72 h") for s in BOTH]


def test_the_end_waits_for_the_start_when_both_are_due(clock, schedule):
    window = schedule()
    clock.move_to(END + MINUTE)
    end = MaintenanceClock.objects.get(maintenance=window, kind=ClockKind.END)
    start = MaintenanceClock.objects.get(maintenance=window, kind=ClockKind.START)
    # A worker reaching the end first leaves it for later.
    assert clocks.clock_fire(clock_id=end.pk) == "waiting"
    end.refresh_from_db()
    assert end.done_at is None
    assert clocks.clock_fire(clock_id=start.pk) == "started"
    assert clocks.clock_fire(clock_id=end.pk) == "overrun"
    assert clocks.clock_fire(clock_id=end.pk) == "gone"


def test_after_an_outage_over_the_whole_window_it_starts_then_runs_over_once(clock, schedule):
    window = schedule()
    clock.move_to(END + 10 * MINUTE)
    _tick_twice()
    window.refresh_from_db()
    assert window.status == MaintenanceStatus.IN_PROGRESS
    assert window.started_at == window.overrun_at == END + 10 * MINUTE
    # "Starts in 72 h" after the window has started would be wrong: no reminder at all.
    assert _notices(NoticeKind.REMINDER) == []
    assert _notices(NoticeKind.START) == [(s, "") for s in BOTH]
    assert _notices(NoticeKind.OVERRUN) == [(s, "") for s in BOTH]


def test_after_an_outage_only_the_latest_due_reminder_goes_out(clock, schedule):
    schedule()
    clock.move_to(START - 30 * MINUTE)
    _tick_twice()
    assert _notices(NoticeKind.REMINDER) == [(s, "1 h") for s in BOTH]


def test_a_start_by_hand_leaves_the_start_clock_nothing_to_do(clock, schedule, incident_manager):
    window = schedule()
    clock.move_to(START - 20 * MINUTE)
    services.maintenance_start(actor=incident_manager, maintenance=window)
    clock.move_to(START)
    _tick_twice()
    assert _notices(NoticeKind.START) == [(s, "") for s in BOTH]
    assert not OutboundMessage.objects.filter(event="maintenance.team").exists()


def test_a_reschedule_replans_the_reminders_with_the_new_sequence(
    clock, schedule, incident_manager
):
    window = schedule()
    clock.move_to(START - 72 * HOUR)
    tick("scheduler-1")
    later = START + 48 * HOUR
    services.maintenance_update(
        actor=incident_manager, maintenance=window, starts_at=later, ends_at=later + HOUR
    )
    # The old 24 h reminder time passes without a reminder; the new 72 h one fires.
    clock.move_to(START - 24 * HOUR)
    _tick_twice()
    assert _notices(NoticeKind.REMINDER, "24 h") == []
    clock.move_to(later - 72 * HOUR)
    _tick_twice()
    reminders = MaintenanceNotice.objects.filter(kind=NoticeKind.REMINDER, detail="72 h")
    assert sorted(n.sequence for n in reminders) == [0, 0, 1, 1]


def test_a_cancelled_window_fires_nothing_more(clock, schedule, incident_manager):
    window = schedule()
    services.maintenance_cancel(actor=incident_manager, maintenance=window)
    clock.move_to(END + HOUR)
    _tick_twice()
    window.refresh_from_db()
    assert window.status == MaintenanceStatus.CANCELLED
    assert _notices(NoticeKind.REMINDER) == _notices(NoticeKind.START) == []


def test_the_invites_arrive_by_mail_through_the_scheduler(clock, schedule, contact_a):
    window = schedule()
    clock.move_to(T0 + 2 * MINUTE)  # past the outbox's pick-up grace
    tick("scheduler-1")
    (announcement,) = [m for m in mail.outbox if m.to == [contact_a.email]]
    assert announcement.subject.startswith(f"Planned maintenance {window.number}")
    ((filename, content, mimetype),) = announcement.attachments
    assert (filename, mimetype) == (f"{window.number}.ics", "text/calendar")
    calendar = icalendar.Calendar.from_ical(content)
    (event,) = calendar.walk("VEVENT")
    assert str(event["UID"]) == uid_for(window.number) and int(event["SEQUENCE"]) == 0


@pytest.mark.parametrize("kind", [ClockKind.START, ClockKind.END])
def test_a_clock_not_yet_due_does_nothing(clock, schedule, kind):
    window = schedule()
    due = MaintenanceClock.objects.get(maintenance=window, kind=kind)
    assert clocks.clock_fire(clock_id=due.pk) == "not due"
    assert clocks.enqueue_due() == 0


def test_a_failing_clock_is_postponed_and_the_error_raised(clock, schedule, monkeypatch):
    window = schedule()
    clock.move_to(START - 72 * HOUR)
    reminder = MaintenanceClock.objects.get(maintenance=window, kind=ClockKind.REMINDER_72H)

    def broken(**kwargs):
        raise RuntimeError("template missing")

    monkeypatch.setattr(services, "clock_act", broken)
    with pytest.raises(RuntimeError, match="template missing"):
        clocks.clock_fire(clock_id=reminder.pk)
    reminder.refresh_from_db()
    assert reminder.done_at is None
    assert reminder.due_at == START - 72 * HOUR + clocks.RETRY_AFTER
    # The next ticks leave it alone until then, instead of failing every five seconds.
    assert clocks.enqueue_due() == 0
    monkeypatch.undo()
    clock.move_to(reminder.due_at)
    tick("scheduler-1")
    assert _notices(NoticeKind.REMINDER) == [(s, "72 h") for s in BOTH]
