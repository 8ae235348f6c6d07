"""An idea from votes to delivery, in a real browser.

A customer on a phone-sized screen votes in the lab until the budget runs out, is told
why the next vote is refused, and takes votes back; a second customer's vote brings an
idea to the product's threshold, which moves it to PM review with the PM answer clock
running; the product manager accepts it for a quarter and later delivers it with the
release notes, and the first customer's budget badge is full again.
"""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from caredeck.accounts.roles import Role
from caredeck.ideas import services
from caredeck.ideas.models import Idea, IdeaStatus
from tests.browser.conftest import PHONE, signed_in
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def next_quarter() -> str:
    now = timezone.localtime()
    year, quarter = now.year, (now.month - 1) // 3 + 1
    year, quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)
    return f"{year}-Q{quarter}"


def vote(page, idea: Idea) -> None:
    row = page.locator(f"#idea-row-{idea.pk}")
    row.get_by_role("button", name=re.compile(r"^Vote for")).click()


def take_back(page, idea: Idea) -> None:
    row = page.locator(f"#idea-row-{idea.pk}")
    row.get_by_role("button", name=re.compile(r"^Voted · take back")).click()
    expect(row).to_contain_text("Vote taken back")


@pytest.mark.browser
def test_votes_run_out_come_back_and_move_an_idea_to_delivery(
    new_page, settings, product, tenant_a, tenant_b, member_a, member_b, provider
):
    settings.IDEAS_VOTE_BUDGET = 3
    product.vote_threshold = 2
    product.save()
    pm = UserFactory(email="pm@provider.test", name="Pat Product", organization=provider,
                     roles=[Role.PRODUCT_MANAGER])
    ideas = [
        services.idea_submit(actor=member_b, product=product, title=title, description=title)
        for title in ["Callback scheduling", "Wallboard dark mode", "Queue position prompts",
                      "Agent break reasons"]
    ]
    first, second, third, fourth = ideas

    customer = signed_in(new_page(PHONE), member_a.email)
    customer.get_by_role("link", name="Ideas").click()
    budget = customer.locator("#vote-budget")
    expect(budget).to_contain_text("3 of 3 votes left")
    for idea, left in [(first, 2), (second, 1), (third, 0)]:
        vote(customer, idea)
        expect(budget).to_contain_text(f"{left} of 3 votes left")
    expect(customer.locator(f"#idea-row-{third.pk}")).to_contain_text("Voted · take back")

    # The budget is spent: the next vote is refused, and the row says why.
    vote(customer, fourth)
    refusal = customer.locator(f"#idea-row-{fourth.pk} [role=alert]")
    expect(refusal).to_contain_text("You have no votes left")
    assert Idea.objects.get(pk=fourth.pk).votes == 0

    take_back(customer, third)
    expect(budget).to_contain_text("1 of 3 votes left")
    take_back(customer, second)
    expect(budget).to_contain_text("2 of 3 votes left")

    # A customer of another tenant votes on the idea's own page: the threshold is reached.
    other = signed_in(new_page(), member_b.email)
    other.goto(f"/ideas/{first.number}/")
    other.get_by_role("button", name=re.compile(r"^Vote for")).click()
    expect(other.locator(".messages")).to_contain_text("reached the threshold of 2 votes")
    expect(other.locator(".objhead")).to_contain_text("Under PM review")

    customer.goto(f"/ideas/{first.number}/")
    expect(customer.locator(".objhead")).to_contain_text("Under PM review")
    standing = customer.locator(".standing")
    expect(standing).to_contain_text("PM answer")
    expect(standing.locator(".clock")).to_contain_text("due")

    # The product manager accepts it for a quarter, then delivers it.
    manager = signed_in(new_page(), pm.email)
    manager.goto(f"/ideas/{first.number}/")
    manager.get_by_label("New status").select_option("accepted")
    manager.get_by_role("button", name="Change the status").click()
    expect(manager.locator("#tr_target_quarter_error")).to_contain_text(
        "Give the target quarter")
    quarter = next_quarter()
    manager.get_by_label("Target quarter").select_option(quarter)
    manager.get_by_label("Public message").fill("Planned: callers will pick their slot.")
    manager.get_by_role("button", name="Change the status").click()
    expect(manager.locator(".messages")).to_contain_text("is now accepted")
    expect(manager.locator(".objhead")).to_contain_text("Accepted")

    manager.get_by_label("New status").select_option("delivered")
    manager.get_by_label("Release-note link").fill("https://docs.example.com/releases/42")
    manager.get_by_label("Public message").fill("Callback scheduling is live.")
    manager.get_by_role("button", name="Change the status").click()
    expect(manager.locator(".messages")).to_contain_text("2 vote(s) went back")
    assert Idea.objects.get(pk=first.pk).status == IdeaStatus.DELIVERED

    # The voter reads the delivery, the release notes, and has every vote back.
    customer.goto(f"/ideas/{first.number}/")
    main = customer.locator("main")
    expect(main).to_contain_text("Callback scheduling is live.")
    expect(main).to_contain_text("Planned: callers will pick their slot.")
    expect(customer.get_by_role("link", name="Read the release notes")).to_have_attribute(
        "href", "https://docs.example.com/releases/42")
    expect(customer.locator("#vote-budget")).to_contain_text("3 of 3 votes left")
    customer.goto("/ideas/roadmap/")
    expect(customer.locator("#col-delivered").locator("..")).to_contain_text(
        "Callback scheduling")
