"""The Customer Care API (../shared/API.md, "Support cases"): the whole cycle, every
action's refusals (400 input, 403 role, 409 state, 404 another tenant), what stays
internal, the knowledge base, the hot-fix log, list filters and queues."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.urls import reverse

from caredeck.accounts.models import PartnerLink
from caredeck.cases import services
from caredeck.cases.models import Case, CaseStatus, KnowledgeArticle

pytestmark = pytest.mark.django_db
TUESDAY_NOON_NY = datetime.datetime(2026, 11, 24, 17, 0, tzinfo=datetime.UTC)
LIST = reverse("api:case-list")


def url(number: str, action: str = "") -> str:
    if action == "timeline":
        return reverse("api:case-timeline", args=[number])
    if action:
        return reverse(f"api:case-{action}", args=[number])
    return reverse("api:case-detail", args=[number])


def opening(**overrides) -> dict:
    payload = {"product": "cloud-cx", "deployment": "cloud", "criticality": 3,
               "summary": "Agents cannot log in", "description": "Error **503** at login."}
    payload.update(overrides)
    return payload


@pytest.fixture
def routed(open_case, experts):
    """An open case of A, owned by the New York expert."""
    with time_machine.travel(TUESDAY_NOON_NY, tick=False):
        case = open_case()
    assert case.owner == experts["new_york"].user
    return case


@pytest.fixture
def plain(open_case):
    """An open case of A nobody owns (no support group for its product)."""
    return open_case()


def _confirmed(case, contact):
    case = services.case_propose_solution(actor=case.owner, case=case, body="Do X.")
    return services.case_confirm(actor=contact, case=case)


# --- The whole cycle --------------------------------------------------------------------


def test_the_whole_cycle_over_the_api(as_user, contact_a, experts, requirement, care_analyst,
                                      escalation_contacts):
    customer = as_user(contact_a)
    with time_machine.travel(TUESDAY_NOON_NY, tick=False):
        answer = customer.post(LIST, opening(), format="json")
        assert answer.status_code == 201, answer.json()
        case = answer.json()
        number = case["number"]
        assert number.startswith("CS-")
        assert case["status"] == CaseStatus.INFO_REQUESTED
        assert case["missing_facts"] == [{"name": "phone_number",
                                          "label": "Affected phone number"}]
        assert case["owner"] is None and case["sla_paused_at"] is not None
        assert case["allowed_actions"] == ["provide-info", "escalate"]
        assert "routing" not in case and "assessment" not in case
        assert Case.objects.get(number=number).channel == "api"

        answer = customer.post(url(number, "provide-info"),
                               {"body": "Here", "facts": {"phone_number": "+1 212 555 0101"}},
                               format="json")
        assert answer.status_code == 200, answer.json()
        case = answer.json()
        owner = experts["new_york"].user
        assert case["status"] == CaseStatus.OPEN
        assert case["owner"] == owner.name and case["group"] == "Telephony"
        assert case["missing_facts"] == [] and case["facts"] == {"phone_number":
                                                                 "+1 212 555 0101"}
        assert "routing" not in case

        staff = as_user(care_analyst).get(url(number)).json()
        assert staff["routing"]["owner"] == owner.pk and staff["routing"]["reasons"]
        assert staff["assessment"]["complexity"] and staff["owner_id"] == owner.pk
        assert any(e["kind"] == "routed" for e in staff["timeline"])
        assert not any(e["kind"] == "routed" for e in case["timeline"])

        analyst = as_user(owner)
        answer = analyst.post(url(number, "propose-solution"), {"body": "Restart the SBC."},
                              format="json")
        assert answer.json()["status"] == CaseStatus.SOLUTION_PROPOSED
        assert customer.get(url(number)).json()["allowed_actions"] == [
            "confirm", "reject-solution", "escalate"]
        answer = customer.post(url(number, "reject-solution"), {"reason": "Still down"},
                               format="json")
        assert answer.status_code == 200 and answer.json()["status"] == CaseStatus.OPEN
        analyst.post(url(number, "propose-solution"), {"body": "Patch 8.2.1."}, format="json")
        answer = customer.post(url(number, "confirm"), {}, format="json")
        assert answer.json()["status"] == CaseStatus.CONFIRMED
        answer = analyst.post(url(number, "close"), {
            "root_cause": "Expired certificate",
            "new_kb_article": {"title": "SBC 503 at login", "body": "Renew the certificate."},
            "hotfix": {"product": "cloud-cx", "version": "8.2.1",
                       "description": "Auto-renew certificates"},
        }, format="json")
        assert answer.status_code == 200, answer.json()
        case = answer.json()
    assert case["status"] == CaseStatus.CLOSED and case["root_cause"] == "Expired certificate"
    assert case["kb_article"]["title"] == "SBC 503 at login"
    assert case["hotfix"]["version"] == "8.2.1" and case["hotfix"]["status"] == "planned"

    kb = customer.get(reverse("api:kb-list"), {"q": "SBC"}).json()
    assert [a["number"] for a in kb["results"]] == [case["kb_article"]["number"]]
    fixes = as_user(care_analyst).get(reverse("api:hotfix-list"), {"q": number}).json()
    assert fixes["count"] == 1
    assert fixes["results"][0]["cases"] == [number]
    assert fixes["results"][0]["waiting"] == [{"organization": "acme",
                                               "organization_name": "Acme Telecom",
                                               "cases": [number]}]
    closed = customer.get(LIST, {"status": "closed"}).json()
    assert [c["number"] for c in closed["results"]] == [number]


def test_timeline_is_paginated_and_public_entries_only_for_the_customer(
        routed, as_user, contact_a, care_analyst):
    services.case_comment(actor=care_analyst, case=routed, body="Looks like the SBC.",
                          internal=True)
    services.case_comment(actor=contact_a, case=routed, body="Any news?")
    customer = as_user(contact_a).get(url(routed.number, "timeline")).json()
    staff = as_user(care_analyst).get(url(routed.number, "timeline")).json()
    assert set(customer) == {"count", "next", "previous", "results"}
    bodies = [e["body"] for e in customer["results"]]
    assert "Any news?" in bodies and "Looks like the SBC." not in bodies
    assert all(e["public"] and "data" not in e for e in customer["results"])
    assert "Looks like the SBC." in [e["body"] for e in staff["results"]]
    assert staff["count"] > customer["count"]


def test_internal_notes_stay_with_care_on_the_case(routed, as_user, contact_a, care_analyst):
    analyst = as_user(care_analyst)
    answer = analyst.post(url(routed.number, "comments"),
                          {"body": "Customer's SBC is misconfigured", "internal": True},
                          format="json")
    assert answer.status_code == 201 and answer.json()["public"] is False
    answer = analyst.post(url(routed.number, "comments"), {"body": "We are on it."},
                          format="json")
    assert answer.status_code == 201 and answer.json()["public"] is True
    customer = as_user(contact_a).get(url(routed.number)).json()
    text = str(customer)
    assert "misconfigured" not in text and "We are on it." in text
    assert not {"routing", "assessment", "collaborators", "response_breached_at"} & set(customer)
    assert customer["first_response_at"] is not None
    assert "misconfigured" in str(analyst.get(url(routed.number)).json()["timeline"])


# --- Opening ----------------------------------------------------------------------------


@pytest.mark.parametrize(("payload", "field"), [
    ({"product": None}, "product"),
    ({"product": "no-such-product"}, "product"),
    ({"product": "bad\x00slug"}, "product"),
    ({"deployment": "moon"}, "deployment"),
    ({"criticality": 5}, "criticality"),
    ({"criticality": "high"}, "criticality"),
    ({"summary": ""}, "summary"),
    ({"summary": "a\x00b"}, "summary"),
    ({"summary": ["a"]}, "summary"),
    ({"description": "x" * 20001}, "description"),
    ({"facts": ["phone"]}, "facts"),
    ({"facts": {"shoe_size": "42"}}, "facts"),
    ({"organization": "globex"}, "organization"),
    ({"organization": "no such"}, "organization"),
])
def test_opening_refuses_bad_input_on_its_field(as_user, contact_a, tenant_b, requirement,
                                                payload, field):
    answer = as_user(contact_a).post(LIST, opening(**payload), format="json")
    assert answer.status_code == 400
    assert field in answer.json()
    assert not Case.objects.exists()


def test_opening_without_fields_names_each(as_user, contact_a):
    answer = as_user(contact_a).post(LIST, {}, format="json")
    assert answer.status_code == 400
    assert {"product", "deployment", "criticality", "summary", "description"} <= set(
        answer.json())


def test_another_tenants_slug_reads_like_no_organization(as_user, contact_a, tenant_b):
    answer = as_user(contact_a).post(LIST, opening(organization="globex"), format="json")
    assert answer.json() == {"organization": ["No such organization."]}
    assert as_user(contact_a).post(LIST, opening(organization="acme"),
                                   format="json").status_code == 201


def test_who_may_open(as_user, api, member_a, admin_a, contact_a):
    assert api.post(LIST, opening(), format="json").status_code in (401, 403)
    for user in (member_a, admin_a):
        answer = as_user(user).post(LIST, opening(), format="json")
        assert answer.status_code == 403 and "detail" in answer.json()
    assert not Case.objects.exists()


def test_care_opens_for_a_caller(as_user, care_analyst, contact_a, contact_b):
    analyst = as_user(care_analyst)
    answer = analyst.post(LIST, opening(), format="json")
    assert answer.status_code == 400 and "organization" in answer.json()
    answer = analyst.post(LIST, opening(organization="acme", requester=contact_b.pk),
                          format="json")
    assert answer.status_code == 400 and "requester" in answer.json()
    answer = analyst.post(LIST, opening(organization="acme", requester=contact_a.pk),
                          format="json")
    assert answer.status_code == 201
    case = Case.objects.get(number=answer.json()["number"])
    assert case.channel == "phone" and case.requester == contact_a
    assert case.opened_by == care_analyst and answer.json()["requester"] == contact_a.name


def test_a_partner_names_the_customer_and_needs_the_right(as_user, partner, partner_user,
                                                          tenant_a):
    client = as_user(partner_user)
    answer = client.post(LIST, opening(organization="acme"), format="json")
    assert answer.status_code == 403
    PartnerLink.objects.filter(partner=partner).update(
        rights=["view_tenant", "open_cases", "view_org_cases"])
    client = as_user(type(partner_user).objects.get(pk=partner_user.pk))
    answer = client.post(LIST, opening(), format="json")
    assert answer.status_code == 400 and "organization" in answer.json()
    answer = client.post(LIST, opening(organization="acme"), format="json")
    assert answer.status_code == 201 and answer.json()["organization"] == "acme"


# --- Every action's refusals ------------------------------------------------------------

# action -> (who takes it, a valid payload, its text fields, its non-text fields)
ACTIONS = {
    "comments": ("contact_a", {"body": "Hi"}, ["body"], []),
    "request-info": ("care_analyst", {"body": "Which SBC?"}, ["body"], []),
    "provide-info": ("contact_a", {"body": "SBC 2"}, ["body"], ["facts"]),
    "propose-solution": ("care_analyst", {"body": "Restart"}, ["body"], []),
    "reject-solution": ("contact_a", {"reason": "No"}, ["reason"], []),
    "close": ("care_analyst", {"root_cause": "Cert", "new_kb_article": {
        "title": "T", "body": "B"}}, ["root_cause"], ["new_kb_article", "hotfix"]),
    "reopen": ("contact_a", {"reason": "Back"}, ["reason"], []),
    "assign": ("care_analyst", {"analyst": 1, "note": "Yours"}, ["note"], ["analyst"]),
    "collaborators": ("care_analyst", {"user": 1}, [], ["user"]),
    "criticality": ("care_analyst", {"criticality": 2, "reason": "Worse"}, ["reason"],
                    ["criticality"]),
    "escalate": ("contact_a", {"business_impact": "Sales down"}, ["business_impact"], []),
    "acknowledge-escalation": ("care_manager", {"next_steps": "Call", "communication_plan":
                                                "Hourly"},
                               ["next_steps", "communication_plan"], []),
}
BAD_TYPES = {"facts": "phone", "new_kb_article": "an article", "hotfix": ["8.2"],
             "analyst": "someone", "user": "someone", "criticality": "urgent"}


@pytest.mark.parametrize("action", list(ACTIONS))
def test_every_action_refuses_bad_input_with_400(action, plain, as_user, request):
    who, valid, texts, others = ACTIONS[action]
    client = as_user(request.getfixturevalue(who))
    for field in [*texts, *others]:
        if field not in valid or (action, field) == ("close", "new_kb_article"):
            continue  # optional (closing's article is the service's rule, after the state)
        missing = {k: v for k, v in valid.items() if k != field}
        answer = client.post(url(plain.number, action), missing, format="json")
        assert answer.status_code == 400, (field, answer.json())
        assert field in answer.json()
    for field in texts:
        for bad in ({"text": "x"}, "a\x00b", "x" * 50001):
            answer = client.post(url(plain.number, action), {**valid, field: bad},
                                 format="json")
            assert answer.status_code == 400, (field, bad, answer.json())
            assert field in answer.json()
    for field in others:
        answer = client.post(url(plain.number, action), {**valid, field: BAD_TYPES[field]},
                             format="json")
        assert answer.status_code == 400, (field, answer.json())
        assert field in answer.json()
    answer = client.post(url(plain.number, action), ["not", "an", "object"], format="json")
    assert answer.status_code == 400
    plain.refresh_from_db()
    assert plain.status == CaseStatus.OPEN


def test_bad_references_are_400_on_their_field(routed, as_user, care_analyst, contact_a,
                                               contact_b):
    analyst = as_user(routed.owner)
    number = routed.number
    answer = analyst.post(url(number, "assign"), {"analyst": contact_b.pk, "note": "x"},
                          format="json")
    assert answer.status_code == 400 and "analyst" in answer.json()
    answer = analyst.post(url(number, "collaborators"), {"user": contact_a.pk}, format="json")
    assert answer.status_code == 400 and "user" in answer.json()
    routed = services.case_request_info(actor=routed.owner, case=routed, body="Which SBC?")
    answer = as_user(contact_a).post(url(number, "provide-info"),
                                     {"facts": {"shoe_size": "42"}}, format="json")
    assert answer.status_code == 400 and "facts" in answer.json()
    routed = services.case_provide_info(actor=contact_a, case=routed, body="SBC 2")
    routed = _confirmed(routed, contact_a)
    answer = analyst.post(url(number, "close"), {"root_cause": "x", "kb_article": 99999},
                          format="json")
    assert answer.status_code == 400 and "kb_article" in answer.json()
    answer = analyst.post(url(number, "close"), {"root_cause": "x"}, format="json")
    assert answer.status_code == 400 and "kb_article" in answer.json()
    answer = analyst.post(url(number, "close"), {
        "root_cause": "x", "new_kb_article": {"title": "T", "body": "B"},
        "hotfix": {"product": "no-such", "version": "1", "description": "d"}}, format="json")
    assert answer.status_code == 400 and "hotfix.product" in answer.json()


@pytest.mark.parametrize("action", [a for a, (who, *_rest) in ACTIONS.items()
                                    if who != "contact_a"])
def test_care_actions_are_403_for_the_customer(action, plain, as_user, contact_a):
    valid = ACTIONS[action][1]
    answer = as_user(contact_a).post(url(plain.number, action), valid, format="json")
    assert answer.status_code == 403 and "detail" in answer.json()
    # Even with no input at all: the role is refused before the input is read.
    assert as_user(contact_a).post(url(plain.number, action), {},
                                   format="json").status_code == 403


@pytest.mark.parametrize("action", ["provide-info", "confirm", "reject-solution", "escalate"])
def test_customer_actions_are_403_for_care(action, plain, as_user, care_analyst, care_manager):
    payload = ACTIONS.get(action, (None, {}))[1]
    for user in (care_analyst, care_manager):
        answer = as_user(user).post(url(plain.number, action), payload, format="json")
        assert answer.status_code == 403 and "detail" in answer.json()


def test_a_colleague_who_only_reads_may_not_act(plain, as_user, admin_a, care_analyst):
    admin = as_user(admin_a)
    assert admin.get(url(plain.number)).status_code == 200
    assert admin.get(url(plain.number)).json()["allowed_actions"] == []
    assert admin.post(url(plain.number, "escalate"), {"business_impact": "x"},
                      format="json").status_code == 403
    assert admin.post(url(plain.number, "comments"), {"body": "x"},
                      format="json").status_code == 403
    customer_note = as_user(plain.requester).post(url(plain.number, "comments"),
                                                  {"body": "x", "internal": True},
                                                  format="json")
    assert customer_note.status_code == 403
    assert as_user(care_analyst).post(
        url(plain.number, "acknowledge-escalation"),
        ACTIONS["acknowledge-escalation"][1], format="json").status_code == 403


def test_actions_the_state_forbids_are_409(plain, as_user, contact_a, care_analyst,
                                           care_manager, escalation_contacts):
    customer, analyst = as_user(contact_a), as_user(care_analyst)
    number = plain.number
    refused = [
        (customer, "confirm", {}),
        (customer, "reject-solution", {"reason": "No"}),
        (customer, "provide-info", {"body": "Here"}),
        (analyst, "close", ACTIONS["close"][1]),
        (analyst, "reopen", {"reason": "x"}),
        (analyst, "criticality", {"criticality": 3, "reason": "same"}),
        (as_user(care_manager), "acknowledge-escalation", ACTIONS["acknowledge-escalation"][1]),
    ]
    for client, action, payload in refused:
        answer = client.post(url(number, action), payload, format="json")
        assert answer.status_code == 409, (action, answer.json())
        assert answer.json()["detail"]
    assert customer.post(url(number, "escalate"), {"business_impact": "Sales down"},
                         format="json").status_code == 200
    answer = customer.post(url(number, "escalate"), {"business_impact": "Again"},
                           format="json")
    assert answer.status_code == 409 and "already escalated" in answer.json()["detail"]
    plain.refresh_from_db()
    assert plain.status == CaseStatus.OPEN and plain.escalations.count() == 1


def test_another_tenant_and_malformed_numbers_are_404(plain, as_user, contact_b, member_b,
                                                      member_a, care_analyst):
    for user in (contact_b, member_b, member_a):
        client = as_user(user)
        assert client.get(url(plain.number)).status_code == 404
        assert client.get(url(plain.number, "timeline")).status_code == 404
        answer = client.post(url(plain.number, "escalate"), {"business_impact": "x"},
                             format="json")
        assert answer.status_code == 404 and answer.json() == {"detail": "No such case."}
        assert client.get(LIST).json()["count"] == 0
    analyst = as_user(care_analyst)
    for number in ("CS-abc", "12", "KB-000001", "CS-", "cs-000001", "CS-999999"):
        assert analyst.get(url(number)).status_code == 404, number
        assert analyst.post(url(number, "close"), {}, format="json").status_code == 404


# --- Care's actions that keep the status ------------------------------------------------


def test_hand_over_collaborators_and_criticality(routed, as_user, experts, care_analyst,
                                                 contact_a):
    owner = as_user(routed.owner)
    london = experts["london"].user
    answer = owner.post(url(routed.number, "collaborators"), {"user": care_analyst.pk},
                        format="json")
    assert answer.status_code == 200
    assert answer.json()["collaborators"] == [{"id": care_analyst.pk,
                                               "name": care_analyst.name}]
    answer = owner.post(url(routed.number, "collaborators"), {"user": care_analyst.pk},
                        format="json")
    assert answer.status_code == 409
    answer = owner.post(url(routed.number, "criticality"), {"criticality": 2,
                                                            "reason": "More sites down"},
                        format="json")
    assert answer.status_code == 200 and answer.json()["criticality"] == 2
    answer = as_user(care_analyst).post(url(routed.number, "assign"),
                                        {"analyst": london.pk, "note": "x"}, format="json")
    assert answer.status_code == 403  # a collaborator does not hand over another's case
    answer = owner.post(url(routed.number, "assign"),
                        {"analyst": london.pk, "note": "London takes over"}, format="json")
    assert answer.status_code == 200 and answer.json()["owner"] == london.name
    customer = as_user(contact_a).get(url(routed.number)).json()
    assert "London takes over" not in str(customer) and customer["owner"] == london.name
    assert "collaborators" not in customer


def test_escalation_shows_the_phone_for_critical_cases_until_acknowledged(
        open_case, as_user, contact_a, care_manager, escalation_contacts):
    case = open_case(criticality=1)
    customer = as_user(contact_a)
    answer = customer.post(url(case.number, "escalate"),
                           {"business_impact": "No calls in three sites"}, format="json")
    assert answer.status_code == 200
    data = answer.json()
    assert data["phone"] == "+1 555 0100" and "escalate" not in data["allowed_actions"]
    assert data["escalations"][0]["business_impact"] == "No calls in three sites"
    assert "manager" not in data["escalations"][0]
    manager = as_user(care_manager)
    staff = manager.get(url(case.number)).json()
    assert "acknowledge-escalation" in staff["allowed_actions"]
    assert staff["escalations"][0]["manager"] == care_manager.name
    escalated = manager.get(LIST, {"queue": "escalated"}).json()
    assert [c["number"] for c in escalated["results"]] == [case.number]
    answer = manager.post(url(case.number, "acknowledge-escalation"),
                          {"next_steps": "Engineer on site", "communication_plan": "Hourly"},
                          format="json")
    assert answer.status_code == 200
    data = customer.get(url(case.number)).json()
    assert data["phone"] is None and data["escalations"][0]["next_steps"] == "Engineer on site"
    assert manager.get(LIST, {"queue": "escalated"}).json()["count"] == 0


def test_a_medium_case_shows_no_phone(plain, as_user, contact_a, escalation_contacts):
    answer = as_user(contact_a).post(url(plain.number, "escalate"),
                                     {"business_impact": "Annoying"}, format="json")
    assert answer.status_code == 200 and answer.json()["phone"] is None


def test_reopen_by_the_customer(routed, as_user, contact_a):
    case = _confirmed(routed, contact_a)
    services.case_close(actor=case.owner, case=case, root_cause="x",
                        new_kb_article={"title": "T", "body": "B"})
    customer = as_user(contact_a)
    assert "reopen" in customer.get(url(routed.number)).json()["allowed_actions"]
    answer = customer.post(url(routed.number, "reopen"), {"reason": "It is back"},
                           format="json")
    assert answer.status_code == 200 and answer.json()["status"] == CaseStatus.OPEN
    answer = customer.post(url(routed.number, "comments"), {"body": "Still there"},
                           format="json")
    assert answer.status_code == 201


# --- Lists, filters, queues -------------------------------------------------------------


def test_list_filters(open_case, as_user, contact_a, contact_b, care_analyst, tenant_b,
                      product):
    first = open_case(summary="Reports are empty")
    second = open_case(summary="Agents cannot log in")
    other = open_case(actor=contact_b, organization=tenant_b, summary="Globex outage")
    Case.objects.filter(pk=first.pk).update(status=CaseStatus.CLOSED)
    customer = as_user(contact_a)
    numbers = [c["number"] for c in customer.get(LIST).json()["results"]]
    assert numbers == [second.number, first.number]
    assert [c["number"] for c in customer.get(LIST, {"status": "open"}).json()["results"]] \
        == [second.number]
    assert [c["number"] for c in customer.get(LIST, {"status": "closed"}).json()["results"]] \
        == [first.number]
    assert [c["number"] for c in customer.get(LIST, {"q": "reports"}).json()["results"]] \
        == [first.number]
    assert [c["number"] for c in customer.get(LIST, {"q": second.number}).json()["results"]] \
        == [second.number]
    assert customer.get(LIST, {"organization": "globex"}).status_code == 400
    assert customer.get(LIST, {"status": "pending"}).status_code == 400
    assert customer.get(LIST, {"queue": "mine"}).status_code == 403
    staff = as_user(care_analyst)
    assert staff.get(LIST).json()["count"] == 3
    assert [c["number"] for c in staff.get(LIST, {"organization": "globex"}).json()[
        "results"]] == [other.number]
    assert staff.get(LIST, {"queue": "nonsense"}).status_code == 400
    assert staff.get(LIST, {"organization": "x\x00y"}).status_code == 400
    page = staff.get(LIST, {"page_size": 1}).json()
    assert page["count"] == 3 and len(page["results"]) == 1 and page["next"]


def test_queues(routed, open_case, as_user, experts, care_analyst, contact_a, requirement):
    with time_machine.travel(TUESDAY_NOON_NY + datetime.timedelta(minutes=5), tick=False):
        waiting = open_case()  # incomplete now that the product asks for a phone number
        assert waiting.status == CaseStatus.INFO_REQUESTED
        services.case_add_collaborator(actor=routed.owner, case=routed, user=care_analyst)
        owner = as_user(routed.owner)

        def numbers(client, queue):
            answer = client.get(LIST, {"queue": queue})
            assert answer.status_code == 200
            return [c["number"] for c in answer.json()["results"]]

        assert numbers(owner, "mine") == [routed.number]
        assert numbers(as_user(care_analyst), "collaborating") == [routed.number]
        assert numbers(owner, "group") == [waiting.number, routed.number]
        assert numbers(owner, "unassigned") == [waiting.number]
        assert numbers(owner, "waiting") == [waiting.number]
        assert numbers(owner, "escalated") == []
        assert numbers(owner, "breaching") == []
        Case.objects.filter(pk=routed.pk).update(
            response_due_at=TUESDAY_NOON_NY + datetime.timedelta(minutes=30))
        assert numbers(owner, "breaching") == [routed.number]
        assert numbers(owner, "") == [waiting.number, routed.number]  # blank: no queue
        assert numbers(as_user(care_analyst), "mine") == []
        rows = as_user(care_analyst).get(LIST, {"queue": "collaborating"}).json()["results"]
        assert rows[0]["owner_id"] == routed.owner_id and "response_breached_at" in rows[0]
        assert "owner_id" not in as_user(contact_a).get(LIST).json()["results"][0]


# --- Knowledge base ---------------------------------------------------------------------


def test_knowledge_base(as_user, care_analyst, contact_a, product):
    analyst, customer = as_user(care_analyst), as_user(contact_a)
    kb = reverse("api:kb-list")
    answer = analyst.post(kb, {"title": "Renew SBC certificates", "body": "Steps…",
                               "product": "cloud-cx"}, format="json")
    assert answer.status_code == 201 and answer.json()["visibility"] == "public"
    public = answer.json()
    answer = analyst.post(kb, {"title": "SBC internals", "body": "Secret",
                               "visibility": "internal"}, format="json")
    internal = answer.json()
    assert internal["number"].startswith("KB-")

    assert [a["number"] for a in customer.get(kb).json()["results"]] == [public["number"]]
    assert analyst.get(kb).json()["count"] == 2
    assert analyst.get(kb, {"q": "internals"}).json()["count"] == 1
    assert customer.get(kb, {"q": "internals"}).json()["count"] == 0
    assert [a["number"] for a in analyst.get(kb, {"product": "cloud-cx"}).json()[
        "results"]] == [public["number"]]
    assert analyst.get(kb, {"product": "no-such"}).status_code == 400

    for key in (str(internal["id"]), internal["number"]):
        assert customer.get(reverse("api:kb-detail", args=[key])).status_code == 404
        assert analyst.get(reverse("api:kb-detail", args=[key])).json()["body"] == "Secret"
    for key in (str(public["id"]), public["number"], "KB-abc", "²", "99999"):
        expected = 200 if key in (str(public["id"]), public["number"]) else 404
        assert customer.get(reverse("api:kb-detail", args=[key])).status_code == expected

    detail = reverse("api:kb-detail", args=[public["number"]])
    assert customer.patch(detail, {"title": "Hijacked"}, format="json").status_code == 403
    assert customer.post(kb, {"title": "T", "body": "B"}, format="json").status_code == 403
    answer = analyst.patch(detail, {"visibility": "internal"}, format="json")
    assert answer.status_code == 200 and answer.json()["title"] == "Renew SBC certificates"
    assert customer.get(detail).status_code == 404
    assert analyst.patch(detail, {"title": "a\x00b"}, format="json").status_code == 400
    assert analyst.patch(detail, {"visibility": "secret"}, format="json").status_code == 400
    assert analyst.post(kb, {"title": "", "body": "B"}, format="json").status_code == 400
    assert analyst.post(kb, {"title": "T", "body": "B", "product": "nope"},
                        format="json").status_code == 400


def test_an_internal_article_linked_to_a_case_is_not_shown_to_the_customer(
        routed, as_user, contact_a):
    case = _confirmed(routed, contact_a)
    article = services.kb_create(actor=case.owner, title="Internal fix", body="x",
                                 visibility=KnowledgeArticle.Visibility.INTERNAL)
    answer = as_user(case.owner).post(url(case.number, "close"),
                                      {"root_cause": "x", "kb_article": article.pk},
                                      format="json")
    assert answer.status_code == 200 and answer.json()["kb_article"]["id"] == article.pk
    assert as_user(contact_a).get(url(case.number)).json()["kb_article"] is None


# --- Hot-fix log ------------------------------------------------------------------------


def test_hotfix_log(routed, open_case, as_user, care_analyst, contact_a, contact_b, tenant_b,
                    tam):
    other = open_case(actor=contact_b, organization=tenant_b)
    analyst = as_user(care_analyst)
    log = reverse("api:hotfix-list")
    answer = analyst.post(log, {"product": "cloud-cx", "version": "8.2.1",
                                "description": "Auto-renew", "cases": ["CS-999999"]},
                          format="json")
    assert answer.status_code == 400 and "cases" in answer.json()
    for bad in ({"product": "nope"}, {"version": ""}, {"description": "a\x00b"},
                {"cases": "CS-1"}):
        payload = {"product": "cloud-cx", "version": "8.2.1", "description": "d", **bad}
        assert analyst.post(log, payload, format="json").status_code == 400, bad
    answer = analyst.post(log, {"product": "cloud-cx", "version": "8.2.1",
                                "description": "Auto-renew",
                                "cases": [routed.number, other.number]}, format="json")
    assert answer.status_code == 201, answer.json()
    fix = answer.json()
    assert fix["status"] == "planned" and sorted(fix["cases"]) == sorted(
        [routed.number, other.number])
    assert {w["organization"] for w in fix["waiting"]} == {"acme", "globex"}
    analyst.post(log, {"product": "cloud-cx", "version": "9.0", "description": "Other"},
                 format="json")

    assert analyst.get(log).json()["count"] == 2
    assert [f["number"] for f in analyst.get(log, {"q": "Auto-renew"}).json()["results"]] \
        == [fix["number"]]
    assert analyst.get(log, {"q": "Globex"}).json()["count"] == 1
    assert analyst.get(log, {"status": "released"}).json()["count"] == 0
    assert analyst.get(log, {"status": "gone"}).status_code == 400

    customer = as_user(contact_a)
    assert customer.get(log).status_code == 403
    assert customer.post(log, {"product": "cloud-cx", "version": "1", "description": "d"},
                         format="json").status_code == 403
    for key in (str(fix["id"]), fix["number"]):
        assert customer.get(reverse("api:hotfix-detail", args=[key])).status_code == 404
        assert analyst.get(reverse("api:hotfix-detail", args=[key])).json()["number"] \
            == fix["number"]
    assert customer.post(reverse("api:hotfix-release", args=[fix["number"]])).status_code \
        == 404
    # The log names the customers waiting for each fix: a TAM of B alone does not read it.
    tenant_b.tam = tam
    tenant_b.save()
    assert as_user(tam).get(reverse("api:hotfix-detail", args=[fix["number"]])).status_code \
        == 404
    assert as_user(tam).post(reverse("api:hotfix-release", args=[fix["number"]])).status_code \
        in (403, 404)

    release = reverse("api:hotfix-release", args=[fix["number"]])
    answer = analyst.post(release)
    assert answer.status_code == 200 and answer.json()["status"] == "released"
    assert analyst.post(release).status_code == 409
    assert analyst.get(log, {"status": "released"}).json()["count"] == 1
    told = customer.get(url(routed.number, "timeline")).json()["results"]
    assert any(fix["number"] in e["body"] and "released" in e["body"] for e in told)
    assert customer.get(url(routed.number)).json()["hotfix"]["status"] == "released"
