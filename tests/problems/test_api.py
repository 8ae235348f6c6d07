"""The problem API: staff read, problem managers write; customers and partners get 404 on
every problem route; bad input is a 400 on the field; a refused move a 409 with why."""

from __future__ import annotations

import datetime

import pytest
import time_machine

from caredeck.core.models import AuditEntry
from caredeck.incidents.models import Incident
from caredeck.problems.models import ActionItem, PostIncidentReview, Problem
from caredeck.problems.services import problem_create
from tests.problems.conftest import at, bare_incident, declare_resolved

NOW = at("2030-03-08 10:00")


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def resolved(incident_manager, tenant_a, contact_a):
    return declare_resolved(
        incident_manager, title="Calls drop", impacts={tenant_a: "Inbound calls drop."},
        areas=["call_routing"], detected_at=at("2030-03-07 08:00"),
        resolved_at=at("2030-03-07 10:00"),
    )


@pytest.fixture
def problem(incident_manager):
    return problem_create(actor=incident_manager, title="Media servers leak memory")


def test_a_problem_manager_opens_a_problem_with_its_incidents(
    as_user, incident_manager, engineer, resolved
):
    answer = as_user(incident_manager).post("/api/v1/problems/", {
        "title": "Unvalidated route pushes", "owner": engineer.pk,
        "root_cause": "No validation.", "area": "call_routing", "element": "us-east",
        "incidents": [resolved.number],
    }, format="json")
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert body["number"].startswith("PRB-") and body["status"] == "open"
    assert body["owner"] == engineer.pk
    assert [i["number"] for i in body["incidents"]] == [resolved.number]
    assert body["rca_due_at"] == "2030-03-14T10:00:00Z"
    assert body["recurring"] is False and body["action_items"] == []
    assert body["allowed_transitions"] == ["root_cause_known", "known_error"]
    resolved.refresh_from_db()
    assert resolved.problem.number == body["number"]


def test_the_owner_defaults_to_the_caller(as_user, engineer):
    answer = as_user(engineer).post("/api/v1/problems/", {"title": "Disk fills"},
                                    format="json")
    assert answer.status_code == 201
    assert answer.json()["owner"] == engineer.pk


@pytest.mark.parametrize("payload, field", [
    ({}, "title"),
    ({"title": ""}, "title"),
    ({"title": "x", "owner": 999999}, "owner"),
    ({"title": "x", "owner": "me"}, "owner"),
    ({"title": "x", "area": "no_such_area"}, "area"),
    ({"title": "x", "element": "atlantis"}, "element"),
    ({"title": "x", "incidents": ["INC-999999"]}, "incidents"),
    ({"title": "x", "incidents": ["junk"]}, "incidents"),
    ({"title": "x", "incidents": "INC-000001"}, "incidents"),
])
def test_bad_input_is_a_400_on_the_field(as_user, incident_manager, payload, field):
    answer = as_user(incident_manager).post("/api/v1/problems/", payload, format="json")
    assert answer.status_code == 400
    assert field in answer.json()
    assert not Problem.objects.exists()


def test_a_customer_owner_is_refused(as_user, incident_manager, member_a):
    answer = as_user(incident_manager).post(
        "/api/v1/problems/", {"title": "x", "owner": member_a.pk}, format="json"
    )
    assert answer.status_code == 400 and "owner" in answer.json()


def test_an_incident_already_linked_elsewhere_is_refused(
    as_user, incident_manager, problem, resolved
):
    client = as_user(incident_manager)
    assert client.post(f"/api/v1/problems/{problem.number}/link/",
                       {"incident": resolved.number}, format="json").status_code == 200
    answer = client.post("/api/v1/problems/", {"title": "Other",
                                              "incidents": [resolved.number]}, format="json")
    assert answer.status_code == 400
    assert problem.number in answer.json()["incidents"][0]
    answer = client.post(f"/api/v1/problems/{problem.number}/link/",
                         {"incident": resolved.number}, format="json")
    assert answer.status_code == 409 and "already linked" in answer.json()["detail"]


def test_staff_read_the_list_and_the_detail(as_user, care_analyst, problem):
    client = as_user(care_analyst)
    listing = client.get("/api/v1/problems/")
    assert listing.status_code == 200
    assert [p["number"] for p in listing.json()["results"]] == [problem.number]
    assert client.get(f"/api/v1/problems/{problem.number}/").json()["title"] == problem.title


def test_the_list_filters_by_status(as_user, care_analyst, problem, incident_manager):
    closed = problem_create(actor=incident_manager, title="Old one")
    Problem.objects.filter(pk=closed.pk).update(status="closed")
    client = as_user(care_analyst)
    assert [p["number"] for p in client.get("/api/v1/problems/?status=active").json()[
        "results"]] == [problem.number]
    assert [p["number"] for p in client.get("/api/v1/problems/?status=closed").json()[
        "results"]] == [closed.number]


@pytest.mark.parametrize("who", ["member_a", "admin_a", "partner_user", "contact_a", "tam"])
def test_people_who_do_not_serve_every_tenant_get_404_everywhere(
    request, as_user, who, problem, resolved
):
    client = as_user(request.getfixturevalue(who))
    base = f"/api/v1/problems/{problem.number}/"
    for method, url, data in [
        ("get", "/api/v1/problems/", None),
        ("post", "/api/v1/problems/", {"title": "x"}),
        ("get", base, None),
        ("patch", base, {"title": "y"}),
        ("post", base + "transition/", {"status": "known_error"}),
        ("post", base + "publish-rca/", {}),
        ("post", base + "link/", {"incident": resolved.number}),
        ("post", base + "unlink/", {"incident": resolved.number}),
    ]:
        answer = getattr(client, method)(url, data, format="json")
        assert answer.status_code == 404, (who, method, url)
    problem.refresh_from_db()
    assert problem.title == "Media servers leak memory"


def test_staff_without_problem_management_get_403_on_changes(as_user, care_analyst, problem):
    client = as_user(care_analyst)
    base = f"/api/v1/problems/{problem.number}/"
    assert client.post("/api/v1/problems/", {"title": "x"}, format="json").status_code == 403
    assert client.patch(base, {"title": "y"}, format="json").status_code == 403
    assert client.post(base + "transition/", {"status": "known_error"},
                       format="json").status_code == 403
    assert client.post(base + "publish-rca/", {}, format="json").status_code == 403


def test_junk_numbers_are_404(as_user, incident_manager):
    client = as_user(incident_manager)
    for number in ("PRB-1", "INC-000001", "abc", "PRB-999999"):
        assert client.get(f"/api/v1/problems/{number}/").status_code == 404


def test_patch_changes_the_record_and_audits_it(as_user, incident_manager, problem):
    answer = as_user(incident_manager).patch(f"/api/v1/problems/{problem.number}/", {
        "root_cause": "A leak in the codec.", "workaround": "Restart nightly.",
        "rca_document": "Draft.",
    }, format="json")
    assert answer.status_code == 200
    assert answer.json()["workaround"] == "Restart nightly."
    entry = AuditEntry.objects.get(object_kind="problem", object_id=problem.number,
                                   action="updated")
    assert entry.changes["root_cause"] == ["", "A leak in the codec."]


def test_patch_refuses_the_status(as_user, incident_manager, problem):
    answer = as_user(incident_manager).patch(f"/api/v1/problems/{problem.number}/",
                                             {"status": "closed"}, format="json")
    assert answer.status_code == 400 and "status" in answer.json()


def test_transitions_answer_409_with_the_reason_and_400_for_what_is_missing(
    as_user, incident_manager, problem
):
    client = as_user(incident_manager)
    url = f"/api/v1/problems/{problem.number}/transition/"
    refused = client.post(url, {"status": "closed"}, format="json")
    assert refused.status_code == 409
    assert "cannot become closed" in refused.json()["detail"]
    missing = client.post(url, {"status": "root_cause_known"}, format="json")
    assert missing.status_code == 400 and "root_cause" in missing.json()
    assert client.post(url, {"status": "nonsense"}, format="json").status_code == 400
    client.patch(f"/api/v1/problems/{problem.number}/", {"root_cause": "Codec leak."},
                 format="json")
    moved = client.post(url, {"status": "root_cause_known"}, format="json")
    assert moved.status_code == 200 and moved.json()["status"] == "root_cause_known"


def test_publish_rca_once(as_user, incident_manager, resolved, tenant_a):
    client = as_user(incident_manager)
    created = client.post("/api/v1/problems/", {
        "title": "Routes", "incidents": [resolved.number], "root_cause": "Bad push.",
    }, format="json").json()
    url = f"/api/v1/problems/{created['number']}/"
    empty = client.post(url + "publish-rca/", format="json")
    assert empty.status_code == 400 and "rca_document" in empty.json()
    client.patch(url, {"rca_document": "The analysis."}, format="json")
    published = client.post(url + "publish-rca/", format="json")
    assert published.status_code == 200
    assert published.json()["rca_published_at"] == "2030-03-08T10:00:00Z"
    again = client.post(url + "publish-rca/", format="json")
    assert again.status_code == 409 and "already published" in again.json()["detail"]


def test_link_and_unlink_an_incident(as_user, incident_manager, problem, resolved):
    client = as_user(incident_manager)
    base = f"/api/v1/problems/{problem.number}/"
    linked = client.post(base + "link/", {"incident": resolved.number.lower()}, format="json")
    assert [i["number"] for i in linked.json()["incidents"]] == [resolved.number]
    assert linked.json()["rca_due_at"] == "2030-03-14T10:00:00Z"
    unlinked = client.post(base + "unlink/", {"incident": resolved.number}, format="json")
    assert unlinked.json()["incidents"] == [] and unlinked.json()["rca_due_at"] is None
    assert Incident.objects.get(pk=resolved.pk).problem is None
    again = client.post(base + "unlink/", {"incident": resolved.number}, format="json")
    assert again.status_code == 409
    assert client.post(base + "link/", {"incident": "INC-999999"},
                       format="json").json() == {"incident": ["No such incident: INC-999999."]}


def test_the_detail_shows_the_recurrence(as_user, incident_manager, tenant_a):
    first = bare_incident(incident_manager, title="One", detected_at=at("2030-03-01 08:00"),
                          areas={tenant_a: ["call_routing"]})
    second = bare_incident(incident_manager, title="Two", detected_at=at("2030-03-05 08:00"),
                           areas={tenant_a: ["call_routing"]})
    other = problem_create(actor=incident_manager, title="Other", incidents=[second])
    problem = problem_create(actor=incident_manager, title="Routing", incidents=[first])
    body = as_user(incident_manager).get(f"/api/v1/problems/{problem.number}/").json()
    assert body["recurring"] is True
    assert body["recurrence"] == [{
        "incident": first.number, "other_incident": second.number,
        "other_problem": other.number, "match": "area", "value": "call_routing",
        "days_apart": 4,
    }]


# --- The review --------------------------------------------------------------------------


def _review(**extra):
    return {"held_on": "2030-03-08", "summary": "A route was pushed unvalidated.",
            "went_well": "Fast detection.", "went_wrong": "Slow rollback.", **extra}


def test_a_review_opens_a_problem_with_action_items(
    as_user, incident_manager, engineer, resolved
):
    answer = as_user(incident_manager).post(
        f"/api/v1/incidents/{resolved.number}/review/",
        _review(action_items=[{"title": "Validate pushes", "owner": engineer.pk,
                               "due_on": "2030-03-20"}],
                new_problem={"title": "Unvalidated route pushes"}),
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert body["facilitator"] == incident_manager.pk
    [item] = body["action_items"]
    assert (item["title"], item["owner"], item["due_on"], item["done"]) == (
        "Validate pushes", engineer.pk, "2030-03-20", False)
    problem = Problem.objects.get(number=body["problem"])
    # What it hit defaults to the incident's, for spotting a recurrence.
    assert problem.area == "call_routing"
    assert problem.action_items.get().title == "Validate pushes"
    assert AuditEntry.objects.filter(object_kind="incident", object_id=resolved.number,
                                     action="reviewed").exists()
    fetched = as_user(incident_manager).get(f"/api/v1/incidents/{resolved.number}/review/")
    assert fetched.json()["summary"] == "A route was pushed unvalidated."


def test_a_review_links_an_existing_problem(as_user, incident_manager, problem, resolved):
    answer = as_user(incident_manager).post(
        f"/api/v1/incidents/{resolved.number}/review/", _review(problem=problem.number),
        format="json",
    )
    assert answer.status_code == 201 and answer.json()["problem"] == problem.number
    resolved.refresh_from_db()
    assert resolved.problem == problem


@pytest.mark.parametrize("extra, field", [
    ({}, "problem"),
    ({"problem": "PRB-999999"}, "problem"),
    ({"problem": "PRB-000001", "new_problem": {"title": "x"}}, "problem"),
    ({"new_problem": {}}, "new_problem"),
    ({"new_problem": {"title": "x"}, "held_on": "2031-01-01"}, "held_on"),
    ({"new_problem": {"title": "x"}, "summary": ""}, "summary"),
    ({"new_problem": {"title": "x"}, "action_items": [{"title": "t"}]}, "action_items"),
    ({"new_problem": {"title": "x"},
      "action_items": [{"title": "t", "owner": 1, "due_on": "soon"}]}, "action_items"),
])
def test_review_field_errors(as_user, incident_manager, problem, resolved, extra, field):
    answer = as_user(incident_manager).post(
        f"/api/v1/incidents/{resolved.number}/review/", _review(**extra), format="json"
    )
    assert answer.status_code == 400, answer.json()
    assert field in answer.json()
    assert not PostIncidentReview.objects.exists()
    assert Problem.objects.count() == 1


def test_a_second_review_and_an_unresolved_incident_are_conflicts(
    as_user, incident_manager, resolved
):
    client = as_user(incident_manager)
    url = f"/api/v1/incidents/{resolved.number}/review/"
    assert client.post(url, _review(new_problem={"title": "x"}),
                       format="json").status_code == 201
    again = client.post(url, _review(new_problem={"title": "y"}), format="json")
    assert again.status_code == 409 and "already reviewed" in again.json()["detail"]
    ongoing = bare_incident(incident_manager, title="Ongoing", detected_at=at("2030-03-08 09:00"))
    answer = client.post(f"/api/v1/incidents/{ongoing.number}/review/",
                         _review(new_problem={"title": "z"}), format="json")
    assert answer.status_code == 409 and "once it is resolved" in answer.json()["detail"]


def test_the_review_route_hides_incidents_and_refuses_roles(
    as_user, care_analyst, member_b, member_a, resolved
):
    url = f"/api/v1/incidents/{resolved.number}/review/"
    # B was not affected: the incident does not exist for B.
    assert as_user(member_b).post(url, _review(), format="json").status_code == 404
    assert as_user(member_b).get(url).status_code == 404
    # A sees the incident, but reviews are the provider's.
    assert as_user(member_a).post(url, _review(), format="json").status_code == 403
    assert as_user(care_analyst).post(url, _review(new_problem={"title": "x"}),
                                      format="json").status_code == 403
    assert as_user(care_analyst).get(url).status_code == 404  # not reviewed yet


def test_action_items_are_ticked_off_by_their_owner(
    as_user, incident_manager, care_analyst, engineer, resolved
):
    as_user(incident_manager).post(
        f"/api/v1/incidents/{resolved.number}/review/",
        _review(action_items=[{"title": "Write the runbook", "owner": care_analyst.pk,
                               "due_on": "2030-03-12"}],
                new_problem={"title": "Runbooks missing"}),
        format="json",
    )
    item = ActionItem.objects.get()
    url = f"/api/v1/problems/{item.problem.number}/action-items/{item.pk}/done/"
    # An owner without problem-management rights ticks off their own item.
    done = as_user(care_analyst).post(url)
    assert done.status_code == 200 and done.json()["done"] is True
    assert as_user(care_analyst).post(url).status_code == 409
    reopened = as_user(incident_manager).delete(url)
    assert reopened.json()["done"] is False
    item.refresh_from_db()
    assert item.remind_at == datetime.datetime(2030, 3, 12, 9, 0, tzinfo=datetime.UTC)
    # Someone else's item needs problem management.
    other = ActionItem.objects.create(review=item.review, problem=item.problem, title="Other",
                                      owner=engineer, due_on=datetime.date(2030, 3, 30))
    other_url = f"/api/v1/problems/{item.problem.number}/action-items/{other.pk}/done/"
    assert as_user(care_analyst).post(other_url).status_code == 403


def test_action_items_can_follow_the_review(as_user, incident_manager, engineer, resolved):
    client = as_user(incident_manager)
    client.post(f"/api/v1/incidents/{resolved.number}/review/",
                _review(new_problem={"title": "x"}), format="json")
    url = f"/api/v1/incidents/{resolved.number}/review/action-items/"
    added = client.post(url, {"title": "Add alerting", "owner": engineer.pk,
                              "due_on": "2030-03-22"}, format="json")
    assert added.status_code == 201 and added.json()["problem"]
    assert client.post(url, {"title": "", "owner": engineer.pk, "due_on": "2030-03-22"},
                       format="json").status_code == 400
