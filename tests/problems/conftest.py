"""Helpers of the problem-management tests: incidents declared and resolved through the
incident services at chosen instants, and clients acting as a given person.

Tenant A ("Acme Telecom") and B ("Globex Insurance") each have a designated contact, so
customer notices have someone to reach.
"""

from __future__ import annotations

import datetime

import time_machine

from caredeck.incidents.models import AffectedTenant, Incident
from caredeck.incidents.services import (
    incident_declare,
    incident_resolve,
    incident_tenant_text_set,
)

UTC = datetime.UTC
MINUTE = datetime.timedelta(minutes=1)


def at(text: str) -> datetime.datetime:
    """at("2030-03-07 10:00") -> that instant in UTC."""
    return datetime.datetime.fromisoformat(text).replace(tzinfo=UTC)


def declare_resolved(
    actor,
    *,
    title: str,
    impacts: dict,
    areas: list[str],
    detected_at: datetime.datetime,
    resolved_at: datetime.datetime,
) -> Incident:
    """An incident over `impacts` ({organization: what it felt}) declared and resolved
    through the incident services, at those instants."""
    with time_machine.travel(detected_at + 2 * MINUTE, tick=False):
        incident = incident_declare(
            actor=actor, title=title, severity="SEV2", detected_at=detected_at,
            organizations=[org.slug for org in impacts], areas=areas,
        )
        for organization, text in impacts.items():
            incident_tenant_text_set(
                actor=actor, incident=incident, organization=organization, impact_text=text
            )
    with time_machine.travel(resolved_at, tick=False):
        incident = incident_resolve(actor=actor, incident=incident, body="Service restored.")
    return incident


def bare_incident(
    manager,
    *,
    title: str,
    detected_at: datetime.datetime,
    element: str = "",
    areas: dict | None = None,
    resolved_at: datetime.datetime | None = None,
) -> Incident:
    """An incident written straight to the tables, for what the services would not let a
    test set (a failure target without deployments, incidents months apart).
    `areas`: {organization: [area ids]}."""
    incident = Incident.objects.create(
        title=title, severity="SEV3", detected_at=detected_at, declared_at=detected_at,
        manager=manager, failure_target=element,
        status="resolved" if resolved_at else "investigating", resolved_at=resolved_at,
    )
    for organization, area_ids in (areas or {}).items():
        AffectedTenant.objects.create(
            incident=incident, organization=organization,
            areas=[{"area": a, "name": a.replace("_", " ")} for a in area_ids],
            impact_text=f"{organization.name}: degraded", first_notice_at=detected_at,
        )
    return incident


