"""The Ideas Lab reports for product managers: the four tabs, their CSV exports, the
filters and what a bad filter answers, who may read them, and their query budget."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
import time_machine
from django.urls import reverse

from caredeck.accounts.roles import Role
from caredeck.ideas import reports, services
from caredeck.ideas.models import Idea
from tests.factories import OrganizationFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
T0 = datetime.datetime(2030, 11, 20, 15, 0, tzinfo=UTC)  # a Wednesday in 2030-Q4
URL = "/ideas/reports/"


@pytest.fixture
def frozen():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def segmented(tenant_a, tenant_b):
    tenant_a.segment = "enterprise"
    tenant_a.save()
    tenant_b.segment = "mid_market"
    tenant_b.save()
    return tenant_a, tenant_b


@pytest.fixture
def big_lab(lab):
    # High enough that no idea leaves community review while the tests vote.
    lab.vote_threshold = 50
    lab.save()
    return lab


def submit(author, product, title) -> Idea:
    return services.idea_submit(actor=author, product=product, title=title,
                                description="So that agents work faster.")


def vote(idea, people) -> Idea:
    for person in people:
        services.vote_cast(actor=person, idea=idea)
    return Idea.objects.get(pk=idea.pk)


def rows_of(response) -> list[dict]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


# --- Who may read them -----------------------------------------------------------------


@pytest.mark.parametrize("tab", ["product", "segment", "waiting", "delivered"])
def test_it_checks_who_may_read(page_as, client, tab, pm, platform_admin, care_analyst,
                                member_a, admin_a, partner_user):
    for person in (member_a, admin_a, partner_user):
        assert page_as(person).get(URL, {"tab": tab}).status_code == 403
        assert page_as(person).get(URL, {"tab": tab, "format": "csv"}).status_code == 403
    for person in (pm, platform_admin, care_analyst):
        assert page_as(person).get(URL, {"tab": tab}).status_code == 200
    client.logout()
    response = client.get(URL)
    assert response.status_code == 302 and "login" in response["Location"]


def test_the_url_name_is_not_taken_for_an_idea_number(page_as, pm):
    assert reverse("idea-reports") == URL
    response = page_as(pm).get(URL)
    assert b"Ideas reports" in response.content


def test_it_refuses_a_post(page_as, pm):
    assert page_as(pm).post(URL).status_code == 405


# --- Top ideas per product ---------------------------------------------------------------


def test_top_ideas_rank_open_ideas_by_live_votes_per_product(
    frozen, big_lab, pm, member_a, member_b, voters, page_as, tenant_a
):
    other = ProductFactory(slug="workforce", name="Workforce", vote_threshold=50)
    tenant_a.platforms.add(other)
    first = vote(submit(member_a, big_lab, "Callback scheduling"), voters[:4])
    second = vote(submit(member_b, big_lab, "Queue wallboard"), voters[:2])
    vote(submit(member_a, big_lab, "Nobody wants this"), [])
    shipped = vote(submit(member_a, big_lab, "Shipped already"), voters)
    services.idea_transition(actor=pm, idea=shipped, status="accepted", message="Yes.",
                             target_quarter="2031-Q1")
    services.idea_transition(actor=pm, idea=shipped, status="delivered", message="Done.",
                             release_notes_url="https://docs.example/r/1")
    wfm = vote(submit(member_a, other, "Shift swaps"), voters[:1:])
    groups = {g.slug: g for g in reports.top_ideas_per_product(pm)}
    assert [(i.number, i.votes, i.rank) for i in groups["cloud-cx"].ideas] == [
        (first.number, 4, 1), (second.number, 2, 2)]  # delivered and vote-less left out
    assert groups["cloud-cx"].ideas[0].organizations == 2  # voters of acme and globex
    assert groups["cloud-cx"].open_ideas == 3 and groups["cloud-cx"].live_votes == 6
    assert [i.number for i in groups["workforce"].ideas] == [wfm.number]
    # One product, and a limit: the page offers the rest.
    (only,) = reports.top_ideas_per_product(pm, product=big_lab, limit=1)
    assert [i.number for i in only.ideas] == [first.number]

    response = page_as(pm).get(URL, {"tab": "product", "product": "cloud-cx"})
    assert response.status_code == 200
    assert first.number.encode() in response.content
    assert wfm.number.encode() not in response.content

    exported = page_as(pm).get(URL, {"tab": "product", "format": "csv"})
    assert exported["Content-Disposition"] == (
        'attachment; filename="ideas-top-per-product-2030-11-20.csv"')
    lines = rows_of(exported)
    assert [(r["product"], r["rank"], r["idea"], r["live_votes"]) for r in lines] == [
        ("cloud-cx", "1", first.number, "4"), ("cloud-cx", "2", second.number, "2"),
        ("workforce", "1", wfm.number, "1")]
    assert lines[0]["url"].endswith(f"/ideas/{first.number}/")


def test_with_a_quarter_only_the_votes_cast_in_it_count(frozen, big_lab, pm, member_a,
                                                        voters, page_as):
    old = vote(submit(member_a, big_lab, "Old favourite"), voters[:4])
    frozen.move_to(datetime.datetime(2031, 1, 10, tzinfo=UTC))  # 2031-Q1
    new = vote(submit(member_a, big_lab, "New this quarter"), voters[:2])
    vote(old, voters[4:5])
    (group,) = reports.top_ideas_per_product(pm, quarter=reports.parse_quarter("2031-Q1"))
    assert [(i.number, i.votes, i.total_votes) for i in group.ideas] == [
        (new.number, 2, 2), (old.number, 1, 5)]
    exported = page_as(pm).get(URL, {"tab": "product", "quarter": "2031-Q1",
                                     "product": "cloud-cx", "format": "csv"})
    assert exported["Content-Disposition"].endswith(
        'filename="ideas-top-per-product-cloud-cx-2031-Q1.csv"')
    assert [r["votes_in_quarter"] for r in rows_of(exported)] == ["2", "1"]


# --- Top ideas per segment -----------------------------------------------------------------


def test_segment_votes_count_only_voters_of_that_segment(
    frozen, big_lab, segmented, pm, member_a, voters, page_as, tenant_a, partner_user
):
    a_voters = [v for v in voters if v.organization == tenant_a]  # 3 enterprise
    b_voters = [v for v in voters if v.organization != tenant_a]  # 2 mid-market
    loose = OrganizationFactory(slug="loose", name="Loose Retail")  # no segment set
    loose.platforms.add(big_lab)
    unsegmented = UserFactory(email="x@loose.test", organization=loose,
                              roles=[Role.CUSTOMER_MEMBER])
    enterprise_pick = vote(submit(member_a, big_lab, "SSO for agents"), a_voters)
    mid_pick = vote(submit(member_a, big_lab, "Cheaper seats"), [*b_voters, a_voters[0]])
    vote(mid_pick, [unsegmented])  # a customer without a segment: the "none" group
    groups = {g.segment: g for g in reports.top_ideas_per_segment(pm)}
    assert [(i.number, i.votes) for i in groups["enterprise"].ideas] == [
        (enterprise_pick.number, 3), (mid_pick.number, 1)]
    assert groups["enterprise"].voters == 3
    assert [(i.number, i.votes, i.total_votes) for i in groups["mid_market"].ideas] == [
        (mid_pick.number, 2, 4)]
    assert [(i.number, i.votes) for i in groups[""].ideas] == [(mid_pick.number, 1)]
    assert groups["public_sector"].ideas == []

    (only,) = reports.top_ideas_per_segment(pm, segment="mid_market")
    assert only.label == "Mid-market" and len(only.ideas) == 1
    response = page_as(pm).get(URL, {"tab": "segment", "segment": "none"})
    assert response.status_code == 200 and b"No segment set" in response.content
    exported = page_as(pm).get(URL, {"tab": "segment", "segment": "mid_market",
                                     "format": "csv"})
    assert exported["Content-Disposition"].endswith(
        'filename="ideas-top-per-segment-mid-market-2030-11-20.csv"')
    (line,) = rows_of(exported)
    assert (line["segment"], line["idea"], line["segment_votes"], line["live_votes"]) == (
        "mid_market", mid_pick.number, "2", "4")


# --- Waiting on a PM answer --------------------------------------------------------------


def test_ideas_waiting_on_an_answer_with_their_due_dates(frozen, lab, pm, member_a, voters,
                                                         page_as):
    waiting = vote(submit(member_a, lab, "Callback scheduling"), voters[:3])
    answered = vote(submit(member_a, lab, "Answered already"), voters[:3])
    services.idea_update_post(actor=pm, idea=answered, message="We are on it.")
    assert waiting.status == "under_pm_review"
    (row,) = reports.ideas_waiting(pm)
    assert row.number == waiting.number
    assert row.pm_answer_due_at == datetime.datetime(2031, 1, 6, 15, 0, tzinfo=UTC)
    assert row.business_days_left == 30 and not row.overdue

    response = page_as(pm).get(URL, {"tab": "waiting"})
    content = response.content.decode()
    assert waiting.number in content and answered.number not in content
    assert 'class="clock clock-ok"' in content and "2031-01-06" in content

    exported = page_as(pm).get(URL, {"tab": "waiting", "format": "csv"})
    (line,) = rows_of(exported)
    assert (line["idea"], line["pm_answer_due_at"], line["business_days_left"],
            line["overdue"]) == (waiting.number, "2031-01-06T15:00:00Z", "30", "no")

    frozen.move_to(datetime.datetime(2031, 1, 7, tzinfo=UTC))
    (row,) = reports.ideas_waiting(pm)
    assert row.overdue
    assert "overdue" in page_as(pm).get(URL, {"tab": "waiting"}).content.decode()
    # A quarter filters by the due date.
    assert reports.ideas_waiting(pm, quarter=reports.parse_quarter("2030-Q4")) == []
    assert len(reports.ideas_waiting(pm, quarter=reports.parse_quarter("2031-Q1"))) == 1


def test_business_days_left_skip_weekends_and_holidays():
    now = datetime.datetime(2030, 12, 23, 9, 0, tzinfo=UTC)  # Monday before Christmas
    due = datetime.datetime(2030, 12, 30, 9, 0, tzinfo=UTC)  # the next Monday
    assert reports.business_days_left(due, now) == 4  # Tue 24, Thu 26, Fri 27, Mon 30
    assert reports.business_days_left(now + datetime.timedelta(hours=2), now) == 0
    assert reports.business_days_left(now, now) is None


# --- Delivered per quarter ---------------------------------------------------------------


def deliver(pm, idea, when, frozen):
    frozen.move_to(when)
    services.idea_transition(actor=pm, idea=idea, status="accepted", message="Planned.",
                             target_quarter=f"{when.year}-Q{(when.month - 1) // 3 + 1}")
    return services.idea_transition(actor=pm, idea=idea, status="delivered",
                                    message="Shipped.",
                                    release_notes_url="https://docs.example/release")


def test_delivered_ideas_per_quarter(frozen, big_lab, pm, member_a, voters, page_as):
    ideas = [vote(submit(member_a, big_lab, f"Idea {n}"), voters[:n + 1]) for n in range(3)]
    deliver(pm, ideas[0], datetime.datetime(2031, 2, 1, tzinfo=UTC), frozen)
    deliver(pm, ideas[1], datetime.datetime(2031, 3, 31, 23, 59, tzinfo=UTC), frozen)
    deliver(pm, ideas[2], datetime.datetime(2031, 4, 1, 0, 1, tzinfo=UTC), frozen)
    counts = reports.delivered_per_quarter(pm)
    assert [(c.quarter.key, c.delivered, c.by_product) for c in counts] == [
        ("2031-Q2", 1, [("Cloud CX", 1)]), ("2031-Q1", 2, [("Cloud CX", 2)])]
    q1 = reports.parse_quarter("2031-Q1")
    rows = reports.delivered_rows(reports.delivered_ideas(pm, quarter=q1))
    assert [(r.number, r.votes_at_delivery) for r in rows] == [
        (ideas[1].number, 2), (ideas[0].number, 1)]

    response = page_as(pm).get(URL, {"tab": "delivered"})
    assert response.status_code == 200 and b"2031-Q2" in response.content
    exported = page_as(pm).get(URL, {"tab": "delivered", "quarter": "2031-Q1",
                                     "format": "csv"})
    assert exported["Content-Disposition"].endswith('filename="ideas-delivered-2031-Q1.csv"')
    assert [(r["quarter"], r["idea"], r["votes_at_delivery"]) for r in rows_of(exported)] == [
        ("2031-Q1", ideas[1].number, "2"), ("2031-Q1", ideas[0].number, "1")]
    everything = page_as(pm).get(URL, {"tab": "delivered", "format": "csv"})
    assert everything["Content-Disposition"].endswith(
        'filename="ideas-delivered-all-quarters.csv"')
    assert len(rows_of(everything)) == 3


# --- Bad input, CSV safety, speed ----------------------------------------------------------


@pytest.mark.parametrize("params, field, message", [
    ({"quarter": "2026-Q9"}, "quarter", "Give a quarter as YYYY-Qn"),
    ({"quarter": "Q1-2026"}, "quarter", "Give a quarter as YYYY-Qn"),
    ({"quarter": "0001-Q1"}, "quarter", "Give a quarter as YYYY-Qn"),
    ({"product": "no-such-thing"}, "product", "No such product"),
    ({"product": "../../etc"}, "product", "No such product"),
    ({"tab": "segment", "segment": "galactic"}, "segment", "Choose a segment"),
    ({"tab": "everything"}, "tab", "Choose one of the report tabs"),
])
def test_bad_filters_are_a_clear_400_not_a_500(page_as, pm, lab, params, field, message):
    for extra in ({}, {"format": "csv"}):
        response = page_as(pm).get(URL, {**params, **extra})
        assert response.status_code == 400
        assert response["Content-Type"].startswith("text/html")  # no misleading file
        assert message in response.content.decode()


def test_a_typed_quarter_stays_in_the_field_after_an_error(page_as, pm):
    response = page_as(pm).get(URL, {"quarter": "2026-Q9"})
    assert 'value="2026-Q9"' in response.content.decode()
    assert 'aria-invalid="true"' in response.content.decode()


def test_csv_cells_cannot_run_as_formulas(frozen, big_lab, pm, member_a, voters, page_as):
    evil = vote(submit(member_a, big_lab, '=HYPERLINK("http://evil.example","x")'),
                voters[:1])
    for title in ("+1 more seats", "-rm", "@SUM(A1)"):
        vote(submit(member_a, big_lab, title), voters[:1])
    lines = rows_of(page_as(pm).get(URL, {"tab": "product", "format": "csv"}))
    titles = {line["idea"]: line["title"] for line in lines}
    assert titles[evil.number] == "'=HYPERLINK(\"http://evil.example\",\"x\")"
    assert sorted(t for t in titles.values()) == sorted(
        ["'+1 more seats", "'-rm", "'@SUM(A1)", titles[evil.number]])
    assert reports.csv_cell(-3) == -3 and reports.csv_cell("plain") == "plain"


def test_quarters_parse_strictly():
    q = reports.parse_quarter("2026-Q1")
    assert (q.start, q.end) == (datetime.datetime(2026, 1, 1, tzinfo=UTC),
                                datetime.datetime(2026, 4, 1, tzinfo=UTC))
    assert reports.parse_quarter("2026-Q4").end == datetime.datetime(2027, 1, 1, tzinfo=UTC)
    assert reports.parse_quarter("") is None
    assert reports.quarter_of(datetime.datetime(2026, 6, 30, 23, 0, tzinfo=UTC)).key == "2026-Q2"


@pytest.mark.parametrize("tab", ["product", "segment", "waiting", "delivered"])
def test_each_tab_costs_the_same_queries_for_many_ideas(
    frozen, lab, segmented, pm, member_a, voters, page_as, tab, django_assert_max_num_queries
):
    def add_ideas(count: int) -> None:
        for n in range(count):
            if n % 8 == 0:  # fresh voters before anyone's 10 votes run out
                pool = [UserFactory(organization=v.organization, roles=[Role.CUSTOMER_MEMBER])
                        for v in voters[:4]]
            idea = vote(submit(member_a, lab, f"Idea {n}"), pool[: 1 + n % 4])
            if n % 3 == 0 and idea.status == "under_pm_review":
                services.idea_transition(actor=pm, idea=idea, status="accepted",
                                         message="Yes.", target_quarter="2031-Q1")
                services.idea_transition(actor=pm, idea=idea, status="delivered",
                                         message="Done.",
                                         release_notes_url="https://docs.example/r")

    client = page_as(pm)
    add_ideas(6)
    client.get(URL, {"tab": tab})  # warm the session and the provider's calendar
    with django_assert_max_num_queries(14) as few:
        client.get(URL, {"tab": tab})
    add_ideas(18)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(URL, {"tab": tab})
    assert response.status_code == 200


# --- The demo ----------------------------------------------------------------------------


def test_the_demo_fills_every_tab_and_loads_once(page_as):
    import time

    from caredeck.accounts.models import User
    from caredeck.core.scheduler import tick
    from caredeck.ideas.clocks import pm_work_for
    from caredeck.notify.models import OutboundMessage
    from caredeck.web.demo import load_demo

    started = time.monotonic()
    load_demo()
    took = time.monotonic() - started
    pm = User.objects.get(email="pm@provider.example")
    statuses = set(Idea.objects.values_list("status", flat=True))
    assert statuses >= {"community_review", "under_pm_review", "accepted", "in_development",
                        "delivered", "declined"}
    delivered = Idea.objects.filter(status="delivered")
    assert all(i.votes == 0 and i.closing_votes for i in delivered)  # votes went back
    assert Idea.objects.filter(comments__workaround=True).exists()

    waiting = reports.ideas_waiting(pm)
    assert len(waiting) == 2
    running, overdue = sorted(waiting, key=lambda w: w.overdue)
    assert not running.overdue and 10 <= running.business_days_left <= 25
    assert overdue.overdue
    assert {g.slug for g in reports.top_ideas_per_product(pm) if g.ideas} == {
        "cloud-cx", "engage-premise", "workforce"}
    assert [g for g in reports.top_ideas_per_segment(pm) if g.ideas]
    assert sum(q.delivered for q in reports.delivered_per_quarter(pm)) == 2
    titles = [row["title"] for row in pm_work_for(pm)]
    assert any("PM answer due" in t for t in titles)
    assert any("development update due" in t for t in titles)
    for tab in reports.TABS:
        assert page_as(pm).get(URL, {"tab": tab}).status_code == 200

    # The overdue answer is escalated on the first tick, once.
    tick("demo")
    tick("demo")
    assert OutboundMessage.objects.filter(
        event="idea.pm_clock", channel="email", subject__startswith="ESCALATION",
        subject__contains=overdue.number, recipient=pm.email).count() == 1

    before = Idea.objects.count()
    load_demo()
    assert Idea.objects.count() == before
    assert took < 60
