"""The case lifecycle's rules: who may do what, in which state, with which input."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from caredeck.accounts.models import PartnerLink
from caredeck.accounts.roles import Role
from caredeck.cases import selectors, services
from caredeck.cases.models import CaseStatus, Channel, KnowledgeArticle
from caredeck.core.exceptions import Conflict
from caredeck.core.models import AuditEntry
from caredeck.notify.models import OutboundMessage
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
TUESDAY_NOON_NY = datetime.datetime(2026, 11, 24, 17, 0, tzinfo=datetime.UTC)


@pytest.fixture
def routed(open_case, experts):
    with time_machine.travel(TUESDAY_NOON_NY, tick=False):
        case = open_case()
    assert case.owner is not None
    return case


def _confirmed(case, contact):
    case = services.case_propose_solution(actor=case.owner, case=case, body="Do X.")
    return services.case_confirm(actor=contact, case=case)


# --- Opening ----------------------------------------------------------------------------


def test_a_member_who_is_not_a_designated_contact_cannot_open(open_case, member_a):
    with pytest.raises(PermissionDenied):
        open_case(actor=member_a)


def test_bad_input_names_every_field(open_case):
    with pytest.raises(ValidationError) as error:
        open_case(product=None, deployment="moon", criticality=9, summary="  ",
                  description="\x00")
    assert set(error.value.message_dict) >= {
        "product", "deployment", "criticality", "summary", "description"
    }


def test_a_product_the_tenant_does_not_use_is_refused(open_case):
    from tests.factories import ProductFactory

    other = ProductFactory(slug="not-ours", name="Not ours")
    with pytest.raises(ValidationError) as error:
        open_case(product=other)
    assert "product" in error.value.message_dict


def test_attachments_are_limited_by_type_size_and_count(open_case):
    html = SimpleUploadedFile("page.html", b"<script>alert(1)</script>")
    with pytest.raises(ValidationError) as error:
        open_case(attachments=[html])
    assert "attachments" in error.value.message_dict
    big = SimpleUploadedFile("big.log", b"x" * (services.ATTACHMENT_MAX_BYTES + 1))
    with pytest.raises(ValidationError):
        open_case(attachments=[big])
    many = [SimpleUploadedFile(f"{i}.log", b"x") for i in range(services.ATTACHMENTS_PER_POST + 1)]
    with pytest.raises(ValidationError):
        open_case(attachments=many)


def test_care_opens_a_case_for_a_phone_call_with_the_caller(open_case, care_analyst,
                                                            contact_a, member_a):
    with pytest.raises(ValidationError) as error:
        open_case(actor=care_analyst)
    assert "requester" in error.value.message_dict
    case = open_case(actor=care_analyst, requester=member_a)
    assert case.channel == Channel.PHONE and case.requester == member_a
    assert case.opened_by == care_analyst
    assert case.events.get(kind="opened").data["channel"] == "phone"


def test_a_partner_opens_for_its_customer_only_when_the_link_allows(open_case, partner_user,
                                                                    partner, tenant_a):
    with pytest.raises(PermissionDenied):
        open_case(actor=partner_user)
    PartnerLink.objects.filter(partner=partner).update(
        rights=["view_tenant", "open_cases", "view_org_cases"]
    )
    partner_user = type(partner_user).objects.get(pk=partner_user.pk)  # fresh caches
    case = open_case(actor=partner_user)
    assert case.organization == tenant_a and case.requester == partner_user


def test_the_number_is_in_every_email_subject(open_case):
    case = open_case()
    subjects = OutboundMessage.objects.filter(channel="email").values_list("subject", flat=True)
    assert subjects and all(f"[{case.number}]" in subject for subject in subjects)


# --- Visibility -------------------------------------------------------------------------


def test_who_sees_a_case(open_case, contact_a, member_a, admin_a, contact_b, care_analyst,
                         tam, tenant_a, tenant_b):
    case = open_case()
    assert selectors.cases_visible(contact_a).filter(pk=case.pk).exists()
    assert selectors.cases_visible(admin_a).filter(pk=case.pk).exists()  # the whole org
    assert not selectors.cases_visible(member_a).filter(pk=case.pk).exists()
    assert not selectors.cases_visible(contact_b).filter(pk=case.pk).exists()
    assert selectors.cases_visible(care_analyst).filter(pk=case.pk).exists()
    assert not selectors.cases_visible(tam).filter(pk=case.pk).exists()  # not A's TAM
    tenant_a.tam = tam
    tenant_a.save()
    assert selectors.cases_visible(tam).filter(pk=case.pk).exists()


def test_internal_notes_and_routing_stay_with_care(routed, contact_a, care_analyst):
    services.case_comment(actor=care_analyst, case=routed, body="Looks like the SBC",
                          internal=True)
    customer_view = [e.kind for e in selectors.case_timeline(contact_a, routed)]
    staff_view = [e.kind for e in selectors.case_timeline(care_analyst, routed)]
    assert "note" not in customer_view and "routed" not in customer_view
    assert "note" in staff_view and "routed" in staff_view
    with pytest.raises(PermissionDenied):
        services.case_comment(actor=contact_a, case=routed, body="x", internal=True)


# --- Working it -------------------------------------------------------------------------


def test_state_and_role_rules(routed, contact_a, care_analyst):
    with pytest.raises(PermissionDenied):
        services.case_propose_solution(actor=contact_a, case=routed, body="x")
    with pytest.raises(Conflict):
        services.case_confirm(actor=contact_a, case=routed)
    with pytest.raises(PermissionDenied):
        services.case_confirm(actor=care_analyst, case=routed)
    assert services.allowed_actions(contact_a, routed) == ["escalate"]
    assert {"request_info", "propose_solution", "assign"} <= set(
        services.allowed_actions(routed.owner, routed))


def test_a_public_reply_from_care_is_the_first_response(routed, care_analyst):
    assert routed.first_response_at is None
    services.case_comment(actor=care_analyst, case=routed, body="Looking into it")
    routed.refresh_from_db()
    assert routed.first_response_at is not None and routed.response_warn_at is None


def test_closing_needs_a_root_cause_and_a_kb_article(routed, contact_a):
    case = _confirmed(routed, contact_a)
    with pytest.raises(ValidationError) as error:
        services.case_close(actor=case.owner, case=case, root_cause="")
    assert "root_cause" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        services.case_close(actor=case.owner, case=case, root_cause="Cert")
    assert "kb_article" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        services.case_close(actor=case.owner, case=case, root_cause="Cert",
                            new_kb_article={"title": "", "body": "x"})
    assert "new_kb_article.title" in error.value.message_dict
    article = services.kb_create(actor=case.owner, title="Certs", body="Renew them.")
    case = services.case_close(actor=case.owner, case=case, root_cause="Cert",
                               kb_article=article.pk)
    assert case.status == CaseStatus.CLOSED and case.kb_article == article


def test_an_existing_hotfix_can_be_linked_and_its_release_tells_the_customer(routed, contact_a):
    case = _confirmed(routed, contact_a)
    fix = services.hotfix_create(actor=case.owner, product=case.product, version="8.3",
                                 description="Keep-alive")
    case = services.case_close(actor=case.owner, case=case, root_cause="Bug",
                               new_kb_article={"title": "T", "body": "B"}, hotfix=fix.number)
    assert case.hotfix == fix
    assert [row["organization"] for row in selectors.waiting_customers(fix)] == [case.organization]
    services.hotfix_release(actor=case.owner, hotfix=fix)
    assert OutboundMessage.objects.filter(
        recipient=contact_a.email, subject__contains="fix is released").exists()
    with pytest.raises(Conflict):
        services.hotfix_release(actor=case.owner, hotfix=fix)


def test_reopen_by_the_customer_within_the_window(routed, contact_a, settings):
    case = _confirmed(routed, contact_a)
    case = services.case_close(actor=case.owner, case=case, root_cause="x",
                               new_kb_article={"title": "T", "body": "B"})
    case = services.case_reopen(actor=contact_a, case=case, reason="Back again")
    assert case.status == CaseStatus.OPEN and case.reopened == 1
    assert case.resolved_at is None and case.resolution_due_at is not None
    case = _confirmed(case, contact_a)
    case = services.case_close(actor=case.owner, case=case, root_cause="x",
                               kb_article=case.kb_article_id)
    settings.CASES_REOPEN_DAYS = 0
    with time_machine.travel(datetime.timedelta(days=1)):
        with pytest.raises(Conflict):
            services.case_reopen(actor=contact_a, case=case, reason="Again")
        services.case_reopen(actor=case.owner, case=case, reason="Care may")


def test_hand_over_is_explicit_and_by_the_owner_or_a_manager(routed, experts, care_manager,
                                                             care_analyst):
    london = experts["london"].user
    with pytest.raises(PermissionDenied):
        services.case_assign(actor=care_analyst, case=routed, analyst=london, note="take it")
    with pytest.raises(ValidationError):
        services.case_assign(actor=routed.owner, case=routed, analyst=london, note="")
    case = services.case_assign(actor=routed.owner, case=routed, analyst=london, note="EMEA")
    assert case.owner == london
    assert case.events.filter(kind="assigned", public=False, body="EMEA").exists()
    case = services.case_assign(actor=care_manager, case=case, analyst=care_analyst,
                                note="cover")
    assert case.owner == care_analyst
    customer = UserFactory(email="x@acme.test", organization=case.organization,
                           roles=[Role.CUSTOMER_MEMBER])
    with pytest.raises(ValidationError):
        services.case_assign(actor=care_manager, case=case, analyst=customer, note="no")


def test_collaborators_and_criticality(routed, care_analyst):
    case = services.case_add_collaborator(actor=routed.owner, case=routed, user=care_analyst)
    assert list(case.collaborators.all()) == [care_analyst]
    with pytest.raises(Conflict):
        services.case_add_collaborator(actor=routed.owner, case=case, user=care_analyst)
    with pytest.raises(ValidationError):
        services.case_change_criticality(actor=routed.owner, case=case, criticality=1,
                                         reason="")
    due_before = case.response_due_at
    ten_minutes_in = TUESDAY_NOON_NY + datetime.timedelta(minutes=10)
    with time_machine.travel(ten_minutes_in, tick=False):
        case = services.case_change_criticality(actor=routed.owner, case=case, criticality=1,
                                                reason="Production is down")
    # 10 minutes of the 15 allowed for criticality 1 are spent: 5 left, around the clock.
    assert case.criticality == 1 and case.response_due_at < due_before
    assert case.response_due_at == ten_minutes_in + datetime.timedelta(minutes=5)


# --- Escalation -------------------------------------------------------------------------


def test_escalation_goes_to_the_platform_contact_and_the_tam(
    routed, contact_a, care_manager, escalation_contacts, tam, tenant_a
):
    tenant_a.tam = tam
    tenant_a.save()
    with pytest.raises(ValidationError):
        services.case_escalate(actor=contact_a, case=routed, business_impact=" ")
    escalation = services.case_escalate(actor=contact_a, case=routed,
                                        business_impact="Orders lost at peak")
    assert escalation.manager == care_manager and escalation.tam == tam
    assert escalation.phone == "+1 555 0100"  # cloud
    assert escalation.ack_due_at - escalation.raised_at == datetime.timedelta(hours=1)
    told = set(OutboundMessage.objects.filter(event="case.escalation")
               .values_list("recipient", flat=True))
    assert {care_manager.email, tam.email} <= told
    with pytest.raises(Conflict):
        services.case_escalate(actor=contact_a, case=routed, business_impact="again")
    with pytest.raises(PermissionDenied):
        services.case_acknowledge_escalation(actor=routed.owner, case=routed,
                                             next_steps="x", communication_plan="y")
    with pytest.raises(ValidationError) as error:
        services.case_acknowledge_escalation(actor=care_manager, case=routed,
                                             next_steps="", communication_plan="")
    assert set(error.value.message_dict) == {"next_steps", "communication_plan"}
    escalation = services.case_acknowledge_escalation(
        actor=care_manager, case=routed, next_steps="Engineer on it",
        communication_plan="Call every hour")
    assert escalation.acknowledged_by == care_manager
    assert routed.events.filter(kind="escalation_ack", public=True).exists()
    with pytest.raises(Conflict):
        services.case_acknowledge_escalation(actor=care_manager, case=routed,
                                             next_steps="x", communication_plan="y")


def test_care_staff_cannot_escalate_for_the_customer(routed, care_analyst):
    with pytest.raises(PermissionDenied):
        services.case_escalate(actor=care_analyst, case=routed, business_impact="x")


# --- Knowledge base and audit -----------------------------------------------------------


def test_kb_visibility(care_analyst, contact_a):
    public = services.kb_create(actor=care_analyst, title="Reset a password", body="**Do**")
    internal = services.kb_create(actor=care_analyst, title="SBC internals", body="x",
                                  visibility=KnowledgeArticle.Visibility.INTERNAL)
    assert set(selectors.kb_search(contact_a)) == {public}
    assert set(selectors.kb_search(care_analyst, "sbc")) == {internal}
    with pytest.raises(PermissionDenied):
        services.kb_create(actor=contact_a, title="Mine", body="x")


def test_every_change_is_audited(routed, contact_a):
    case = _confirmed(routed, contact_a)
    services.case_close(actor=case.owner, case=case, root_cause="x",
                        new_kb_article={"title": "T", "body": "B"})
    actions = list(AuditEntry.objects.filter(object_kind="case", object_id=case.number)
                   .order_by("pk").values_list("action", flat=True))
    assert actions == ["opened", "routed", "solution_proposed", "confirmed", "closed"]
