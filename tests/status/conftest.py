"""Hand-built incidents and maintenance windows for the status tests.

Rows are created with the models directly, so each test states exactly the times, scopes
and texts it is about.
"""

from __future__ import annotations

import datetime as dt

import pytest

from caredeck.incidents.models import AffectedTenant, Incident, IncidentStatus, Notice
from caredeck.maintenance.models import Maintenance, MaintenanceStatus, MaintenanceTenant

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    """"2025-06-10 10:00" (or with seconds) as an aware UTC datetime."""
    fmt = "%Y-%m-%d %H:%M:%S" if text.count(":") == 2 else "%Y-%m-%d %H:%M"
    return dt.datetime.strptime(text, fmt).replace(tzinfo=UTC)


def area(slug: str, *, unavailable: bool = False) -> dict:
    return {
        "area": slug, "name": slug.replace("_", " ").title(), "operational": "",
        "agent": "", "customer": "", "data_lost": False, "service_unavailable": unavailable,
    }


@pytest.fixture
def make_incident(incident_manager):
    def make(*, severity="SEV2", detected_at, resolved_at=None, title="Calls fail to route",
             status=None):
        if status is None:
            status = IncidentStatus.RESOLVED if resolved_at else IncidentStatus.INVESTIGATING
        return Incident.objects.create(
            title=title, severity=severity, status=status, detected_at=detected_at,
            resolved_at=resolved_at, manager=incident_manager,
        )

    return make


@pytest.fixture
def affect():
    def make(incident, organization, areas, *, impact_text="", added_at=None, **fields):
        return AffectedTenant.objects.create(
            incident=incident, organization=organization, areas=areas,
            impact_text=impact_text, added_at=added_at or incident.detected_at, **fields,
        )

    return make


@pytest.fixture
def notice():
    def make(incident, organization, kind, *, due_at, sent_at):
        return Notice.objects.create(
            incident=incident, organization=organization, kind=kind, due_at=due_at,
            sent_at=sent_at,
        )

    return make


@pytest.fixture
def make_window(incident_manager):
    def make(organization, areas, *, starts_at, ends_at, status=MaintenanceStatus.COMPLETED,
             started_at=None, completed_at=None, title="Routing software upgrade",
             impact_text=""):
        window = Maintenance.objects.create(
            title=title, impact="Calls may drop once.", starts_at=starts_at, ends_at=ends_at,
            status=status, started_at=started_at, completed_at=completed_at,
            owner=incident_manager,
        )
        MaintenanceTenant.objects.create(
            maintenance=window, organization=organization, areas=areas,
            impact_text=impact_text,
        )
        return window

    return make
