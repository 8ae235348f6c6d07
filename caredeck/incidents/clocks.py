"""The incident clocks: reminders before a customer notice is due, escalations after.

Each affected tenant's row stores `remind_at` (due - 5 min by default) and `escalate_at`
(the due time). The scheduler asks `enqueue_due` on every tick; it enqueues one task per
incident with something due, and the task locks the rows, re-checks and clears what it
handles, so a second tick, a second worker or a restart never reminds twice. Tenants with
the same due time are grouped into one reminder to the incident manager.
"""

from __future__ import annotations

from collections import defaultdict

from django.db import transaction
from django.db.models import Min, Q
from django.utils import timezone

from caredeck.accounts.roles import Role
from caredeck.incidents.models import (
    OPEN_STATUSES,
    AffectedTenant,
    ClockKind,
    EventKind,
    Incident,
    TimelineEvent,
)
from caredeck.incidents.notices import incident_url
from caredeck.notify.audience import staff_with_roles
from caredeck.notify.services import notify_users


def _running() -> Q:
    return Q(removed_at__isnull=True, incident__status__in=OPEN_STATUSES)


def enqueue_due() -> int:
    """Schedule entry: one task per incident with a reminder or escalation due now."""
    now = timezone.now()
    incident_ids = set(
        AffectedTenant.objects.filter(_running())
        .filter(Q(remind_at__lte=now) | Q(escalate_at__lte=now))
        .values_list("incident_id", flat=True)
        .distinct()
    )
    from caredeck.incidents.tasks import fire_incident_clocks

    for incident_id in sorted(incident_ids):
        fire_incident_clocks.enqueue(incident_id)
    return len(incident_ids)


def next_due():
    """Schedule entry: the earliest stored reminder or escalation of a running incident."""
    due = AffectedTenant.objects.filter(_running()).aggregate(
        remind=Min("remind_at"), escalate=Min("escalate_at")
    )
    times = [t for t in due.values() if t is not None]
    return min(times) if times else None


def _what(kind: str) -> str:
    return "first notice" if kind == ClockKind.FIRST_NOTICE else "status update"


def fire(incident_id: int) -> dict[str, int]:
    """Send the reminders and escalations now due for one incident; returns counts."""
    now = timezone.now()
    sent = {"reminders": 0, "escalations": 0}
    with transaction.atomic():
        incident = (
            Incident.objects.select_for_update(of=("self",)).select_related("manager")
            .filter(pk=incident_id).first()
        )
        if incident is None or incident.status not in OPEN_STATUSES:
            return sent
        rows = list(
            AffectedTenant.objects.select_for_update(of=("self",))
            .filter(incident=incident, removed_at__isnull=True)
            .filter(Q(remind_at__lte=now) | Q(escalate_at__lte=now))
            .select_related("organization")
        )
        reminders: dict[tuple, list[AffectedTenant]] = defaultdict(list)
        escalations: dict[tuple, list[AffectedTenant]] = defaultdict(list)
        for row in rows:
            if row.escalate_at is not None and row.escalate_at <= now:
                escalations[(row.due_kind, row.due_at)].append(row)
                row.escalate_at = None
                row.remind_at = None  # past due: the escalation says it all
            elif row.remind_at is not None and row.remind_at <= now:
                reminders[(row.due_kind, row.due_at)].append(row)
                row.remind_at = None
        AffectedTenant.objects.bulk_update(rows, ["remind_at", "escalate_at"])
        url = incident_url(incident)
        for (kind, due_at), group in sorted(reminders.items(), key=lambda kv: kv[0][1]):
            headline = (f"{incident.number}: {_what(kind)} due at {due_at:%H:%M} UTC for "
                        f"{len(group)} tenant(s)")
            notify_users(
                event="incident.team", users=[incident.manager],
                dedupe_base=f"{incident.number}:remind:{kind}:{due_at.isoformat()}",
                template="incident_team",
                context={"incident": incident, "headline": headline,
                         "tenants": [r.organization.name for r in group[:50]],
                         "more": max(0, len(group) - 50)},
                url=url,
            )
            TimelineEvent.objects.create(
                incident=incident, kind=EventKind.REMINDER, text=headline + ": reminder sent "
                f"to {incident.manager.name or incident.manager.email}.",
                data={"due_at": due_at.isoformat(), "tenants": len(group)},
            )
            sent["reminders"] += 1
        if escalations:
            care_managers = staff_with_roles(Role.CARE_MANAGER)
        for (kind, due_at), group in sorted(escalations.items(), key=lambda kv: kv[0][1]):
            headline = (f"{incident.number}: {_what(kind)} missed (due {due_at:%H:%M} UTC) "
                        f"for {len(group)} tenant(s)")
            users = {u.pk: u for u in [*care_managers, incident.manager]}
            notify_users(
                event="incident.team", users=list(users.values()),
                dedupe_base=f"{incident.number}:escalate:{kind}:{due_at.isoformat()}",
                template="incident_team",
                context={"incident": incident, "headline": headline, "escalation": True,
                         "tenants": [r.organization.name for r in group[:50]],
                         "more": max(0, len(group) - 50)},
                url=url,
            )
            TimelineEvent.objects.create(
                incident=incident, kind=EventKind.ESCALATION,
                text=headline + f": escalated to {len(care_managers)} care manager(s).",
                data={"due_at": due_at.isoformat(), "tenants": len(group)},
            )
            sent["escalations"] += 1
    return sent
