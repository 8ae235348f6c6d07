"""A recurring cause: an incident of the problem and another incident hit the same
functional area or topology element within 30 days of each other."""

from __future__ import annotations

import datetime

from caredeck.problems.recurrence import problem_suggestions, recurrences_of
from caredeck.problems.services import problem_create
from tests.problems.conftest import at, bare_incident

DAY = datetime.timedelta(days=1)


def _problem(actor, *incidents, **fields):
    return problem_create(actor=actor, title=fields.pop("title", "Cause"),
                          incidents=list(incidents), **fields)


def test_the_same_area_hit_again_within_30_days_is_recurring(
    incident_manager, tenant_a, tenant_b
):
    first = bare_incident(incident_manager, title="Calls drop", detected_at=at("2030-03-01 08:00"),
                          areas={tenant_a: ["call_routing", "reporting"]})
    again = bare_incident(incident_manager, title="Calls drop again",
                          detected_at=at("2030-03-13 08:00"),
                          areas={tenant_b: ["call_routing"]})
    problem = _problem(incident_manager, first)
    [found] = recurrences_of([problem])[problem.pk]
    assert (found.incident.number, found.other.number) == (first.number, again.number)
    assert (found.match, found.value, found.days_apart) == ("area", "call_routing", 12)


def test_the_same_element_hit_again_is_recurring(incident_manager):
    first = bare_incident(incident_manager, title="us-east down",
                          detected_at=at("2030-03-01 08:00"), element="us-east")
    second = bare_incident(incident_manager, title="us-east flaps",
                           detected_at=at("2030-03-21 08:00"), element="us-east")
    problem = _problem(incident_manager, first, second)
    [found] = recurrences_of([problem])[problem.pk]  # the pair once, not twice
    assert (found.match, found.value, found.days_apart) == ("element", "us-east", 20)


def test_31_days_apart_is_not_recurring_and_30_is(incident_manager, tenant_a):
    first = bare_incident(incident_manager, title="One", detected_at=at("2030-03-01 08:00"),
                          element="pop-ashburn", areas={tenant_a: ["call_routing"]})
    bare_incident(incident_manager, title="Later", detected_at=at("2030-04-01 08:00"),
                  element="pop-ashburn", areas={tenant_a: ["call_routing"]})
    problem = _problem(incident_manager, first)
    assert recurrences_of([problem])[problem.pk] == []
    bare_incident(incident_manager, title="Within", detected_at=at("2030-03-31 08:00"),
                  element="pop-ashburn")
    assert [r.other.title for r in recurrences_of([problem])[problem.pk]] == ["Within"]


def test_different_areas_and_elements_are_not_recurring(incident_manager, tenant_a):
    first = bare_incident(incident_manager, title="One", detected_at=at("2030-03-01 08:00"),
                          element="us-east", areas={tenant_a: ["call_routing"]})
    bare_incident(incident_manager, title="Other", detected_at=at("2030-03-02 08:00"),
                  element="us-west", areas={tenant_a: ["reporting"]})
    problem = _problem(incident_manager, first)
    assert recurrences_of([problem])[problem.pk] == []


def test_a_removed_tenants_areas_do_not_count(incident_manager, tenant_a):
    first = bare_incident(incident_manager, title="One", detected_at=at("2030-03-01 08:00"),
                          areas={tenant_a: ["call_routing"]})
    other = bare_incident(incident_manager, title="Other", detected_at=at("2030-03-02 08:00"),
                          areas={tenant_a: ["call_routing"]})
    other.affected.update(removed_at=at("2030-03-02 09:00"))
    problem = _problem(incident_manager, first)
    assert recurrences_of([problem])[problem.pk] == []


def test_a_review_is_offered_the_problem_it_looks_like_closest_first(
    incident_manager, tenant_a
):
    old = bare_incident(incident_manager, title="Old", detected_at=at("2030-03-01 08:00"),
                        areas={tenant_a: ["call_routing"]})
    near = bare_incident(incident_manager, title="Near", detected_at=at("2030-03-10 08:00"),
                         element="us-east")
    far_problem = _problem(incident_manager, old, title="Routing rules")
    near_problem = _problem(incident_manager, near, title="us-east power")
    declared = _problem(incident_manager, title="Reporting lag", area="reporting")
    _problem(incident_manager, title="Unrelated", area="agent_login")
    now = bare_incident(incident_manager, title="Now", detected_at=at("2030-03-13 08:00"),
                        element="us-east", areas={tenant_a: ["call_routing", "reporting"]})
    suggestions = problem_suggestions(now)
    assert [s.problem for s in suggestions] == [near_problem, far_problem, declared]
    assert suggestions[0].reason == f"same element us-east 3 days ago ({near.number})"
    assert suggestions[1].reason == f"same area call_routing 12 days ago ({old.number})"
    assert suggestions[2].reason == "its area is reporting"
