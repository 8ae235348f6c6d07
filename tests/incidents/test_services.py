"""Incident services: scope, per-tenant notices, clocks, transitions."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from caredeck.core.exceptions import Conflict
from caredeck.core.scheduler import tick
from caredeck.incidents import services
from caredeck.incidents.models import AffectedTenant, Notice, NoticeKind, TimelineEvent
from caredeck.notify.models import OutboundMessage

T0 = datetime.datetime(2030, 3, 4, 10, 0, tzinfo=datetime.UTC)

pytestmark = pytest.mark.django_db


@pytest.fixture
def frozen():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def declare(actor, **kwargs):
    defaults = {"title": "Calls fail in us-east", "severity": "SEV1",
                "failure": {"target": "us-east"}}
    return services.incident_declare(actor=actor, **{**defaults, **kwargs})


def emails_to(user):
    return OutboundMessage.objects.filter(recipient=user.email, channel="email")


def test_a_region_failure_notifies_exactly_the_tenants_the_impact_analysis_names(
    frozen, deployed, incident_manager, contact_a, contact_b, tenant_a
):
    incident = declare(incident_manager)
    affected = list(incident.affected.values_list("organization__slug", flat=True))
    assert affected == ["acme"]  # B runs in us-west and uses no area homed in us-east
    (mail,) = emails_to(contact_a)
    assert incident.number in mail.subject and "Acme Telecom" in mail.subject
    assert "Active calls dropped" in mail.body_text  # A's own text from the failure matrix
    assert not emails_to(contact_b).exists()
    notice = Notice.objects.get(incident=incident)
    assert (notice.kind, notice.organization, notice.sent_at) == ("first", tenant_a, T0)
    assert notice.due_at == T0 + datetime.timedelta(minutes=15)


def test_each_tenant_hears_only_its_own_story(
    frozen, deployed, incident_manager, contact_a, contact_b
):
    incident = declare(incident_manager, failure=None, organizations=["acme", "globex"],
                       areas=["call_routing"])
    services.incident_tenant_text_set(
        actor=incident_manager, incident=incident, organization=contact_a.organization,
        impact_text="ACME-ONLY: inbound calls to the Paris queue fail.",
    )
    services.incident_update_post(actor=incident_manager, incident=incident,
                                  status="identified", body="A faulty route table.")
    for message in emails_to(contact_b):
        assert "ACME-ONLY" not in message.body_text + message.body_html + message.subject
        assert "Acme" not in message.body_text + message.body_html + message.subject
    assert any("ACME-ONLY" in m.body_text for m in emails_to(contact_a))


def test_first_notice_clock_reminds_then_escalates_once_each(
    frozen, deployed, incident_manager, care_manager, contact_a
):
    incident = declare(incident_manager, notify=False,
                       detected_at=T0 - datetime.timedelta(minutes=2))
    row = incident.affected.get()
    assert row.due_at == T0 + datetime.timedelta(minutes=13)  # detection + 15
    assert row.remind_at == row.due_at - datetime.timedelta(minutes=5)

    frozen.move_to(T0 + datetime.timedelta(minutes=7))
    tick("test")
    assert not emails_to(incident_manager).filter(subject__contains="due at").exists()

    frozen.move_to(T0 + datetime.timedelta(minutes=8))
    tick("test")
    tick("test")  # a second tick (or a restarted scheduler) sends nothing more
    reminders = emails_to(incident_manager).filter(subject__contains="first notice due")
    assert reminders.count() == 1
    assert not emails_to(care_manager).filter(subject__contains="ESCALATION").exists()

    frozen.move_to(T0 + datetime.timedelta(minutes=13, seconds=1))
    tick("test")
    tick("test")
    escalation = emails_to(care_manager).get(subject__contains="ESCALATION")
    assert "first notice missed" in escalation.subject
    assert TimelineEvent.objects.filter(incident=incident, kind="escalation").count() == 1
    assert not emails_to(contact_a).exists()  # reminders are internal


def test_a_public_update_restarts_each_tenants_cadence(frozen, deployed, incident_manager):
    incident = declare(incident_manager)
    frozen.move_to(T0 + datetime.timedelta(minutes=20))
    services.incident_update_post(actor=incident_manager, incident=incident,
                                  status="identified", body="Found it.")
    row = incident.affected.get()
    assert row.due_at == T0 + datetime.timedelta(minutes=50)
    update = Notice.objects.get(incident=incident, kind=NoticeKind.UPDATE)
    assert update.due_at == T0 + datetime.timedelta(minutes=30)  # the due it satisfied
    assert update.late_by is None


def test_a_late_update_is_recorded_as_missed_by_how_much(frozen, deployed, incident_manager):
    incident = declare(incident_manager)
    frozen.move_to(T0 + datetime.timedelta(minutes=42))
    services.incident_update_post(actor=incident_manager, incident=incident,
                                  status="investigating", body="Still on it.")
    update = Notice.objects.get(incident=incident, kind=NoticeKind.UPDATE)
    assert update.late_by == datetime.timedelta(minutes=12)


def test_an_internal_note_reaches_no_customer(frozen, deployed, incident_manager, contact_a):
    incident = declare(incident_manager)
    services.incident_update_post(actor=incident_manager, incident=incident,
                                  status="investigating", body="DB failover lag", public=False)
    assert emails_to(contact_a).count() == 1  # the first notice only
    assert incident.affected.get().due_at == T0 + datetime.timedelta(minutes=30)


def test_a_tenant_added_later_gets_its_first_notice_and_its_own_clock(
    frozen, deployed, incident_manager, contact_b
):
    incident = declare(incident_manager, failure=None, organizations=["acme"])
    frozen.move_to(T0 + datetime.timedelta(minutes=25))
    services.incident_scope_change(actor=incident_manager, incident=incident,
                                   organizations=["acme", "globex"])
    row = AffectedTenant.objects.get(incident=incident, organization__slug="globex")
    assert row.added_at == T0 + datetime.timedelta(minutes=25)
    assert row.first_notice_at == T0 + datetime.timedelta(minutes=25)
    assert emails_to(contact_b).count() == 1
    notice = Notice.objects.get(incident=incident, organization__slug="globex")
    assert notice.due_at == T0 + datetime.timedelta(minutes=40)  # its clock started then


def test_a_tenant_leaving_the_scope_gets_no_more_notices(
    frozen, deployed, incident_manager, contact_b
):
    incident = declare(incident_manager, failure=None, organizations=["acme", "globex"])
    services.incident_scope_change(actor=incident_manager, incident=incident,
                                   organizations=["acme"])
    services.incident_update_post(actor=incident_manager, incident=incident,
                                  status="identified", body="Narrowed down.")
    assert emails_to(contact_b).count() == 1


def test_resolve_report_close(frozen, deployed, incident_manager, contact_a):
    incident = declare(incident_manager)
    with pytest.raises(Conflict):
        services.incident_close(actor=incident_manager, incident=incident)
    incident = services.incident_resolve(actor=incident_manager, incident=incident,
                                         body="Traffic is back on us-east.")
    assert incident.status == "resolved" and incident.resolved_at == T0
    assert incident.affected.get().due_at is None
    # 5 business days after Monday 2030-03-04 10:00 is Monday 2030-03-11 10:00.
    assert incident.report_due_at == datetime.datetime(2030, 3, 11, 10, 0, tzinfo=datetime.UTC)
    with pytest.raises(Conflict, match="Publish the incident report"):
        services.incident_close(actor=incident_manager, incident=incident)
    with pytest.raises(ValidationError) as error:
        services.incident_report_publish(actor=incident_manager, incident=incident)
    assert "report" in error.value.message_dict
    services.incident_findings_set(actor=incident_manager, incident=incident,
                                   report="A router firmware fault.")
    services.incident_report_publish(actor=incident_manager, incident=incident)
    assert emails_to(contact_a).filter(subject__contains="incident report").count() == 1
    with pytest.raises(Conflict):
        services.incident_report_publish(actor=incident_manager, incident=incident)
    incident = services.incident_close(actor=incident_manager, incident=incident)
    assert incident.status == "closed"
    with pytest.raises(Conflict):
        services.incident_update_post(actor=incident_manager, incident=incident,
                                      status="investigating", body="again")


def test_bad_input_is_reported_per_field(deployed, incident_manager):
    with pytest.raises(ValidationError) as error:
        services.incident_declare(
            actor=incident_manager, title="", severity="SEV9",
            detected_at=timezone.now() + datetime.timedelta(hours=1),
            failure={"target": "atlantis"},
        )
    assert set(error.value.message_dict) == {"title", "severity", "detected_at", "failure"}


def test_only_incident_runners_declare(deployed, care_analyst, admin_a):
    for actor in (care_analyst, admin_a):
        with pytest.raises(PermissionDenied):
            declare(actor)


def test_resolving_a_linked_incident_starts_its_problems_rca_clock(
    frozen, deployed, incident_manager
):
    from caredeck.problems.services import problem_create

    incident = declare(incident_manager)
    problem = problem_create(actor=incident_manager, title="Router firmware",
                             incidents=[incident])
    assert problem.rca_due_at is None  # nothing resolved yet
    services.incident_resolve(actor=incident_manager, incident=incident, body="Back.")
    problem.refresh_from_db()
    assert problem.rca_due_at == datetime.datetime(2030, 3, 11, 10, 0, tzinfo=datetime.UTC)


def test_subjects_are_plain_text(frozen, deployed, incident_manager, contact_a):
    declare(incident_manager, title="Agents' phones & queues down")
    (mail,) = emails_to(contact_a)
    assert "Agents' phones & queues down" in mail.subject
