"""What a maintenance window tells the tenants it concerns, and its owner.

Every customer notice goes through `notify_tenants`: each tenant gets its own rendering,
made from the window's common facts and that tenant's own row only (its areas and impact
text, its support time zone), so nothing written for one tenant reaches another. Each
notice to each tenant is recorded as a `MaintenanceNotice` row. The outbox keys are
derived from the window, the kind of notice and the invite's SEQUENCE (plus the reminder
label), so running the same step twice never sends twice.

The calendar invite (.ics) is the same for every tenant and therefore carries only what
every tenant may read: the title, the expected impact and the link, never attendees.
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.urls import reverse

from caredeck.maintenance.models import (
    ClockKind,
    Maintenance,
    MaintenanceNotice,
    MaintenanceStatus,
    MaintenanceTenant,
    NoticeKind,
)
from caredeck.notify.audience import TenantMessage, notify_tenants
from caredeck.notify.ics import CalendarWindow, build_ics, uid_for
from caredeck.notify.services import notify_users

CUSTOMER_EVENT = "maintenance.notice"
OWNER_EVENT = "maintenance.team"

# How long before the start each reminder goes out, and the label its notice carries.
REMINDERS: dict[str, tuple[datetime.timedelta, str]] = {
    ClockKind.REMINDER_72H: (datetime.timedelta(hours=72), "72 h"),
    ClockKind.REMINDER_24H: (datetime.timedelta(hours=24), "24 h"),
    ClockKind.REMINDER_1H: (datetime.timedelta(hours=1), "1 h"),
}

# Notices that carry the calendar invite: a new or moved window (METHOD:REQUEST), and a
# cancelled one (METHOD:CANCEL).
REQUEST_KINDS = (NoticeKind.ANNOUNCEMENT, NoticeKind.RESCHEDULED)
CANCEL_KINDS = (NoticeKind.CANCELLED,)


def detail_path(maintenance: Maintenance) -> str:
    return reverse("maintenance-detail", args=[maintenance.number])


def invite_ics(maintenance: Maintenance, *, cancelled: bool | None = None) -> bytes:
    """The window's current calendar invite: same UID for its whole life, SEQUENCE as
    stored (raised on every reschedule), METHOD:CANCEL once cancelled (or, with
    `cancelled=True`, for a tenant taken out of the scope)."""
    if cancelled is None:
        cancelled = maintenance.status == MaintenanceStatus.CANCELLED
    link = f"{settings.BASE_URL}{detail_path(maintenance)}"
    return build_ics(
        CalendarWindow(
            uid=uid_for(maintenance.number),
            sequence=maintenance.sequence,
            summary=f"Maintenance {maintenance.number}: {maintenance.title}",
            starts_at=maintenance.starts_at,
            ends_at=maintenance.ends_at,
            description=f"Expected impact: {maintenance.impact}\n\nDetails: {link}",
            url=link,
            organizer_email=maintenance.owner.email,
            cancelled=cancelled,
        )
    )


def invite_filename(maintenance: Maintenance) -> str:
    return f"{maintenance.number}.ics"


def _invite_attachment(maintenance: Maintenance, *, cancelled: bool) -> dict:
    return {
        "filename": invite_filename(maintenance),
        "mimetype": "text/calendar",
        "content": invite_ics(maintenance, cancelled=cancelled),
    }


def _zone_named(name: str | None) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return zoneinfo.ZoneInfo("UTC")


def _zone_of(organization) -> zoneinfo.ZoneInfo:
    """The tenant's support time zone (its contract), so times read as its people live."""
    try:
        return _zone_named(organization.contract.support_timezone)
    except ObjectDoesNotExist:  # no contract row: the provider's default, UTC
        return _zone_named("UTC")


def when_text(moment: datetime.datetime, zone: zoneinfo.ZoneInfo) -> str:
    """"Mon 2030-06-03 22:00 CEST (20:00 UTC)": the tenant's local time with UTC beside."""
    local = moment.astimezone(zone)
    text = f"{local:%a %Y-%m-%d %H:%M} {local.tzname()}"
    if local.utcoffset() != datetime.timedelta(0) or local.tzname() != "UTC":
        text += f" ({moment.astimezone(datetime.UTC):%H:%M} UTC)"
    return text


def dedupe_base(maintenance: Maintenance, kind: str, detail: str = "") -> str:
    base = f"{maintenance.number}:{kind}:{maintenance.sequence}"
    return f"{base}:{detail}" if detail else base


def tenant_context(
    maintenance: Maintenance, row: MaintenanceTenant, *, kind: str, detail: str = "",
    reason: str = "",
) -> dict:
    """One tenant's view of the window: common facts plus its own row, nothing else."""
    zone = _zone_of(row.organization)
    return {
        "maintenance": maintenance,
        "kind": kind,
        "detail": detail,
        "reason": reason,
        "tenant_name": row.organization.name,
        "areas": [a.get("name") or a.get("area") for a in row.areas],
        "tenant_impact": row.impact_text,
        "starts": when_text(maintenance.starts_at, zone),
        "ends": when_text(maintenance.ends_at, zone),
        "removed": row.removed_at is not None,
        "link": f"{settings.BASE_URL}{detail_path(maintenance)}",
    }


def _webhook_data(maintenance: Maintenance, row: MaintenanceTenant, kind: str, detail: str):
    return {
        "maintenance": maintenance.number,
        "kind": kind,
        "detail": detail,
        "title": maintenance.title,
        "status": maintenance.status,
        "starts_at": maintenance.starts_at.isoformat(),
        "ends_at": maintenance.ends_at.isoformat(),
        "sequence": maintenance.sequence,
        "impact": maintenance.impact,
        "areas": [a.get("area") for a in row.areas],
        "tenant_impact": row.impact_text,
    }


def tenants_notify(
    *,
    maintenance: Maintenance,
    rows: Iterable[MaintenanceTenant],
    kind: str,
    detail: str = "",
    reason: str = "",
    cancel_invite: bool = False,
) -> list[MaintenanceNotice]:
    """Send one notice of `kind` to each tenant row, each in its own words, and record
    it. Runs in the caller's transaction (the outbox rows commit with the change)."""
    rows = list(rows)
    if not rows:
        return []
    attachments = None
    if kind in REQUEST_KINDS or kind in CANCEL_KINDS or cancel_invite:
        attachments = [
            _invite_attachment(maintenance, cancelled=cancel_invite or kind in CANCEL_KINDS)
        ]
    counts = notify_tenants(
        event=CUSTOMER_EVENT,
        messages=[
            TenantMessage(
                organization=row.organization,
                context=tenant_context(
                    maintenance, row, kind=kind, detail=detail, reason=reason
                ),
                webhook_data=_webhook_data(maintenance, row, kind, detail),
            )
            for row in rows
        ],
        dedupe_base=dedupe_base(maintenance, kind, detail),
        template="maintenance_notice",
        url=detail_path(maintenance),
        attachments=attachments,
    )
    return MaintenanceNotice.objects.bulk_create(
        [
            MaintenanceNotice(
                maintenance=maintenance,
                organization=row.organization,
                kind=kind,
                detail=detail[:40],
                sequence=maintenance.sequence,
                recipients=counts.get(row.organization_id, 0),
            )
            for row in rows
        ]
    )


OWNER_ALERTS = {
    "started": "started",
    "completed": "ended",
    "overrun": "runs past its planned end",
}


def owner_alert(*, maintenance: Maintenance, what: str) -> None:
    """Tell the owner what the clock did to their window (`what`: a key of OWNER_ALERTS)."""
    tenants = maintenance.tenants.filter(removed_at__isnull=True).count()
    notify_users(
        event=OWNER_EVENT,
        users=[maintenance.owner],
        dedupe_base=f"{maintenance.number}:owner:{what}:{maintenance.sequence}",
        template="maintenance_team",
        context={
            "maintenance": maintenance,
            "what": what,
            "what_text": OWNER_ALERTS[what],
            "tenant_count": tenants,
            "starts": when_text(maintenance.starts_at, _zone_named(maintenance.owner.timezone)),
            "ends": when_text(maintenance.ends_at, _zone_named(maintenance.owner.timezone)),
            "link": f"{settings.BASE_URL}{detail_path(maintenance)}",
        },
        url=detail_path(maintenance),
    )
