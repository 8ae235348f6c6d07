"""The vote rules under real concurrency, on PostgreSQL: threads with connections of their
own vote at the same instant (a barrier releases them together), and the bookkeeping must
come out exact. One user's votes serialize on their user row; different users' votes on
one idea serialize on the idea's row.

PostgreSQL only: SQLite has one writer at a time, so it would prove nothing (and it would
answer "database is locked" instead). It runs in the suite's PostgreSQL pass
(DATABASE_URL=postgres://…, as `dev.py test` and CI do). Transactional tests: every
thread commits, and the tables are flushed afterwards.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections
from django.db.models import Count, Q
from django.utils import timezone

from caredeck.accounts.models import Contract, Organization
from caredeck.accounts.roles import OrganizationKind, Role
from caredeck.core.exceptions import Conflict
from caredeck.ideas import services
from caredeck.ideas.models import Idea, IdeaUpdate, Vote
from caredeck.ideas.selectors import vote_budget
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def postgres_only(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's row locks; runs in the PostgreSQL pass "
                    "(DATABASE_URL=postgres://…)")
    # A flush after an earlier transactional test took the provider organization (made by
    # a data migration) along; the PM clock reads the provider's calendar.
    if not Organization.objects.filter(kind=OrganizationKind.PROVIDER).exists():
        provider = Organization.objects.create(
            kind=OrganizationKind.PROVIDER, name="Provider", slug="provider")
        Contract.objects.create(organization=provider)


def _this_quarter() -> str:
    now = timezone.now()
    return f"{now.year}-Q{(now.month - 1) // 3 + 1}"


def all_at_once(calls) -> list[str]:
    """Run the calls in threads released together; "ok" or the Conflict's reason each."""
    barrier = threading.Barrier(len(calls))

    def run(call) -> str:
        try:
            barrier.wait(timeout=30)
            call()
            return "ok"
        except Conflict as conflict:
            return conflict.reason
        finally:
            connections.close_all()  # this thread's own connection

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def assert_counts_are_live_rows() -> None:
    for idea in Idea.objects.annotate(
        live=Count("vote_rows", filter=Q(vote_rows__returned_at__isnull=True))
    ):
        assert idea.votes == idea.live, idea.number


def test_fifty_simultaneous_votes_by_a_user_with_three_left_give_exactly_three(
    lab, member_a, member_b
):
    ideas = [services.idea_submit(actor=member_a, product=lab, title=f"Idea {n}",
                                  description="d") for n in range(57)]
    for idea in ideas[:7]:
        services.vote_cast(actor=member_b, idea=idea)
    assert vote_budget(member_b)["available"] == 3

    outcomes = all_at_once([
        lambda idea=idea: services.vote_cast(actor=member_b, idea=idea) for idea in ideas[7:]
    ])

    assert outcomes.count("ok") == 3
    refused = [o for o in outcomes if o != "ok"]
    assert len(refused) == 47 and all("no votes left" in o for o in refused)
    assert Vote.objects.filter(user=member_b, returned_at__isnull=True).count() == 10
    assert vote_budget(member_b) == {"budget": 10, "used": 10, "available": 0}
    assert sum(Idea.objects.filter(pk__in=[i.pk for i in ideas[7:]])
               .values_list("votes", flat=True)) == 3
    assert_counts_are_live_rows()


def test_many_users_voting_at_once_on_one_idea_count_every_vote_once(idea, tenant_a,
                                                                     tenant_b):
    users = [UserFactory(organization=tenant_a if n % 2 else tenant_b,
                         roles=[Role.CUSTOMER_MEMBER]) for n in range(40)]

    outcomes = all_at_once([lambda u=u: services.vote_cast(actor=u, idea=idea) for u in users])

    assert outcomes == ["ok"] * 40
    idea.refresh_from_db()
    assert idea.votes == 40 == Vote.objects.filter(idea=idea, returned_at__isnull=True).count()
    # The threshold (3) moved it to PM review exactly once.
    assert idea.status == "under_pm_review"
    assert IdeaUpdate.objects.filter(idea=idea, to_status="under_pm_review").count() == 1


def test_the_same_vote_cast_twice_at_once_counts_once(idea, member_b):
    outcomes = all_at_once([lambda: services.vote_cast(actor=member_b, idea=idea)] * 20)

    assert outcomes.count("ok") == 1
    assert all("already voted" in o for o in outcomes if o != "ok")
    idea.refresh_from_db()
    assert idea.votes == 1 and vote_budget(member_b)["used"] == 1


def test_votes_racing_a_delivery_all_come_back(idea, pm, tenant_a):
    services.idea_transition(actor=pm, idea=idea, status="accepted", message="Planned",
                             target_quarter=_this_quarter())
    users = [UserFactory(organization=tenant_a, roles=[Role.CUSTOMER_MEMBER])
             for _ in range(29)]
    calls = [lambda u=u: services.vote_cast(actor=u, idea=idea) for u in users]
    calls.insert(15, lambda: services.idea_transition(
        actor=pm, idea=idea, status="delivered", message="Shipped",
        release_notes_url="https://docs.example.com/rn"))

    outcomes = all_at_once(calls)

    cast = sum(1 for o in outcomes if o == "ok") - 1  # the delivery itself is "ok"
    assert all("takes no more votes" in o for o in outcomes if o != "ok")
    idea.refresh_from_db()
    assert idea.status == "delivered" and idea.votes == 0
    # Every vote cast before the delivery was counted there and given back by it.
    assert idea.closing_votes == cast
    assert not Vote.objects.filter(idea=idea, returned_at__isnull=True).exists()
    assert Vote.objects.filter(idea=idea, returned_because="delivered").count() == cast
    assert all(vote_budget(u)["used"] == 0 for u in users)


def test_a_storm_of_votes_and_unvotes_keeps_every_budget(settings, lab, member_a, tenant_b):
    settings.IDEAS_VOTE_BUDGET = 1
    ideas = [services.idea_submit(actor=member_a, product=lab, title=f"Idea {n}",
                                  description="d") for n in range(4)]
    users = [UserFactory(organization=tenant_b, roles=[Role.CUSTOMER_MEMBER])
             for _ in range(3)]
    for user in users:
        services.vote_grant(actor=None, user=user, amount=1, reason="storm",
                            source="activity")
    # Each user, all at once: votes for every idea, un-votes of every idea, votes again,
    # with 2 votes (1 + a grant) for 4 ideas: refusals are "no votes left", "already
    # voted" or "no vote to take back", and nobody ever holds more than 2.
    calls = []
    for round_ in range(3):
        for user in users:
            for idea in ideas:
                if round_ == 1:
                    calls.append(lambda u=user, i=idea: services.vote_withdraw(actor=u, idea=i))
                else:
                    calls.append(lambda u=user, i=idea: services.vote_cast(actor=u, idea=i))
    outcomes = all_at_once(calls)

    reasons = ("no votes left", "already voted", "no vote on")
    assert all(any(r in o for r in reasons) for o in outcomes if o != "ok")
    assert any("no votes left" in o for o in outcomes)
    for user in users:
        budget = vote_budget(user)
        live = Vote.objects.filter(user=user, returned_at__isnull=True).count()
        assert budget["used"] == live <= budget["budget"] == 2
    assert_counts_are_live_rows()
