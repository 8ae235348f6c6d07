"""An incident from declaration to root-cause analysis, in a real browser.

The incident manager declares it on a phone-sized screen, posts updates, resolves it,
publishes the report and the RCA; a designated contact of the affected tenant follows
it and reads only its own story; a designated contact of an unaffected tenant sees
nothing of it.
"""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from caredeck.incidents.models import Incident
from caredeck.notify.models import OutboundMessage
from caredeck.problems.models import Problem
from tests.browser.conftest import PHONE, signed_in

pytestmark = pytest.mark.django_db(transaction=True)


def post_update(page, status: str, text: str) -> None:
    page.get_by_label("Status").select_option(status)
    page.get_by_role("textbox", name="Update").fill(text)
    page.get_by_role("button", name="Post").click()
    expect(page.locator(".messages")).to_contain_text("Update posted.")


@pytest.mark.browser
def test_an_incident_from_declaration_to_rca(
    new_page, deployed, incident_manager, contact_a, contact_b
):
    manager = signed_in(new_page(PHONE), incident_manager.email)
    manager.goto("/incidents/new/")
    manager.get_by_label("Title").fill("Calls fail in US East")
    manager.get_by_role("radio", name=re.compile("SEV1")).check()
    manager.get_by_label("Failed element", exact=True).select_option("us-east")
    manager.get_by_role("button", name="Declare").click()
    expect(manager.locator(".messages")).to_contain_text("1 tenant(s) affected")
    number = Incident.objects.get().number
    expect(manager.get_by_role("heading", level=1)).to_contain_text(number)
    clocks = manager.locator("#clocks")
    expect(clocks).to_contain_text("Acme Telecom")
    expect(clocks).not_to_contain_text("Globex")
    expect(clocks).to_contain_text("kept")

    post_update(manager, "identified", "A core router in us-east lost its routes.")
    post_update(manager, "resolved", "Routes restored; calls flow normally.")
    expect(manager.locator(".objhead")).to_contain_text("Resolved")

    manager.get_by_role("link", name="Findings & report").click()
    manager.get_by_label("Customer incident report").fill(
        "Calls failed for 40 minutes after a router lost its routes."
    )
    manager.get_by_role("button", name="Save").click()
    manager.get_by_role("button", name="Publish the report").click()
    expect(manager.locator(".messages")).to_contain_text("Incident report sent")

    # Post-incident review: it opens a problem record, whose RCA goes to the tenants.
    manager.get_by_role("link", name="Post-incident review").click()
    manager.get_by_label("Held on").fill(timezone.localdate().isoformat())
    manager.get_by_label("Facilitator").select_option(str(incident_manager.pk))
    manager.get_by_label("Summary").fill("Routes were withdrawn by a faulty update.")
    manager.get_by_role("radio", name="Open a new problem").check()
    manager.get_by_label("New problem title").fill("Router updates withdraw routes")
    manager.get_by_role("button", name="Record the review").click()
    problem = Problem.objects.get()
    manager.goto(f"/problems/{problem.number}/")
    root_cause = manager.get_by_role("textbox", name="Root cause")
    root_cause.fill("A router update withdrew every route.")
    manager.locator("#record-h ~ form").get_by_role("button", name="Save").click()
    manager.get_by_role("textbox", name="Document").fill(
        "The update bypassed the canary stage; it now cannot."
    )
    manager.get_by_role("button", name="Save draft").click()
    manager.get_by_role("button", name=re.compile("Publish and send to 1 tenant")).click()
    expect(manager.locator("main")).to_contain_text("Published")

    # The designated contact of the affected tenant follows its own story.
    contact = signed_in(new_page(), contact_a.email)
    contact.goto("/incidents/?status=all")
    contact.get_by_role("link", name=re.compile(number)).click()
    main = contact.locator("main")
    expect(main).to_contain_text("What Acme Telecom may notice")
    expect(main).to_contain_text("Routes restored; calls flow normally.")
    expect(main).to_contain_text("Calls failed for 40 minutes")
    expect(main).not_to_contain_text("Globex")
    expect(main.get_by_role("button", name="Post")).to_have_count(0)
    mails = OutboundMessage.objects.filter(recipient=contact_a.email, channel="email")
    assert mails.filter(subject__contains="First notice").count() == 1
    assert mails.filter(subject__contains="incident report").count() == 1
    rca = mails.get(event="incident.report", body_text__contains="canary")
    assert "Acme Telecom" in rca.body_text and problem.number not in rca.body_text
    expect(main).to_contain_text("Root-cause analysis")

    # The unaffected tenant's contact sees nothing of it.
    other = signed_in(new_page(), contact_b.email)
    other.goto("/incidents/?status=all")
    expect(other.locator("main")).not_to_contain_text(number)
    other.goto(f"/incidents/{number}/")
    expect(other.get_by_role("heading", level=1)).to_have_text("Not found")
    assert not OutboundMessage.objects.filter(recipient=contact_b.email).exists()
