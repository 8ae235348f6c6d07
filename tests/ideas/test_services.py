"""The vote rules and the status workflow of the Ideas Lab."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from caredeck.core.exceptions import Conflict
from caredeck.ideas import services
from caredeck.ideas.models import Idea, Vote
from caredeck.ideas.selectors import vote_budget

pytestmark = pytest.mark.django_db


def fresh(idea) -> Idea:
    return Idea.objects.get(pk=idea.pk)


def test_submitting_spends_no_vote(idea, member_a):
    assert vote_budget(member_a) == {"budget": 10, "used": 0, "available": 10}
    assert idea.number.startswith("IDEA-") and idea.votes == 0


def test_a_product_the_tenant_does_not_use_is_refused(member_a):
    from tests.factories import ProductFactory

    other = ProductFactory(slug="other", name="Other")
    with pytest.raises(ValidationError) as error:
        services.idea_submit(actor=member_a, product=other, title="x", description="y")
    assert "product" in error.value.message_dict


def test_one_vote_per_idea_and_the_budget(idea, lab, member_a):
    services.vote_cast(actor=member_a, idea=idea)
    with pytest.raises(Conflict, match="already voted"):
        services.vote_cast(actor=member_a, idea=idea)
    others = [services.idea_submit(actor=member_a, product=lab, title=f"Idea {i}",
                                   description="d") for i in range(10)]
    for other in others[:9]:
        services.vote_cast(actor=member_a, idea=other)
    assert vote_budget(member_a) == {"budget": 10, "used": 10, "available": 0}
    with pytest.raises(Conflict, match="no votes left"):
        services.vote_cast(actor=member_a, idea=others[9])
    services.vote_withdraw(actor=member_a, idea=others[0])
    assert vote_budget(member_a)["available"] == 1
    with pytest.raises(Conflict, match="no vote"):
        services.vote_withdraw(actor=member_a, idea=others[0])


def test_the_threshold_moves_the_idea_to_pm_review_with_a_30_business_day_clock(
    idea, voters
):
    # Wednesday 2030-11-20 + 30 business days, skipping weekends, Thanksgiving (Nov 28),
    # Christmas (Dec 25) and New Year's Day: Monday 2031-01-06 (without the holidays it
    # would be Tuesday 2030-12-31).
    with time_machine.travel(datetime.datetime(2030, 11, 20, 15, 0, tzinfo=datetime.UTC),
                             tick=False):
        for voter in voters[:3]:
            services.vote_cast(actor=voter, idea=idea)
    idea = fresh(idea)
    assert idea.status == "under_pm_review" and idea.votes == 3
    assert idea.pm_answer_due_at == datetime.datetime(2031, 1, 6, 15, 0, tzinfo=datetime.UTC)


def test_accepted_needs_a_quarter_delivered_a_link_declined_a_reason(idea, pm):
    with time_machine.travel(datetime.datetime(2030, 5, 10, 12, 0, tzinfo=datetime.UTC)):
        for status, extra, field in [
            ("accepted", {"target_quarter": "2032-Q1"}, "target_quarter"),
            ("accepted", {"target_quarter": "soon"}, "target_quarter"),
            ("declined", {}, "reason"),
        ]:
            with pytest.raises(ValidationError) as error:
                services.idea_transition(actor=pm, idea=idea, status=status, message="m",
                                         **extra)
            assert field in error.value.message_dict
        services.idea_transition(actor=pm, idea=idea, status="accepted", message="Yes",
                                 target_quarter="2030-Q4")
        with pytest.raises(ValidationError) as error:
            services.idea_transition(actor=pm, idea=idea, status="delivered", message="m")
        assert "release_notes_url" in error.value.message_dict


def test_delivery_gives_the_votes_back_and_keeps_the_count(idea, pm, voters):
    for voter in voters[:2]:
        services.vote_cast(actor=voter, idea=idea)
    services.idea_transition(actor=pm, idea=idea, status="accepted", message="Yes",
                             target_quarter=_quarter_now())
    services.idea_transition(actor=pm, idea=idea, status="delivered", message="Shipped",
                             release_notes_url="https://example.test/notes")
    idea = fresh(idea)
    assert (idea.votes, idea.closing_votes) == (0, 2)
    assert vote_budget(voters[0])["available"] == 10
    with pytest.raises(Conflict):
        services.vote_cast(actor=voters[3], idea=idea)
    with pytest.raises(Conflict):
        services.idea_transition(actor=pm, idea=idea, status="accepted", message="again",
                                 target_quarter=_quarter_now())


def test_merging_moves_votes_without_double_counting(idea, lab, pm, voters, member_a):
    other = services.idea_submit(actor=member_a, product=lab, title="Pick callback time",
                                 description="dup")
    services.vote_cast(actor=voters[0], idea=idea)
    services.vote_cast(actor=voters[0], idea=other)  # voted for both
    services.vote_cast(actor=voters[1], idea=other)
    services.idea_merge(actor=pm, idea=other, into=idea)
    assert fresh(idea).votes == 2
    assert fresh(other).status == "merged" and fresh(other).merged_into_id == idea.pk
    assert vote_budget(voters[0])["used"] == 1  # one vote came back
    assert Vote.objects.filter(idea=idea, returned_at__isnull=True).count() == 2


def test_only_product_managers_move_ideas_and_only_admins_grant(idea, member_a, pm,
                                                                platform_admin):
    with pytest.raises(PermissionDenied):
        services.idea_transition(actor=member_a, idea=idea, status="declined", message="m",
                                 reason="r")
    with pytest.raises(PermissionDenied):
        services.vote_grant(actor=pm, user=member_a, amount=3, reason="beta tester")
    services.vote_grant(actor=platform_admin, user=member_a, amount=3, reason="beta tester")
    assert vote_budget(member_a)["budget"] == 13


def test_helpful_comments_earn_votes(idea, member_a, voters, settings):
    settings.IDEAS_HELPFUL_COMMENTS_PER_VOTE = 2
    comments = [services.comment_add(actor=member_a, idea=idea, body=f"Tip {i}")
                for i in range(2)]
    services.comment_mark(actor=voters[1], comment=comments[0], kind="helpful")
    assert vote_budget(member_a)["budget"] == 10
    services.comment_mark(actor=voters[1], comment=comments[1], kind="helpful")
    assert vote_budget(member_a)["budget"] == 11


def _quarter_now() -> str:
    from django.utils import timezone

    now = timezone.now()
    return f"{now.year}-Q{(now.month - 1) // 3 + 1}"
