"""The Customer Care clocks under frozen time, run the way production runs them: the
scheduler tick enqueues one task per case (run at once by the test task backend).

Tuesday 2026-11-17 09:00 New York: a criticality-3 case is routed to London (on shift);
its first response is due 13:00 New York (240 business minutes), warned at 12:12.
"""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from caredeck.accounts.roles import Role
from caredeck.cases import clocks, services, sla
from caredeck.cases.models import Case, CaseStatus, CloseReason
from caredeck.core.audit import AuditEntry
from caredeck.core.scheduler import tick
from caredeck.notify.models import OutboundMessage
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
UTC = datetime.UTC
NY = ZoneInfo("America/New_York")
SECOND = datetime.timedelta(seconds=1)
DAY = datetime.timedelta(days=1)
T0 = datetime.datetime(2026, 11, 17, 9, 0, tzinfo=NY)
WARN_AT = datetime.datetime(2026, 11, 17, 12, 12, tzinfo=NY)
DUE_AT = datetime.datetime(2026, 11, 17, 13, 0, tzinfo=NY)


@pytest.fixture
def frozen():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def case(frozen, open_case, experts):
    opened = open_case()
    assert opened.owner == experts["london"].user
    return opened


def fresh(case) -> Case:
    return Case.objects.get(pk=case.pk)


def mail(event, *, to=None, subject=""):
    found = OutboundMessage.objects.filter(event=event, channel="email",
                                           subject__contains=subject)
    return found.filter(recipient=to.email) if to is not None else found


def sla_events(case, **data):
    return case.events.filter(kind="sla", **{f"data__{k}": v for k, v in data.items()})


# --- Warning and breach -------------------------------------------------------------------


def test_the_owner_is_warned_once_before_the_breach(frozen, case):
    owner = case.owner
    assert fresh(case).response_warn_at == WARN_AT
    frozen.move_to(WARN_AT - SECOND)
    tick("test")
    assert not mail("case.work", subject="due soon").exists()

    frozen.move_to(WARN_AT)
    tick("test")
    tick("test")
    (warning,) = mail("case.work", subject="due soon")
    assert warning.recipient == owner.email
    assert warning.subject == f"[{case.number}] {case.number}: first response due soon"
    assert "2026-11-17 18:00 UTC" in warning.body_text  # 13:00 New York
    case = fresh(case)
    assert case.response_warn_at is None and case.response_warned_at == WARN_AT
    assert sla_events(case, warning=True).count() == 1
    assert not sla_events(case, warning=True).get().public
    assert not mail("case.sla").exists()
    assert clocks.next_due() == DUE_AT


def test_the_breach_goes_once_to_the_groups_manager_and_is_on_the_timeline(
    frozen, case, telephony, care_manager
):
    other_manager = UserFactory(email="cm2@provider.test", organization=care_manager.organization,
                                roles=[Role.CARE_MANAGER])
    telephony.manager = care_manager
    telephony.save()
    frozen.move_to(WARN_AT)
    tick("test")
    frozen.move_to(DUE_AT - SECOND)
    tick("test")
    assert not mail("case.sla").exists()

    frozen.move_to(DUE_AT)
    tick("test")
    tick("test")
    (breach,) = mail("case.sla")
    assert breach.recipient == care_manager.email
    assert breach.subject == f"[{case.number}] {case.number} missed its first response target"
    assert not mail("case.sla", to=other_manager).exists()
    case = fresh(case)
    assert case.response_breached_at == DUE_AT
    event = sla_events(case, breach=True).get()
    assert event.data["clock"] == "response" and not event.public
    assert "was missed; escalated to the care manager" in event.body
    assert AuditEntry.objects.filter(object_id=case.number, action="sla_breached").count() == 1
    # Later ticks and a direct re-run send nothing more.
    frozen.move_to(DUE_AT + DAY)
    tick("test")
    assert clocks.fire(case.pk)["breaches"] == 0
    assert mail("case.sla").count() == 1
    assert sla_events(case, breach=True).count() == 1
    assert sla.met(case, "response") is None  # still unanswered
    services.case_comment(actor=case.owner, case=case, body="On it.")
    assert sla.met(fresh(case), "response") is False


def test_without_a_group_manager_every_care_manager_hears_of_the_breach(
    frozen, case, care_manager
):
    other_manager = UserFactory(email="cm2@provider.test", organization=care_manager.organization,
                                roles=[Role.CARE_MANAGER])
    frozen.move_to(DUE_AT + datetime.timedelta(hours=2))  # the scheduler was down
    tick("test")
    assert mail("case.sla", to=care_manager).count() == 1
    assert mail("case.sla", to=other_manager).count() == 1
    # Past due, the warning is not sent late: the breach replaces it.
    assert not mail("case.work", subject="due soon").exists()


def test_a_warning_is_sent_even_without_an_owner_only_to_the_timeline(frozen, open_case):
    case = open_case()  # no group, no experts: nobody owns it
    assert case.owner is None
    frozen.move_to(fresh(case).response_warn_at)
    assert clocks.fire(case.pk)["warnings"] == 1
    assert sla_events(case, warning=True).count() == 1
    assert not mail("case.work", subject="due soon").exists()


def test_the_resolution_clock_breaches_too(frozen, open_case, experts, care_manager):
    case = open_case(criticality=1)  # 24x7: response 15 min, resolution 240 min
    frozen.move_to(T0 + datetime.timedelta(minutes=5))
    services.case_comment(actor=case.owner, case=case, body="Looking into it.")
    frozen.move_to(T0 + datetime.timedelta(minutes=240))
    tick("test")
    (breach,) = mail("case.sla")
    assert "missed its resolution target" in breach.subject
    case = fresh(case)
    assert case.resolution_breached_at == T0 + datetime.timedelta(minutes=240)
    assert case.response_breached_at is None
    assert sla.met(case, "response") is True


# --- Paused clocks ------------------------------------------------------------------------


def test_paused_clocks_never_fire(frozen, open_case, experts, care_manager):
    case = open_case(criticality=1)  # resolution due in 4 h, 24x7
    frozen.move_to(T0 + datetime.timedelta(minutes=10))
    services.case_request_info(actor=case.owner, case=case, body="Which trunk?")
    case = fresh(case)
    assert case.sla_paused_at is not None
    # Well past the resolution target, before the first customer reminder (day 3).
    frozen.move_to(T0 + 2 * DAY)
    assert clocks.enqueue_due() == 0
    tick("test")
    assert clocks.fire(case.pk) == {"warnings": 0, "breaches": 0, "reminders": 0,
                                    "closed": 0, "escalations": 0}
    assert not mail("case.sla").exists()
    assert not sla_events(case).exists()
    case = fresh(case)
    assert case.resolution_breached_at is None
    # The only pending instant is the customer reminder.
    assert clocks.next_due() == case.customer_remind_at == case.waiting_since + 3 * DAY


# --- Waiting on the customer --------------------------------------------------------------


def test_reminders_at_days_3_and_6_then_the_case_closes_itself_at_day_7(
    frozen, case, contact_a
):
    frozen.move_to(T0 + datetime.timedelta(hours=1))
    asked = T0 + datetime.timedelta(hours=1)
    services.case_request_info(actor=case.owner, case=case, body="Which trunk?")
    case = fresh(case)
    assert case.customer_remind_at == asked + 3 * DAY
    assert case.auto_close_at == asked + 7 * DAY

    def reminders():
        return mail("case.update", to=contact_a, subject="is waiting for you")

    frozen.move_to(asked + 3 * DAY - SECOND)
    tick("test")
    assert not reminders().exists()
    frozen.move_to(asked + 3 * DAY)
    tick("test")
    tick("test")
    (first,) = reminders()
    assert "the information we asked for" in first.body_text
    assert "closes itself on 2026-11-24 15:00 UTC" in first.body_text
    case = fresh(case)
    assert case.customer_reminders_sent == 1
    assert case.customer_remind_at == asked + 6 * DAY
    assert clocks.next_due() == asked + 6 * DAY

    frozen.move_to(asked + 6 * DAY)
    tick("test")
    tick("test")
    assert reminders().count() == 2
    case = fresh(case)
    assert case.customer_reminders_sent == 2 and case.customer_remind_at is None
    assert clocks.next_due() == asked + 7 * DAY

    frozen.move_to(asked + 7 * DAY - SECOND)
    tick("test")
    assert fresh(case).status == CaseStatus.INFO_REQUESTED
    frozen.move_to(asked + 7 * DAY)
    tick("test")
    tick("test")
    case = fresh(case)
    assert case.status == CaseStatus.CLOSED
    assert case.close_reason == CloseReason.NO_INFORMATION
    assert case.closed_at == asked + 7 * DAY
    assert case.auto_close_at is None and case.customer_remind_at is None
    (notice,) = mail("case.update", to=contact_a, subject="closed")
    assert notice.subject == f"[{case.number}] {case.number} closed"
    assert "the information we asked for did not come" in notice.body_text
    assert "after 7 days without an answer" in notice.body_text
    assert mail("case.work", to=case.owner, subject="closed itself").count() == 1
    closed = case.events.get(kind="closed")
    assert closed.public and closed.data == {"automatic": True}
    assert reminders().count() == 2
    assert AuditEntry.objects.filter(object_id=case.number,
                                     action="closed_automatically").count() == 1
    assert clocks.next_due() is None


def test_an_unconfirmed_solution_closes_itself_as_not_confirmed(frozen, case, contact_a):
    services.case_propose_solution(actor=case.owner, case=case, body="Restart the SBC.")
    frozen.move_to(T0 + 3 * DAY)
    tick("test")
    (reminder,) = mail("case.update", to=contact_a, subject="is waiting for you")
    assert "your answer to the proposed solution" in reminder.body_text
    frozen.move_to(T0 + 7 * DAY)
    tick("test")
    case = fresh(case)
    assert case.status == CaseStatus.CLOSED
    assert case.close_reason == CloseReason.NOT_CONFIRMED
    (notice,) = mail("case.update", to=contact_a, subject="closed")
    assert "the solution was not confirmed in time" in notice.body_text


def test_a_scheduler_down_past_day_7_closes_without_late_reminders(frozen, case, contact_a):
    services.case_request_info(actor=case.owner, case=case, body="Which trunk?")
    frozen.move_to(T0 + 8 * DAY)
    tick("test")
    assert fresh(case).status == CaseStatus.CLOSED
    assert not mail("case.update", subject="is waiting for you").exists()


def test_an_answer_from_the_customer_stops_the_wait_clock(frozen, case, contact_a):
    services.case_request_info(actor=case.owner, case=case, body="Which trunk?")
    frozen.move_to(T0 + 2 * DAY)
    services.case_provide_info(actor=contact_a, case=case, body="Trunk 4")
    case = fresh(case)
    assert case.status == CaseStatus.OPEN
    assert case.customer_remind_at is None and case.auto_close_at is None
    assert case.waiting_since is None
    for moment in (T0 + 3 * DAY, T0 + 6 * DAY, T0 + 7 * DAY):
        frozen.move_to(moment)
        tick("test")
    assert not mail("case.update", subject="is waiting for you").exists()
    assert fresh(case).status == CaseStatus.OPEN


def test_a_second_wait_starts_its_reminders_afresh(frozen, case, contact_a):
    services.case_request_info(actor=case.owner, case=case, body="Which trunk?")
    frozen.move_to(T0 + 3 * DAY)
    tick("test")
    services.case_provide_info(actor=contact_a, case=case, body="Trunk 4")
    frozen.move_to(T0 + 4 * DAY)
    services.case_request_info(actor=case.owner, case=case, body="And the logs?")
    frozen.move_to(T0 + 7 * DAY)
    tick("test")  # day 3 of the second wait
    assert mail("case.update", to=contact_a, subject="is waiting for you").count() == 2
    assert fresh(case).status == CaseStatus.INFO_REQUESTED


def test_a_case_reopened_after_closing_itself_gets_a_fresh_resolution_clock(
    frozen, case, contact_a
):
    frozen.move_to(T0 + datetime.timedelta(hours=2))  # 120 business minutes spent
    services.case_propose_solution(actor=case.owner, case=case, body="Restart the SBC.")
    assert fresh(case).resolution_left_minutes == 4320 - 120
    frozen.move_to(T0 + 7 * DAY + datetime.timedelta(hours=2))
    tick("test")
    assert fresh(case).status == CaseStatus.CLOSED
    reopened_at = T0 + 8 * DAY  # Wednesday Nov 25, 09:00 New York
    frozen.move_to(reopened_at)
    case = services.case_reopen(actor=contact_a, case=fresh(case), reason="Still down")
    case = fresh(case)
    assert case.status == CaseStatus.OPEN and case.sla_paused_at is None
    assert case.resolution_left_minutes is None
    assert case.resolution_due_at == sla.calendar_for(case).add_minutes(reopened_at, 4320)


# --- Escalation acknowledgement -----------------------------------------------------------


def test_an_escalation_not_acknowledged_in_60_minutes_is_notified_once(
    frozen, case, contact_a, escalation_contacts, care_manager
):
    escalation = services.case_escalate(actor=contact_a, case=case,
                                        business_impact="200 agents idle")
    assert escalation.ack_due_at == T0 + datetime.timedelta(minutes=60)
    assert clocks.next_due() == escalation.ack_due_at
    frozen.move_to(escalation.ack_due_at - SECOND)
    tick("test")
    assert not mail("case.escalation", subject="not acknowledged").exists()
    frozen.move_to(escalation.ack_due_at)
    tick("test")
    tick("test")
    (late,) = mail("case.escalation", subject="not acknowledged")
    assert late.recipient == care_manager.email  # a care manager and the cloud contact
    escalation.refresh_from_db()
    assert escalation.ack_overdue_notified_at == escalation.ack_due_at
    assert sla_events(case, overdue=True).count() == 1
    frozen.move_to(escalation.ack_due_at + DAY)
    tick("test")
    assert clocks.fire(case.pk)["escalations"] == 0
    assert mail("case.escalation", subject="not acknowledged").count() == 1


def test_the_platform_contact_hears_of_a_late_acknowledgement_too(
    frozen, case, contact_a, escalation_contacts, care_manager, telephony, provider
):
    group_manager = UserFactory(email="gm@provider.test", organization=provider,
                                roles=[Role.CARE_MANAGER])
    telephony.manager = group_manager
    telephony.save()
    services.case_escalate(actor=contact_a, case=case, business_impact="200 agents idle")
    frozen.move_to(T0 + datetime.timedelta(minutes=61))
    tick("test")
    recipients = set(mail("case.escalation", subject="not acknowledged")
                     .values_list("recipient", flat=True))
    assert recipients == {group_manager.email, care_manager.email}


def test_an_acknowledged_escalation_sends_no_reminder(frozen, case, contact_a,
                                                     escalation_contacts, care_manager):
    services.case_escalate(actor=contact_a, case=case, business_impact="200 agents idle")
    frozen.move_to(T0 + datetime.timedelta(minutes=30))
    services.case_acknowledge_escalation(actor=care_manager, case=case,
                                         next_steps="Engineering on it",
                                         communication_plan="Hourly updates")
    frozen.move_to(T0 + datetime.timedelta(minutes=90))
    tick("test")
    assert not mail("case.escalation", subject="not acknowledged").exists()


# --- next_due and restart safety ----------------------------------------------------------


def test_next_due_is_the_earliest_pending_instant(frozen, case, open_case):
    assert clocks.next_due() == WARN_AT
    frozen.move_to(T0 + datetime.timedelta(minutes=1))
    critical = open_case(criticality=1)
    assert clocks.next_due() == fresh(critical).response_warn_at == (
        T0 + datetime.timedelta(minutes=13))
    services.case_comment(actor=critical.owner, case=critical, body="Looking.")
    assert clocks.next_due() == WARN_AT
    frozen.move_to(WARN_AT)
    tick("test")
    # The warning went; the critical case's resolution warning (12:13) comes before
    # the first case's breach (13:00).
    assert clocks.next_due() == fresh(critical).resolution_warn_at == (
        T0 + datetime.timedelta(minutes=1 + 192))
    services.case_propose_solution(actor=critical.owner, case=critical, body="Patch.")
    assert clocks.next_due() == DUE_AT  # the critical case waits on its customer
    services.case_comment(actor=case.owner, case=case, body="Looking.")
    # Both first responses given: the customer reminder of the critical case (day 3)
    # comes before the first case's resolution warning (a week of business hours).
    critical = fresh(critical)
    assert critical.customer_remind_at == WARN_AT + 3 * DAY
    assert fresh(case).resolution_warn_at > critical.customer_remind_at
    assert clocks.next_due() == critical.customer_remind_at


def test_next_due_is_none_without_pending_clocks(db):
    assert clocks.next_due() is None


def test_fire_twice_for_the_same_case_sends_once(frozen, case, care_manager):
    frozen.move_to(WARN_AT)
    assert clocks.fire(case.pk) == {"warnings": 1, "breaches": 0, "reminders": 0,
                                    "closed": 0, "escalations": 0}
    assert clocks.fire(case.pk)["warnings"] == 0
    frozen.move_to(DUE_AT)
    assert clocks.enqueue_due() == 1
    assert fresh(case).response_breached_at == DUE_AT  # the enqueued task ran
    assert clocks.fire(case.pk)["breaches"] == 0
    assert clocks.enqueue_due() == 0
    assert mail("case.work", subject="due soon").count() == 1
    assert mail("case.sla", to=care_manager).count() == 1
    assert sla_events(case).count() == 2


def test_fire_for_a_missing_case_does_nothing(db):
    assert clocks.fire(999999) == {"warnings": 0, "breaches": 0, "reminders": 0,
                                   "closed": 0, "escalations": 0}


def test_reminders_missed_while_the_scheduler_was_down_are_sent_once(frozen, case, contact_a):
    services.case_request_info(actor=case.owner, case=case, body="Which trunk?")
    frozen.move_to(T0 + 6 * DAY + datetime.timedelta(hours=1))  # days 3 and 6 passed
    tick("test")
    tick("test")
    (reminder,) = mail("case.update", to=contact_a, subject="is waiting for you")
    case = fresh(case)
    assert case.customer_reminders_sent == 2 and case.customer_remind_at is None
    assert clocks.next_due() == T0 + 7 * DAY
    frozen.move_to(T0 + 7 * DAY)
    tick("test")
    assert fresh(case).status == CaseStatus.CLOSED
    assert mail("case.update", to=contact_a, subject="is waiting for you").count() == 1
