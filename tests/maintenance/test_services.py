"""Maintenance services: validation field by field, the state table's 409s, scope by a
failed element and by chosen tenants, each tenant's notice in its own words only, the
invite's SEQUENCE on reschedule and METHOD:CANCEL on cancel, scope changes, the audit."""

from __future__ import annotations

import datetime

import icalendar
import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from caredeck.core.exceptions import Conflict
from caredeck.core.models import AuditEntry
from caredeck.maintenance import services
from caredeck.maintenance.models import (
    ClockKind,
    MaintenanceClock,
    MaintenanceNotice,
    MaintenanceStatus,
    NoticeKind,
)
from caredeck.notify.ics import uid_for
from caredeck.notify.models import Channel, OutboundMessage
from tests.maintenance.conftest import END, HOUR, MINUTE, START, T0


def _errors(excinfo) -> dict:
    return excinfo.value.message_dict


def _invite(message: OutboundMessage):
    (attachment,) = message.attachments
    assert attachment["mimetype"] == "text/calendar"
    calendar = icalendar.Calendar.from_ical(attachment["content"])
    (event,) = calendar.walk("VEVENT")
    return calendar, event


def _emails(kind_key: str, to: str) -> list[OutboundMessage]:
    return list(
        OutboundMessage.objects.filter(
            channel=Channel.EMAIL, recipient=to, dedupe_key__contains=f":{kind_key}:"
        ).order_by("pk")
    )


# --- Who may schedule ---------------------------------------------------------------------


@pytest.mark.parametrize("who", ["admin_a", "contact_a", "care_analyst", "tam"])
def test_only_people_who_run_maintenance_schedule_it(request, clock, schedule, who):
    with pytest.raises(PermissionDenied):
        schedule(actor=request.getfixturevalue(who))
    assert not MaintenanceNotice.objects.exists()


# --- Validation -----------------------------------------------------------------------------


def test_bad_input_is_reported_field_by_field(clock, schedule):
    with pytest.raises(ValidationError) as excinfo:
        schedule(title="  ", impact="", ends_at=START - HOUR, failure={"target": "atlantis"})
    errors = _errors(excinfo)
    assert set(errors) == {"title", "impact", "ends_at", "failure"}
    assert errors["ends_at"] == ["The end must be after the start."]
    assert "atlantis" in errors["failure"][0] or "No" in errors["failure"][0]


def test_a_start_in_the_past_is_refused(clock, schedule):
    with pytest.raises(ValidationError) as excinfo:
        schedule(starts_at=T0 - MINUTE, ends_at=T0 + HOUR)
    assert list(_errors(excinfo)) == ["starts_at"]


def test_naive_times_and_non_times_are_field_errors(clock, schedule):
    with pytest.raises(ValidationError) as excinfo:
        schedule(starts_at=START.replace(tzinfo=None), ends_at="tomorrow")
    assert set(_errors(excinfo)) == {"starts_at", "ends_at"}


def test_an_unknown_tenant_or_area_is_a_field_error(clock, schedule):
    with pytest.raises(ValidationError) as excinfo:
        schedule(failure=None, organizations=["acme", "nobody"])
    assert "nobody" in _errors(excinfo)["organizations"][0]
    with pytest.raises(ValidationError) as excinfo:
        schedule(failure=None, organizations=["acme"], areas=["teleportation"])
    assert list(_errors(excinfo)) == ["areas"]


def test_two_scopes_at_once_are_refused(clock, schedule):
    with pytest.raises(ValidationError) as excinfo:
        schedule(organizations=["acme"])
    assert list(_errors(excinfo)) == ["failure"]


def test_the_owner_must_be_staff_who_run_maintenance(clock, schedule, care_analyst):
    with pytest.raises(ValidationError) as excinfo:
        schedule(owner=care_analyst)
    assert list(_errors(excinfo)) == ["owner"]


# --- Scope ----------------------------------------------------------------------------------


def test_scope_by_failed_element_uses_the_impact_analysis(clock, schedule, tenant_a, tenant_b):
    region = schedule(failure={"target": "us-east"})
    assert [r.organization for r in region.tenants.all()] == [tenant_a]
    assert region.failure_target == "us-east" and region.failure_type == "region_failure"

    pop = schedule()
    rows = {r.organization.slug: r for r in pop.tenants.all()}
    assert set(rows) == {"acme", "globex"}
    assert {a["area"] for a in rows["acme"].areas} == {"call_routing", "agent_login", "reporting"}
    assert {a["area"] for a in rows["globex"].areas} == {"call_routing", "agent_login"}
    # Private line and internet feel the PoP differently.
    assert rows["acme"].impact_text != rows["globex"].impact_text
    assert rows["globex"].impact_text.startswith("Agent login: ")


def test_scope_by_chosen_tenants_and_areas(clock, schedule, tenant_b):
    window = schedule(failure=None, organizations=["globex"], areas=["call_routing"])
    (row,) = window.tenants.all()
    assert row.organization == tenant_b
    assert [a["area"] for a in row.areas] == ["call_routing"]
    assert window.failure_target == ""


def test_a_failed_element_nobody_uses_schedules_without_notices(clock, schedule):
    window = schedule(failure={"target": "eu-east"})
    assert window.tenants.count() == 0
    assert not OutboundMessage.objects.exists()


# --- The announcement -----------------------------------------------------------------------


def test_the_announcement_carries_the_invite_and_clocks_are_planned(
    clock, schedule, contact_a, contact_b
):
    window = schedule()
    (email,) = _emails("announcement", contact_a.email)
    calendar, event = _invite(email)
    assert str(calendar["METHOD"]) == "REQUEST"
    assert str(event["UID"]) == uid_for(window.number)
    assert int(event["SEQUENCE"]) == 0
    assert event.decoded("DTSTART") == START and event.decoded("DTEND") == END
    # The in-app copy carries no attachment.
    in_app = OutboundMessage.objects.get(channel=Channel.IN_APP, user=contact_a)
    assert in_app.attachments == []
    notices = MaintenanceNotice.objects.filter(maintenance=window)
    assert sorted(n.organization.slug for n in notices) == ["acme", "globex"]
    assert {(n.kind, n.sequence) for n in notices} == {(NoticeKind.ANNOUNCEMENT, 0)}
    assert all(n.recipients == 2 for n in notices)  # e-mail + in-app to the one contact
    assert [(c.kind, c.due_at) for c in window.clocks.all()] == [
        (ClockKind.REMINDER_72H, START - 72 * HOUR),
        (ClockKind.REMINDER_24H, START - 24 * HOUR),
        (ClockKind.REMINDER_1H, START - HOUR),
        (ClockKind.START, START),
        (ClockKind.END, END),
    ]


def test_each_tenant_reads_only_its_own_story(clock, schedule, contact_a, contact_b):
    window = schedule()
    rows = {r.organization.slug: r for r in window.tenants.all()}
    a_only = [
        line for line in rows["acme"].impact_text.splitlines()
        if line not in rows["globex"].impact_text
    ]
    assert a_only, "the test needs a line of A's text that B's does not have"
    b_messages = OutboundMessage.objects.filter(organization__slug="globex")
    assert b_messages.count() == 2
    for message in b_messages:
        seen = f"{message.subject}\n{message.body_text}\n{message.body_html}"
        assert "Globex Insurance" in seen
        assert "Acme" not in seen and "acme" not in seen
        for line in a_only:
            assert line not in seen
    a_email = OutboundMessage.objects.get(organization__slug="acme", channel=Channel.EMAIL)
    assert "Globex" not in a_email.body_text and a_only[0] in a_email.body_text
    # The shared invite names no tenant and no attendee.
    _, event = _invite(a_email)
    assert "ATTENDEE" not in event
    assert "Acme" not in event.to_ical().decode() and "Globex" not in event.to_ical().decode()


def test_times_read_in_the_tenants_support_time_zone(clock, schedule, tenant_a, contact_a):
    tenant_a.contract.support_timezone = "Europe/Berlin"
    tenant_a.contract.save()
    schedule()
    (email,) = _emails("announcement", contact_a.email)
    assert "Starts: Sat 2030-06-08 10:00 CEST (08:00 UTC)" in email.body_text


def test_webhooks_get_the_tenants_own_data(clock, schedule, tenant_b):
    from caredeck.notify.models import WebhookEndpoint

    WebhookEndpoint.objects.create(
        organization=tenant_b, name="Ops", url="https://hooks.globex.test/x", events=[]
    )
    schedule()
    hook = OutboundMessage.objects.get(channel=Channel.WEBHOOK)
    assert hook.organization == tenant_b
    assert hook.payload["kind"] == "announcement"
    assert hook.payload["areas"] == ["agent_login", "call_routing"]
    assert "Acme" not in str(hook.payload) and "reporting" not in str(hook.payload)


# --- The state table --------------------------------------------------------------------------


def test_a_window_in_progress_cannot_be_cancelled(clock, schedule, incident_manager):
    window = schedule()
    clock.move_to(START)
    services.maintenance_start(actor=incident_manager, maintenance=window)
    with pytest.raises(Conflict, match="in progress"):
        services.maintenance_cancel(actor=incident_manager, maintenance=window)
    window.refresh_from_db()
    assert window.status == MaintenanceStatus.IN_PROGRESS


def test_forbidden_moves_answer_conflict_with_the_reason(clock, schedule, incident_manager):
    window = schedule()
    with pytest.raises(Conflict, match="not started yet"):
        services.maintenance_complete(actor=incident_manager, maintenance=window)
    services.maintenance_cancel(actor=incident_manager, maintenance=window, reason="No change")
    for act in (services.maintenance_start, services.maintenance_complete,
                services.maintenance_cancel):
        with pytest.raises(Conflict):
            act(actor=incident_manager, maintenance=window)
    with pytest.raises(Conflict, match="no longer changes"):
        services.maintenance_update(actor=incident_manager, maintenance=window, title="x")


def test_starting_long_before_the_announced_time_is_refused(clock, schedule, incident_manager):
    window = schedule()
    clock.move_to(START - 61 * MINUTE)
    with pytest.raises(Conflict, match="reschedule"):
        services.maintenance_start(actor=incident_manager, maintenance=window)
    clock.move_to(START - 59 * MINUTE)
    services.maintenance_start(actor=incident_manager, maintenance=window)
    window.refresh_from_db()
    assert window.status == MaintenanceStatus.IN_PROGRESS
    assert window.started_at == START - 59 * MINUTE


def test_start_and_complete_by_hand_send_their_notices_and_close_the_clocks(
    clock, schedule, incident_manager, contact_b
):
    window = schedule()
    clock.move_to(START - 30 * MINUTE)
    services.maintenance_start(actor=incident_manager, maintenance=window)
    assert len(_emails("start", contact_b.email)) == 1
    pending = MaintenanceClock.objects.filter(maintenance=window, done_at__isnull=True)
    # The 1 h reminder would now be wrong; only the end is left.
    assert [c.kind for c in pending] == [ClockKind.END]
    assert MaintenanceClock.objects.get(maintenance=window, kind=ClockKind.START).done_at == (
        START - 30 * MINUTE
    )
    clock.move_to(START + HOUR)
    services.maintenance_complete(actor=incident_manager, maintenance=window)
    window.refresh_from_db()
    assert window.status == MaintenanceStatus.COMPLETED and window.completed_at == START + HOUR
    assert len(_emails("end", contact_b.email)) == 1
    assert not MaintenanceClock.objects.filter(maintenance=window, done_at__isnull=True).exists()


# --- Reschedule and cancel ---------------------------------------------------------------------


def test_reschedule_resends_the_invite_with_a_higher_sequence_and_replans(
    clock, schedule, incident_manager, contact_a
):
    window = schedule()
    later = START + datetime.timedelta(days=2)
    services.maintenance_update(
        actor=incident_manager, maintenance=window, starts_at=later, ends_at=later + 3 * HOUR
    )
    window.refresh_from_db()
    assert window.sequence == 1
    (email,) = _emails("rescheduled", contact_a.email)
    calendar, event = _invite(email)
    assert str(calendar["METHOD"]) == "REQUEST"
    assert str(event["UID"]) == uid_for(window.number)
    assert int(event["SEQUENCE"]) == 1
    assert event.decoded("DTSTART") == later
    assert "moved" in email.subject
    pending = MaintenanceClock.objects.filter(maintenance=window, done_at__isnull=True)
    assert [(c.kind, c.due_at) for c in pending] == [
        (ClockKind.REMINDER_72H, later - 72 * HOUR),
        (ClockKind.REMINDER_24H, later - 24 * HOUR),
        (ClockKind.REMINDER_1H, later - HOUR),
        (ClockKind.START, later),
        (ClockKind.END, later + 3 * HOUR),
    ]
    assert AuditEntry.objects.filter(object_id=window.number, action="rescheduled").exists()


def test_a_text_change_alone_sends_nothing(clock, schedule, incident_manager):
    window = schedule()
    before = OutboundMessage.objects.count()
    services.maintenance_update(actor=incident_manager, maintenance=window, title="New title")
    window.refresh_from_db()
    assert (window.title, window.sequence) == ("New title", 0)
    assert OutboundMessage.objects.count() == before
    entry = AuditEntry.objects.get(object_id=window.number, action="updated")
    assert entry.changes == {"title": ["Edge router upgrade", "New title"]}


def test_reschedule_validates_like_scheduling(clock, schedule, incident_manager):
    window = schedule()
    with pytest.raises(ValidationError) as excinfo:
        services.maintenance_update(
            actor=incident_manager, maintenance=window, starts_at=T0 - HOUR
        )
    assert list(_errors(excinfo)) == ["starts_at"]
    with pytest.raises(ValidationError) as excinfo:
        services.maintenance_update(actor=incident_manager, maintenance=window, ends_at=START)
    assert list(_errors(excinfo)) == ["ends_at"]
    with pytest.raises(ValidationError) as excinfo:
        services.maintenance_update(actor=incident_manager, maintenance=window, status="done")
    assert list(_errors(excinfo)) == ["status"]


def test_a_started_window_only_moves_its_end(clock, schedule, incident_manager, contact_a):
    window = schedule()
    clock.move_to(START)
    services.maintenance_start(actor=incident_manager, maintenance=window)
    with pytest.raises(Conflict, match="only its end"):
        services.maintenance_update(
            actor=incident_manager, maintenance=window, starts_at=START + HOUR
        )
    with pytest.raises(ValidationError):
        services.maintenance_update(
            actor=incident_manager, maintenance=window, ends_at=START - MINUTE
        )
    services.maintenance_update(actor=incident_manager, maintenance=window, ends_at=END + HOUR)
    window.refresh_from_db()
    assert window.sequence == 1
    assert [(c.kind, c.due_at) for c in window.clocks.filter(done_at__isnull=True)] == [
        (ClockKind.END, END + HOUR)
    ]
    assert len(_emails("rescheduled", contact_a.email)) == 1


def test_cancel_sends_the_cancel_invite_under_the_same_uid(
    clock, schedule, incident_manager, contact_b
):
    window = schedule()
    services.maintenance_cancel(
        actor=incident_manager, maintenance=window, reason="The vendor postponed."
    )
    window.refresh_from_db()
    assert window.status == MaintenanceStatus.CANCELLED and window.cancelled_at == T0
    (email,) = _emails("cancelled", contact_b.email)
    calendar, event = _invite(email)
    assert str(calendar["METHOD"]) == "CANCEL"
    assert str(event["STATUS"]) == "CANCELLED"
    assert str(event["UID"]) == uid_for(window.number)
    assert int(event["SEQUENCE"]) == 1
    assert "The vendor postponed." in email.body_text
    assert not window.clocks.filter(done_at__isnull=True).exists()
    entry = AuditEntry.objects.get(object_id=window.number, action="cancelled")
    assert entry.changes["reason"] == [None, "The vendor postponed."]


def test_a_cancel_reason_must_be_text_of_reasonable_length(clock, schedule, incident_manager):
    window = schedule()
    with pytest.raises(ValidationError) as excinfo:
        services.maintenance_cancel(actor=incident_manager, maintenance=window, reason="x" * 1001)
    assert list(_errors(excinfo)) == ["reason"]


# --- Scope changes -----------------------------------------------------------------------------


def test_a_scope_change_announces_to_added_tenants_and_cancels_for_removed_ones(
    clock, schedule, incident_manager, contact_a, contact_b
):
    window = schedule()  # the PoP: A and B
    services.maintenance_update(
        actor=incident_manager, maintenance=window, failure={"target": "us-east"}
    )
    window.refresh_from_db()
    assert window.sequence == 1 and window.failure_target == "us-east"
    assert [r.organization.slug for r in window.tenants.filter(removed_at__isnull=True)] == [
        "acme"
    ]
    (cancel,) = _emails("cancelled", contact_b.email)
    calendar, event = _invite(cancel)
    assert str(calendar["METHOD"]) == "CANCEL" and int(event["SEQUENCE"]) == 1
    assert "no longer concerns Globex Insurance" in cancel.subject
    assert _emails("cancelled", contact_a.email) == []
    # A keeps its window; its stored texts follow the new scope (the region's, not the PoP's).
    row_a = window.tenants.get(organization__slug="acme")
    assert "Call routing: Active calls dropped." in row_a.impact_text
    assert "through the failed PoP" not in row_a.impact_text

    services.maintenance_update(
        actor=incident_manager, maintenance=window, failure={"target": "pop-ashburn"}
    )
    window.refresh_from_db()
    assert window.sequence == 2
    announcements = _emails("announcement", contact_b.email)
    assert len(announcements) == 2
    assert int(_invite(announcements[-1])[1]["SEQUENCE"]) == 2
    assert len(_emails("announcement", contact_a.email)) == 1
    assert AuditEntry.objects.filter(object_id=window.number, action="scope_changed").count() == 2


def test_the_scope_is_fixed_once_started(clock, schedule, incident_manager):
    window = schedule()
    clock.move_to(START)
    services.maintenance_start(actor=incident_manager, maintenance=window)
    with pytest.raises(Conflict, match="scope is fixed"):
        services.maintenance_update(
            actor=incident_manager, maintenance=window, organizations=["acme"]
        )


def test_recording_a_past_window_sends_nothing(clock, deployed, incident_manager, contact_a):
    window = services.maintenance_record_past(
        actor=incident_manager, title="Past work", impact="Done.",
        starts_at=T0 - 48 * HOUR, ends_at=T0 - 47 * HOUR, failure={"target": "us-east"},
    )
    assert window.status == MaintenanceStatus.COMPLETED
    assert window.completed_at == T0 - 47 * HOUR
    assert window.tenants.count() == 1
    assert not window.clocks.exists() and not OutboundMessage.objects.exists()
    with pytest.raises(ValidationError) as excinfo:
        services.maintenance_record_past(
            actor=incident_manager, title="Future", impact="x",
            starts_at=T0, ends_at=T0 + HOUR, failure={"target": "us-east"},
        )
    assert list(_errors(excinfo)) == ["ends_at"]
