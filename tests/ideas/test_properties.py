"""Property (hypothesis, stateful): whatever sequence of votes, un-votes, grants, merges,
deliveries and declines several users make on several ideas, the vote bookkeeping stays
exact.

A small model says what each step must do (which votes are refused and why, where a
merge moves a vote and where it gives it back); after every step the database must agree
with it: each user's used votes are the live votes they hold and never exceed their
budget; each idea's `votes` equals its live Vote rows; delivered, declined and merged
ideas hold none. Each example runs in a savepoint of the test's transaction, rolled back
at its end, so examples start from the same users and product.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from caredeck.core.exceptions import Conflict
from caredeck.ideas import services
from caredeck.ideas.models import VOTABLE, Idea, IdeaStatus, Vote
from caredeck.ideas.selectors import vote_budget

pytestmark = pytest.mark.django_db

USERS, IDEAS, BUDGET = 3, 5, 2
user_index = st.integers(min_value=0, max_value=USERS - 1)
idea_index = st.integers(min_value=0, max_value=IDEAS - 1)


def _current_quarter() -> str:
    now = timezone.now()
    return f"{now.year}-Q{(now.month - 1) // 3 + 1}"


def _make_machine(*, users, author, pm, admin, product):
    class VoteBookkeeping(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.savepoint = transaction.savepoint()
            self.ideas = [
                services.idea_submit(actor=author, product=product, title=f"Idea {n}",
                                     description="d")
                for n in range(IDEAS)
            ]
            # The model: live votes per user, budgets, and which ideas are closed.
            self.held = {u.pk: set() for u in users}
            self.budget = {u.pk: BUDGET for u in users}
            self.closed: set[int] = set()

        def teardown(self):
            transaction.savepoint_rollback(self.savepoint)

        def _voters_of(self, idea) -> set[int]:
            return {user for user, held in self.held.items() if idea.pk in held}

        # --- Steps --------------------------------------------------------------------

        @rule(u=user_index, i=idea_index)
        def vote(self, u, i):
            user, idea = users[u], self.ideas[i]
            refused = (
                idea.pk in self.closed
                or idea.pk in self.held[user.pk]
                or len(self.held[user.pk]) >= self.budget[user.pk]
            )
            try:
                services.vote_cast(actor=user, idea=idea)
            except Conflict:
                assert refused, "a vote the rules allow was refused"
            else:
                assert not refused, "a vote the rules forbid was cast"
                self.held[user.pk].add(idea.pk)

        @rule(u=user_index, several=st.lists(idea_index, min_size=2, max_size=IDEAS))
        def vote_for_several(self, u, several):
            # Votes come in runs, so budgets run out often.
            for i in several:
                self.vote(u, i)

        @rule(u=user_index, i=idea_index)
        def unvote(self, u, i):
            user, idea = users[u], self.ideas[i]
            try:
                services.vote_withdraw(actor=user, idea=idea)
            except Conflict:
                assert idea.pk not in self.held[user.pk]
            else:
                self.held[user.pk].remove(idea.pk)

        @rule(u=user_index, amount=st.integers(min_value=1, max_value=2))
        def grant(self, u, amount):
            services.vote_grant(actor=admin, user=users[u], amount=amount, reason="property")
            self.budget[users[u].pk] += amount

        @rule(i=idea_index, j=idea_index)
        def merge(self, i, j):
            idea, into = self.ideas[i], self.ideas[j]
            before = len(self._voters_of(idea))
            try:
                services.idea_merge(actor=pm, idea=idea, into=into)
            except ValidationError:
                assert i == j
                return
            except Conflict:
                assert idea.pk in self.closed or into.pk in self.closed
                return
            assert i != j and idea.pk not in self.closed and into.pk not in self.closed
            for held in self.held.values():
                if idea.pk in held:
                    held.discard(idea.pk)
                    held.add(into.pk)  # a user who voted for both keeps one vote there
            self.closed.add(idea.pk)
            assert Idea.objects.get(pk=idea.pk).closing_votes == before

        @rule(i=idea_index)
        def deliver(self, i):
            idea = Idea.objects.get(pk=self.ideas[i].pk)
            before = len(self._voters_of(idea))
            if idea.status in (IdeaStatus.COMMUNITY_REVIEW, IdeaStatus.UNDER_PM_REVIEW):
                services.idea_transition(actor=pm, idea=idea, status="accepted", message="Yes",
                                         target_quarter=_current_quarter())
            try:
                services.idea_transition(
                    actor=pm, idea=idea, status="delivered", message="Shipped",
                    release_notes_url="https://docs.example.com/rn",
                )
            except Conflict:
                assert idea.pk in self.closed
                return
            assert idea.pk not in self.closed
            self._close(idea, before)

        @rule(i=idea_index)
        def decline(self, i):
            idea = self.ideas[i]
            before = len(self._voters_of(idea))
            try:
                services.idea_transition(actor=pm, idea=idea, status="declined", message="No",
                                         reason="Not planned")
            except Conflict:
                assert idea.pk in self.closed
                return
            assert idea.pk not in self.closed
            self._close(idea, before)

        def _close(self, idea, before: int) -> None:
            for held in self.held.values():
                held.discard(idea.pk)  # the votes come back
            self.closed.add(idea.pk)
            assert Idea.objects.get(pk=idea.pk).closing_votes == before

        # --- What must always hold ------------------------------------------------------

        @invariant()
        def every_users_votes_are_their_live_votes_within_budget(self):
            for user in users:
                live = set(Vote.objects.filter(user=user, returned_at__isnull=True)
                           .values_list("idea_id", flat=True))
                budget = vote_budget(user)
                assert live == self.held[user.pk]
                assert budget["used"] == len(live) <= budget["budget"] == self.budget[user.pk]
                assert budget["available"] == budget["budget"] - budget["used"]

        @invariant()
        def every_ideas_count_is_its_live_votes(self):
            for idea in Idea.objects.filter(pk__in=[i.pk for i in self.ideas]):
                live = Vote.objects.filter(idea=idea, returned_at__isnull=True).count()
                assert idea.votes == live == len(self._voters_of(idea))
                if idea.pk in self.closed:
                    assert idea.status not in VOTABLE and live == 0
                else:
                    assert idea.status in VOTABLE

    return VoteBookkeeping


def test_vote_bookkeeping_stays_exact_for_any_sequence(
    settings, lab, member_a, voters, pm, platform_admin
):
    settings.IDEAS_VOTE_BUDGET = BUDGET  # a small budget runs out soon
    machine = _make_machine(users=voters[:USERS], author=member_a, pm=pm, admin=platform_admin,
                            product=lab)
    run_state_machine_as_test(
        machine,
        settings=hypothesis_settings(
            max_examples=50, stateful_step_count=25, deadline=None, database=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
