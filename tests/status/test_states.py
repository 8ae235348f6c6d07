"""How incidents and maintenance put a tenant's functional areas into a state: each
severity, service unavailable, maintenance in progress, and the worst one winning."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from caredeck.incidents.models import IncidentStatus
from caredeck.maintenance.models import MaintenanceStatus
from caredeck.status.intervals import clipped, merged, total_seconds, without
from caredeck.status.selectors import tenant_status
from caredeck.status.states import AreaState, incident_state, worst
from tests.status.conftest import area, at


@pytest.mark.parametrize(
    ("severity", "unavailable", "expected"),
    [
        ("SEV1", False, AreaState.MAJOR_OUTAGE),
        ("SEV2", False, AreaState.PARTIAL_OUTAGE),
        ("SEV3", False, AreaState.DEGRADED),
        ("SEV4", False, AreaState.DEGRADED),
        ("SEV3", True, AreaState.MAJOR_OUTAGE),
        ("SEV2", True, AreaState.MAJOR_OUTAGE),
    ],
)
def test_each_severity_gives_its_state(severity, unavailable, expected):
    assert incident_state(severity, area("call_routing", unavailable=unavailable)) == expected


def test_the_worst_state_wins_and_maintenance_ranks_below_incidents():
    assert worst([]) == AreaState.OPERATIONAL
    assert worst([AreaState.MAINTENANCE]) == AreaState.MAINTENANCE
    assert worst([AreaState.MAINTENANCE, AreaState.DEGRADED]) == AreaState.DEGRADED
    assert worst(
        [AreaState.DEGRADED, AreaState.MAJOR_OUTAGE, AreaState.PARTIAL_OUTAGE]
    ) == AreaState.MAJOR_OUTAGE


def test_intervals_are_merged_clipped_and_holes_taken_out():
    a, b, c, d = at("2025-06-01 10:00"), at("2025-06-01 11:00"), at("2025-06-01 10:30"), at(
        "2025-06-01 12:00"
    )
    assert merged([(a, b), (c, d)]) == [(a, d)]
    assert total_seconds([(a, b), (c, d)]) == 2 * 3600
    assert clipped([(a, d)], c, b) == [(c, b)]
    assert without([(a, d)], [(c, b)]) == [(a, c), (b, d)]
    assert without([(c, b)], [(a, d)]) == []


@pytest.fixture
def now():
    return timezone.now()


def states_of(organization) -> dict[str, str]:
    return {a.area: a.state for a in tenant_status(organization, history_days=0).areas}


@pytest.mark.django_db
def test_open_incidents_set_each_area_and_the_worst_wins(
    deployed, tenant_a, make_incident, affect, now
):
    sev3 = make_incident(severity="SEV3", detected_at=now - dt.timedelta(hours=1))
    affect(sev3, tenant_a, [area("call_routing"), area("agent_login")])
    sev2 = make_incident(severity="SEV2", detected_at=now - dt.timedelta(minutes=30))
    affect(sev2, tenant_a, [area("call_routing")])

    assert states_of(tenant_a) == {
        "call_routing": AreaState.PARTIAL_OUTAGE,
        "agent_login": AreaState.DEGRADED,
        "reporting": AreaState.OPERATIONAL,
    }
    sev1 = make_incident(severity="SEV1", detected_at=now - dt.timedelta(minutes=5))
    affect(sev1, tenant_a, [area("reporting")])
    sev4 = make_incident(severity="SEV4", detected_at=now - dt.timedelta(minutes=5))
    affect(sev4, tenant_a, [area("agent_login", unavailable=True)])
    states = states_of(tenant_a)
    assert states["reporting"] == AreaState.MAJOR_OUTAGE
    assert states["agent_login"] == AreaState.MAJOR_OUTAGE


@pytest.mark.django_db
def test_maintenance_in_progress_shows_unless_an_incident_is_worse(
    deployed, tenant_a, make_incident, affect, make_window, now
):
    make_window(
        tenant_a, [area("reporting"), area("agent_login")],
        starts_at=now - dt.timedelta(minutes=10), ends_at=now + dt.timedelta(hours=1),
        status=MaintenanceStatus.IN_PROGRESS, started_at=now - dt.timedelta(minutes=10),
    )
    # Announced but not started: no effect on the state yet.
    make_window(
        tenant_a, [area("call_routing")],
        starts_at=now + dt.timedelta(days=1), ends_at=now + dt.timedelta(days=1, hours=1),
        status=MaintenanceStatus.SCHEDULED,
    )
    sev4 = make_incident(severity="SEV4", detected_at=now - dt.timedelta(minutes=5))
    affect(sev4, tenant_a, [area("agent_login")])

    assert states_of(tenant_a) == {
        "call_routing": AreaState.OPERATIONAL,
        "agent_login": AreaState.DEGRADED,
        "reporting": AreaState.MAINTENANCE,
    }


@pytest.mark.django_db
def test_resolved_incidents_and_tenants_taken_out_of_scope_leave_the_areas_operational(
    deployed, tenant_a, make_incident, affect, now
):
    resolved = make_incident(
        severity="SEV1", detected_at=now - dt.timedelta(hours=2),
        resolved_at=now - dt.timedelta(hours=1),
    )
    affect(resolved, tenant_a, [area("call_routing")])
    left = make_incident(severity="SEV1", detected_at=now - dt.timedelta(hours=1))
    affect(left, tenant_a, [area("agent_login")], removed_at=now - dt.timedelta(minutes=1))
    monitoring = make_incident(
        severity="SEV3", detected_at=now - dt.timedelta(hours=1),
        status=IncidentStatus.MONITORING,
    )
    affect(monitoring, tenant_a, [area("reporting")])

    assert states_of(tenant_a) == {
        "call_routing": AreaState.OPERATIONAL,
        "agent_login": AreaState.OPERATIONAL,
        "reporting": AreaState.DEGRADED,
    }
