"""The RCA clock: business days after resolution in each affected tenant's calendar, the
earliest promise wins; the owner is reminded one business day before, action-item owners
on the due date, each once, by the scheduler."""

from __future__ import annotations

import datetime

import time_machine
from django.core import mail

from caredeck.core.scheduler import tick
from caredeck.notify.models import OutboundMessage
from caredeck.problems.clocks import reminders_next_due
from caredeck.problems.services import problem_create, review_hold
from tests.problems.conftest import at, bare_incident, declare_resolved


def _problem_for(manager, incident):
    with time_machine.travel(incident.resolved_at + datetime.timedelta(hours=1), tick=False):
        return problem_create(actor=manager, title="Routing table corruption",
                              incidents=[incident])


def test_rca_is_due_five_business_days_after_resolution_skipping_the_weekend(
    incident_manager, tenant_a, contact_a
):
    # Thursday 10:00: Fri, Mon, Tue, Wed, Thu -> the next Thursday at the same time.
    incident = declare_resolved(
        incident_manager, title="Calls drop", impacts={tenant_a: "Inbound calls drop."},
        areas=["call_routing"], detected_at=at("2030-03-07 08:00"),
        resolved_at=at("2030-03-07 10:00"),
    )
    problem = _problem_for(incident_manager, incident)
    assert problem.rca_due_at == at("2030-03-14 10:00")
    # Reminded one business day before: Wednesday.
    assert problem.rca_remind_at == at("2030-03-13 10:00")


def test_the_strictest_contract_sets_the_due_time_and_holidays_do_not_count(
    incident_manager, tenant_a, tenant_b, contact_a, contact_b
):
    tenant_b.contract.rca_business_days = 3
    tenant_b.contract.save()
    # Friday 15:00 before Memorial Day (Monday 2030-05-27, a US holiday).
    incident = declare_resolved(
        incident_manager, title="Agents cannot log in",
        impacts={tenant_a: "Agents are logged out.", tenant_b: "Log-in fails."},
        areas=["agent_login"], detected_at=at("2030-05-24 13:00"),
        resolved_at=at("2030-05-24 15:00"),
    )
    problem = _problem_for(incident_manager, incident)
    # B: Tue, Wed, Thu (3 business days) beats A's Tue..Mon (5 business days).
    assert problem.rca_due_at == at("2030-05-30 15:00")
    assert problem.rca_remind_at == at("2030-05-29 15:00")


def test_contract_calendars_are_those_of_the_tenant(incident_manager, tenant_a, contact_a):
    contract = tenant_a.contract
    contract.support_country, contract.support_timezone = "GB", "Europe/London"
    contract.save()
    # Resolved Friday 2030-04-12 16:00 UTC (17:00 in London). Good Friday, 2030-04-19,
    # is a holiday in the UK and not in the US.
    incident = declare_resolved(
        incident_manager, title="Reports late", impacts={tenant_a: "Reports lag."},
        areas=["reporting"], detected_at=at("2030-04-12 15:00"),
        resolved_at=at("2030-04-12 16:00"),
    )
    problem = _problem_for(incident_manager, incident)
    # Mon 15, Tue 16, Wed 17, Thu 18, (Good Friday) Mon 22 at 17:00 London time; the US
    # calendar would have said Friday 19.
    assert problem.rca_due_at == at("2030-04-22 16:00")


def test_an_incident_without_tenants_falls_back_to_five_business_days_utc(
    incident_manager, tenant_a
):
    incident = bare_incident(
        incident_manager, title="Internal only", detected_at=at("2030-03-07 08:00"),
        resolved_at=at("2030-03-08 09:30"),
    )
    problem = _problem_for(incident_manager, incident)
    assert problem.rca_due_at == at("2030-03-15 09:30")


def test_an_unresolved_incident_starts_no_clock_until_it_is_linked_resolved(
    incident_manager, tenant_a
):
    incident = bare_incident(incident_manager, title="Ongoing", detected_at=at("2030-03-07 08:00"))
    with time_machine.travel(at("2030-03-07 09:00"), tick=False):
        problem = problem_create(actor=incident_manager, title="Unknown cause",
                                 incidents=[incident])
    assert problem.rca_due_at is None and problem.rca_remind_at is None


def test_the_owner_is_reminded_once_one_business_day_before(
    incident_manager, engineer, tenant_a, contact_a
):
    incident = declare_resolved(
        incident_manager, title="Calls drop", impacts={tenant_a: "Inbound calls drop."},
        areas=["call_routing"], detected_at=at("2030-03-07 08:00"),
        resolved_at=at("2030-03-07 10:00"),
    )
    with time_machine.travel(at("2030-03-07 11:00"), tick=False):
        problem = problem_create(actor=incident_manager, title="Routing", owner=engineer,
                                 incidents=[incident])
    assert reminders_next_due() == at("2030-03-13 10:00")
    reminders = OutboundMessage.objects.filter(event="problem.team", user=engineer,
                                               subject__startswith="Due soon")
    with time_machine.travel(at("2030-03-13 09:59"), tick=False):
        tick("holder")
    assert not reminders.exists()
    with time_machine.travel(at("2030-03-13 10:00"), tick=False):
        tick("holder")
        tick("holder")
    with time_machine.travel(at("2030-03-13 12:00"), tick=False):
        tick("holder")
    assert reminders.count() == 2  # e-mail and in-app, once
    assert problem.number in reminders.first().subject
    problem.refresh_from_db()
    assert problem.rca_remind_at is None


def test_a_published_rca_is_not_reminded(incident_manager, tenant_a, contact_a):
    from caredeck.problems.services import problem_rca_publish, problem_update

    incident = declare_resolved(
        incident_manager, title="Calls drop", impacts={tenant_a: "Inbound calls drop."},
        areas=["call_routing"], detected_at=at("2030-03-07 08:00"),
        resolved_at=at("2030-03-07 10:00"),
    )
    problem = _problem_for(incident_manager, incident)
    with time_machine.travel(at("2030-03-08 10:00"), tick=False):
        problem_update(actor=incident_manager, problem=problem, root_cause="A bad route.",
                       rca_document="What happened and why.")
        problem_rca_publish(actor=incident_manager, problem=problem)
    with time_machine.travel(at("2030-03-13 10:30"), tick=False):
        tick("holder")
    assert not OutboundMessage.objects.filter(event="problem.team",
                                              subject__contains="RCA of").exists()


def test_action_item_owners_are_told_when_assigned_and_reminded_on_the_due_date(
    incident_manager, engineer, tenant_a, contact_a
):
    engineer.timezone = "America/New_York"
    engineer.save()
    incident = declare_resolved(
        incident_manager, title="Calls drop", impacts={tenant_a: "Inbound calls drop."},
        areas=["call_routing"], detected_at=at("2030-03-07 08:00"),
        resolved_at=at("2030-03-07 10:00"),
    )
    with time_machine.travel(at("2030-03-08 10:00"), tick=False):
        review = review_hold(
            actor=incident_manager, incident=incident, held_on=datetime.date(2030, 3, 8),
            facilitator=incident_manager, summary="A route was pushed without validation.",
            action_items=[{"title": "Validate routes before push", "owner": engineer,
                           "due_on": datetime.date(2030, 3, 20)}],
            new_problem={"title": "Unvalidated route pushes"},
        )
    item = review.action_items.get()
    # 09:00 in New York on the due date is 13:00 UTC (daylight time from 2030-03-10).
    assert item.remind_at == at("2030-03-20 13:00")
    assigned = OutboundMessage.objects.filter(user=engineer, event="problem.team",
                                              subject__startswith="Action item for you")
    assert assigned.count() == 2
    due = OutboundMessage.objects.filter(user=engineer, subject__startswith="Due today")
    with time_machine.travel(at("2030-03-20 12:59"), tick=False):
        tick("holder")
    assert not due.exists()
    with time_machine.travel(at("2030-03-20 13:00"), tick=False):
        tick("holder")
    with time_machine.travel(at("2030-03-20 13:05"), tick=False):
        tick("holder")
    assert due.count() == 2
    mail.outbox.clear()


def test_a_done_action_item_is_not_reminded(incident_manager, engineer, tenant_a, contact_a):
    from caredeck.problems.services import action_item_done

    incident = declare_resolved(
        incident_manager, title="Calls drop", impacts={tenant_a: "Inbound calls drop."},
        areas=["call_routing"], detected_at=at("2030-03-07 08:00"),
        resolved_at=at("2030-03-07 10:00"),
    )
    with time_machine.travel(at("2030-03-08 10:00"), tick=False):
        review = review_hold(
            actor=incident_manager, incident=incident, held_on=datetime.date(2030, 3, 8),
            facilitator=incident_manager, summary="Found it.",
            action_items=[{"title": "Fix it", "owner": engineer,
                           "due_on": datetime.date(2030, 3, 12)}],
            new_problem={"title": "Cause"},
        )
        action_item_done(actor=engineer, item=review.action_items.get())
    with time_machine.travel(at("2030-03-12 12:00"), tick=False):
        tick("holder")
    assert not OutboundMessage.objects.filter(subject__startswith="Due today").exists()
