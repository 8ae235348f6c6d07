"""SLA clocks of cases, as stored instants: business hours of the Telephony group (New
York, 08:00-18:00, US holidays), 24x7 for criticality 1, pause while waiting on the
customer, stops, retargeting, contract targets.

Default targets: first response 15/60/240/480 minutes, resolution 240/1440/4320/10080
minutes for criticality 1/2/3/4.
"""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from caredeck.cases import services, sla
from caredeck.cases.models import Case, CaseStatus

pytestmark = pytest.mark.django_db
UTC = datetime.UTC
NY = ZoneInfo("America/New_York")


def ny(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=NY)


def at(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=UTC)


def fresh(case) -> Case:
    return Case.objects.get(pk=case.pk)


@pytest.fixture
def frozen():
    with time_machine.travel(ny(2026, 11, 17, 9, 0), tick=False) as traveller:
        yield traveller


# --- Due instants at the start ------------------------------------------------------------


def test_friday_afternoon_first_response_is_due_monday_morning(frozen, open_case, experts):
    frozen.move_to(ny(2026, 11, 20, 16, 0))
    case = fresh(open_case())
    assert case.criticality == 3 and case.group.slug == "telephony"
    # 240 business minutes: 2 h on Friday, 2 h on Monday.
    assert case.response_due_at == ny(2026, 11, 23, 10, 0)
    # Warned with 20 % (48 min) of the target left.
    assert case.response_warn_at == ny(2026, 11, 23, 9, 12)
    # Resolution, 4320 business minutes (72 h): Fri 2 h, Mon-Wed and Fri of Thanksgiving
    # week 40 h, Mon Nov 30 to Wed Dec 2 30 h. Without Thanksgiving: Tuesday Dec 1 18:00.
    assert case.resolution_due_at == ny(2026, 12, 2, 18, 0)
    assert case.resolution_warn_at == ny(2026, 12, 1, 13, 36)  # 864 business minutes before
    assert case.sla_paused_at is None
    assert case.response_left_minutes is None and case.resolution_left_minutes is None


def test_a_public_holiday_of_the_groups_country_is_skipped(frozen, open_case, experts):
    frozen.move_to(ny(2026, 11, 25, 17, 0))  # the Wednesday before Thanksgiving
    case = fresh(open_case())
    assert case.response_due_at == ny(2026, 11, 27, 11, 0)  # 1 h Wed, 3 h Fri


def test_the_group_calendar_is_its_own(frozen, open_case, experts, telephony):
    telephony.timezone = "Europe/London"
    telephony.country = "GB"
    telephony.day_start = datetime.time(9)
    telephony.day_end = datetime.time(17)
    telephony.save()
    frozen.move_to(at(2026, 12, 24, 16, 0))  # Christmas Eve, 16:00 in London
    case = fresh(open_case())
    # 1 h on Thursday; Christmas, the weekend and Boxing Day (observed) off; 3 h Tuesday.
    assert case.response_due_at == at(2026, 12, 29, 12, 0)


def test_criticality_1_counts_around_the_clock(frozen, open_case, experts):
    saturday = at(2026, 11, 21, 12, 0)
    frozen.move_to(saturday)
    case = fresh(open_case(criticality=1))
    assert case.response_due_at == saturday + datetime.timedelta(minutes=15)
    assert case.response_warn_at == saturday + datetime.timedelta(minutes=12)
    assert case.resolution_due_at == saturday + datetime.timedelta(minutes=240)
    assert case.resolution_warn_at == saturday + datetime.timedelta(minutes=192)


def test_without_a_group_utc_office_hours_apply(frozen, open_case):
    frozen.move_to(at(2026, 11, 20, 16, 0))  # Friday 16:00 UTC
    case = fresh(open_case())
    assert case.group is None
    assert case.response_due_at == at(2026, 11, 23, 10, 0)


def test_contract_targets_override_the_defaults(frozen, open_case, experts, tenant_a):
    contract = tenant_a.contract
    contract.case_response_minutes = {"1": 10, "2": 30, "3": 60, "4": 120}
    contract.case_resolution_minutes = {"3": 600}  # the others fall back to the defaults
    contract.save()
    case = fresh(open_case())  # Tuesday 09:00 New York
    assert case.response_due_at == ny(2026, 11, 17, 10, 0)
    assert case.resolution_due_at == ny(2026, 11, 18, 9, 0)
    low = fresh(open_case(criticality=4))
    assert low.response_due_at == ny(2026, 11, 17, 11, 0)
    assert low.resolution_due_at == sla.calendar_for(low).add_minutes(
        ny(2026, 11, 17, 9, 0), 10080)
    # Another tenant keeps the provider's defaults.
    assert sla.target_minutes(low, "case_resolution_minutes") == 10080


# --- Pause and resume ---------------------------------------------------------------------


def test_an_incomplete_case_pauses_at_once_and_resumes_with_the_minutes_it_had(
    frozen, open_case, experts, requirement, contact_a
):
    case = fresh(open_case(facts={}))  # Tuesday 09:00 New York
    assert case.status == CaseStatus.INFO_REQUESTED
    assert case.sla_paused_at == ny(2026, 11, 17, 9, 0)
    assert case.response_left_minutes == 240 and case.resolution_left_minutes == 4320
    assert case.response_warn_at is None and case.resolution_warn_at is None
    # The customer answers the next day at 17:00: 1 h that day, 3 h on Thursday.
    frozen.move_to(ny(2026, 11, 18, 17, 0))
    services.case_provide_info(actor=contact_a, case=case, body="The number",
                               facts={"phone_number": "+1 212 555 0101"})
    case = fresh(case)
    assert case.sla_paused_at is None
    assert case.response_left_minutes is None and case.resolution_left_minutes is None
    assert case.response_due_at == ny(2026, 11, 19, 11, 0)
    assert case.response_warn_at == ny(2026, 11, 19, 10, 12)
    assert case.resolution_due_at == sla.calendar_for(case).add_minutes(
        ny(2026, 11, 18, 17, 0), 4320)


def test_request_info_pauses_resolution_over_a_weekend_and_resume_recomputes_it(
    frozen, open_case, experts, contact_a
):
    case = open_case()  # Tuesday 09:00 New York
    frozen.move_to(ny(2026, 11, 17, 11, 0))
    services.case_request_info(actor=case.owner, case=case, body="Which trunk?")
    case = fresh(case)
    assert case.status == CaseStatus.INFO_REQUESTED
    assert case.resolution_left_minutes == 4320 - 120
    assert case.resolution_warn_at is None
    # Days pass while the customer looks; nothing of it counts.
    frozen.move_to(ny(2026, 11, 23, 9, 0))
    services.case_provide_info(actor=contact_a, case=case, body="Trunk 4")
    case = fresh(case)
    # 70 business hours from Monday 09:00: Mon 9, Tue 10, Wed 10, (Thanksgiving), Fri 10,
    # Mon 10, Tue 10, Wed 10 -> 69 h; 1 h on Thursday Dec 3.
    assert case.resolution_due_at == ny(2026, 12, 3, 9, 0)
    assert case.resolution_warn_at == sla.calendar_for(case).add_minutes(
        ny(2026, 11, 23, 9, 0), 4200 - 864)


def test_pause_and_resume_are_idempotent(frozen, open_case, experts):
    case = fresh(open_case())
    sla.pause(case, ny(2026, 11, 17, 10, 0))
    sla.pause(case, ny(2026, 11, 17, 12, 0))  # a second pause keeps the first minutes
    assert case.sla_paused_at == ny(2026, 11, 17, 10, 0)
    assert case.response_left_minutes == 180
    sla.resume(case, ny(2026, 11, 18, 8, 0))
    assert case.response_due_at == ny(2026, 11, 18, 11, 0)
    sla.resume(case, ny(2026, 11, 19, 8, 0))  # not paused: nothing moves
    assert case.response_due_at == ny(2026, 11, 18, 11, 0)


def test_a_clock_paused_after_its_due_stays_missed_when_resumed(frozen, open_case, experts,
                                                               contact_a):
    frozen.move_to(at(2026, 11, 21, 12, 0))  # Saturday, criticality 1: 24x7
    case = open_case(criticality=1)
    assert fresh(case).resolution_due_at == at(2026, 11, 21, 16, 0)
    # The solution comes after the resolution target, before any clock tick noticed.
    frozen.move_to(at(2026, 11, 21, 16, 30))
    services.case_propose_solution(actor=case.owner, case=case, body="Restart the SBC.")
    frozen.move_to(at(2026, 11, 21, 17, 0))
    case = services.case_confirm(actor=contact_a, case=case)
    case = fresh(case)
    assert case.resolved_at == at(2026, 11, 21, 17, 0)
    assert case.resolution_due_at == at(2026, 11, 21, 16, 0)  # not moved past the answer
    assert sla.met(case, "resolution") is False
    assert sla.met(case, "response") is False  # answered at 16:30, due 12:15


# --- Stops --------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["request_info", "propose_solution", "public_comment"])
def test_the_first_response_stops_the_response_clock(frozen, open_case, experts, how):
    case = open_case()  # Tuesday 09:00 New York, due 13:00
    frozen.move_to(ny(2026, 11, 17, 10, 30))
    owner = case.owner
    if how == "request_info":
        services.case_request_info(actor=owner, case=case, body="Which trunk?")
    elif how == "propose_solution":
        services.case_propose_solution(actor=owner, case=case, body="Restart the SBC.")
    else:
        services.case_comment(actor=owner, case=case, body="Looking at it now.")
    case = fresh(case)
    assert case.first_response_at == ny(2026, 11, 17, 10, 30)
    assert case.response_warn_at is None
    assert sla.met(case, "response") is True
    # A later response does not move it.
    frozen.move_to(ny(2026, 11, 17, 11, 0))
    services.case_comment(actor=owner, case=case, body="Another reply.")
    assert fresh(case).first_response_at == ny(2026, 11, 17, 10, 30)


def test_internal_notes_and_customer_comments_are_no_response(frozen, open_case, experts,
                                                              contact_a):
    case = open_case()
    frozen.move_to(ny(2026, 11, 17, 10, 0))
    services.case_comment(actor=case.owner, case=case, body="Checking logs", internal=True)
    services.case_comment(actor=contact_a, case=case, body="Any news?")
    case = fresh(case)
    assert case.first_response_at is None
    assert sla.met(case, "response") is None  # still running
    assert case.response_warn_at == ny(2026, 11, 17, 12, 12)


def test_a_late_first_response_is_missed(frozen, open_case, experts):
    case = open_case()  # due 13:00
    frozen.move_to(ny(2026, 11, 17, 13, 1))
    services.case_comment(actor=case.owner, case=case, body="Sorry for the wait.")
    assert sla.met(fresh(case), "response") is False


def test_confirmation_stops_the_resolution_clock_and_met_says_so(frozen, open_case, experts,
                                                                contact_a):
    case = open_case()
    frozen.move_to(ny(2026, 11, 17, 11, 0))
    services.case_propose_solution(actor=case.owner, case=case, body="Patch 8.2.1.")
    case = fresh(case)
    assert case.sla_paused_at == ny(2026, 11, 17, 11, 0)
    assert sla.met(case, "resolution") is None
    frozen.move_to(ny(2026, 11, 20, 12, 0))
    services.case_confirm(actor=contact_a, case=case)
    case = fresh(case)
    assert case.status == CaseStatus.CONFIRMED
    assert case.resolved_at == ny(2026, 11, 20, 12, 0)
    assert case.sla_paused_at is None
    assert case.resolution_warn_at is None and case.resolution_left_minutes is None
    assert sla.met(case, "resolution") is True
    assert sla.met(case, "response") is True


def test_a_rejected_solution_resumes_the_resolution_clock(frozen, open_case, experts,
                                                         contact_a):
    case = open_case()  # Tuesday 09:00
    frozen.move_to(ny(2026, 11, 17, 10, 0))
    services.case_propose_solution(actor=case.owner, case=case, body="Try this.")
    frozen.move_to(ny(2026, 11, 18, 8, 0))
    services.case_reject_solution(actor=contact_a, case=case, reason="Still broken")
    case = fresh(case)
    assert case.sla_paused_at is None and case.resolved_at is None
    assert case.resolution_due_at == sla.calendar_for(case).add_minutes(
        ny(2026, 11, 18, 8, 0), 4320 - 60)


def test_a_breached_resolution_is_missed_even_when_confirmed_in_time_later(
    frozen, open_case, experts
):
    case = fresh(open_case())
    case.resolution_breached_at = ny(2026, 11, 17, 9, 30)
    sla.stop(case, "resolution", ny(2026, 11, 17, 10, 0))
    assert sla.met(case, "resolution") is False


# --- Criticality changes ------------------------------------------------------------------


def test_a_lower_criticality_gets_the_new_target_less_the_minutes_spent(
    frozen, open_case, experts, care_analyst
):
    case = open_case(criticality=4)  # Tuesday 09:00, response target 480: due 17:00
    assert fresh(case).response_due_at == ny(2026, 11, 17, 17, 0)
    frozen.move_to(ny(2026, 11, 17, 10, 0))
    services.case_change_criticality(actor=care_analyst, case=case, criticality=3,
                                     reason="More users affected")
    case = fresh(case)
    assert case.criticality == 3
    # 60 minutes spent of the new 240.
    assert case.response_due_at == ny(2026, 11, 17, 13, 0)
    assert case.response_warn_at == ny(2026, 11, 17, 12, 12)
    assert case.resolution_due_at == sla.calendar_for(case).add_minutes(
        ny(2026, 11, 17, 10, 0), 4320 - 60)


def test_raising_to_criticality_1_switches_to_24x7(frozen, open_case, experts, care_analyst):
    case = open_case()  # criticality 3, Tuesday 09:00 New York
    frozen.move_to(ny(2026, 11, 17, 10, 0))
    services.case_change_criticality(actor=care_analyst, case=case, criticality=1,
                                     reason="Production down")
    case = fresh(case)
    # Response: 60 minutes spent of a 15-minute target: due now.
    assert case.response_due_at == ny(2026, 11, 17, 10, 0)
    # Resolution: 180 of 240 minutes left, counted around the clock.
    assert case.resolution_due_at == ny(2026, 11, 17, 13, 0)


def test_a_retarget_while_paused_keeps_minutes_for_the_resume(frozen, open_case, experts,
                                                              care_analyst, contact_a):
    case = open_case()  # Tuesday 09:00
    frozen.move_to(ny(2026, 11, 17, 10, 0))
    services.case_request_info(actor=case.owner, case=case, body="Logs please")
    assert fresh(case).resolution_left_minutes == 4320 - 60
    services.case_change_criticality(actor=care_analyst, case=case, criticality=2,
                                     reason="Many users")
    case = fresh(case)
    assert case.resolution_left_minutes == 1440 - 60
    assert case.sla_paused_at is not None and case.resolution_warn_at is None
    frozen.move_to(ny(2026, 11, 18, 8, 0))
    services.case_provide_info(actor=contact_a, case=case, body="Attached")
    case = fresh(case)
    assert case.resolution_due_at == sla.calendar_for(case).add_minutes(
        ny(2026, 11, 18, 8, 0), 1380)


def test_a_breach_of_the_old_target_is_cleared_when_the_new_one_has_time(
    frozen, open_case, experts, care_analyst
):
    case = open_case(criticality=2)  # response 60 min: due 10:00
    frozen.move_to(ny(2026, 11, 17, 10, 30))
    Case.objects.filter(pk=case.pk).update(response_breached_at=ny(2026, 11, 17, 10, 0))
    services.case_change_criticality(actor=care_analyst, case=case, criticality=4,
                                     reason="Work-around in place")
    case = fresh(case)
    assert case.response_breached_at is None
    assert case.response_due_at == ny(2026, 11, 17, 17, 0)  # 90 spent of 480


def test_a_retarget_with_time_to_spare_warns_again_before_the_new_due(
    frozen, open_case, experts, care_analyst
):
    case = open_case(criticality=2)  # response 60 min: warned at 09:48, due 10:00
    frozen.move_to(ny(2026, 11, 17, 9, 50))
    Case.objects.filter(pk=case.pk).update(response_warned_at=ny(2026, 11, 17, 9, 48),
                                           response_warn_at=None)
    services.case_change_criticality(actor=care_analyst, case=case, criticality=4,
                                     reason="Work-around in place")
    case = fresh(case)
    # 50 of 480 minutes spent: due 17:00, warned again 96 minutes before.
    assert case.response_due_at == ny(2026, 11, 17, 17, 0)
    assert case.response_warned_at is None
    assert case.response_warn_at == ny(2026, 11, 17, 15, 24)


def test_a_retarget_close_to_the_new_due_does_not_warn_twice(
    frozen, open_case, experts, care_analyst
):
    case = open_case(criticality=3)  # response 240 min, warned at 12:12
    frozen.move_to(ny(2026, 11, 17, 12, 30))
    Case.objects.filter(pk=case.pk).update(response_warned_at=ny(2026, 11, 17, 12, 12),
                                           response_warn_at=None)
    services.case_change_criticality(actor=care_analyst, case=case, criticality=2,
                                     reason="Worse")
    case = fresh(case)
    # 210 of 60 minutes spent: due now; the owner was warned already, not again.
    assert case.response_due_at == ny(2026, 11, 17, 12, 30)
    assert case.response_warned_at == ny(2026, 11, 17, 12, 12)
    assert case.response_warn_at is None


def test_a_retarget_that_uses_up_a_paused_clock_is_due_at_the_resume(
    frozen, open_case, experts, care_analyst, contact_a
):
    case = open_case(criticality=4)  # resolution 10080 business minutes
    frozen.move_to(ny(2026, 11, 18, 9, 0))  # 10 business hours spent
    services.case_request_info(actor=case.owner, case=case, body="Logs please")
    services.case_change_criticality(actor=care_analyst, case=case, criticality=1,
                                     reason="Production down")
    case = fresh(case)
    assert case.resolution_left_minutes == 0  # 600 spent of a 240-minute target
    frozen.move_to(ny(2026, 11, 18, 10, 0))
    services.case_provide_info(actor=contact_a, case=case, body="Attached")
    case = fresh(case)
    assert case.resolution_due_at == ny(2026, 11, 18, 10, 0)  # due at once, not later
    assert case.resolution_warn_at is None
