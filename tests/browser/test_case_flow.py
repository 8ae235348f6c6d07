"""A support case from an incomplete submission to closure with a KB article, in a real
browser.

A designated contact (on a phone-sized screen) opens a case without the fact its product
needs, so it waits for them; they provide it and the case is routed to an expert; the
expert proposes a solution, the contact rejects it with a reason, the expert proposes
another, the contact confirms it, and the expert closes the case with the root cause and
a new knowledge-base article. Another tenant's designated contact sees none of it.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from caredeck.cases.models import Case, CaseStatus
from tests.browser.conftest import DESKTOP, PHONE, signed_in
from tests.cases.conftest import experts, requirement, telephony  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db(transaction=True)


def act(page, summary: str, fields: dict[str, str], button: str) -> None:
    """Open an action's panel on the case page, fill it, send it."""
    panel = page.locator("details", has=page.locator("summary", has_text=summary))
    if panel.get_attribute("open") is None:
        panel.locator("summary").click()
    for label, value in fields.items():
        panel.get_by_label(label).fill(value)
    panel.get_by_role("button", name=button).click()


@pytest.mark.browser
@pytest.mark.usefixtures("experts", "requirement")
def test_the_whole_case_cycle(new_page, contact_a, contact_b, product):
    customer = signed_in(new_page(PHONE), contact_a.email)
    customer.goto(customer.url.split("/home")[0] + "/cases/new/")
    customer.locator("#id_product").select_option(product.slug)
    customer.get_by_role("radio", name="Cloud").check()
    customer.get_by_role("radio", name=re.compile(r"^2 · High")).check()
    customer.locator("#id_summary").fill("Agents cannot log in")
    customer.locator("#id_description").fill("Since 9:00 agents get **error 503**.")
    customer.get_by_role("button", name="Open the case").click()

    case = Case.objects.get()
    expect(customer.locator("h1")).to_contain_text(case.number)
    expect(customer.locator("body")).to_contain_text("Affected phone number")
    assert case.status == CaseStatus.INFO_REQUESTED and case.owner is None

    act(customer, "Provide information", {"Affected phone number": "+1 212 555 0101"}, "Send")
    expect(customer.locator("body")).to_contain_text("In progress")
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN and case.owner is not None
    case_path = f"/cases/{case.number}/"

    expert = signed_in(new_page(DESKTOP), case.owner.email)
    expert.goto(expert.url.split("/home")[0] + case_path)
    expect(expert.locator("body")).to_contain_text("Routing")
    act(expert, "Propose a solution", {"Proposed solution": "Restart the SBC."}, "Propose")
    expect(expert.locator("body")).to_contain_text("Solution proposed")

    customer.reload()
    act(customer, "Reject the solution",
        {"Why does it not solve the problem?": "Still 503 after the restart."}, "Reject")
    expect(customer.locator("body")).to_contain_text("Still 503 after the restart.")

    expert.reload()
    act(expert, "Propose a solution", {"Proposed solution": "Renew the SBC certificate."},
        "Propose")
    customer.reload()
    customer.get_by_role("button", name=re.compile("Confirm the solution")).click()
    expect(customer.locator("body")).to_contain_text("Solution confirmed")

    expert.reload()
    act(expert, "Close the case", {
        "Root cause": "The SBC certificate had expired.",
        "New article: title": "Error 503 at agent login",
        "New article: text": "Renew the SBC certificate; see the runbook.",
    }, "Close the case")
    expect(expert.locator("body")).to_contain_text("Closed")
    case.refresh_from_db()
    assert case.status == CaseStatus.CLOSED
    assert case.kb_article.title == "Error 503 at agent login"
    assert case.solutions_proposed == 2 and case.solutions_rejected == 1

    customer.reload()
    expect(customer.locator("body")).to_contain_text("Error 503 at agent login")

    other = signed_in(new_page(PHONE), contact_b.email)
    base = other.url.split("/home")[0]
    other.goto(base + "/cases/")
    expect(other.locator("body")).not_to_contain_text(case.number)
    response = other.goto(base + case_path)
    assert response.status == 404
