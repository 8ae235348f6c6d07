"""Reads of incidents, always scoped to the acting user.

Provider staff who serve every tenant see every incident. Anyone else sees an incident
only if it affects (or affected, and told) a tenant they may see, and then only that
tenant's part of it: `tenant_view` is what a customer page or API answer is built from.
"""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet

from caredeck.accounts.access import has_capability, tenants_for
from caredeck.accounts.roles import Capability
from caredeck.core.numbering import looks_like_number
from caredeck.core.selectors import one_or_404
from caredeck.incidents.models import (
    AffectedTenant,
    Incident,
    IncidentUpdate,
    TimelineEvent,
)


def sees_every_tenant(user) -> bool:
    return has_capability(user, Capability.SERVE_ALL_TENANTS)


def _told_or_current() -> Q:
    # A tenant taken out of scope before it was told never learns of the incident.
    return Q(removed_at__isnull=True) | Q(first_notice_at__isnull=False)


def affected_visible(user) -> QuerySet[AffectedTenant]:
    """The affected-tenant rows `user` may read."""
    rows = AffectedTenant.objects.filter(_told_or_current())
    if sees_every_tenant(user):
        return rows
    return rows.filter(organization__in=tenants_for(user))


def incidents_visible(user) -> QuerySet[Incident]:
    if sees_every_tenant(user):
        return Incident.objects.all()
    visible = affected_visible(user).values("incident_id")
    return Incident.objects.filter(pk__in=visible)


def incident_get(user, number: str) -> Incident:
    if not looks_like_number(number, "INC"):
        one_or_404(Incident.objects.none(), "incident")
    return one_or_404(
        incidents_visible(user).select_related("manager", "problem"), "incident", number=number
    )


def affected_of(user, incident: Incident) -> list[AffectedTenant]:
    """The incident's tenants the user may see (staff: all, current first)."""
    return list(
        affected_visible(user)
        .filter(incident=incident)
        .select_related("organization", "organization__contract")
        .order_by("removed_at", "organization__name")
    )


def updates_visible(user, incident: Incident) -> QuerySet[IncidentUpdate]:
    updates = incident.updates.select_related("author")
    if sees_every_tenant(user):
        return updates
    return updates.filter(public=True)


def timeline_visible(user, incident: Incident) -> QuerySet[TimelineEvent]:
    events = incident.timeline.select_related("actor", "organization")
    if sees_every_tenant(user):
        return events
    own = tenants_for(user)
    return events.filter(public=True).filter(
        Q(organization__isnull=True) | Q(organization__in=own)
    )


def incidents_list(user, *, status: str = "", q: str = "") -> QuerySet[Incident]:
    incidents = incidents_visible(user).select_related("manager").prefetch_related(
        Prefetch("affected", queryset=AffectedTenant.objects.filter(removed_at__isnull=True))
    )
    if status == "open":
        incidents = incidents.filter(status__in=["investigating", "identified", "monitoring"])
    elif status:
        incidents = incidents.filter(status=status)
    if q:
        incidents = incidents.filter(Q(title__icontains=q) | Q(number__iexact=q))
    return incidents


def notices_of(user, incident: Incident) -> list:
    """Customer notices sent, for the promise panel (a tenant: only its own)."""
    from caredeck.incidents.models import Notice

    notices = Notice.objects.filter(incident=incident).select_related("organization")
    if not sees_every_tenant(user):
        notices = notices.filter(organization__in=tenants_for(user))
    return list(notices.order_by("organization__name", "sent_at"))


def incident_work_for(user, limit: int = 20) -> list[tuple]:
    """(incident, "first notice" | "status update", earliest due, tenants due) for the
    open incidents `user` manages, or every open one for others who run incidents."""
    from django.db.models import Count, Min

    from caredeck.incidents.models import OPEN_STATUSES

    if not has_capability(user, Capability.MANAGE_INCIDENTS):
        return []
    incidents = Incident.objects.filter(status__in=OPEN_STATUSES)
    if incidents.filter(manager=user).exists():
        incidents = incidents.filter(manager=user)
    rows = (
        AffectedTenant.objects.filter(
            incident__in=incidents, removed_at__isnull=True, due_at__isnull=False
        )
        .values("incident_id", "due_kind")
        .annotate(due=Min("due_at"), tenants=Count("id"))
        .order_by("due")[:limit]
    )
    by_id = Incident.objects.in_bulk([r["incident_id"] for r in rows])
    return [
        (by_id[r["incident_id"]],
         "first notice" if r["due_kind"] == "first_notice" else "status update",
         r["due"], r["tenants"])
        for r in rows
    ]
