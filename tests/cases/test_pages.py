"""The Customer Care pages: who sees what, forms that keep what was typed, one button per
allowed action, each POST moving the case, uploads limited, Markdown sanitized."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from caredeck.cases import services
from caredeck.cases.models import Case, CaseStatus, Hotfix, KnowledgeArticle

pytestmark = pytest.mark.django_db
TUESDAY_NOON_NY = datetime.datetime(2026, 11, 24, 17, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def office_hours():
    with time_machine.travel(TUESDAY_NOON_NY, tick=False):
        yield


@pytest.fixture
def routed(open_case, experts, requirement):
    """A complete case, routed to the New York expert."""
    return open_case(facts={"phone_number": "+1 212 555 0101"})


def url(name, case, **kw):
    return reverse(name, kwargs={"number": case.number, **kw})


# --- List -------------------------------------------------------------------------------


def test_it_lists_the_tenants_cases_only(page_as, routed, contact_b, tenant_b, product):
    other = services.case_open(actor=contact_b, organization=tenant_b, product=product,
                               deployment="cloud", criticality=4, summary="Globex thing",
                               description="x")
    body = page_as(routed.requester).get(reverse("case-list")).content.decode()
    assert routed.number in body and other.number not in body
    body = page_as(contact_b).get(reverse("case-list")).content.decode()
    assert other.number in body and routed.number not in body


def test_staff_filter_the_list_by_tenant(page_as, care_analyst, routed, tenant_a, tenant_b):
    client = page_as(care_analyst)
    assert routed.number in client.get(reverse("case-list") + "?organization=acme").content.decode()
    assert routed.number not in client.get(
        reverse("case-list") + "?organization=globex").content.decode()
    assert client.get(reverse("case-list") + "?organization=nope").status_code == 404


def test_the_empty_list_says_what_it_is_for(page_as, member_a):
    response = page_as(member_a).get(reverse("case-list") + "?q=%00%ff&page=x")
    assert response.status_code == 200
    assert "designated contacts" in response.content.decode()


def test_the_list_is_a_few_queries(page_as, contact_a, routed, django_assert_max_num_queries):
    client = page_as(contact_a)
    with django_assert_max_num_queries(12):
        assert client.get(reverse("case-list")).status_code == 200


# --- Opening ----------------------------------------------------------------------------


def new_case_data(product, **extra):
    data = {"product": product.slug, "deployment": "cloud", "criticality": "2",
            "summary": "Calls drop after 30 s", "description": "Since **today**."}
    data.update(extra)
    return data


def test_the_form_shows_criticality_definitions_and_the_products_facts(
        page_as, contact_a, requirement):
    body = page_as(contact_a).get(reverse("case-new")).content.decode()
    assert "Production down" in body
    assert "Affected phone number" in body and 'data-product="cloud-cx"' in body
    assert "10 MB" in body


def test_a_customer_without_open_cases_gets_403(page_as, member_a, admin_a):
    assert page_as(member_a).get(reverse("case-new")).status_code == 403
    assert page_as(admin_a).post(reverse("case-new"), {}).status_code == 403


def test_a_contact_opens_a_case_and_lands_on_it(page_as, contact_a, product, experts,
                                                 requirement):
    data = new_case_data(product, **{f"fact_{product.pk}_phone_number": "+1 212 555 0101"})
    response = page_as(contact_a).post(reverse("case-new"), data, follow=True)
    case = Case.objects.get()
    assert response.redirect_chain[-1][0] == reverse("case-detail", args=[case.number])
    assert case.number in response.content.decode()
    assert case.facts == {"phone_number": "+1 212 555 0101"}
    assert case.status == CaseStatus.OPEN and case.owner == experts["new_york"].user


def test_the_form_keeps_what_was_typed_on_error(page_as, contact_a, product):
    data = new_case_data(product, summary="", description="Kept **text**", criticality="9")
    response = page_as(contact_a).post(reverse("case-new"), data)
    assert response.status_code == 400
    body = response.content.decode()
    assert "Kept **text**" in body
    assert body.count('class="error"') >= 2
    assert not Case.objects.exists()


def test_uploads_are_limited(page_as, contact_a, product, settings):
    bad = SimpleUploadedFile("page.html", b"<script>alert(1)</script>", "text/html")
    response = page_as(contact_a).post(reverse("case-new"),
                                       new_case_data(product, attachments=[bad]))
    assert response.status_code == 400 and "Attach a log" in response.content.decode()
    files = [SimpleUploadedFile(f"f{i}.txt", b"x") for i in range(6)]
    response = page_as(contact_a).post(reverse("case-new"),
                                       new_case_data(product, attachments=files))
    assert response.status_code == 400 and "At most 5 files" in response.content.decode()
    assert not Case.objects.exists()


def test_care_opens_a_case_for_a_caller(page_as, care_analyst, contact_a, product, experts):
    client = page_as(care_analyst)
    body = client.get(reverse("case-new")).content.decode()
    assert "Caller" in body
    data = new_case_data(product, organization="acme", requester="nobody@acme.test")
    response = client.post(reverse("case-new"), data)
    assert response.status_code == 400 and "Nobody of Acme" in response.content.decode()
    data["requester"] = contact_a.email
    response = client.post(reverse("case-new"), data)
    case = Case.objects.get()
    assert response.status_code == 302
    assert case.channel == "phone" and case.requester == contact_a
    assert client.post(reverse("case-new"), {**data, "organization": "globex"}).status_code \
        == 400


# --- The case page -----------------------------------------------------------------------


def test_another_tenant_never_sees_the_case_or_its_files(page_as, open_case, contact_b,
                                                         member_b):
    case = open_case(attachments=[SimpleUploadedFile("trace.log", b"secret")])
    attachment = case.attachments.get()
    for user in (contact_b, member_b):
        client = page_as(user)
        assert client.get(url("case-detail", case)).status_code == 404
        assert client.get(url("case-attachment", case, item_id=attachment.pk)).status_code \
            == 404
        assert client.post(url("case-comment", case), {"body": "hi"}).status_code == 404
    assert page_as(contact_b).get("/cases/nonsense/").status_code == 404


def test_attachments_download_never_inline(page_as, open_case, contact_a):
    case = open_case(attachments=[SimpleUploadedFile("trace.log", b"line")])
    attachment = case.attachments.get()
    response = page_as(contact_a).get(url("case-attachment", case, item_id=attachment.pk))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert b"".join(response.streaming_content) == b"line"
    assert page_as(contact_a).get(url("case-attachment", case, item_id=999999)).status_code \
        == 404


def test_markdown_is_sanitized(page_as, open_case, contact_a):
    case = open_case(description="Hello <script>alert('x')</script> **bold**")
    body = page_as(contact_a).get(url("case-detail", case)).content.decode()
    assert "<script>alert" not in body and "<strong>bold</strong>" in body


def test_internal_notes_and_routing_are_for_care(page_as, routed, care_analyst, contact_a):
    services.case_comment(actor=care_analyst, case=routed, body="Secret note", internal=True)
    staff = page_as(care_analyst).get(url("case-detail", routed)).content.decode()
    assert "Secret note" in staff and "Routing" in staff and "internal" in staff
    customer = page_as(contact_a).get(url("case-detail", routed)).content.decode()
    assert "Secret note" not in customer and "Routing <small>" not in customer


def test_buttons_follow_the_allowed_actions(page_as, routed, contact_a, experts):
    owner = experts["new_york"].user
    body = page_as(contact_a).get(url("case-detail", routed)).content.decode()
    assert url("case-escalate", routed) in body
    assert url("case-propose-solution", routed) not in body
    assert url("case-confirm", routed) not in body
    body = page_as(owner).get(url("case-detail", routed)).content.decode()
    assert url("case-propose-solution", routed) in body
    assert url("case-request-info", routed) in body
    assert url("case-escalate", routed) not in body
    assert 'name="internal"' in body


def test_a_customer_may_not_take_care_actions(page_as, routed, contact_a, member_b):
    client = page_as(contact_a)
    assert client.post(url("case-propose-solution", routed), {"body": "x"}).status_code == 403
    assert client.post(url("case-assign", routed), {"analyst": "abc"}).status_code == 403
    # The internal-note box is not theirs: what they post is a public comment.
    assert client.post(url("case-comment", routed),
                       {"body": "x", "internal": "on"}).status_code == 302
    assert not routed.events.filter(kind="note").exists()


def test_the_whole_cycle_through_the_pages(page_as, open_case, experts, requirement,
                                           contact_a, tenant_b, contact_b):
    case = open_case(facts={})
    client = page_as(contact_a)
    body = client.get(url("case-detail", case)).content.decode()
    assert "paused while waiting on you" in body and "Affected phone number" in body
    response = client.post(url("case-provide-info", case), {"body": ""})
    assert response.status_code == 400 and "Affected phone number" in response.content.decode()
    response = client.post(url("case-provide-info", case),
                           {"fact_phone_number": "+1 212 555 0101", "body": "Here"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN and case.owner == experts["new_york"].user
    analyst = page_as(case.owner)
    assert analyst.post(url("case-propose-solution", case), {"body": "Restart"}).status_code \
        == 302
    client = page_as(contact_a)
    response = client.post(url("case-reject-solution", case), {"reason": ""})
    assert response.status_code == 400
    assert client.post(url("case-reject-solution", case), {"reason": "No"}).status_code == 302
    analyst = page_as(case.owner)
    analyst.post(url("case-propose-solution", case), {"body": "Patch 8.2.1"})
    client = page_as(contact_a)
    body = client.get(url("case-detail", case)).content.decode()
    assert "Confirm the solution" in body and "tl-solution_proposed" in body
    assert client.post(url("case-confirm", case)).status_code == 302
    analyst = page_as(case.owner)
    response = analyst.post(url("case-close", case), {"root_cause": "Cert", "kb_article": "",
                                                      "new_visibility": "public"})
    assert response.status_code == 400 and "knowledge-base article" in response.content.decode()
    response = analyst.post(url("case-close", case), {
        "root_cause": "Cert", "new_title": "SBC 503", "new_body": "Renew it.",
        "new_visibility": "public", "hotfix_version": "8.2.1",
        "hotfix_description": "Auto-renew"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == CaseStatus.CLOSED and case.kb_article and case.hotfix
    # A second close is a state conflict: 409 with the reason, not a 500.
    response = analyst.post(url("case-close", case), {"root_cause": "x", "kb_number": "KB-1",
                                                      "new_visibility": "public"})
    assert response.status_code == 409
    assert page_as(contact_b).get(url("case-detail", case)).status_code == 404


def test_close_with_an_existing_article_by_number(page_as, routed, contact_a, care_analyst):
    article = services.kb_create(actor=care_analyst, title="Known", body="Fix")
    owner = routed.owner
    services.case_propose_solution(actor=owner, case=routed, body="x")
    services.case_confirm(actor=contact_a, case=routed)
    client = page_as(owner)
    response = client.post(url("case-close", routed), {"root_cause": "y", "kb_number": "KB-9x",
                                                       "new_visibility": "public"})
    assert response.status_code == 400
    response = client.post(url("case-close", routed), {"root_cause": "y",
                                                       "kb_number": article.number.lower(),
                                                       "new_visibility": "public"})
    assert response.status_code == 302
    routed.refresh_from_db()
    assert routed.kb_article == article


def test_comment_internal_note_and_attachment_limits(page_as, routed, care_analyst):
    client = page_as(care_analyst)
    response = client.post(url("case-comment", routed), {"body": "Look", "internal": "on"})
    assert response.status_code == 302
    assert routed.events.filter(kind="note", public=False).exists()
    big = SimpleUploadedFile("big.log", b"x" * (10 * 1024 * 1024 + 1))
    response = client.post(url("case-comment", routed), {"body": "Typed text", "attachments": big})
    assert response.status_code == 400
    body = response.content.decode()
    assert "At most 10 MB" in body and "Typed text" in body


def test_assign_collaborators_and_criticality(page_as, routed, care_manager, care_analyst):
    client = page_as(care_manager)
    assert client.post(url("case-assign", routed), {"analyst": "999", "note": "x"}).status_code \
        == 400
    response = client.post(url("case-assign", routed),
                           {"analyst": str(care_analyst.pk), "note": "Over to you"})
    assert response.status_code == 302
    routed.refresh_from_db()
    assert routed.owner == care_analyst
    assert client.post(url("case-collaborators", routed),
                       {"user": str(care_manager.pk)}).status_code == 302
    assert routed.collaborators.filter(pk=care_manager.pk).exists()
    response = client.post(url("case-criticality", routed), {"criticality": "3", "reason": "x"})
    assert response.status_code == 409  # already 3
    assert client.post(url("case-criticality", routed),
                       {"criticality": "1", "reason": "Down"}).status_code == 302
    routed.refresh_from_db()
    assert routed.criticality == 1


def test_escalation_and_acknowledgement(page_as, routed, contact_a, care_manager,
                                        care_analyst, escalation_contacts):
    routed.criticality = 1
    routed.save()
    client = page_as(contact_a)
    body = client.get(url("case-detail", routed)).content.decode()
    assert "+1 555 0100" in body
    assert client.post(url("case-escalate", routed), {"business_impact": ""}).status_code == 400
    assert client.post(url("case-escalate", routed),
                       {"business_impact": "All calls drop"}).status_code == 302
    body = client.get(url("case-detail", routed)).content.decode()
    assert "Acknowledgement" in body and url("case-escalate", routed) not in body
    assert page_as(care_analyst).post(url("case-acknowledge-escalation", routed), {
        "next_steps": "a", "communication_plan": "b"}).status_code == 403
    client = page_as(care_manager)
    assert url("case-acknowledge-escalation", routed) in client.get(
        url("case-detail", routed)).content.decode()
    response = client.post(url("case-acknowledge-escalation", routed), {
        "next_steps": "Engineer on it", "communication_plan": "Hourly"})
    assert response.status_code == 302
    assert routed.escalations.get().acknowledged_by == care_manager


def test_bad_input_never_500s(page_as, routed, care_manager):
    client = page_as(care_manager)
    for action in ("assign", "collaborators", "criticality", "close", "reopen", "comment",
                   "request-info", "escalate", "confirm"):
        response = client.post(url(f"case-{action}", routed),
                               {"analyst": "x\x00", "user": "-1", "criticality": "zz",
                                "body": "\x00", "reason": ""})
        assert response.status_code in (302, 400, 403, 409), action
    assert client.get(url("case-comment", routed)).status_code == 405


# --- Queues -------------------------------------------------------------------------------


def test_the_queues_count_and_list(page_as, routed, open_case, care_analyst, experts):
    open_case(summary="Nobody", facts={})  # waits on the customer, unassigned
    owner = experts["new_york"].user
    client = page_as(owner)
    response = client.get(reverse("case-queues"))
    assert response.status_code == 200
    assert response.context["tabs"][0] == ("mine", "My cases", 1)
    counts = dict((k, n) for k, _, n in response.context["tabs"])
    assert counts["waiting"] == 1 and counts["unassigned"] == 1 and counts["group"] == 2
    assert routed.number in response.content.decode()
    response = client.get(reverse("case-queues") + "?queue=waiting")
    assert "Nobody" in response.content.decode()
    assert client.get(reverse("case-queues") + "?queue=bogus&page=-3").status_code == 200


def test_the_queues_are_for_care(page_as, contact_a, engineer):
    assert page_as(contact_a).get(reverse("case-queues")).status_code == 403
    assert page_as(engineer).get(reverse("case-queues")).status_code == 403


def test_the_queue_is_a_few_queries(page_as, routed, experts, django_assert_max_num_queries):
    client = page_as(experts["new_york"].user)
    with django_assert_max_num_queries(20):
        assert client.get(reverse("case-queues")).status_code == 200


def test_the_navigation_highlights_queues_not_cases(page_as, care_analyst):
    response = page_as(care_analyst).get(reverse("case-queues"))
    current = [i["label"] for i in response.context["navigation"] if i["current"]]
    assert current == ["Queues"]


# --- Knowledge base and hot fixes ---------------------------------------------------------


def test_kb_visibility(page_as, care_analyst, contact_a, contact_b):
    public = services.kb_create(actor=care_analyst, title="Public one", body="**ok**")
    internal = services.kb_create(actor=care_analyst, title="Internal one", body="x",
                                  visibility=KnowledgeArticle.Visibility.INTERNAL)
    client = page_as(contact_b)
    body = client.get(reverse("kb-list")).content.decode()
    assert "Public one" in body and "Internal one" not in body
    assert client.get(reverse("kb-detail", args=[internal.number])).status_code == 404
    assert "<strong>ok</strong>" in client.get(
        reverse("kb-detail", args=[public.number])).content.decode()
    assert client.get(reverse("kb-new")).status_code == 403
    assert client.get(reverse("kb-edit", args=[public.number])).status_code == 403
    assert "Internal one" in page_as(care_analyst).get(reverse("kb-list")).content.decode()


def test_care_writes_and_edits_articles(page_as, care_analyst, product):
    client = page_as(care_analyst)
    response = client.post(reverse("kb-new"), {"title": "", "body": "Kept", "visibility": "public"})
    assert response.status_code == 400 and "Kept" in response.content.decode()
    response = client.post(reverse("kb-new"), {"title": "T", "body": "B", "product": product.slug,
                                               "visibility": "public"})
    article = KnowledgeArticle.objects.get()
    assert response.status_code == 302 and article.product == product
    response = client.post(reverse("kb-edit", args=[article.number]),
                           {"title": "T2", "body": "B2", "visibility": "internal"})
    article.refresh_from_db()
    assert response.status_code == 302 and article.visibility == "internal"


def test_the_hotfix_log(page_as, care_analyst, routed, product, contact_a):
    assert page_as(contact_a).get(reverse("hotfix-list")).status_code == 403
    client = page_as(care_analyst)
    response = client.post(reverse("hotfix-new"), {"product": product.slug, "version": "8.2",
                                                   "description": "d", "cases": "CS-999999"})
    assert response.status_code == 400 and "No such case" in response.content.decode()
    response = client.post(reverse("hotfix-new"), {"product": product.slug, "version": "8.2",
                                                   "description": "d", "cases": routed.number})
    fix = Hotfix.objects.get()
    assert response.status_code == 302
    body = client.get(reverse("hotfix-list")).content.decode()
    assert "Acme Telecom" in body and routed.number in body
    assert client.post(reverse("hotfix-release", args=[fix.number])).status_code == 302
    fix.refresh_from_db()
    assert fix.status == "released"
    assert page_as(contact_a).post(reverse("hotfix-release", args=[fix.number])).status_code \
        == 403


# --- Worklist -------------------------------------------------------------------------------


def test_the_worklist_shows_sla_and_waiting_cases(page_as, routed, open_case, experts,
                                                  contact_a):
    body = page_as(experts["new_york"].user).get(reverse("home")).content.decode()
    assert f"{routed.number}" in body and "SLA first response due" in body
    waiting = open_case(summary="Waits", facts={})
    body = page_as(contact_a).get(reverse("home")).content.decode()
    assert waiting.number in body and "we need information from you" in body
