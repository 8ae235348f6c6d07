"""Reading maintenance windows, scoped to who asks.

Provider staff who serve every tenant see every window and every tenant's row. Anyone
else (a tenant's people, a partner, a TAM) sees only the windows whose current scope
includes a tenant they may see, and of those only the rows, areas, impact texts and
notices of their own tenants: another tenant's name never appears. A window they may
not see answers 404, like one that does not exist.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from caredeck.accounts.access import has_capability, tenants_for
from caredeck.accounts.roles import Capability, OrganizationKind
from caredeck.core.audit import audit_entries_for
from caredeck.core.numbering import looks_like_number
from caredeck.maintenance.models import (
    ClockKind,
    Maintenance,
    MaintenanceClock,
    MaintenanceNotice,
    MaintenanceStatus,
    MaintenanceTenant,
    NoticeKind,
)
from caredeck.maintenance.notices import REMINDERS
from caredeck.maintenance.states import CLOSED, EARLY_START, can_move

S = MaintenanceStatus

# The list's tabs: what each shows, in which order.
WHEN = {
    "upcoming": ((S.SCHEDULED,), ("starts_at", "pk")),
    "in_progress": ((S.IN_PROGRESS,), ("ends_at", "pk")),
    "past": (CLOSED, ("-starts_at", "-pk")),
}
WHEN_LABELS = {"upcoming": "Upcoming", "in_progress": "In progress", "past": "Past"}


def sees_every_tenant(user) -> bool:
    return has_capability(user, Capability.SERVE_ALL_TENANTS)


def _own_tenant_ids(user) -> list[int]:
    return list(
        tenants_for(user).filter(kind=OrganizationKind.CUSTOMER).values_list("pk", flat=True)
    )


def maintenances_visible(user) -> QuerySet[Maintenance]:
    if sees_every_tenant(user):
        return Maintenance.objects.all()
    concerning = MaintenanceTenant.objects.filter(
        organization_id__in=_own_tenant_ids(user), removed_at__isnull=True
    ).values("maintenance_id")
    return Maintenance.objects.filter(pk__in=concerning)


def maintenances_list(user, *, when: str = "") -> QuerySet[Maintenance]:
    windows = maintenances_visible(user).select_related("owner")
    if when in WHEN:
        statuses, order = WHEN[when]
        return windows.filter(status__in=statuses).order_by(*order)
    return windows.order_by("-starts_at", "-pk")


def tab_counts(user) -> dict[str, int]:
    counts = dict(
        maintenances_visible(user).values_list("status").annotate(n=Count("pk")).order_by()
    )
    return {
        when: sum(counts.get(s, 0) for s in statuses) for when, (statuses, _o) in WHEN.items()
    }


def maintenance_get(user, number) -> Maintenance:
    """The window numbered `number` if `user` may see it; otherwise 404."""
    if not looks_like_number(number, Maintenance.NUMBER_PREFIX):
        raise Http404("No such maintenance window.")
    found = maintenances_visible(user).select_related("owner").filter(number=number).first()
    if found is None:
        raise Http404("No such maintenance window.")
    return found


def tenant_rows_visible(user, maintenance: Maintenance) -> list[MaintenanceTenant]:
    """The window's current tenant rows the user may read (staff: all of them)."""
    rows = maintenance.tenants.filter(removed_at__isnull=True).select_related("organization")
    if not sees_every_tenant(user):
        rows = rows.filter(organization_id__in=_own_tenant_ids(user))
    return list(rows.order_by("organization__name"))


def rows_by_window(user, windows) -> dict[int, list[MaintenanceTenant]]:
    """The readable tenant rows of a page of windows, in one query (for lists)."""
    rows = MaintenanceTenant.objects.filter(
        maintenance__in=[w.pk for w in windows], removed_at__isnull=True
    ).select_related("organization")
    if not sees_every_tenant(user):
        rows = rows.filter(organization_id__in=_own_tenant_ids(user))
    grouped: dict[int, list[MaintenanceTenant]] = defaultdict(list)
    for row in rows.order_by("organization__name"):
        grouped[row.maintenance_id].append(row)
    return grouped


def removed_rows(user, maintenance: Maintenance) -> list[MaintenanceTenant]:
    """Tenants taken out of the scope (staff only: their names are other tenants')."""
    if not sees_every_tenant(user):
        return []
    return list(
        maintenance.tenants.filter(removed_at__isnull=False)
        .select_related("organization")
        .order_by("organization__name")
    )


def notices_visible(user, maintenance: Maintenance) -> QuerySet[MaintenanceNotice]:
    notices = maintenance.notices.select_related("organization")
    if not sees_every_tenant(user):
        notices = notices.filter(organization_id__in=_own_tenant_ids(user))
    return notices


def notice_counts(user, maintenance: Maintenance) -> dict[str, int]:
    """Notices sent per kind (to the tenants the user may see), every kind present."""
    counts = dict(
        notices_visible(user, maintenance).values_list("kind").annotate(n=Count("pk")).order_by()
    )
    return {kind: counts.get(kind, 0) for kind in NoticeKind.values}


def clock_label(clock: MaintenanceClock, maintenance: Maintenance) -> str:
    """What a clock will do, as people say it."""
    if clock.kind in REMINDERS:
        return f"{REMINDERS[clock.kind][1]} reminder"
    if clock.kind == ClockKind.START:
        return "Start notice"
    if maintenance.auto_complete:
        return "End notice"
    return "Planned end"


def clocks_of(maintenance: Maintenance) -> list[MaintenanceClock]:
    clocks = list(maintenance.clocks.order_by("due_at", "pk"))
    for clock in clocks:
        clock.label = clock_label(clock, maintenance)
    return clocks


def next_clock(maintenance: Maintenance) -> MaintenanceClock | None:
    return maintenance.clocks.filter(done_at__isnull=True).order_by("due_at", "pk").first()


def allowed_actions(user, maintenance: Maintenance) -> list[str]:
    """The buttons to show: only what the state table and the user's roles allow."""
    if not has_capability(user, Capability.MANAGE_MAINTENANCE):
        return []
    actions = []
    if can_move(maintenance, S.IN_PROGRESS) and (
        timezone.now() >= maintenance.starts_at - EARLY_START
    ):
        actions.append("start")
    if can_move(maintenance, S.COMPLETED):
        actions.append("complete")
    if maintenance.status in (S.SCHEDULED, S.IN_PROGRESS):
        actions.append("reschedule")
    if maintenance.status == S.SCHEDULED:
        actions.append("scope")
    if can_move(maintenance, S.CANCELLED):
        actions.append("cancel")
    return actions


def windows_for_tenant(organization, *, past_days: int | None = None) -> QuerySet[Maintenance]:
    """The windows that concern one tenant now (upcoming and in progress), and with
    `past_days` also those that ended in that many days: for its status page and feed.
    The caller has checked that the reader may see `organization`."""
    concerning = Q(tenants__organization=organization, tenants__removed_at__isnull=True)
    current = Q(status__in=(S.SCHEDULED, S.IN_PROGRESS))
    if past_days is not None:
        since = timezone.now() - datetime.timedelta(days=past_days)
        current |= Q(status=S.COMPLETED, completed_at__gte=since)
    return Maintenance.objects.filter(concerning & current).distinct().order_by("starts_at")


# --- The timeline -------------------------------------------------------------------------


@dataclass
class TimelineEntry:
    at: datetime.datetime
    title: str
    who: str = ""
    lines: list[str] = field(default_factory=list)
    changes: dict = field(default_factory=dict)


def _notice_title(kind: str, detail: str, sequence: int) -> str:
    label = NoticeKind(kind).label
    if kind == NoticeKind.REMINDER and detail:
        label = f"Reminder {detail} before"
    elif detail:
        label = f"{label} ({detail})"
    if kind in (NoticeKind.ANNOUNCEMENT, NoticeKind.RESCHEDULED, NoticeKind.CANCELLED):
        label += f" with calendar invite, sequence {sequence}"
    return f"{label} sent"


def timeline(user, maintenance: Maintenance) -> list[TimelineEntry]:
    """Everything that happened to the window, newest first: notices sent (grouped,
    with each tenant the user may see) and, for staff, the audit trail; a tenant's
    people see the window's transitions instead (the audit names other tenants)."""
    groups: dict[tuple, list[MaintenanceNotice]] = defaultdict(list)
    for notice in notices_visible(user, maintenance).order_by("sent_at", "pk"):
        groups[(notice.kind, notice.detail, notice.sequence)].append(notice)
    entries = [
        TimelineEntry(
            at=min(n.sent_at for n in group),
            title=_notice_title(kind, detail, sequence),
            who="CareDeck",
            lines=[
                f"{n.organization.name}: {n.recipients} message"
                f"{'' if n.recipients == 1 else 's'}"
                for n in sorted(group, key=lambda n: n.organization.name)
            ],
        )
        for (kind, detail, sequence), group in groups.items()
    ]
    if sees_every_tenant(user):
        entries += [
            TimelineEntry(
                at=e.at, title=e.action.replace("_", " ").capitalize(), who=e.actor_label,
                changes=e.changes,
            )
            for e in audit_entries_for(maintenance)[:200]
        ]
    else:
        facts = [
            (maintenance.created_at, "Scheduled"),
            (maintenance.started_at, "Started"),
            (maintenance.overrun_at, "Ran past its planned end"),
            (maintenance.completed_at, "Completed"),
            (maintenance.cancelled_at, "Cancelled"),
        ]
        entries += [TimelineEntry(at=at, title=title) for at, title in facts if at]
    return sorted(entries, key=lambda e: e.at, reverse=True)


# --- The home worklist -----------------------------------------------------------------------


@dataclass
class OwnerItem:
    title: str
    detail: str
    url: str
    due_at: datetime.datetime | None


def owner_worklist(user) -> list[OwnerItem]:
    """Windows the user owns that need them soon: starting within 24 h, running now
    (ending when), or running past their end."""
    if not has_capability(user, Capability.MANAGE_MAINTENANCE):
        return []
    now = timezone.now()
    soon = now + datetime.timedelta(hours=24)
    windows = Maintenance.objects.filter(owner=user).filter(
        Q(status=S.SCHEDULED, starts_at__lte=soon) | Q(status=S.IN_PROGRESS)
    ).order_by("starts_at")[:20]
    items = []
    for m in windows:
        url = reverse("maintenance-detail", args=[m.number])
        if m.status == S.SCHEDULED:
            items.append(OwnerItem(f"{m.number} starts soon: {m.title}",
                                   "Maintenance you own · start", url, m.starts_at))
        elif m.ends_at <= now:
            items.append(OwnerItem(f"{m.number} runs past its end: {m.title}",
                                   "Maintenance you own · complete it, or extend the window",
                                   url, m.ends_at))
        else:
            items.append(OwnerItem(f"{m.number} in progress: {m.title}",
                                   "Maintenance you own · end", url, m.ends_at))
    return items
