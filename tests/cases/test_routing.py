"""Follow-the-sun routing with time frozen at different hours (UTC).

The `experts` fixture: New York (EST in November, on shift 13:00-22:00 UTC), London
(GMT, 08:00-17:00 UTC) and Sydney (AEDT, 21:00-06:00 UTC), each 08:00-17:00 local,
Monday to Friday, skilled in the product. Tuesday 2026-11-17 has no holiday anywhere.
"""

from __future__ import annotations

import datetime

import pytest
import time_machine

from caredeck.cases import routing, services
from caredeck.cases.models import Case, CaseStatus, Complexity, Skill, SupportGroup
from tests.cases.conftest import make_expert
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db
UTC = datetime.UTC


def at(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=UTC)


TUESDAY_1400 = at(2026, 11, 17, 14, 0)  # New York 09:00, London 14:00, Sydney 01:00 Wed


def give_cases(expert, count, *, organization, product, status=CaseStatus.OPEN):
    """`count` active cases owned by the expert (their load)."""
    for n in range(count):
        Case.objects.create(
            organization=organization, product=product, deployment="cloud", criticality=3,
            summary=f"Load {n}", description="x", status=status, owner=expert.user,
        )


def opened(open_case, when, **overrides) -> Case:
    with time_machine.travel(when, tick=False):
        case = open_case(**overrides)
    return Case.objects.get(pk=case.pk)


def reasons(case) -> str:
    return "\n".join(case.routing["reasons"])


# --- Follow the sun ---------------------------------------------------------------------


def test_at_1400_utc_on_a_tuesday_an_expert_on_shift_in_europe_or_new_york_takes_it(
    open_case, experts
):
    case = opened(open_case, TUESDAY_1400)
    # New York and London are both on shift, equally loaded and skilled: by name.
    assert case.owner == experts["london"].user
    assert case.status == CaseStatus.OPEN and case.routed_at == TUESDAY_1400
    assert case.routing["group"] == "telephony"
    assert case.routing["owner"] == experts["london"].user_id
    text = reasons(case)
    assert "Telephony supports Cloud CX." in text
    assert "Ldn (Telephony) is on shift (14:00 in Europe/London)" in text
    assert case.events.filter(kind="routed").get().body == text


def test_at_1800_utc_only_new_york_is_on_shift(open_case, experts):
    case = opened(open_case, at(2026, 11, 17, 18, 0))
    assert case.owner == experts["new_york"].user
    assert "is on shift (13:00 in America/New_York)" in reasons(case)


def test_at_0300_utc_sydney_is_on_shift(open_case, experts):
    case = opened(open_case, at(2026, 11, 17, 3, 0))
    assert case.owner == experts["sydney"].user
    assert "Syd (Telephony) is on shift (14:00 in Australia/Sydney)" in reasons(case)


def test_between_sydney_and_london_the_next_to_start_takes_it(open_case, experts):
    case = opened(open_case, at(2026, 11, 17, 7, 0))  # Sydney left at 06:00, London at 08:00
    assert case.owner == experts["london"].user
    assert ("Nobody in Telephony is on shift now; Ldn starts next "
            "(2026-11-17 08:00 UTC, in 1.0 h) and takes it.") in reasons(case)


def test_on_saturday_the_first_to_start_on_monday_takes_it_sydney(open_case, experts):
    case = opened(open_case, at(2026, 11, 21, 12, 0))
    assert case.owner == experts["sydney"].user
    # Monday 08:00 in Sydney is Sunday 21:00 UTC, before London and New York.
    assert "Syd starts next (2026-11-22 21:00 UTC, in 33.0 h)" in reasons(case)


# --- Load, capacity, availability, skill --------------------------------------------------


def test_the_least_loaded_expert_on_shift_wins(open_case, experts, tenant_a, product):
    give_cases(experts["london"], 2, organization=tenant_a, product=product)
    give_cases(experts["new_york"], 1, organization=tenant_a, product=product)
    give_cases(experts["sydney"], 0, organization=tenant_a, product=product)
    case = opened(open_case, TUESDAY_1400)
    assert case.owner == experts["new_york"].user  # Sydney is asleep, whatever its load
    assert "carrying 1 open case." in reasons(case)


def test_cases_no_longer_active_do_not_count_as_load(open_case, experts, tenant_a, product):
    give_cases(experts["london"], 3, organization=tenant_a, product=product,
               status=CaseStatus.CLOSED)
    give_cases(experts["new_york"], 1, organization=tenant_a, product=product,
               status=CaseStatus.INFO_REQUESTED)
    case = opened(open_case, TUESDAY_1400)
    assert case.owner == experts["london"].user
    assert "carrying 0 open cases." in reasons(case)


def test_an_expert_at_their_case_limit_is_skipped(open_case, experts, tenant_a, product):
    london = experts["london"]
    london.max_open_cases = 1
    london.save()
    give_cases(london, 1, organization=tenant_a, product=product)
    give_cases(experts["new_york"], 3, organization=tenant_a, product=product)
    case = opened(open_case, TUESDAY_1400)
    assert case.owner == experts["new_york"].user


def test_everyone_on_shift_at_their_limit_goes_to_the_next_to_start(
    open_case, experts, tenant_a, product
):
    for name in ("london", "new_york"):
        experts[name].max_open_cases = 2
        experts[name].save()
        give_cases(experts[name], 2, organization=tenant_a, product=product)
    case = opened(open_case, TUESDAY_1400)
    assert case.owner == experts["sydney"].user
    assert "Syd starts next (2026-11-17 21:00 UTC" in reasons(case)


def test_complex_cases_go_to_the_most_skilled_on_shift(open_case, experts, tenant_a, product):
    Skill.objects.filter(expert=experts["new_york"]).update(level=Skill.Level.EXPERT)
    give_cases(experts["new_york"], 5, organization=tenant_a, product=product)
    case = opened(open_case, TUESDAY_1400)
    with time_machine.travel(TUESDAY_1400, tick=False):
        high = routing.route(case, TUESDAY_1400, Complexity.HIGH)
        low = routing.route(case, TUESDAY_1400, Complexity.LOW)
    assert high.expert == experts["new_york"]
    assert "Complex case: the most skilled on shift first." in high.reasons
    assert "expert in Cloud CX, carrying 5 open cases." in high.reasons[-1]
    assert low.expert == experts["london"]  # the least loaded


def test_assessment_rates_a_critical_premise_case_high(open_case, experts):
    case = opened(open_case, TUESDAY_1400, criticality=1, deployment="premise")
    assert case.complexity == Complexity.HIGH
    assert "Premise deployment: the customer's own environment." in case.assessment["reasons"]


def test_unavailable_experts_are_passed_by(open_case, experts):
    experts["london"].is_available = False
    experts["london"].save()
    case = opened(open_case, TUESDAY_1400)
    assert case.owner == experts["new_york"].user


def test_deactivated_users_are_passed_by(open_case, experts):
    experts["london"].user.is_active = False
    experts["london"].user.save()
    case = opened(open_case, TUESDAY_1400)
    assert case.owner == experts["new_york"].user


def test_experts_without_skill_in_the_product_are_passed_by(open_case, experts, telephony,
                                                            product):
    Skill.objects.filter(expert=experts["london"]).delete()
    case = opened(open_case, TUESDAY_1400)
    assert case.owner == experts["new_york"].user


# --- Holidays ---------------------------------------------------------------------------


def test_an_expert_on_a_public_holiday_of_their_country_is_not_on_shift(open_case, experts):
    # Monday 2026-12-28 is Boxing Day (observed) in the UK, a workday in the US.
    case = opened(open_case, at(2026, 12, 28, 10, 0))  # London 10:00, New York 05:00
    assert case.owner == experts["new_york"].user
    assert "Ny starts next (2026-12-28 13:00 UTC, in 3.0 h)" in reasons(case)
    # The day after, London works again.
    case = opened(open_case, at(2026, 12, 29, 10, 0))
    assert case.owner == experts["london"].user


def test_thanksgiving_keeps_new_york_off_shift(open_case, experts):
    experts["london"].is_available = False
    experts["london"].save()
    # Thursday 2026-11-26 15:00 UTC: New York 10:00 on Thanksgiving; Sydney 02:00.
    case = opened(open_case, at(2026, 11, 26, 15, 0))
    assert case.owner == experts["sydney"].user  # Friday 08:00 AEDT = Thursday 21:00 UTC
    assert "Syd starts next (2026-11-26 21:00 UTC" in reasons(case)


# --- Criticality 1: 24x7, worldwide -------------------------------------------------------


@pytest.fixture
def reporting(db):
    """Another group, with an expert in India (IST, on shift 02:30-11:30 UTC)."""
    return SupportGroup.objects.create(slug="reporting", name="Reporting",
                                       timezone="Asia/Kolkata", country="IN")


def test_critical_case_in_office_hours_goes_to_the_group_on_shift(open_case, experts):
    case = opened(open_case, TUESDAY_1400, criticality=1)
    assert case.owner == experts["london"].user
    assert "Criticality 1: routed 24x7 to whoever is on shift now." in reasons(case)


def test_critical_case_when_the_group_sleeps_goes_to_a_skilled_expert_elsewhere(
    open_case, experts, reporting, product
):
    mumbai = make_expert("mum@provider.test", reporting, product, tz="Asia/Kolkata",
                         country="IN")
    unskilled = make_expert("uns@provider.test", reporting, product, tz="Asia/Kolkata",
                            country="IN", level=0)
    assert unskilled.skills.count() == 0
    case = opened(open_case, at(2026, 11, 17, 7, 0), criticality=1)  # IST 12:30
    assert case.owner == mumbai.user
    assert case.group.slug == "telephony"  # the case stays the product group's
    text = reasons(case)
    assert ("Criticality 1: nobody in the group is on shift now; routed worldwide to a "
            "skilled expert on shift.") in text
    assert "Mum (Reporting) is on shift (12:30 in Asia/Kolkata)" in text
    # A non-critical case at the same instant waits for London instead.
    case = opened(open_case, at(2026, 11, 17, 7, 0), criticality=2)
    assert case.owner == experts["london"].user


def test_critical_case_with_no_skilled_expert_awake_goes_to_anyone_on_shift(
    open_case, experts, reporting, product
):
    unskilled = make_expert("uns@provider.test", reporting, product, tz="Asia/Kolkata",
                            country="IN", level=0)
    case = opened(open_case, at(2026, 11, 17, 7, 0), criticality=1)
    assert case.owner == unskilled.user
    assert ("Criticality 1: no skilled expert is on shift now; routed to the analyst on "
            "shift anywhere") in reasons(case)
    assert "no recorded skill in Cloud CX" in reasons(case)


def test_critical_case_with_nobody_awake_anywhere_follows_the_sun(open_case, experts):
    case = opened(open_case, at(2026, 11, 21, 12, 0), criticality=1)  # Saturday
    assert case.owner == experts["sydney"].user
    assert "Criticality 1: nobody is on shift anywhere right now." in reasons(case)


# --- Groups -----------------------------------------------------------------------------


def test_a_product_no_group_supports_goes_to_the_default_group(
    open_case, experts, tenant_a, care_desk
):
    other = ProductFactory(slug="wfm", name="Workforce")
    tenant_a.platforms.add(other)
    case = opened(open_case, TUESDAY_1400, product=other)
    assert case.group == care_desk
    assert case.owner is None  # the care desk has no experts yet
    text = reasons(case)
    assert "No group supports Workforce; Customer Care takes it." in text
    assert "Nobody in Customer Care can take it now" in text
    # A care-desk member on shift takes it, though nobody lists a skill in it.
    member = make_expert("desk@provider.test", care_desk, other, tz="Europe/London",
                         country="GB", level=0)
    case = opened(open_case, TUESDAY_1400, product=other)
    assert case.owner == member.user
    assert "Nobody in Customer Care lists a skill in Workforce; any member may take it." \
        in reasons(case)


def test_without_any_group_the_case_waits_for_a_care_manager(open_case):
    case = opened(open_case, TUESDAY_1400)
    assert case.group is None and case.owner is None
    assert case.routing["reasons"] == [
        "No support group is set up yet; the case waits for a care manager."]


def test_an_inactive_group_does_not_take_cases(open_case, experts, telephony, care_desk):
    telephony.is_active = False
    telephony.save()
    case = opened(open_case, TUESDAY_1400)
    assert case.group == care_desk


# --- Incomplete cases -------------------------------------------------------------------


def test_an_incomplete_case_waits_and_routes_only_after_the_facts_come(
    open_case, experts, requirement, contact_a
):
    case = opened(open_case, TUESDAY_1400, facts={})
    assert case.status == CaseStatus.INFO_REQUESTED
    assert case.owner is None and case.routed_at is None
    assert case.sla_paused_at == TUESDAY_1400
    assert case.group.slug == "telephony"
    assert case.assessment["missing_names"] == ["phone_number"]
    # The customer answers at 03:00 UTC on Wednesday: Sydney is on shift then.
    wednesday_0300 = at(2026, 11, 18, 3, 0)
    with time_machine.travel(wednesday_0300, tick=False):
        services.case_provide_info(actor=contact_a, case=case, body="Here it is",
                                   facts={"phone_number": "+1 212 555 0101"})
    case = Case.objects.get(pk=case.pk)
    assert case.status == CaseStatus.OPEN
    assert case.owner == experts["sydney"].user
    assert case.routed_at == wednesday_0300
    assert case.sla_paused_at is None
    assert "is on shift (14:00 in Australia/Sydney)" in reasons(case)
