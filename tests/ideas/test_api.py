"""The Ideas Lab API: the contract of API.md, each reader's view, and every refusal (400 per
field, 403 for the role, 404 for an idea of a product the caller's tenant does not use,
409 with the reason for what the state forbids)."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.utils import timezone

from caredeck.accounts.roles import Role
from caredeck.ideas import services
from caredeck.ideas.models import Idea, Vote
from caredeck.ideas.selectors import vote_budget
from tests.factories import ProductFactory, UserFactory

pytestmark = pytest.mark.django_db

IDEAS = "/api/v1/ideas/"
DETAIL_KEYS = {
    "number", "title", "description", "product", "status", "votes", "closing_votes", "voted",
    "author_organization", "target_quarter", "release_notes_url", "decline_reason",
    "merged_into", "pm_answer_due_at", "pm_answered_at", "updates", "comments", "created_at",
}


def url(idea, action: str = "") -> str:
    number = idea if isinstance(idea, str) else idea.number
    return f"{IDEAS}{number}/{action + '/' if action else ''}"


def submit(client, **body):
    payload = {"title": "Callback scheduling", "description": "Let callers pick a slot.",
               "product": "cloud-cx", **body}
    return client.post(IDEAS, payload, format="json")


def ideas_of(client, **params) -> list[str]:
    response = client.get(IDEAS, params)
    assert response.status_code == 200, response.json()
    return [row["number"] for row in response.json()["results"]]


@pytest.fixture
def private_idea(tenant_a, member_a):
    """An idea in a lab only tenant A uses: tenant B must not know it exists."""
    private = ProductFactory(slug="wfm", name="Workforce Management")
    tenant_a.platforms.add(private)
    return services.idea_submit(actor=member_a, product=private, title="Shift swaps",
                                description="Let agents swap shifts.")


@pytest.fixture
def many_ideas(lab, member_a):
    return [services.idea_submit(actor=member_a, product=lab, title=f"Idea {i}",
                                 description="d") for i in range(11)]


# --- Submitting and reading -------------------------------------------------------------


def test_it_submits_an_idea_and_reads_it_back(as_user, lab, member_a):
    client = as_user(member_a)
    response = submit(client)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) >= DETAIL_KEYS
    assert body["number"].startswith("IDEA-")
    assert body["product"] == "cloud-cx" and body["status"] == "community_review"
    assert body["votes"] == 0 and body["voted"] is False and body["closing_votes"] is None
    assert body["author_organization"] == "Acme Telecom"
    assert body["updates"] == [] and body["comments"] == []
    # Submitting spends no vote.
    assert body["my_votes"] == {"budget": 10, "used": 0, "available": 10}
    again = client.get(url(body["number"])).json()
    assert again["title"] == "Callback scheduling"
    assert again["description"] == "Let callers pick a slot."


def test_it_refuses_bad_submissions_field_by_field(as_user, lab, member_a):
    client = as_user(member_a)
    response = client.post(IDEAS, {}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"title", "description", "product"}
    assert set(submit(client, title="", product="nope").json()) == {"title", "product"}
    assert set(submit(client, title="x" * 201).json()) == {"title"}
    assert set(submit(client, anonymous="maybe").json()) == {"anonymous"}
    assert set(submit(client, product={"slug": "cloud-cx"}).json()) == {"product"}
    assert set(submit(client, description="a\x00b").json()) == {"description"}
    # A product the tenant does not use is refused on the field, like one that is not there.
    ProductFactory(slug="other", name="Other")
    response = submit(client, product="other")
    assert response.status_code == 400 and set(response.json()) == {"product"}
    assert Idea.objects.count() == 0


def test_it_needs_a_signed_in_caller(api, idea):
    assert api.get(IDEAS).status_code in (401, 403)
    assert api.post(url(idea, "vote")).status_code in (401, 403)
    assert api.get("/api/v1/me/votes/").status_code in (401, 403)


def test_it_lists_filters_searches_and_sorts(as_user, lab, member_a, member_b, voters):
    older = services.idea_submit(actor=member_a, product=lab, title="Callback scheduling",
                                 description="Let callers pick a callback slot.")
    newer = services.idea_submit(actor=member_b, product=lab, title="Dark mode",
                                 description="Easier on night-shift eyes.")
    services.vote_cast(actor=voters[0], idea=older)
    services.vote_cast(actor=voters[1], idea=older)
    services.vote_cast(actor=voters[0], idea=newer)
    other = ProductFactory(slug="wem", name="WEM")
    lab.organizations.first().platforms.add(other)
    elsewhere = services.idea_submit(actor=member_a, product=other, title="Forecasts",
                                     description="Callback volume forecasts.")
    client = as_user(member_a)
    assert ideas_of(client) == [older.number, newer.number, elsewhere.number]
    assert ideas_of(client, sort="newest") == [elsewhere.number, newer.number, older.number]
    assert ideas_of(client, sort="trending")[:2] == [older.number, newer.number]
    assert ideas_of(client, product="cloud-cx") == [older.number, newer.number]
    assert ideas_of(client, q="callback") == [older.number, elsewhere.number]
    assert ideas_of(client, q="night shift") == [newer.number]
    assert ideas_of(client, status="accepted") == []
    # Blank parameters (an empty form field) filter nothing.
    assert ideas_of(client, status="", sort="", product="", q="") == ideas_of(client)
    row = client.get(IDEAS).json()["results"][0]
    assert row["votes"] == 2 and row["voted"] is False and row["status"] == "community_review"
    assert as_user(voters[0]).get(IDEAS).json()["results"][0]["voted"] is True
    for bad in ({"status": "open"}, {"sort": "random"}, {"product": "no-such"},
                {"product": "a\x00b"}, {"q": "x" * 201}):
        response = client.get(IDEAS, bad)
        assert response.status_code == 400, bad
        assert set(response.json()) == set(bad)


def test_merged_ideas_are_listed_only_when_asked_for(as_user, lab, member_a, pm):
    keep, dup = (services.idea_submit(actor=member_a, product=lab, title=t, description="d")
                 for t in ("Keep", "Duplicate"))
    services.idea_merge(actor=pm, idea=dup, into=keep)
    client = as_user(member_a)
    assert ideas_of(client) == [keep.number]
    assert ideas_of(client, status="merged") == [dup.number]
    body = client.get(url(dup)).json()
    assert body["status"] == "merged" and body["merged_into"] == keep.number


def test_an_anonymous_authors_organization_shows_only_to_its_tenant_and_staff(
    as_user, lab, member_a, admin_a, member_b, pm
):
    number = submit(as_user(member_a), anonymous=True).json()["number"]
    comment = as_user(member_a).post(url(number, "comments"), {"body": "Mine, too."},
                                     format="json")
    assert comment.status_code == 201, comment.json()
    assert as_user(admin_a).get(url(number)).json()["author_organization"] == "Acme Telecom"
    assert as_user(pm).get(url(number)).json()["author_organization"] == "Acme Telecom"
    outsider = as_user(member_b).get(url(number)).json()
    assert outsider["author_organization"] is None
    assert as_user(member_b).get(IDEAS).json()["results"][0]["author_organization"] is None
    # ... nor through the author's own comments on it.
    assert outsider["comments"][0]["author_organization"] is None
    assert outsider["comments"][0]["author"] is None
    assert "Acme" not in str(outsider)


def test_partners_see_the_labs_of_the_tenants_they_serve(as_user, idea, partner_user,
                                                         private_idea, member_a):
    client = as_user(partner_user)
    assert set(ideas_of(client)) == {idea.number, private_idea.number}
    # ... and the organization of their customer's anonymous ideas.
    number = submit(as_user(member_a), anonymous=True).json()["number"]
    assert client.get(url(number)).json()["author_organization"] == "Acme Telecom"


def test_provider_staff_read_and_answer_but_neither_submit_nor_vote(
    as_user, idea, pm, care_analyst, platform_admin
):
    for user in (pm, care_analyst, platform_admin):
        client = as_user(user)
        assert client.get(url(idea)).status_code == 200
        assert idea.number in ideas_of(client)
        assert submit(client).status_code == 403
        assert client.post(url(idea, "vote")).status_code == 403
    assert as_user(pm).post(url(idea, "comments"), {"body": "We are looking at it."},
                            format="json").status_code == 201
    response = as_user(care_analyst).post(url(idea, "comments"), {"body": "Me too"},
                                          format="json")
    assert response.status_code == 403


def test_another_tenants_idea_is_404(as_user, private_idea, member_b, admin_b, idea):
    client = as_user(member_b)
    assert client.get(url(private_idea)).status_code == 404
    assert private_idea.number not in ideas_of(client)
    assert client.post(url(private_idea, "vote")).status_code == 404
    assert client.delete(url(private_idea, "vote")).status_code == 404
    assert client.post(url(private_idea, "comments"), {"body": "hi"},
                       format="json").status_code == 404
    # Role-gated actions answer 404 too, not 403: the idea's existence is not revealed.
    for action, body in [("transition", {"status": "declined", "message": "m", "reason": "r"}),
                         ("merge", {"into": idea.number}), ("updates", {"message": "m"})]:
        assert client.post(url(private_idea, action), body, format="json").status_code == 404
    assert as_user(admin_b).get(url(private_idea)).status_code == 404
    for junk in ("IDEA-junk", "INC-000001", "42", "IDEA-999999"):
        assert client.get(url(junk)).status_code == 404


def test_a_comment_of_another_idea_or_tenant_is_404(as_user, idea, private_idea, member_a,
                                                    member_b, voters):
    comment = services.comment_add(actor=member_a, idea=private_idea, body="Shift swap tip")
    base = f"{url(idea)}comments/{comment.pk}/"
    assert as_user(voters[0]).post(base + "helpful/").status_code == 404
    private = f"{url(private_idea)}comments/{comment.pk}/"
    assert as_user(member_b).post(private + "helpful/").status_code == 404
    assert as_user(member_b).post(private + "report/", {"reason": "rude"},
                                  format="json").status_code == 404
    assert as_user(voters[0]).post(f"{url(idea)}comments/999999/report/",
                                   {"reason": "rude"}, format="json").status_code == 404


# --- Votes ------------------------------------------------------------------------------


def test_voting_and_taking_the_vote_back_with_the_reasons_for_refusals(
    as_user, idea, many_ideas, member_b
):
    client = as_user(member_b)
    response = client.post(url(idea, "vote"))
    assert response.status_code == 201, response.json()
    assert response.json() == {
        "idea": idea.number, "status": "community_review", "votes": 1, "voted": True,
        "my_votes": {"budget": 10, "used": 1, "available": 9},
    }
    assert client.get(url(idea)).json()["voted"] is True

    response = client.post(url(idea, "vote"))
    assert response.status_code == 409
    assert "already voted" in response.json()["detail"]

    for other in many_ideas[:9]:
        assert client.post(url(other, "vote")).status_code == 201
    assert client.get("/api/v1/me/votes/").json() == {"budget": 10, "used": 10, "available": 0}
    response = client.post(url(many_ideas[9], "vote"))
    assert response.status_code == 409
    assert "no votes left" in response.json()["detail"]

    response = client.delete(url(idea, "vote"))
    assert response.status_code == 200
    assert response.json()["votes"] == 0 and response.json()["voted"] is False
    assert response.json()["my_votes"] == {"budget": 10, "used": 9, "available": 1}
    response = client.delete(url(idea, "vote"))
    assert response.status_code == 409
    assert "no vote on" in response.json()["detail"]
    assert client.post(url(many_ideas[9], "vote")).status_code == 201


def test_reaching_the_threshold_moves_the_idea_to_pm_review(as_user, idea, voters):
    with time_machine.travel(datetime.datetime(2030, 11, 20, 15, 0, tzinfo=datetime.UTC),
                             tick=False):
        for voter in voters[:3]:
            assert as_user(voter).post(url(idea, "vote")).status_code == 201
        body = as_user(voters[0]).get(url(idea)).json()
    assert body["status"] == "under_pm_review" and body["votes"] == 3
    assert body["pm_answer_due_at"] == "2031-01-06T15:00:00Z"
    assert body["pm_answered_at"] is None
    assert body["updates"][-1]["to_status"] == "under_pm_review"


def test_closed_ideas_take_no_votes(as_user, idea, pm, member_b):
    as_user(pm).post(url(idea, "transition"),
                     {"status": "declined", "message": "No.", "reason": "Out of scope."},
                     format="json")
    response = as_user(member_b).post(url(idea, "vote"))
    assert response.status_code == 409 and "takes no more votes" in response.json()["detail"]


def test_my_votes_counts_live_votes_and_grants(as_user, idea, member_a, platform_admin):
    assert as_user(member_a).get("/api/v1/me/votes/").json() == {
        "budget": 10, "used": 0, "available": 10}
    services.vote_cast(actor=member_a, idea=idea)
    services.vote_grant(actor=platform_admin, user=member_a, amount=3, reason="Beta tester")
    assert as_user(member_a).get("/api/v1/me/votes/").json() == {
        "budget": 13, "used": 1, "available": 12}


# --- Comments ---------------------------------------------------------------------------


def test_comments_and_work_arounds(as_user, idea, member_b, member_a):
    client = as_user(member_b)
    response = client.post(url(idea, "comments"),
                           {"body": "Use a queue callback rule meanwhile.", "workaround": True},
                           format="json")
    assert response.status_code == 201, response.json()
    comment = response.json()
    assert comment["workaround"] is True and comment["mine"] is True
    assert comment["author_organization"] == "Globex Insurance"
    assert comment["hidden"] is False and comment["helpful"] == 0
    assert client.post(url(idea, "comments"), {"body": "Plain"},
                       format="json").json()["workaround"] is False
    (first, second) = as_user(member_a).get(url(idea)).json()["comments"]
    assert first["body"] == "Use a queue callback rule meanwhile." and first["mine"] is False
    assert second["workaround"] is False
    for bad in ({}, {"body": ""}, {"body": "x" * 10001}, {"body": "ok", "workaround": "perhaps"}):
        response = client.post(url(idea, "comments"), bad, format="json")
        assert response.status_code == 400, bad
        assert set(response.json()) <= {"body", "workaround"} and response.json()


def test_comments_on_a_merged_idea_are_refused(as_user, lab, member_a, pm):
    keep, dup = (services.idea_submit(actor=member_a, product=lab, title=t, description="d")
                 for t in ("Keep", "Duplicate"))
    services.idea_merge(actor=pm, idea=dup, into=keep)
    response = as_user(member_a).post(url(dup, "comments"), {"body": "x"}, format="json")
    assert response.status_code == 409 and keep.number in response.json()["detail"]


def test_marking_comments_helpful_and_reporting_them(as_user, idea, member_a, member_b,
                                                     voters):
    comment = services.comment_add(actor=member_b, idea=idea, body="Try the callback rule.")
    base = f"{url(idea)}comments/{comment.pk}/"
    response = as_user(member_a).post(base + "helpful/")
    assert response.status_code == 201
    assert response.json()["kind"] == "helpful" and response.json()["comment"] == comment.pk
    response = as_user(member_a).post(base + "helpful/")
    assert response.status_code == 409 and "already marked" in response.json()["detail"]
    response = as_user(member_b).post(base + "helpful/")
    assert response.status_code == 409 and "your own comment" in response.json()["detail"]
    assert as_user(member_a).get(url(idea)).json()["comments"][0]["helpful"] == 1

    response = as_user(voters[0]).post(base + "report/", {}, format="json")
    assert response.status_code == 400 and set(response.json()) == {"reason"}
    response = as_user(voters[0]).post(base + "report/", {"reason": "Off-topic"},
                                       format="json")
    assert response.status_code == 201 and response.json()["kind"] == "report"
    response = as_user(voters[0]).post(base + "report/", {"reason": "Again"}, format="json")
    assert response.status_code == 409 and "already reported" in response.json()["detail"]


def test_five_helpful_marks_earn_the_author_a_vote(as_user, idea, member_b, tenant_a):
    comments = [services.comment_add(actor=member_b, idea=idea, body=f"Tip {i}")
                for i in range(5)]
    reader = UserFactory(organization=tenant_a, roles=[Role.CUSTOMER_MEMBER])
    for comment in comments:
        response = as_user(reader).post(f"{url(idea)}comments/{comment.pk}/helpful/")
        assert response.status_code == 201
    assert as_user(member_b).get("/api/v1/me/votes/").json()["budget"] == 11


def test_moderators_hide_comments_with_a_reason(as_user, idea, member_a, member_b, pm,
                                                voters):
    comment = services.comment_add(actor=member_b, idea=idea, body="This product is junk.")
    hide = f"{url(idea)}comments/{comment.pk}/hide/"
    response = as_user(member_a).post(hide, {"reason": "Not positive"}, format="json")
    assert response.status_code == 403
    response = as_user(pm).post(hide, {}, format="json")
    assert response.status_code == 400 and set(response.json()) == {"reason"}
    response = as_user(pm).post(hide, {"reason": "Please keep it positive."}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["hidden"] is True
    assert response.json()["body"] == "This product is junk."
    response = as_user(pm).post(hide, {"reason": "Again"}, format="json")
    assert response.status_code == 409 and "already hidden" in response.json()["detail"]

    (seen,) = as_user(voters[0]).get(url(idea)).json()["comments"]
    assert seen["hidden"] is True and seen["body"] is None and seen["hidden_reason"] is None
    assert "junk" not in str(as_user(voters[0]).get(url(idea)).json())
    (own,) = as_user(member_b).get(url(idea)).json()["comments"]
    assert own["body"] is None and own["hidden_reason"] == "Please keep it positive."
    (moderated,) = as_user(pm).get(url(idea)).json()["comments"]
    assert moderated["body"] == "This product is junk." and moderated["reports"] == 0


# --- Status workflow --------------------------------------------------------------------


def test_only_product_managers_move_ideas(as_user, idea, member_a, admin_a, care_analyst):
    body = {"status": "declined", "message": "No.", "reason": "Out of scope."}
    for user in (member_a, admin_a, care_analyst):
        response = as_user(user).post(url(idea, "transition"), body, format="json")
        assert response.status_code == 403, user
    assert Idea.objects.get(pk=idea.pk).status == "community_review"


@time_machine.travel(datetime.datetime(2030, 5, 10, 12, 0, tzinfo=datetime.UTC), tick=False)
def test_each_status_needs_what_it_says_a_missing_one_is_a_400_on_that_field(
    as_user, idea, pm
):
    client = as_user(pm)
    cases = [
        ({"status": "accepted", "message": "Yes"}, "target_quarter"),
        ({"status": "accepted", "message": "Yes", "target_quarter": "soon"}, "target_quarter"),
        ({"status": "accepted", "message": "Yes", "target_quarter": "2032-Q1"},
         "target_quarter"),
        ({"status": "declined", "message": "No"}, "reason"),
        ({"status": "declined", "message": "No", "reason": "  "}, "reason"),
        ({"status": "accepted", "target_quarter": "2030-Q4"}, "message"),
        ({"status": "shipped", "message": "m"}, "status"),
        ({"status": "merged", "message": "m"}, "status"),
        ({"message": "m"}, "status"),
        ({"status": "accepted", "message": "m", "target_quarter": ["2030-Q4"]},
         "target_quarter"),
    ]
    for body, field in cases:
        response = client.post(url(idea, "transition"), body, format="json")
        assert response.status_code == 400, body
        assert field in response.json(), (body, response.json())
    response = client.post(url(idea, "transition"),
                           {"status": "accepted", "message": "Planned.",
                            "target_quarter": "2030-Q4"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "accepted"
    assert response.json()["target_quarter"] == "2030-Q4"
    response = client.post(url(idea, "transition"),
                           {"status": "delivered", "message": "Shipped."}, format="json")
    assert response.status_code == 400 and set(response.json()) == {"release_notes_url"}
    response = client.post(url(idea, "transition"),
                           {"status": "delivered", "message": "Shipped.",
                            "release_notes_url": "javascript:alert(1)"}, format="json")
    assert response.status_code == 400 and set(response.json()) == {"release_notes_url"}


def test_a_transition_the_status_forbids_is_409_with_the_reason(as_user, idea, pm):
    client = as_user(pm)
    response = client.post(url(idea, "transition"),
                           {"status": "delivered", "message": "Shipped.",
                            "release_notes_url": "https://docs.example.com/rn"},
                           format="json")
    assert response.status_code == 409
    assert "community review" in response.json()["detail"]
    assert client.post(url(idea, "transition"),
                       {"status": "declined", "message": "No.", "reason": "Not now."},
                       format="json").status_code == 200
    response = client.post(url(idea, "transition"),
                           {"status": "accepted", "message": "Yes", "target_quarter": "2099-Q1"},
                           format="json")
    assert response.status_code == 409 and "declined" in response.json()["detail"]


def test_delivery_returns_the_votes_and_posts_the_release_notes(as_user, idea, pm, voters):
    for voter in voters[:2]:
        as_user(voter).post(url(idea, "vote"))
    client = as_user(pm)
    today = timezone.now()
    target = f"{today.year}-Q{(today.month - 1) // 3 + 1}"
    assert client.post(url(idea, "transition"),
                       {"status": "accepted", "message": "Planned.", "target_quarter": target},
                       format="json").status_code == 200
    assert client.post(url(idea, "transition"),
                       {"status": "in_development", "message": "Started."},
                       format="json").status_code == 200
    response = client.post(url(idea, "transition"),
                           {"status": "delivered", "message": "Shipped in 24.3.",
                            "release_notes_url": "https://docs.example.com/rn/24.3"},
                           format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "delivered" and body["votes"] == 0 and body["closing_votes"] == 2
    assert body["release_notes_url"] == "https://docs.example.com/rn/24.3"
    assert [u["to_status"] for u in body["updates"]] == ["accepted", "in_development",
                                                           "delivered"]
    assert body["updates"][-1]["message"] == "Shipped in 24.3."
    for voter in voters[:2]:
        assert as_user(voter).get("/api/v1/me/votes/").json()["used"] == 0


def test_declining_records_the_reason(as_user, idea, pm, member_a):
    response = as_user(pm).post(url(idea, "transition"),
                                {"status": "declined", "message": "Not planned.",
                                 "reason": "Conflicts with routing rules."}, format="json")
    assert response.status_code == 200
    body = as_user(member_a).get(url(idea)).json()
    assert body["status"] == "declined"
    assert body["decline_reason"] == "Conflicts with routing rules."


def test_pm_updates_answer_the_clock(as_user, idea, pm, voters, member_a):
    for voter in voters[:3]:
        services.vote_cast(actor=voter, idea=idea)
    response = as_user(member_a).post(url(idea, "updates"), {"message": "Hi"}, format="json")
    assert response.status_code == 403
    response = as_user(pm).post(url(idea, "updates"), {"message": ""}, format="json")
    assert response.status_code == 400 and set(response.json()) == {"message"}
    response = as_user(pm).post(url(idea, "updates"),
                                {"message": "We are sizing this for next year."},
                                format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["message"] == "We are sizing this for next year."
    assert response.json()["to_status"] == "under_pm_review"
    body = as_user(member_a).get(url(idea)).json()
    assert body["pm_answered_at"] is not None
    assert body["updates"][-1]["message"] == "We are sizing this for next year."


def test_pm_updates_on_a_closed_idea_are_409(as_user, idea, pm):
    services.idea_transition(actor=pm, idea=idea, status="declined", message="No",
                             reason="Not now")
    response = as_user(pm).post(url(idea, "updates"), {"message": "More"}, format="json")
    assert response.status_code == 409 and "declined" in response.json()["detail"]


# --- Merges -----------------------------------------------------------------------------


def test_merging_moves_votes_without_double_counting(as_user, lab, member_a, pm, voters):
    keep, dup = (services.idea_submit(actor=member_a, product=lab, title=t, description="d")
                 for t in ("Callback slots", "Pick callback time"))
    both, only_dup = voters[0], voters[1]
    for voter in (both, only_dup):
        services.vote_cast(actor=voter, idea=dup)
    services.vote_cast(actor=both, idea=keep)
    services.comment_add(actor=member_a, idea=dup, body="Needed for EMEA.")
    response = as_user(pm).post(url(dup, "merge"), {"into": keep.number}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "merged" and body["merged_into"] == keep.number
    assert body["votes"] == 0 and body["closing_votes"] == 2
    survivor = as_user(member_a).get(url(keep)).json()
    assert survivor["votes"] == 2
    assert [c["body"] for c in survivor["comments"]] == ["Needed for EMEA."]
    assert vote_budget(both)["used"] == 1 and vote_budget(only_dup)["used"] == 1
    assert as_user(only_dup).get(url(keep)).json()["voted"] is True


def test_merge_refusals(as_user, lab, member_a, pm):
    keep, dup = (services.idea_submit(actor=member_a, product=lab, title=t, description="d")
                 for t in ("Keep", "Duplicate"))
    response = as_user(member_a).post(url(dup, "merge"), {"into": keep.number}, format="json")
    assert response.status_code == 403
    client = as_user(pm)
    for body in ({}, {"into": ""}, {"into": "IDEA-999999"}, {"into": "junk"},
                 {"into": dup.number}, {"into": ["IDEA-000001"]}):
        response = client.post(url(dup, "merge"), body, format="json")
        assert response.status_code == 400, body
        assert set(response.json()) == {"into"}, body
    assert client.post(url(dup, "merge"), {"into": keep.number},
                       format="json").status_code == 200
    response = client.post(url(dup, "merge"), {"into": keep.number}, format="json")
    assert response.status_code == 409 and "merged" in response.json()["detail"]
    other = services.idea_submit(actor=member_a, product=lab, title="Other", description="d")
    response = client.post(url(other, "merge"), {"into": dup.number}, format="json")
    assert response.status_code == 409 and "still open" in response.json()["detail"]


# --- Grants -----------------------------------------------------------------------------


def test_platform_admins_grant_votes(as_user, platform_admin, member_a):
    client = as_user(platform_admin)
    response = client.post("/api/v1/vote-grants/",
                           {"user": member_a.pk, "amount": 5, "reason": "Customer advisory board"},
                           format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["user"] == member_a.pk and body["amount"] == 5 and body["source"] == "admin"
    assert body["user_votes"] == {"budget": 15, "used": 0, "available": 15}
    assert as_user(member_a).get("/api/v1/me/votes/").json()["budget"] == 15
    listed = client.get("/api/v1/vote-grants/", {"user": member_a.pk}).json()
    assert [g["reason"] for g in listed["results"]] == ["Customer advisory board"]
    # The user reads their own grants; someone else reads none of them.
    assert as_user(member_a).get("/api/v1/vote-grants/").json()["count"] == 1


def test_grant_refusals(as_user, platform_admin, pm, member_a, admin_a, member_b):
    body = {"user": member_a.pk, "amount": 5, "reason": "Advisory board"}
    for user in (member_a, admin_a, pm):
        assert as_user(user).post("/api/v1/vote-grants/", body,
                                  format="json").status_code == 403
    assert as_user(member_b).get("/api/v1/vote-grants/").json()["count"] == 0
    client = as_user(platform_admin)
    for bad, fields in [
        ({}, {"user", "amount", "reason"}),
        ({**body, "amount": 0}, {"amount"}),
        ({**body, "amount": 101}, {"amount"}),
        ({**body, "amount": "lots"}, {"amount"}),
        ({**body, "reason": ""}, {"reason"}),
        ({**body, "user": 999999}, {"user"}),
        ({**body, "user": 2**70}, {"user"}),
        ({**body, "user": "me"}, {"user"}),
    ]:
        response = client.post("/api/v1/vote-grants/", bad, format="json")
        assert response.status_code == 400, bad
        assert set(response.json()) == fields, (bad, response.json())
    member_a.is_active = False
    member_a.save()
    response = client.post("/api/v1/vote-grants/", body, format="json")
    assert response.status_code == 400 and set(response.json()) == {"user"}
    assert client.get("/api/v1/vote-grants/", {"user": "x"}).status_code == 400
    assert not Vote.objects.exists()


# --- Bad input never breaks the server --------------------------------------------------

GARBAGE = [None, 0, -1, 2**70, 1.5, True, [], ["x"], {}, {"a": 1}, "", " ", "x" * 30000,
           "a\x00b", "\ud800", "IDEA-000001\x00"]


def test_garbage_in_any_field_is_a_400_on_that_field_never_a_500(
    as_user, idea, lab, member_a, member_b, pm, platform_admin
):
    comment = services.comment_add(actor=member_b, idea=idea, body="A tip")
    other = services.idea_submit(actor=member_a, product=lab, title="Other", description="d")
    comment_url = f"{url(idea)}comments/{comment.pk}/"
    endpoints = [
        (member_a, IDEAS, {"title": "t", "description": "d", "product": "cloud-cx",
                           "anonymous": False}),
        (member_a, url(idea, "comments"), {"body": "b", "workaround": False}),
        (member_a, comment_url + "report/", {"reason": "r"}),
        (pm, comment_url + "hide/", {"reason": "r"}),
        (pm, url(idea, "updates"), {"message": "m"}),
        (pm, url(other, "merge"), {"into": idea.number, "message": "m"}),
        (pm, url(idea, "transition"), {"status": "accepted", "message": "m",
                                       "target_quarter": "2099-Q1", "release_notes_url": "x",
                                       "reason": "r"}),
        (platform_admin, "/api/v1/vote-grants/", {"user": member_a.pk, "amount": 1,
                                                  "reason": "r"}),
    ]
    for user, path, valid in endpoints:
        client = as_user(user)
        for field in valid:
            for value in GARBAGE:
                response = client.post(path, {**valid, field: value}, format="json")
                assert response.status_code < 500, (path, field, value)
                if response.status_code == 400:
                    assert set(response.json()) <= set(valid), (path, field, value)
        assert client.post(path, "not json", content_type="application/json").status_code == 400
    client = as_user(member_a)
    for query in ("page=abc", "page_size=-1", "q=%ED%A0%80", "status=a%00b", "sort=",
                  "product=%00", "status=merged&status=accepted"):
        assert client.get(f"{IDEAS}?{query}").status_code < 500, query
    for query in ("user=abc", "user=99999999999999999999999", "user=-1"):
        assert client.get(f"/api/v1/vote-grants/?{query}").status_code == 400, query


def test_a_vote_costs_the_same_few_queries_however_busy_the_lab(
    as_user, idea, many_ideas, voters, member_b, django_assert_max_num_queries
):
    # 22 today, three of them the API's own (the idea, the budget after the vote); the bound
    # catches a query per vote, voter or idea slipping in.
    for voter in voters:
        for other in many_ideas[:5]:
            services.vote_cast(actor=voter, idea=other)
    client = as_user(member_b)
    client.post(url(many_ideas[6], "vote"))  # the first vote also subscribes the voter
    with django_assert_max_num_queries(25):
        assert client.post(url(idea, "vote")).status_code == 201
    with django_assert_max_num_queries(25):
        assert client.delete(url(idea, "vote")).status_code == 200
