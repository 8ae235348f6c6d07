"""Customer notices of an incident: each affected tenant hears its own story.

Every notice is rendered per tenant from that tenant's own context (its impact text and
areas, never a list of who else is affected), written to the outbox in the caller's
transaction, and recorded as a `Notice` (with the due time it satisfied, for the promise
report) and as a timeline entry only that tenant (and staff) can read.
"""

from __future__ import annotations

import datetime

from django.urls import reverse
from django.utils import timezone

from caredeck.incidents.models import (
    AffectedTenant,
    EventKind,
    Incident,
    IncidentUpdate,
    Notice,
    NoticeKind,
    TimelineEvent,
)
from caredeck.notify.audience import TenantMessage, notify_tenants


def incident_url(incident: Incident) -> str:
    from django.conf import settings

    return settings.BASE_URL + reverse("incident-detail", args=[incident.number])


def webhook_data(incident: Incident, row: AffectedTenant, kind: str, update=None) -> dict:
    """The machine-readable notice a tenant's webhook receives: its own part only."""
    return {
        "incident": incident.number,
        "title": incident.title,
        "severity": incident.severity,
        "status": incident.status,
        "notice": kind,
        "detected_at": incident.detected_at.isoformat(),
        "organization": row.organization.slug,
        "impact": row.impact_text,
        "areas": [a.get("area") for a in row.areas],
        "update": update.body if update is not None else "",
    }


def notify_affected(
    *,
    incident: Incident,
    kind: str,
    template: str,
    context: dict,
    event: str = "incident.notice",
    update: IncidentUpdate | None = None,
    tenants: list[AffectedTenant] | None = None,
    now: datetime.datetime | None = None,
) -> list[Notice]:
    """Send one notice to each current affected tenant (or `tenants`), each its own.

    Records a Notice per tenant with the due time the notice satisfies (the tenant's
    running clock for first notices and updates). Does not move clocks: the caller does.
    """
    now = now or timezone.now()
    rows = tenants
    if rows is None:
        rows = list(
            incident.affected.filter(removed_at__isnull=True).select_related(
                "organization", "organization__contract"
            )
        )
    if not rows:
        return []
    dedupe = f"{incident.number}:{kind}:{update.pk if update else now.isoformat()}"
    if kind == NoticeKind.REPORT:
        dedupe = f"{incident.number}:report"
    counts = notify_tenants(
        event=event,
        template=template,
        dedupe_base=dedupe,
        url=incident_url(incident),
        messages=[
            TenantMessage(
                organization=row.organization,
                context={
                    **context,
                    "incident": incident,
                    "update": update,
                    "notice_kind": NoticeKind(kind).label,
                    "impact_text": row.impact_text,
                    "areas": row.areas,
                },
                webhook_data=webhook_data(incident, row, kind, update),
            )
            for row in rows
        ],
    )
    satisfies = kind in (NoticeKind.FIRST, NoticeKind.UPDATE, NoticeKind.RESOLVED)
    notices = Notice.objects.bulk_create(
        [
            Notice(
                incident=incident, organization=row.organization, kind=kind, update=update,
                due_at=row.due_at if satisfies else None, sent_at=now,
                recipients=counts.get(row.organization_id, 0),
            )
            for row in rows
        ],
        batch_size=500,
    )
    TimelineEvent.objects.bulk_create(
        [
            TimelineEvent(
                incident=incident, at=now, kind=EventKind.NOTICE, public=True,
                organization=row.organization,
                text=f"{NoticeKind(kind).label} sent to {row.organization.name} "
                f"({counts.get(row.organization_id, 0)} message(s)).",
                data={"notice": kind, "recipients": counts.get(row.organization_id, 0)},
            )
            for row in rows
        ],
        batch_size=500,
    )
    return notices
