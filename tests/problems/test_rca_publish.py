"""Publishing the RCA: once, to every affected tenant of every linked incident, each
tenant its own message set with only its own incidents and impact text."""

from __future__ import annotations

import pytest
import time_machine
from django.core.exceptions import ValidationError

from caredeck.core.exceptions import Conflict
from caredeck.core.models import AuditEntry
from caredeck.incidents.models import Notice, NoticeKind, TimelineEvent
from caredeck.notify.models import OutboundMessage, WebhookEndpoint
from caredeck.problems.services import (
    problem_create,
    problem_incident_link,
    problem_rca_publish,
    problem_update,
)
from tests.problems.conftest import at, declare_resolved

A_IMPACT = "Acme callers hear silence after the IVR greeting."
B_IMPACT = "Globex agents cannot accept chats."
RCA_TEXT = "A configuration push removed a routing rule; validation did not catch it."


@pytest.fixture
def two_tenant_problem(incident_manager, tenant_a, tenant_b, contact_a, contact_b):
    incident = declare_resolved(
        incident_manager, title="Routing outage in us-east",
        impacts={tenant_a: A_IMPACT, tenant_b: B_IMPACT}, areas=["call_routing"],
        detected_at=at("2030-03-07 08:00"), resolved_at=at("2030-03-07 10:00"),
    )
    with time_machine.travel(at("2030-03-08 09:00"), tick=False):
        problem = problem_create(actor=incident_manager, title="Unvalidated routing pushes",
                                 incidents=[incident])
        problem_update(actor=incident_manager, problem=problem,
                       root_cause="A routing rule was deleted by a config push.",
                       rca_document=RCA_TEXT)
    return problem, incident


def _rca_messages(organization):
    return OutboundMessage.objects.filter(event="incident.report", organization=organization)


def test_each_affected_tenant_receives_one_message_set_with_only_its_own_story(
    two_tenant_problem, incident_manager, tenant_a, tenant_b, contact_a, contact_b
):
    problem, incident = two_tenant_problem
    with time_machine.travel(at("2030-03-10 09:00"), tick=False):
        problem_rca_publish(actor=incident_manager, problem=problem)

    for organization, contact, own, other_org, other in (
        (tenant_a, contact_a, A_IMPACT, tenant_b, B_IMPACT),
        (tenant_b, contact_b, B_IMPACT, tenant_a, A_IMPACT),
    ):
        messages = list(_rca_messages(organization))
        # One set: the designated contact's e-mail and in-app notice.
        assert sorted(m.channel for m in messages) == ["email", "in_app"]
        assert {m.user_id for m in messages} == {contact.pk}
        for message in messages:
            body = message.subject + message.body_text + message.body_html
            assert own in message.body_text
            assert RCA_TEXT in message.body_text
            assert incident.number in message.subject
            assert other_org.name not in body
            assert other not in body
            # Problems are internal: the tenant reads its incident, not the problem.
            assert problem.number not in body
    assert OutboundMessage.objects.filter(event="incident.report").count() == 4


def test_publishing_records_a_notice_and_a_tenant_only_timeline_entry_per_tenant(
    two_tenant_problem, incident_manager, tenant_a, tenant_b
):
    problem, incident = two_tenant_problem
    with time_machine.travel(at("2030-03-10 09:00"), tick=False):
        problem_rca_publish(actor=incident_manager, problem=problem)
    notices = Notice.objects.filter(incident=incident, kind=NoticeKind.RCA)
    assert {n.organization_id for n in notices} == {tenant_a.pk, tenant_b.pk}
    assert all(n.recipients == 2 and n.late_by is None for n in notices)
    # The default contract: 5 business days after Thursday 10:00.
    assert {n.due_at for n in notices} == {at("2030-03-14 10:00")}
    told = TimelineEvent.objects.filter(incident=incident, kind="problem", public=True)
    assert {e.organization_id for e in told} == {tenant_a.pk, tenant_b.pk}
    for event in told:
        assert event.organization.name in event.text
    problem.refresh_from_db()
    assert problem.rca_published_at == at("2030-03-10 09:00")
    assert AuditEntry.objects.filter(object_kind="problem", object_id=problem.number,
                                     action="rca_published").exists()


def test_a_tenant_hit_by_two_incidents_of_the_problem_gets_one_message_set(
    incident_manager, tenant_a, tenant_b, contact_a, contact_b
):
    first = declare_resolved(
        incident_manager, title="Routing outage", impacts={tenant_a: A_IMPACT},
        areas=["call_routing"], detected_at=at("2030-03-04 08:00"),
        resolved_at=at("2030-03-04 09:00"),
    )
    second = declare_resolved(
        incident_manager, title="Routing outage again",
        impacts={tenant_a: "Acme callers dropped again.", tenant_b: B_IMPACT},
        areas=["call_routing"], detected_at=at("2030-03-07 08:00"),
        resolved_at=at("2030-03-07 09:00"),
    )
    with time_machine.travel(at("2030-03-08 09:00"), tick=False):
        problem = problem_create(actor=incident_manager, title="Routing pushes",
                                 incidents=[first, second], root_cause="Config push.")
        problem_update(actor=incident_manager, problem=problem, rca_document=RCA_TEXT)
        problem_rca_publish(actor=incident_manager, problem=problem)
    a_messages = list(_rca_messages(tenant_a))
    assert len(a_messages) == 2
    for message in a_messages:
        assert first.number in message.body_text and second.number in message.body_text
        assert A_IMPACT in message.body_text and "Acme callers dropped again." in message.body_text
    b_messages = list(_rca_messages(tenant_b))
    assert len(b_messages) == 2
    for message in b_messages:
        assert first.number not in message.body_text + message.subject
        assert A_IMPACT not in message.body_text
    # A notice per incident and tenant, for the promise report.
    assert Notice.objects.filter(kind=NoticeKind.RCA, organization=tenant_a).count() == 2
    assert Notice.objects.filter(kind=NoticeKind.RCA, organization=tenant_b).count() == 1


def test_webhooks_of_a_tenant_receive_only_that_tenants_part(
    two_tenant_problem, incident_manager, tenant_a, tenant_b
):
    WebhookEndpoint.objects.create(organization=tenant_b, name="Globex ops",
                                   url="https://hooks.globex.test/caredeck")
    problem, incident = two_tenant_problem
    problem_rca_publish(actor=incident_manager, problem=problem)
    [hook] = OutboundMessage.objects.filter(channel="webhook")
    assert hook.organization == tenant_b
    assert hook.payload["notice"] == "rca"
    assert hook.payload["incidents"] == [{
        "incident": incident.number, "title": incident.title, "impact": B_IMPACT,
        "areas": ["call_routing"],
    }]
    assert A_IMPACT not in str(hook.payload) and tenant_a.name not in hook.body_text


def test_the_rca_is_published_once(two_tenant_problem, incident_manager):
    problem, _ = two_tenant_problem
    problem_rca_publish(actor=incident_manager, problem=problem)
    sent = OutboundMessage.objects.count()
    with pytest.raises(Conflict, match="already published"):
        problem_rca_publish(actor=incident_manager, problem=problem)
    # A stale copy (a second browser tab) is refused too.
    from caredeck.problems.models import Problem

    stale = Problem.objects.get(pk=problem.pk)
    stale.rca_published_at = None
    with pytest.raises(Conflict):
        problem_rca_publish(actor=incident_manager, problem=stale)
    assert OutboundMessage.objects.count() == sent


def test_the_published_document_no_longer_changes(two_tenant_problem, incident_manager):
    problem, _ = two_tenant_problem
    problem_rca_publish(actor=incident_manager, problem=problem)
    with pytest.raises(Conflict, match="no longer changes"):
        problem_update(actor=incident_manager, problem=problem, rca_document="Other text.")


def test_publishing_needs_a_root_cause_and_a_document(
    incident_manager, tenant_a, contact_a
):
    incident = declare_resolved(
        incident_manager, title="Calls drop", impacts={tenant_a: A_IMPACT},
        areas=["call_routing"], detected_at=at("2030-03-07 08:00"),
        resolved_at=at("2030-03-07 10:00"),
    )
    problem = problem_create(actor=incident_manager, title="Unknown", incidents=[incident])
    with pytest.raises(ValidationError) as refused:
        problem_rca_publish(actor=incident_manager, problem=problem)
    assert set(refused.value.message_dict) == {"root_cause", "rca_document"}
    assert not OutboundMessage.objects.filter(event="incident.report").exists()
    problem.refresh_from_db()
    assert problem.rca_published_at is None


def test_a_document_naming_a_customer_is_refused_when_others_read_it(
    two_tenant_problem, incident_manager
):
    problem, _ = two_tenant_problem
    problem_update(actor=incident_manager, problem=problem,
                   rca_document="The push was requested by acme telecom's admin.")
    with pytest.raises(ValidationError) as refused:
        problem_rca_publish(actor=incident_manager, problem=problem)
    assert "Acme Telecom" in refused.value.message_dict["rca_document"][0]
    assert not OutboundMessage.objects.filter(event="incident.report").exists()


def test_publishing_without_a_linked_incident_is_refused(incident_manager):
    problem = problem_create(actor=incident_manager, title="Found by monitoring",
                             root_cause="Disk fills.")
    problem_update(actor=incident_manager, problem=problem, rca_document=RCA_TEXT)
    with pytest.raises(Conflict, match="No incident is linked"):
        problem_rca_publish(actor=incident_manager, problem=problem)


def test_linking_a_later_incident_keeps_the_earliest_promise(
    incident_manager, tenant_a, contact_a
):
    first = declare_resolved(
        incident_manager, title="One", impacts={tenant_a: A_IMPACT}, areas=["call_routing"],
        detected_at=at("2030-03-04 08:00"), resolved_at=at("2030-03-04 09:00"),
    )
    later = declare_resolved(
        incident_manager, title="Two", impacts={tenant_a: A_IMPACT}, areas=["call_routing"],
        detected_at=at("2030-03-07 08:00"), resolved_at=at("2030-03-07 09:00"),
    )
    problem = problem_create(actor=incident_manager, title="Cause", incidents=[later])
    assert problem.rca_due_at == at("2030-03-14 09:00")
    problem_incident_link(actor=incident_manager, problem=problem, incident=first)
    problem.refresh_from_db()
    assert problem.rca_due_at == at("2030-03-11 09:00")
    assert AuditEntry.objects.filter(object_kind="incident", object_id=first.number,
                                     action="problem_linked").exists()
    assert TimelineEvent.objects.filter(incident=first, kind="problem", public=False,
                                        text__contains=problem.number).exists()
