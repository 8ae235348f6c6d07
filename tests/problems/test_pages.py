"""The problem pages: the list with its filter, recurring badge and RCA clock; a new
problem; a problem's page with its moves, incidents, action items and RCA; an incident's
review with suggestions. Customers get 404; forms keep what was typed and say why."""

from __future__ import annotations

import datetime

import pytest
import time_machine

from caredeck.problems.models import ActionItem, PostIncidentReview, Problem
from caredeck.problems.services import problem_create, problem_update, review_hold
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


def text(response) -> str:
    return response.content.decode()


def test_the_empty_list_says_what_problems_are_and_how_to_start(page_as, incident_manager):
    page = page_as(incident_manager).get("/problems/")
    assert page.status_code == 200
    assert "No problem records yet" in text(page)
    assert 'href="/problems/new/"' in text(page)


def test_the_list_shows_status_rca_clock_and_the_recurring_badge(
    page_as, incident_manager, tenant_a, resolved
):
    again = bare_incident(incident_manager, title="Calls drop again",
                          detected_at=at("2030-03-01 08:00"), areas={tenant_a: ["call_routing"]})
    problem = problem_create(actor=incident_manager, title="Route pushes", incidents=[resolved])
    quiet = problem_create(actor=incident_manager, title="Quiet one")
    page = text(page_as(incident_manager).get("/problems/"))
    assert problem.number in page and quiet.number in page
    assert page.count("Recurring</span>") == 1
    assert f"{resolved.number} and {again.number}: same area call_routing, 6 days apart" in page
    assert "2030-03-14 10:00" in page  # the RCA due time, with its clock
    assert "clock-ok" in page
    filtered = text(page_as(incident_manager).get("/problems/?status=closed"))
    assert problem.number not in filtered and "No problem matches" in filtered


@pytest.mark.parametrize("who", ["member_a", "admin_b", "partner_user", "tam"])
def test_customers_partners_and_tams_get_404(request, page_as, who, incident_manager, resolved):
    problem = problem_create(actor=incident_manager, title="Route pushes", incidents=[resolved])
    client = page_as(request.getfixturevalue(who))
    for url in ("/problems/", "/problems/new/", f"/problems/{problem.number}/"):
        assert client.get(url).status_code == 404, url
    for url in (f"/problems/{problem.number}/edit/", f"/problems/{problem.number}/transition/",
                f"/problems/{problem.number}/rca/publish/"):
        assert client.post(url, {"title": "x", "status": "known_error"}).status_code == 404
    problem.refresh_from_db()
    assert problem.title == "Route pushes"


def test_the_navigation_offers_problems_to_staff_who_read_them(
    page_as, care_analyst, member_a
):
    assert 'href="/problems/"' in text(page_as(care_analyst).get("/home/"))
    assert 'href="/problems/"' not in text(page_as(member_a).get("/home/"))


def test_a_reader_without_problem_management_sees_no_buttons_and_gets_403(
    page_as, incident_manager, care_analyst
):
    problem = problem_create(actor=incident_manager, title="Disk fills", root_cause="Logs.")
    client = page_as(care_analyst)
    page = text(client.get(f"/problems/{problem.number}/"))
    assert "Root cause found" not in page and "Publish" not in page
    assert client.get("/problems/new/").status_code == 403
    assert client.post(f"/problems/{problem.number}/transition/",
                       {"status": "root_cause_known"}).status_code == 403


def test_a_new_problem_keeps_what_was_typed_and_shows_the_error_beside_the_field(
    page_as, incident_manager
):
    client = page_as(incident_manager)
    page = client.post("/problems/new/", {
        "title": "Certificates expire", "owner": incident_manager.pk,
        "root_cause": "No renewal job.", "incidents": "INC-424242",
    })
    assert page.status_code == 200
    body = text(page)
    assert "No such incident: INC-424242." in body
    assert 'value="Certificates expire"' in body and "No renewal job." in body
    assert not Problem.objects.exists()
    missing = text(client.post("/problems/new/", {"owner": incident_manager.pk}))
    assert "This field is required." in missing


def test_a_new_problem_links_its_incidents(page_as, incident_manager, resolved):
    answer = page_as(incident_manager).post("/problems/new/", {
        "title": "Route pushes", "owner": incident_manager.pk,
        "incidents": resolved.number.lower(),
    })
    problem = Problem.objects.get()
    assert answer.status_code == 302 and answer.url == f"/problems/{problem.number}/"
    assert list(problem.incidents.all()) == [resolved]


def test_the_problem_page_has_the_object_shape(page_as, incident_manager, engineer, resolved):
    review_hold(
        actor=incident_manager, incident=resolved, held_on=datetime.date(2030, 3, 8),
        facilitator=incident_manager, summary="Route push.",
        action_items=[{"title": "Validate pushes", "owner": engineer,
                       "due_on": datetime.date(2030, 3, 20)}],
        new_problem={"title": "Route pushes"},
    )
    problem = Problem.objects.get()
    page = text(page_as(incident_manager).get(f"/problems/{problem.number}/"))
    assert f"<h1>{problem.number} <small>Route pushes</small></h1>" in page
    assert "Root found" not in page
    assert ">Root cause found</button>" in page and ">Known error: work-around in place<" in page
    assert ">Resolve</button>" not in page  # not allowed from open
    assert resolved.number in page and "Validate pushes" in page and "Mark done" in page
    assert "2030-03-14 10:00" in page  # RCA due clock in the facts
    assert "Publish and send to 1 tenant" in page
    assert 'id="history-h"' in page and "created" in page


def test_a_transition_that_needs_a_field_says_so_beside_it(page_as, incident_manager):
    problem = problem_create(actor=incident_manager, title="Unclear")
    page = page_as(incident_manager).post(f"/problems/{problem.number}/transition/",
                                          {"status": "root_cause_known"})
    assert page.status_code == 200
    body = text(page)
    assert "Write down the root cause before marking the problem" in body
    assert 'id="id_root_cause_error"' in body
    problem.refresh_from_db()
    assert problem.status == "open"


def test_a_forbidden_transition_is_refused_with_the_reason(page_as, incident_manager):
    problem = problem_create(actor=incident_manager, title="Unclear")
    client = page_as(incident_manager)
    answer = client.post(f"/problems/{problem.number}/transition/", {"status": "closed"})
    assert answer.status_code == 302
    assert "cannot become closed" in text(client.get(answer.url))


def test_editing_and_moving_a_problem(page_as, incident_manager, engineer):
    problem = problem_create(actor=incident_manager, title="Unclear")
    client = page_as(incident_manager)
    saved = client.post(f"/problems/{problem.number}/edit/", {
        "title": "Codec leak", "owner": engineer.pk, "root_cause": "Leak in the codec.",
        "workaround": "", "area": "", "element": "",
    })
    assert saved.status_code == 302
    moved = client.post(f"/problems/{problem.number}/transition/", {"status": "root_cause_known"})
    assert moved.status_code == 302
    problem.refresh_from_db()
    assert (problem.title, problem.owner, problem.status) == (
        "Codec leak", engineer, "root_cause_known")
    bad = client.post(f"/problems/{problem.number}/edit/", {
        "title": "Codec leak", "owner": engineer.pk, "area": "no-such-area",
    })
    assert bad.status_code == 200 and "Select a valid choice" in text(bad)


def test_publishing_from_the_page(page_as, incident_manager, resolved):
    problem = problem_create(actor=incident_manager, title="Route pushes", incidents=[resolved])
    client = page_as(incident_manager)
    refused = text(client.post(f"/problems/{problem.number}/rca/publish/"))
    assert "Write the root-cause analysis before publishing it." in refused
    assert "State the root cause before publishing the RCA." in refused
    client.post(f"/problems/{problem.number}/rca/", {"rca_document": "The analysis."})
    problem_update(actor=incident_manager, problem=problem, root_cause="Bad push.")
    published = client.post(f"/problems/{problem.number}/rca/publish/")
    assert published.status_code == 302
    page = text(client.get(published.url))
    assert "Published" in page and "Publish and send" not in page
    again = client.post(f"/problems/{problem.number}/rca/publish/")
    assert "already published" in text(client.get(again.url))


def test_linking_an_unknown_incident_shows_the_error_beside_the_field(
    page_as, incident_manager, resolved
):
    problem = problem_create(actor=incident_manager, title="Route pushes")
    client = page_as(incident_manager)
    page = client.post(f"/problems/{problem.number}/link/", {"incident": "INC-999999"})
    assert page.status_code == 200 and "No such incident: INC-999999." in text(page)
    assert 'value="INC-999999"' in text(page)
    assert client.post(f"/problems/{problem.number}/link/",
                       {"incident": resolved.number}).status_code == 302
    assert client.post(f"/problems/{problem.number}/unlink/",
                       {"incident": resolved.number}).status_code == 302
    resolved.refresh_from_db()
    assert resolved.problem is None


def test_an_action_item_is_ticked_off_in_place(page_as, incident_manager, engineer, resolved):
    review = review_hold(
        actor=incident_manager, incident=resolved, held_on=datetime.date(2030, 3, 8),
        facilitator=incident_manager, summary="Route push.",
        action_items=[{"title": "Validate pushes", "owner": engineer,
                       "due_on": datetime.date(2030, 3, 20)}],
        new_problem={"title": "Route pushes"},
    )
    item = review.action_items.get()
    client = page_as(engineer)
    row = client.post(f"/problems/{item.problem.number}/action-items/{item.pk}/",
                      {"done": "1"}, HTTP_HX_REQUEST="true")
    assert row.status_code == 200
    assert text(row).startswith(f'<tr id="item-{item.pk}">') and "Reopen" in text(row)
    item.refresh_from_db()
    assert item.done_at == NOW
    twice = client.post(f"/problems/{item.problem.number}/action-items/{item.pk}/",
                        {"done": "1"}, HTTP_HX_REQUEST="true")
    assert twice.status_code == 409 and "already done" in text(twice)


def test_the_home_worklist_shows_my_action_items_and_my_rcas(
    page_as, incident_manager, engineer, resolved
):
    review_hold(
        actor=incident_manager, incident=resolved, held_on=datetime.date(2030, 3, 8),
        facilitator=incident_manager, summary="Route push.",
        action_items=[{"title": "Validate pushes", "owner": engineer,
                       "due_on": datetime.date(2030, 3, 20)}],
        new_problem={"title": "Route pushes", "owner": engineer},
    )
    home = text(page_as(engineer).get("/home/"))
    assert "Action item: Validate pushes" in home
    assert "Publish the root-cause analysis of PRB-" in home


# --- The review page ---------------------------------------------------------------------


def _review_post(**extra):
    data = {
        "held_on": "2030-03-08", "summary": "A route push broke routing.",
        "went_well": "", "went_wrong": "",
        "problem_choice": "new", "problem": "", "new_title": "Route pushes",
        "new_description": "", "new_owner": "",
        "items-TOTAL_FORMS": "3", "items-INITIAL_FORMS": "0",
        "items-MIN_NUM_FORMS": "0", "items-MAX_NUM_FORMS": "20",
    }
    data.update(extra)
    return data


def test_the_review_page_suggests_the_problem_it_looks_like(
    page_as, incident_manager, tenant_a, resolved
):
    earlier = bare_incident(incident_manager, title="Calls drop before",
                            detected_at=at("2030-02-25 08:00"), areas={tenant_a: ["call_routing"]})
    known = problem_create(actor=incident_manager, title="Route pushes", incidents=[earlier])
    page = text(page_as(incident_manager).get(f"/incidents/{resolved.number}/review/"))
    assert (f"This looks like <a href=\"/problems/{known.number}/\">{known.number}</a> Route "
            f"pushes: same area call_routing 10 days ago ({earlier.number})") in page
    assert f'<option value="{known.number}" selected>' in page


def test_holding_a_review_with_action_items(page_as, incident_manager, engineer, resolved):
    answer = page_as(incident_manager).post(
        f"/incidents/{resolved.number}/review/",
        _review_post(**{
            "facilitator": incident_manager.pk,
            "items-0-title": "Validate pushes", "items-0-owner": engineer.pk,
            "items-0-due_on": "2030-03-20",
        }),
    )
    assert answer.status_code == 302
    review = PostIncidentReview.objects.get()
    assert review.incident == resolved
    assert [i.title for i in ActionItem.objects.all()] == ["Validate pushes"]
    page = text(page_as(incident_manager).get(answer.url))
    assert "Held 2030-03-08" in page and "Validate pushes" in page
    assert "Route pushes" in page


def test_a_review_with_errors_keeps_what_was_typed(page_as, incident_manager, resolved):
    page = page_as(incident_manager).post(
        f"/incidents/{resolved.number}/review/",
        _review_post(**{
            "facilitator": incident_manager.pk, "new_title": "",
            "items-0-title": "Half an item", "items-0-due_on": "",
        }),
    )
    assert page.status_code == 200
    body = text(page)
    assert "Give the new problem a title." in body
    # A row with something typed in it must be complete; the empty rows are skipped.
    assert "Choose who does it." in body and "Give a due date." in body
    assert body.count("Say what is to be done.") == 0
    assert 'value="Half an item"' in body and "A route push broke routing." in body
    assert not PostIncidentReview.objects.exists()


def test_a_review_links_the_suggested_problem(page_as, incident_manager, tenant_a, resolved):
    earlier = bare_incident(incident_manager, title="Calls drop before",
                            detected_at=at("2030-02-25 08:00"), areas={tenant_a: ["call_routing"]})
    known = problem_create(actor=incident_manager, title="Route pushes", incidents=[earlier])
    answer = page_as(incident_manager).post(
        f"/incidents/{resolved.number}/review/",
        _review_post(facilitator=incident_manager.pk, problem_choice="link",
                     problem=known.number),
    )
    assert answer.status_code == 302
    resolved.refresh_from_db()
    assert resolved.problem == known and Problem.objects.count() == 1


def test_the_review_page_refuses_customers_and_other_staff(
    page_as, member_a, member_b, care_analyst, resolved
):
    url = f"/incidents/{resolved.number}/review/"
    assert page_as(member_b).get(url).status_code == 404
    assert page_as(member_a).get(url).status_code == 403
    assert page_as(care_analyst).get(url).status_code == 403


def test_an_unresolved_incident_cannot_be_reviewed_yet(page_as, incident_manager):
    ongoing = bare_incident(incident_manager, title="Ongoing", detected_at=at("2030-03-08 09:00"))
    page = text(page_as(incident_manager).get(f"/incidents/{ongoing.number}/review/"))
    assert "Not resolved yet" in page and "Record the review" not in page
