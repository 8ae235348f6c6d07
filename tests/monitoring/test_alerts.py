"""Confirmed failures into incidents under frozen time: correlation over the topology
(a region's tenants → one incident for the region, a PoP's location → that PoP), one
incident per tenant otherwise, joining, recovery's suggested resolution, the first
notices on the clock from the first failed run."""

from __future__ import annotations

import datetime

import pytest
from django.conf import settings
from django.utils import timezone

from caredeck.core.scheduler import tick
from caredeck.incidents.models import (
    Incident,
    IncidentSource,
    IncidentStatus,
    Notice,
    NoticeKind,
)
from caredeck.maintenance.services import maintenance_schedule, maintenance_start
from caredeck.monitoring import alerts
from caredeck.monitoring.models import CheckState, FailureProposal
from caredeck.notify.models import OutboundMessage
from tests.monitoring.conftest import T0

pytestmark = pytest.mark.django_db

ASH, SJ = "pop-ashburn", "pop-san-jose"
BOTH_DOWN = {ASH: False, SJ: False}
BOTH_UP = {ASH: True, SJ: True}
WINDOW = datetime.timedelta(seconds=settings.MONITORING_CORRELATION_SECONDS)


def at(seconds: float) -> datetime.datetime:
    return T0 + datetime.timedelta(seconds=seconds)


def fresh(check):
    check.refresh_from_db()
    return check


def fail_twice(frozen, report, check, first: float, outcomes=BOTH_DOWN) -> None:
    """Failed runs at `first` and one minute later (failures_to_alert=2: down then)."""
    for moment in (first, first + 60):
        frozen.move_to(at(moment))
        report(check, outcomes)


def notices_to(email: str):
    return OutboundMessage.objects.filter(recipient=email, event="incident.notice",
                                          channel="email")


@pytest.fixture
def two_checks(frozen, make_check, report, deployed):
    acme, globex = deployed
    a = make_check(name="Acme desktop")
    b = make_check(organization=globex, name="Globex desktop")
    report(a, BOTH_UP)
    report(b, BOTH_UP)
    return a, b


# --- Correlation: a region's tenants ---------------------------------------------------


def test_two_tenants_of_one_region_down_are_one_incident_for_the_region(
    frozen, same_region, two_checks, report, incident_manager, contact_a, contact_b
):
    a, b = two_checks
    fail_twice(frozen, report, a, 60)  # A's first failed run at +60 s, down at +120 s
    fail_twice(frozen, report, b, 70)  # B's at +70 s, down at +130 s
    frozen.move_to(at(130) + WINDOW)
    tick("test")  # the schedule entry enqueues the alert task (run at once in tests)

    (incident,) = Incident.objects.all()
    assert incident.source == IncidentSource.MONITOR
    assert incident.failure_target == "us-east"
    assert incident.severity == "SEV1"
    assert incident.detected_at == at(60)  # the earliest first failed run
    assert incident.manager == incident_manager
    assert set(incident.checks.all()) == {a, b}
    assert set(incident.affected.values_list("organization__slug", flat=True)) == {
        "acme", "globex"}

    (proposal,) = FailureProposal.objects.all()
    assert proposal.target == "us-east" and proposal.incident == incident
    assert proposal.detected_at == at(60)
    assert proposal.tenants == ["acme", "globex"]
    assert set(proposal.checks.all()) == {a, b}
    assert proposal.impact["summary"]["tenants_affected"] == 2
    assert sorted(proposal.impact["tenants"]) == ["acme", "globex"]
    for check in (a, b):
        assert fresh(check).alert_due_at is None

    # The first notices: one per affected tenant's designated contact, on the clock
    # from detection (the first failed run), not from the alert.
    assert notices_to(contact_a.email).count() == 1
    assert notices_to(contact_b.email).count() == 1
    due = at(60) + datetime.timedelta(minutes=15)
    assert sorted(Notice.objects.filter(incident=incident, kind=NoticeKind.FIRST)
                  .values_list("organization__slug", "due_at")) == [
        ("acme", due), ("globex", due)]

    # The next tick finds nothing due: no second incident.
    frozen.shift(60)
    tick("test")
    assert Incident.objects.count() == 1 and FailureProposal.objects.count() == 1


def test_tenants_of_different_regions_are_not_correlated(
    frozen, two_checks, report, incident_manager, contact_a, contact_b
):
    """A in us-east, B in us-west, both down from both PoPs: neither a region's nor a
    PoP's failure (every location of each check says down), so one incident each."""
    a, b = two_checks
    fail_twice(frozen, report, a, 60)
    fail_twice(frozen, report, b, 60)
    frozen.move_to(at(120) + WINDOW)
    alerts.fire()
    assert not FailureProposal.objects.exists()
    incidents = list(Incident.objects.order_by("pk"))
    assert len(incidents) == 2
    assert {i.failure_target for i in incidents} == {""}
    assert {fresh(a).incident, fresh(b).incident} == set(incidents)


# --- One tenant ------------------------------------------------------------------------


def test_one_tenant_down_opens_an_incident_for_that_tenant_and_area(
    frozen, two_checks, report, incident_manager, contact_a, contact_b
):
    a, b = two_checks
    fail_twice(frozen, report, a, 60)
    assert fresh(a).alert_due_at == at(120) + WINDOW
    frozen.move_to(at(120) + WINDOW - datetime.timedelta(seconds=1))
    assert alerts.fire() == []  # the correlation window has not ended
    assert alerts.next_due() == at(120) + WINDOW

    frozen.move_to(at(120) + WINDOW)
    (incident_id,) = alerts.fire()
    incident = Incident.objects.get(pk=incident_id)
    assert incident.source == IncidentSource.MONITOR
    assert incident.severity == "SEV3"
    assert incident.failure_target == ""
    assert incident.detected_at == at(60)
    assert list(incident.checks.all()) == [a]
    (row,) = incident.affected.all()
    assert row.organization.slug == "acme"
    assert [cell["area"] for cell in row.areas] == ["agent_login"]
    assert not FailureProposal.objects.exists()

    assert notices_to(contact_a.email).count() == 1
    assert not notices_to(contact_b.email).exists()  # exactly the affected tenants
    (notice,) = Notice.objects.filter(incident=incident, kind=NoticeKind.FIRST)
    assert notice.due_at == at(60) + datetime.timedelta(minutes=15)

    # fire() again: nothing is due any more, no second incident.
    assert alerts.fire() == []
    assert Incident.objects.count() == 1


def test_a_second_failing_check_of_the_tenant_joins_the_open_incident(
    frozen, make_check, report, incident_manager
):
    first = make_check(name="Desktop")
    second = make_check(name="Routing", area="call_routing")
    report(first, BOTH_UP)
    report(second, BOTH_UP)
    fail_twice(frozen, report, first, 60)
    frozen.move_to(at(120) + WINDOW)
    (incident_id,) = alerts.fire()

    fail_twice(frozen, report, second, 300)
    frozen.move_to(at(360) + WINDOW)
    assert alerts.fire() == [incident_id]
    assert Incident.objects.count() == 1
    assert fresh(second).incident_id == incident_id
    incident = Incident.objects.get(pk=incident_id)
    assert set(incident.checks.all()) == {first, second}
    notes = [e.text for e in incident.timeline.filter(data__source="monitor")]
    assert len(notes) == 1 and "“Routing”" in notes[0] and "down since 08:05:00" in notes[0]


# --- Correlation: a PoP ----------------------------------------------------------------


def test_a_pop_failing_from_its_own_location_with_quorum_two_alerts_nobody(
    frozen, make_check, report, deployed, incident_manager
):
    """Both tenants' checks fail at Ashburn only: with quorum 2 of 2 locations no check
    is down, so there is no alert to correlate (the PoP's failure is not proposed)."""
    a = make_check(name="Acme desktop", quorum=2)
    b = make_check(organization=deployed[1], name="Globex desktop", quorum=2)
    for check in (a, b):
        report(check, BOTH_UP)
        fail_twice(frozen, report, check, 60, {ASH: False, SJ: True})
    assert fresh(a).state == CheckState.UP and fresh(b).state == CheckState.UP
    frozen.move_to(at(600))
    assert alerts.fire() == []
    assert not Incident.objects.exists() and not FailureProposal.objects.exists()


def test_a_pop_failing_for_several_tenants_with_quorum_one_is_that_pops_failure(
    frozen, make_check, report, deployed, incident_manager, contact_a, contact_b
):
    """Quorum 1: each check is down from Ashburn while San José says up. The tenants are
    homed in different regions, so it is not a region: the PoP is proposed."""
    a = make_check(name="Acme desktop", quorum=1)
    b = make_check(organization=deployed[1], name="Globex desktop", quorum=1)
    for check in (a, b):
        report(check, BOTH_UP)
        fail_twice(frozen, report, check, 60, {ASH: False, SJ: True})
    assert fresh(a).state == CheckState.DOWN and fresh(b).state == CheckState.DOWN
    frozen.move_to(at(120) + WINDOW)
    (incident_id,) = alerts.fire()
    incident = Incident.objects.get(pk=incident_id)
    assert incident.failure_target == ASH
    assert set(incident.checks.all()) == {a, b}
    (proposal,) = FailureProposal.objects.all()
    assert proposal.target == ASH and proposal.tenants == ["acme", "globex"]
    assert proposal.impact["summary"]["tenants_affected"] == 2


def test_a_down_check_in_maintenance_does_not_make_a_region_failure(
    frozen, same_region, two_checks, report, incident_manager
):
    a, b = two_checks
    maintenance = maintenance_schedule(
        actor=incident_manager, title="Upgrade", impact="Agents may need to log in again.",
        starts_at=timezone.now() + datetime.timedelta(minutes=10),
        ends_at=timezone.now() + datetime.timedelta(hours=2),
        organizations=["globex"], areas=["agent_login"],
    )
    maintenance_start(actor=incident_manager, maintenance=maintenance)
    fail_twice(frozen, report, b, 60)  # in maintenance: down, no alert
    fail_twice(frozen, report, a, 60)
    assert fresh(b).alert_due_at is None
    frozen.move_to(at(120) + WINDOW)
    (incident_id,) = alerts.fire()
    incident = Incident.objects.get(pk=incident_id)
    assert incident.failure_target == ""  # acme's own incident, not us-east's
    assert list(incident.checks.all()) == [a]
    assert fresh(b).incident is None
    assert not FailureProposal.objects.exists()


# --- Recovery, re-alerting, no manager -------------------------------------------------


def test_recovery_of_every_linked_check_suggests_the_resolution_update(
    frozen, same_region, two_checks, report, incident_manager
):
    a, b = two_checks
    fail_twice(frozen, report, a, 60)
    fail_twice(frozen, report, b, 60)
    frozen.move_to(at(120) + WINDOW)
    (incident_id,) = alerts.fire()
    incident = Incident.objects.get(pk=incident_id)

    def suggestions():
        return [e.text for e in incident.timeline.filter(data__source="monitor")
                if "Suggested resolution update" in e.text]

    for moment in (600, 660):  # A recovers (successes_to_recover=2)
        frozen.move_to(at(moment))
        report(a, BOTH_UP)
    assert fresh(a).state == CheckState.UP
    assert suggestions() == []  # B is still down
    for moment in (600, 660):
        frozen.move_to(at(moment + 10))
        report(b, BOTH_UP)
    (text,) = suggestions()
    assert "pass again since 08:11:10 UTC" in text
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.INVESTIGATING  # a person resolves it


def test_a_check_whose_incident_was_resolved_alerts_again(
    frozen, make_check, report, incident_manager
):
    from caredeck.incidents.services import incident_resolve

    check = make_check()
    report(check, BOTH_UP)
    fail_twice(frozen, report, check, 60)
    frozen.move_to(at(120) + WINDOW)
    (first,) = alerts.fire()
    for moment in (300, 360):
        frozen.move_to(at(moment))
        report(check, BOTH_UP)
    incident_resolve(actor=incident_manager, incident=Incident.objects.get(pk=first),
                     body="Service restored.")

    fail_twice(frozen, report, check, 3600)
    frozen.move_to(at(3660) + WINDOW)
    (second,) = alerts.fire()
    assert second != first
    assert fresh(check).incident_id == second
    assert Incident.objects.get(pk=second).detected_at == at(3600)


def test_without_an_incident_manager_no_incident_and_no_crash(frozen, two_checks, report):
    a, _ = two_checks
    fail_twice(frozen, report, a, 60)
    frozen.move_to(at(120) + WINDOW)
    assert alerts.fire() == []
    assert not Incident.objects.exists()
    a = fresh(a)
    assert a.state == CheckState.DOWN and a.alert_due_at is None and a.incident is None


def test_a_lone_alert_waits_while_a_neighbour_in_its_region_is_failing(
    frozen, same_region, two_checks, report, incident_manager
):
    """A region's failure reaches its tenants' checks one by one (each starts at its own
    second of the interval): A is confirmed down while B has only failed once. A's alert
    waits for B instead of opening an incident for A alone; then both are one incident."""
    a, b = two_checks
    fail_twice(frozen, report, a, 60)  # A down at +120 s
    frozen.move_to(at(125))
    report(b, BOTH_DOWN)  # B's first failure: not confirmed yet
    frozen.move_to(at(120) + WINDOW)
    tick("test")
    assert not Incident.objects.exists()  # A waits for its neighbour
    assert fresh(a).alert_due_at is not None
    frozen.move_to(at(185))
    report(b, BOTH_DOWN)  # B confirmed down
    frozen.move_to(at(185) + WINDOW)
    tick("test")
    (incident,) = Incident.objects.all()
    assert incident.failure_target == "us-east" and set(incident.checks.all()) == {a, b}


def test_a_lone_alert_waits_at_most_one_interval(
    frozen, same_region, two_checks, report, incident_manager
):
    a, b = two_checks
    fail_twice(frozen, report, a, 60)
    frozen.move_to(at(125))
    report(b, BOTH_DOWN)  # B fails once and never again is confirmed
    moment = 120
    while not Incident.objects.exists() and moment < 600:
        moment += 20
        frozen.move_to(at(moment))
        tick("test")
    (incident,) = Incident.objects.all()
    assert incident.failure_target == "" and list(incident.checks.all()) == [a]
    assert at(60) + datetime.timedelta(seconds=a.interval) <= at(moment)
