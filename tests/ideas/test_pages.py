"""Ideas Lab pages: the lab, the roadmap, submitting with likely duplicates, an idea's
page with votes, comments and moderation, the product manager's forms and vote grants."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from caredeck.accounts.roles import Role
from caredeck.ideas import services
from caredeck.ideas.models import Comment, Idea, IdeaStatus, VoteGrant
from caredeck.ideas.selectors import vote_budget
from tests.factories import OrganizationFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def text(response) -> str:
    return response.content.decode()


def fresh(idea) -> Idea:
    return Idea.objects.get(pk=idea.pk)


def next_quarter() -> str:
    now = timezone.localtime()
    year, quarter = now.year, (now.month - 1) // 3 + 1
    year, quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)
    return f"{year}-Q{quarter}"


@pytest.fixture
def second(lab, member_b):
    return services.idea_submit(actor=member_b, product=lab, title="Schedule callbacks by SMS",
                                description="Text the caller a link to choose the slot.")


@pytest.fixture
def outsider(db):
    """A customer whose organization does not use the lab's product."""
    elsewhere = ProductFactory(slug="voice-edge", name="Voice Edge")
    org = OrganizationFactory(slug="initech", name="Initech")
    org.platforms.add(elsewhere)
    return UserFactory(email="member@initech.test", organization=org,
                       roles=[Role.CUSTOMER_MEMBER])


# --- Rendering, per role ---------------------------------------------------------------


def test_pages_render_for_customer_partner_and_staff(
    page_as, idea, member_a, partner_user, pm, platform_admin
):
    services.comment_add(actor=member_a, idea=idea, body="Press 2 for a callback today.",
                         workaround=True)
    urls = ["/ideas/", "/ideas/?sort=newest", "/ideas/?sort=trending&status=community_review",
            "/ideas/?q=callback", "/ideas/roadmap/", "/ideas/new/",
            f"/ideas/{idea.number}/", "/ideas/similar/?title=callback"]
    for user in [member_a, partner_user, pm, platform_admin]:
        client = page_as(user)
        for url in urls:
            assert client.get(url).status_code == 200, (user.email, url)
    customer = text(page_as(member_a).get(f"/ideas/{idea.number}/"))
    assert "Callback scheduling" in customer and "10 of 10 votes left" in customer
    assert "Positive language only" in customer and "Work-around" in customer
    assert "Change the status" not in customer and "Hide this comment" not in customer
    assert 'id="history-h"' not in customer
    staff = text(page_as(pm).get(f"/ideas/{idea.number}/"))
    assert "Change the status" in staff and "Post a PM update" in staff
    assert "Merge into another idea" in staff and "Hide this comment" in staff
    assert 'id="history-h"' in staff
    nav = text(page_as(member_a).get("/ideas/"))
    assert re.search(r'<a href="/ideas/" aria-current="page">Ideas</a>', nav)


def test_the_lab_lists_rows_with_votes_and_comment_counts(page_as, idea, second, member_a,
                                                          voters):
    services.vote_cast(actor=member_a, idea=idea)
    services.vote_cast(actor=voters[0], idea=idea)
    services.comment_add(actor=voters[1], idea=second, body="Yes please.")
    page = text(page_as(member_a).get("/ideas/"))
    rows = re.findall(r'<li class="idea-row" id="idea-row-(\d+)">', page)
    assert rows == [str(idea.pk), str(second.pk)]  # most votes first
    assert "Voted · take back" in page and "1 comment" in page
    newest = text(page_as(member_a).get("/ideas/?sort=newest"))
    assert re.findall(r'id="idea-row-(\d+)"', newest) == [str(second.pk), str(idea.pk)]
    found = text(page_as(member_a).get("/ideas/?q=SMS"))
    assert second.title in found and idea.title not in found


def test_the_lab_answers_in_a_fixed_number_of_queries(page_as, lab, member_a, voters,
                                                      django_assert_max_num_queries):
    for i in range(20):
        made = services.idea_submit(actor=voters[i % 5], product=lab, title=f"Idea {i}",
                                    description="x")
        services.comment_add(actor=member_a, idea=made, body="Nice")
    client = page_as(member_a)
    for sort in ["votes", "newest", "trending"]:
        with django_assert_max_num_queries(16):
            assert client.get(f"/ideas/?sort={sort}").status_code == 200


def test_a_lab_without_ideas_says_what_it_is_for(page_as, lab, member_a):
    page = text(page_as(member_a).get("/ideas/"))
    assert "No idea in the Cloud CX lab yet" in page and "Submit the first idea" in page
    roadmap = text(page_as(member_a).get("/ideas/roadmap/"))
    assert "Nothing accepted yet" in roadmap


def test_a_customer_without_any_lab_gets_an_empty_state(page_as, outsider):
    outsider.organization.platforms.clear()
    page = text(page_as(outsider).get("/ideas/"))
    assert "No ideas lab for you yet" in page
    assert "No lab to submit to" in text(page_as(outsider).get("/ideas/new/"))


# --- Ownership -------------------------------------------------------------------------


def test_it_checks_ownership(page_as, idea, outsider):
    client = page_as(outsider)
    number = idea.number
    assert client.get(f"/ideas/{number}/").status_code == 404
    assert client.get("/ideas/?product=cloud-cx").status_code == 404
    assert client.get("/ideas/roadmap/?product=cloud-cx").status_code == 404
    for url in [f"/ideas/{number}/vote/", f"/ideas/{number}/unvote/",
                f"/ideas/{number}/follow/", f"/ideas/{number}/comments/",
                f"/ideas/{number}/transition/", f"/ideas/{number}/merge/"]:
        assert client.post(url, {"body": "x", "status": "accepted"}).status_code == 404, url
    assert fresh(idea).votes == 0 and not idea.comments.exists()
    # Its own lab shows nothing of the other product's ideas, nor do suggestions.
    assert idea.title not in text(client.get("/ideas/"))
    assert idea.number not in text(client.get("/ideas/similar/?title=Callback+scheduling"))
    assert client.get("/ideas/IDEA-999999/").status_code == 404
    assert client.get("/ideas/not-a-number/").status_code == 404


def test_a_comment_of_another_idea_answers_404(page_as, idea, second, member_a, member_b, pm):
    comment = services.comment_add(actor=member_b, idea=second, body="Mine")
    url = f"/ideas/{idea.number}/comments/{comment.pk}/"
    assert page_as(member_a).post(url + "mark/", {"kind": "helpful"}).status_code == 404
    assert page_as(pm).post(url + "hide/", {"reason": "x"}).status_code == 404


def test_customers_may_not_act_as_product_managers(page_as, idea, member_a, member_b):
    comment = services.comment_add(actor=member_b, idea=idea, body="Hm")
    client = page_as(member_a)
    number = idea.number
    for url, data in [
        (f"/ideas/{number}/transition/", {"status": "declined", "message": "x", "reason": "x"}),
        (f"/ideas/{number}/update/", {"message": "x"}),
        (f"/ideas/{number}/merge/", {"into": "IDEA-000001"}),
        (f"/ideas/{number}/comments/{comment.pk}/hide/", {"reason": "x"}),
    ]:
        assert client.post(url, data).status_code == 403, url
    assert client.get("/ideas/grants/").status_code == 403
    assert fresh(idea).status == IdeaStatus.COMMUNITY_REVIEW


# --- Votes -----------------------------------------------------------------------------


def test_voting_through_the_page_updates_the_budget_badge(page_as, idea, member_a):
    client = page_as(member_a)
    response = client.post(f"/ideas/{idea.number}/vote/", {"next": "/ideas/"}, **HTMX)
    assert response.status_code == 200
    page = text(response)
    assert f'id="idea-row-{idea.pk}"' in page and "Voted · take back" in page
    assert re.search(r'id="vote-budget"[^>]*hx-swap-oob="true"', page)
    assert "9 of 10 votes left" in page
    response = client.post(f"/ideas/{idea.number}/unvote/", {"next": "/ideas/"}, **HTMX)
    page = text(response)
    assert "10 of 10 votes left" in page and "Vote taken back" in page
    assert fresh(idea).votes == 0
    # Without JavaScript: the form posts, comes back, and the badge says the same.
    response = client.post(f"/ideas/{idea.number}/vote/", {"next": "/ideas/?sort=newest"})
    assert response.status_code == 302 and response["Location"] == "/ideas/?sort=newest"
    page = text(client.get(response["Location"]))
    assert "9 of 10 votes left" in page and f"Voted for {idea.number}" in page


def test_an_outside_next_is_not_followed(page_as, idea, member_a):
    response = page_as(member_a).post(f"/ideas/{idea.number}/vote/",
                                      {"next": "https://evil.example/"})
    assert response["Location"] == f"/ideas/{idea.number}/"


def test_no_votes_left_shows_the_reason(page_as, settings, idea, second, member_a):
    settings.IDEAS_VOTE_BUDGET = 1
    client = page_as(member_a)
    client.post(f"/ideas/{idea.number}/vote/")
    page = text(client.post(f"/ideas/{second.number}/vote/", **HTMX))
    assert "You have no votes left" in page and 'role="alert"' in page
    assert "0 of 1 votes left" in page
    assert fresh(second).votes == 0
    response = client.post(f"/ideas/{second.number}/vote/", follow=True)
    assert "You have no votes left" in text(response)


def test_enough_votes_move_the_idea_to_pm_review_with_its_clock(page_as, idea, voters):
    for voter in voters[:2]:
        services.vote_cast(actor=voter, idea=idea)
    response = page_as(voters[2]).post(f"/ideas/{idea.number}/vote/", follow=True)
    page = text(response)
    assert "reached the threshold of 3 votes" in page
    assert "Under PM review" in page and "PM answer" in page and "clock-ok" in page


def test_following_and_unfollowing(page_as, idea, member_b):
    client = page_as(member_b)
    client.post(f"/ideas/{idea.number}/follow/", {"follow": "1"})
    assert idea.subscriptions.filter(user=member_b).exists()
    assert "Unfollow" in text(client.get(f"/ideas/{idea.number}/"))
    client.post(f"/ideas/{idea.number}/follow/", {"follow": "0"})
    assert not idea.subscriptions.filter(user=member_b).exists()


# --- Submitting ------------------------------------------------------------------------


def test_submission_form_errors_keep_input(page_as, lab, member_a):
    response = page_as(member_a).post("/ideas/new/", {
        "title": "Wallboard colours", "description": "", "product": "cloud-cx",
        "anonymous": "on",
    })
    assert response.status_code == 200
    page = text(response)
    assert 'value="Wallboard colours"' in page and "checked" in page
    assert re.search(r'id="id_description_error".*This field is required', page, re.S)
    assert not Idea.objects.exists()


def test_a_product_the_user_does_not_see_is_refused_beside_the_field(page_as, outsider, lab):
    response = page_as(outsider).post("/ideas/new/", {
        "title": "Something", "description": "Else", "product": "cloud-cx"})
    assert response.status_code == 200
    assert re.search(r'id="id_product_error"', text(response))
    assert not Idea.objects.exists()


def test_similar_ideas_are_suggested_before_saving(page_as, idea, member_b):
    client = page_as(member_b)
    partial = text(client.get("/ideas/similar/?title=Schedule+a+callback&product=cloud-cx",
                              **HTMX))
    assert idea.number in partial and 'name="similar_seen"' in partial
    assert "No similar idea" in text(client.get("/ideas/similar/?title=Wallboard+colours"))
    # Without the suggestions seen, the first submit shows them and saves nothing.
    data = {"title": "Callbacks at a chosen time", "description": "Please.",
            "product": "cloud-cx"}
    page = text(client.post("/ideas/new/", data))
    assert idea.number in page and "Submit mine anyway" in page
    assert Idea.objects.count() == 1
    response = client.post("/ideas/new/", {**data, "similar_seen": "1"})
    made = Idea.objects.exclude(pk=idea.pk).get()
    assert response["Location"] == f"/ideas/{made.number}/"
    assert vote_budget(member_b)["used"] == 0  # submitting spends no vote


def test_a_new_idea_without_look_alikes_is_saved_at_once(page_as, lab, member_a):
    response = page_as(member_a).post("/ideas/new/", {
        "title": "Wallboard colours", "description": "Dark mode.", "product": "cloud-cx"})
    assert response.status_code == 302
    assert Idea.objects.get().title == "Wallboard colours"


# --- Anonymous authors -----------------------------------------------------------------


def test_anonymous_author_is_hidden_from_other_tenants(page_as, lab, member_a, admin_a,
                                                       member_b, pm):
    idea = services.idea_submit(actor=member_a, product=lab, title="Quiet idea",
                                description="x", anonymous=True)
    for url in ["/ideas/", f"/ideas/{idea.number}/"]:
        other = text(page_as(member_b).get(url))
        assert "another customer" in other and "Acme Telecom" not in other, url
        assert "Acme Telecom" in text(page_as(admin_a).get(url)), url
        assert "Acme Telecom" in text(page_as(pm).get(url)), url


# --- The product manager ---------------------------------------------------------------


def test_pm_transition_with_a_missing_target_quarter_shows_the_error_beside_it(
    page_as, idea, pm
):
    response = page_as(pm).post(f"/ideas/{idea.number}/transition/", {
        "status": "accepted", "message": "We will build it.", "target_quarter": ""})
    assert response.status_code == 400
    page = text(response)
    assert re.search(r'id="tr_target_quarter_error".*Give the target quarter', page, re.S)
    assert "We will build it." in page  # what was typed is kept
    assert fresh(idea).status == IdeaStatus.COMMUNITY_REVIEW


def test_pm_accepts_and_delivers_and_the_votes_come_back(page_as, idea, pm, member_b):
    services.vote_cast(actor=member_b, idea=idea)
    client = page_as(pm)
    quarter = next_quarter()
    response = client.post(f"/ideas/{idea.number}/transition/", {
        "status": "accepted", "message": "Planned.", "target_quarter": quarter})
    assert response.status_code == 302
    assert fresh(idea).target_quarter == quarter
    roadmap = text(page_as(member_b).get("/ideas/roadmap/"))
    assert idea.title in roadmap and f"target {quarter}" in roadmap
    response = page_as(pm).post(f"/ideas/{idea.number}/transition/", {
        "status": "delivered", "message": "Shipped.", "release_notes_url": "ftp://x"})
    assert re.search(r'id="tr_release_notes_url_error"', text(response))
    response = page_as(pm).post(f"/ideas/{idea.number}/transition/", {
        "status": "delivered", "message": "Shipped.",
        "release_notes_url": "https://docs.example.com/rn/42"}, follow=True)
    assert "1 vote(s) went back" in text(response)
    assert vote_budget(member_b)["available"] == 10
    page = text(page_as(member_b).get(f"/ideas/{idea.number}/"))
    assert "https://docs.example.com/rn/42" in page and "Shipped." in page
    assert "10 of 10 votes left" in page


def test_a_status_it_cannot_reach_is_an_error_beside_the_field(page_as, idea, pm):
    response = page_as(pm).post(f"/ideas/{idea.number}/transition/", {
        "status": "in_development", "message": "x"})
    assert response.status_code == 400
    assert re.search(r'id="tr_status_error"', text(response))


def test_pm_update_is_public(page_as, idea, pm, member_b):
    page_as(pm).post(f"/ideas/{idea.number}/update/", {"message": "Looking into it."})
    assert "Looking into it." in text(page_as(member_b).get(f"/ideas/{idea.number}/"))
    response = page_as(pm).post(f"/ideas/{idea.number}/update/", {"message": ""})
    assert response.status_code == 400 and re.search(r'id="up_message_error"', text(response))


def test_a_merged_idea_redirects_to_its_survivor(page_as, idea, second, pm, member_b,
                                                  member_a):
    services.vote_cast(actor=member_b, idea=second)
    response = page_as(pm).post(f"/ideas/{second.number}/merge/", {"into": idea.number.lower()})
    assert response["Location"] == f"/ideas/{idea.number}/"
    assert fresh(idea).votes == 1
    client = page_as(member_a)
    response = client.get(f"/ideas/{second.number}/")
    assert response.status_code == 302 and response["Location"] == f"/ideas/{idea.number}/"
    page = text(client.get(response["Location"]))
    assert f"{second.number} “{second.title}” was merged into {idea.number}" in page
    assert "Merged here" in page


def test_merging_into_an_unknown_number_is_an_error_beside_the_field(page_as, idea, pm):
    response = page_as(pm).post(f"/ideas/{idea.number}/merge/", {"into": "IDEA-999999"})
    assert response.status_code == 400
    assert re.search(r'id="mg_into_error".*No idea has this number', text(response), re.S)
    response = page_as(pm).post(f"/ideas/{idea.number}/merge/", {"into": idea.number})
    assert re.search(r'id="mg_into_error"', text(response))


# --- Comments and moderation -----------------------------------------------------------


def test_comments_and_work_arounds(page_as, idea, member_b):
    client = page_as(member_b)
    response = client.post(f"/ideas/{idea.number}/comments/",
                           {"body": "Use a queue callback meanwhile.", "workaround": "on"})
    comment = Comment.objects.get()
    assert response["Location"] == f"/ideas/{idea.number}/#comment-{comment.pk}"
    page = text(client.get(f"/ideas/{idea.number}/"))
    assert page.index("Work-arounds (1)") < page.index("Use a queue callback meanwhile.")
    response = client.post(f"/ideas/{idea.number}/comments/", {"body": "   "})
    assert response.status_code == 400 and re.search(r'id="cm_body_error"', text(response))


def test_helpful_and_report(page_as, idea, member_a, member_b, pm):
    comment = services.comment_add(actor=member_b, idea=idea, body="Try the IVR.")
    url = f"/ideas/{idea.number}/comments/{comment.pk}/mark/"
    client = page_as(member_a)
    client.post(url, {"kind": "helpful"})
    assert comment.marks.filter(kind="helpful", user=member_a).exists()
    # A report needs a reason, asked beside the field, with the form left open.
    response = client.post(url, {"kind": "report", "reason": ""})
    assert response.status_code == 400
    assert re.search(rf'id="report{comment.pk}_reason_error"', text(response))
    client.post(url, {"kind": "report", "reason": "Advertising"})
    page = text(client.get(f"/ideas/{idea.number}/"))
    assert "You found it helpful" in page and "You reported it" in page
    assert "1 report" in text(page_as(pm).get(f"/ideas/{idea.number}/"))
    # One's own comment has neither button; marking it anyway is refused with a message.
    own = page_as(member_b)
    assert f'action="{url}"' not in text(own.get(f"/ideas/{idea.number}/"))
    response = own.post(url, {"kind": "helpful"}, follow=True)
    assert "That is your own comment." in text(response)


def test_moderation_hides_the_text(page_as, idea, member_a, member_b, pm):
    comment = services.comment_add(actor=member_b, idea=idea, body="RUDE-WORDS here")
    url = f"/ideas/{idea.number}/comments/{comment.pk}/hide/"
    response = page_as(pm).post(url, {"reason": ""})
    assert response.status_code == 400
    assert re.search(rf'id="hide{comment.pk}_reason_error"', text(response))
    page_as(pm).post(url, {"reason": "Not positive language"})
    for user in [member_a, member_b]:
        page = text(page_as(user).get(f"/ideas/{idea.number}/"))
        assert "Hidden by a moderator: Not positive language" in page
        assert "RUDE-WORDS" not in page
    moderator = text(page_as(pm).get(f"/ideas/{idea.number}/"))
    assert "RUDE-WORDS" in moderator and "shown to moderators only" in moderator
    response = page_as(pm).post(url, {"reason": "again"}, follow=True)
    assert "already hidden" in text(response)


# --- Grants ----------------------------------------------------------------------------


def test_grants(page_as, platform_admin, member_a, pm):
    assert page_as(pm).get("/ideas/grants/").status_code == 403
    client = page_as(platform_admin)
    assert "No grant yet" in text(client.get("/ideas/grants/"))
    response = client.post("/ideas/grants/", {"email": "nobody@x.test", "amount": "3",
                                              "reason": "Asked"})
    assert re.search(r'id="id_email_error".*No user has this e-mail', text(response), re.S)
    assert 'value="Asked"' in text(response)
    response = client.post("/ideas/grants/", {"email": "MEMBER@acme.test", "amount": "3",
                                              "reason": "Q3 review"}, follow=True)
    page = text(response)
    assert "13 of 13 votes left" in page and "Q3 review" in page
    assert VoteGrant.objects.get().amount == 3
    assert "13 of 13 votes left" in text(page_as(member_a).get("/ideas/"))


# --- Speed and the product switcher ----------------------------------------------------


def test_an_idea_page_answers_in_a_fixed_number_of_queries(
    page_as, idea, member_a, voters, pm, django_assert_max_num_queries
):
    for i in range(30):
        comment = services.comment_add(actor=voters[i % 5], idea=idea, body=f"Comment {i}",
                                       workaround=i % 10 == 0)
        if i % 3 == 0:
            services.comment_mark(actor=member_a, comment=comment, kind="helpful")
    for user in [member_a, pm]:
        client = page_as(user)
        with django_assert_max_num_queries(30):
            assert client.get(f"/ideas/{idea.number}/").status_code == 200


def test_a_user_of_several_products_switches_labs(page_as, idea, tenant_a, member_a):
    other = ProductFactory(slug="agent-desk", name="Agent Desk")
    tenant_a.platforms.add(other)
    client = page_as(member_a)
    page = text(client.get("/ideas/"))
    assert re.search(r'<select id="f-product" name="product">', page)
    assert "Ideas lab: Agent Desk" in page  # the first by name
    assert idea.title not in page
    page = text(client.get("/ideas/?product=cloud-cx"))
    assert "Ideas lab: Cloud CX" in page and idea.title in page
    assert "Agent Desk" in text(client.get("/ideas/roadmap/"))


def test_every_missing_field_of_a_transition_is_named_at_once(page_as, idea, pm):
    response = page_as(pm).post(f"/ideas/{idea.number}/transition/", {
        "status": "declined", "message": "", "reason": ""})
    page = text(response)
    assert re.search(r'id="tr_message_error"', page)
    assert re.search(r'id="tr_reason_error".*Give the reason for declining', page, re.S)
