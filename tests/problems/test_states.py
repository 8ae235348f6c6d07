"""The problem's state machine: the moves of states.TRANSITIONS and nothing else (409 with
the reason), what each move needs (400 on the field), and who may move it (403)."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from caredeck.core.exceptions import Conflict
from caredeck.core.models import AuditEntry
from caredeck.problems.models import ProblemStatus as S
from caredeck.problems.services import (
    action_item_done,
    problem_create,
    problem_rca_publish,
    problem_transition,
    problem_update,
    review_hold,
)
from caredeck.problems.states import TRANSITIONS
from tests.problems.conftest import at, declare_resolved


@pytest.fixture
def problem(incident_manager):
    return problem_create(actor=incident_manager, title="Media servers leak memory",
                          root_cause="A leak in the codec library.",
                          workaround="Restart the media servers nightly.")


def test_the_table_is_the_documented_one():
    assert TRANSITIONS == {
        S.OPEN: (S.ROOT_CAUSE_KNOWN, S.KNOWN_ERROR),
        S.ROOT_CAUSE_KNOWN: (S.KNOWN_ERROR, S.RESOLVED),
        S.KNOWN_ERROR: (S.RESOLVED,),
        S.RESOLVED: (S.CLOSED,),
        S.CLOSED: (),
    }


@pytest.mark.parametrize("path", [
    [S.ROOT_CAUSE_KNOWN, S.KNOWN_ERROR, S.RESOLVED, S.CLOSED],
    [S.KNOWN_ERROR, S.RESOLVED],
    [S.ROOT_CAUSE_KNOWN, S.RESOLVED, S.CLOSED],
])
def test_the_allowed_paths(problem, incident_manager, path):
    for status in path:
        problem_transition(actor=incident_manager, problem=problem, status=status)
        problem.refresh_from_db()
        assert problem.status == status
    if S.RESOLVED in path:
        assert problem.resolved_at is not None
    moves = AuditEntry.objects.filter(object_kind="problem", object_id=problem.number,
                                      action="status_changed")
    assert [e.changes["status"][1] for e in moves.order_by("pk")] == path


@pytest.mark.parametrize("start, target", [
    (S.OPEN, S.RESOLVED),
    (S.OPEN, S.CLOSED),
    (S.OPEN, S.OPEN),
    (S.KNOWN_ERROR, S.ROOT_CAUSE_KNOWN),
    (S.RESOLVED, S.OPEN),
    (S.CLOSED, S.OPEN),
])
def test_a_move_the_table_forbids_is_a_conflict_with_the_reason(
    problem, incident_manager, start, target
):
    problem.status = start
    problem.save()
    with pytest.raises(Conflict) as refused:
        problem_transition(actor=incident_manager, problem=problem, status=target)
    assert start.label.lower() in refused.value.reason
    problem.refresh_from_db()
    assert problem.status == start


def test_each_move_asks_for_what_it_needs(incident_manager):
    bare = problem_create(actor=incident_manager, title="Unclear")
    with pytest.raises(ValidationError) as refused:
        problem_transition(actor=incident_manager, problem=bare, status=S.ROOT_CAUSE_KNOWN)
    assert list(refused.value.message_dict) == ["root_cause"]
    with pytest.raises(ValidationError) as refused:
        problem_transition(actor=incident_manager, problem=bare, status=S.KNOWN_ERROR)
    assert list(refused.value.message_dict) == ["workaround"]
    problem_update(actor=incident_manager, problem=bare, workaround="Fail over by hand.")
    problem_transition(actor=incident_manager, problem=bare, status=S.KNOWN_ERROR)
    with pytest.raises(ValidationError) as refused:
        problem_transition(actor=incident_manager, problem=bare, status=S.RESOLVED)
    assert list(refused.value.message_dict) == ["root_cause"]


@time_machine.travel(at("2030-03-08 10:00"), tick=False)
def test_closing_waits_for_the_rca_owed_and_the_open_action_items(
    incident_manager, engineer, tenant_a, contact_a
):
    incident = declare_resolved(
        incident_manager, title="Calls drop", impacts={tenant_a: "Calls drop."},
        areas=["call_routing"], detected_at=at("2030-03-07 08:00"),
        resolved_at=at("2030-03-07 10:00"),
    )
    review = review_hold(
        actor=incident_manager, incident=incident, held_on=datetime.date(2030, 3, 7),
        facilitator=incident_manager, summary="Route push.",
        action_items=[{"title": "Add validation", "owner": engineer,
                       "due_on": datetime.date(2030, 3, 20)}],
        new_problem={"title": "Route pushes", "root_cause": "Unvalidated push."},
    )
    incident.refresh_from_db()
    problem = incident.problem
    problem_transition(actor=incident_manager, problem=problem, status=S.ROOT_CAUSE_KNOWN)
    problem_transition(actor=incident_manager, problem=problem, status=S.RESOLVED)
    with pytest.raises(Conflict, match="not published"):
        problem_transition(actor=incident_manager, problem=problem, status=S.CLOSED)
    problem_update(actor=incident_manager, problem=problem, rca_document="The analysis.")
    problem_rca_publish(actor=incident_manager, problem=problem)
    with pytest.raises(Conflict, match="1 action item is still open"):
        problem_transition(actor=incident_manager, problem=problem, status=S.CLOSED)
    action_item_done(actor=engineer, item=review.action_items.get())
    problem_transition(actor=incident_manager, problem=problem, status=S.CLOSED)
    with pytest.raises(Conflict, match="closed"):
        problem_update(actor=incident_manager, problem=problem, title="Renamed")


def test_only_problem_managers_move_problems(problem, care_analyst, engineer):
    with pytest.raises(PermissionDenied):
        problem_transition(actor=care_analyst, problem=problem, status=S.ROOT_CAUSE_KNOWN)
    problem_transition(actor=engineer, problem=problem, status=S.ROOT_CAUSE_KNOWN)


def test_an_unknown_status_is_a_field_error(problem, incident_manager):
    with pytest.raises(ValidationError) as refused:
        problem_transition(actor=incident_manager, problem=problem, status="fixed")
    assert "status" in refused.value.message_dict
