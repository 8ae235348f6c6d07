"""The clocks of Customer Care, acting on the instants stored on cases and escalations.

- **SLA warning** (`response_warn_at`, `resolution_warn_at`): the owner hears that the
  first-response or resolution target is near; once per clock (`*_warned_at`).
- **SLA breach** (`response_due_at`, `resolution_due_at` passed while the clock runs):
  the group's care manager (every care manager when the group has none) hears, and the
  breach is on the case; once (`*_breached_at`).
- **Waiting on the customer**: reminders at `customer_remind_at` (days 3 and 6 by
  default), then at `auto_close_at` (day 7) the case closes itself with a notice.
- **Escalation acknowledgement** overdue (`ack_due_at` passed, not acknowledged): the
  care managers and the platform's management contact hear, once.

A paused clock (`sla_paused_at` set) never fires. The scheduler (caredeck/schedule.py,
entry "case-clocks") calls `enqueue_due` on each tick; it enqueues one task per case
(cases/tasks.py), which locks the case, re-checks what is still due and clears the
instants it handled in the same transaction as its messages: a second tick, worker or
restart never sends twice.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Min, Q
from django.utils import timezone

from caredeck.cases.models import (
    ACTIVE,
    WAITING_ON_CUSTOMER,
    Case,
    CaseEscalation,
    CaseStatus,
    CloseReason,
    EventKind,
)
from caredeck.core.audit import audit_record

CASES_PER_TICK = 500
LABELS = {"response": "first response", "resolution": "resolution"}
STOPS = {"response": "first_response_at", "resolution": "resolved_at"}


def _running(prefix: str) -> Q:
    return Q(status__in=ACTIVE, sla_paused_at__isnull=True, **{f"{STOPS[prefix]}__isnull": True})


def _due(now: datetime.datetime) -> Q:
    condition = Q(status__in=WAITING_ON_CUSTOMER) & (
        Q(customer_remind_at__lte=now) | Q(auto_close_at__lte=now)
    )
    for prefix in STOPS:
        condition |= _running(prefix) & (
            Q(**{f"{prefix}_warn_at__lte": now})
            | Q(**{f"{prefix}_due_at__lte": now, f"{prefix}_breached_at__isnull": True})
        )
    condition |= Q(escalations__acknowledged_at__isnull=True,
                   escalations__ack_overdue_notified_at__isnull=True,
                   escalations__ack_due_at__lte=now)
    return condition


def enqueue_due() -> int:
    """Schedule entry: one task per case with something due now."""
    from caredeck.cases.tasks import fire_case_clocks

    ids = list(
        Case.objects.filter(_due(timezone.now())).order_by("pk").values_list("pk", flat=True)
        .distinct()[:CASES_PER_TICK]
    )
    for case_id in ids:
        fire_case_clocks.enqueue(case_id)
    return len(ids)


def next_due() -> datetime.datetime | None:
    """Schedule entry: the earliest stored instant of a running case clock."""
    times = []
    for prefix in STOPS:
        found = Case.objects.filter(_running(prefix)).aggregate(
            warn=Min(f"{prefix}_warn_at"),
            due=Min(f"{prefix}_due_at", filter=Q(**{f"{prefix}_breached_at__isnull": True})),
        )
        times += found.values()
    waiting = Case.objects.filter(status__in=WAITING_ON_CUSTOMER).aggregate(
        remind=Min("customer_remind_at"), close=Min("auto_close_at"))
    times += waiting.values()
    times.append(CaseEscalation.objects.filter(
        acknowledged_at__isnull=True, ack_overdue_notified_at__isnull=True,
    ).aggregate(at=Min("ack_due_at"))["at"])
    times = [t for t in times if t is not None]
    return min(times) if times else None


def fire(case_id: int) -> dict[str, int]:
    """Everything due now for one case. Returns counts of what was sent."""
    from caredeck.cases import services

    now = timezone.now()
    sent = {"warnings": 0, "breaches": 0, "reminders": 0, "closed": 0, "escalations": 0}
    with transaction.atomic():
        case = (
            Case.objects.select_for_update(of=("self",))
            .select_related("organization", "product", "group__manager", "owner", "requester",
                            "opened_by")
            .filter(pk=case_id).first()
        )
        if case is None:
            return sent
        changed: list[str] = []
        running = case.status in ACTIVE and case.sla_paused_at is None
        for prefix, label in LABELS.items():
            if not running or getattr(case, STOPS[prefix]) is not None:
                continue
            due = getattr(case, f"{prefix}_due_at")
            warn_at = getattr(case, f"{prefix}_warn_at")
            if due and due <= now and getattr(case, f"{prefix}_breached_at") is None:
                setattr(case, f"{prefix}_breached_at", now)
                setattr(case, f"{prefix}_warn_at", None)
                changed += [f"{prefix}_breached_at", f"{prefix}_warn_at"]
                text = (f"The {label} target ({due:%Y-%m-%d %H:%M} UTC) was missed; "
                        "escalated to the care manager.")
                services._event(case, EventKind.SLA, body=text, public=False,
                                data={"clock": prefix, "breach": True})
                services._notify(
                    case, event="case.sla", users=services.care_managers_for(case),
                    key=f"breach:{prefix}:{due.isoformat()}",
                    headline=f"{case.number} missed its {label} target", body=text,
                    public=False,
                )
                audit_record(actor=None, obj=case, action="sla_breached",
                             changes={f"{prefix}_due_at": [None, due.isoformat()]})
                sent["breaches"] += 1
            elif warn_at and warn_at <= now:
                setattr(case, f"{prefix}_warn_at", None)
                setattr(case, f"{prefix}_warned_at", now)
                changed += [f"{prefix}_warn_at", f"{prefix}_warned_at"]
                text = f"The {label} target is due {due:%Y-%m-%d %H:%M} UTC."
                services._event(case, EventKind.SLA, body=text, public=False,
                                data={"clock": prefix, "warning": True})
                if case.owner_id:
                    services._notify(
                        case, event="case.work", users=[case.owner],
                        key=f"warn:{prefix}:{due.isoformat()}",
                        headline=f"{case.number}: {label} due soon", body=text, public=False,
                    )
                sent["warnings"] += 1
        if case.status in WAITING_ON_CUSTOMER:
            sent["closed"] += _auto_close(case, now, changed)
            if not sent["closed"]:
                sent["reminders"] += _remind_customer(case, now, changed)
        if changed:
            case.save(update_fields=list(dict.fromkeys(changed)))
        sent["escalations"] += _escalation_overdue(case, now)
    return sent


def _remind_customer(case: Case, now, changed: list[str]) -> int:
    from caredeck.cases import services

    if case.customer_remind_at is None or case.customer_remind_at > now:
        return 0
    offsets = settings.CASES_CUSTOMER_REMINDER_DAYS
    case.customer_remind_at = None
    # One reminder now; those that also fell due while the scheduler was down are
    # passed over (counted), not sent seconds apart on the next ticks.
    while case.customer_reminders_sent < len(offsets):
        case.customer_reminders_sent += 1
        if case.customer_reminders_sent >= len(offsets) or case.waiting_since is None:
            break
        following = case.waiting_since + datetime.timedelta(
            days=offsets[case.customer_reminders_sent])
        if following > now:
            case.customer_remind_at = following
            break
    changed += ["customer_reminders_sent", "customer_remind_at"]
    what = ("the information we asked for" if case.status == CaseStatus.INFO_REQUESTED
            else "your answer to the proposed solution")
    text = (f"We are waiting for {what}. Without an answer the case closes itself on "
            f"{case.auto_close_at:%Y-%m-%d %H:%M} UTC.")
    services._event(case, EventKind.REMINDER, body=text)
    services._tell_customer(case, f"remind:{case.waiting_since.isoformat()}:"
                            f"{case.customer_reminders_sent}",
                            f"{case.number} is waiting for you", text)
    return 1


def _auto_close(case: Case, now, changed: list[str]) -> int:
    from caredeck.cases import services

    if case.auto_close_at is None or case.auto_close_at > now:
        return 0
    before = case.status
    reason = (CloseReason.NO_INFORMATION if case.status == CaseStatus.INFO_REQUESTED
              else CloseReason.NOT_CONFIRMED)
    case.status = CaseStatus.CLOSED
    case.close_reason = reason
    case.closed_at = now
    case.customer_remind_at = case.auto_close_at = None
    changed += ["status", "close_reason", "closed_at", "customer_remind_at", "auto_close_at"]
    text = (f"{CloseReason(reason).label}. It closed itself after "
            f"{settings.CASES_CUSTOMER_WAIT_DAYS} days without an answer; reopen it within "
            f"{settings.CASES_REOPEN_DAYS} days if the issue is still there.")
    services._event(case, EventKind.CLOSED, body=text, data={"automatic": True})
    services._tell_customer(case, "auto-closed", f"{case.number} closed", text)
    services._tell_care(case, "auto-closed", f"{case.number} closed itself", text)
    audit_record(actor=None, obj=case, action="closed_automatically",
                 changes={"status": [before, CaseStatus.CLOSED], "close_reason": [None, reason]})
    return 1


def _escalation_overdue(case: Case, now) -> int:
    from caredeck.cases import services

    overdue = list(case.escalations.select_for_update().filter(
        acknowledged_at__isnull=True, ack_overdue_notified_at__isnull=True, ack_due_at__lte=now))
    for escalation in overdue:
        escalation.ack_overdue_notified_at = now
        escalation.save(update_fields=["ack_overdue_notified_at"])
        people = {u.pk: u for u in services.care_managers_for(case)}
        if escalation.manager is not None and escalation.manager.is_active:
            people[escalation.manager.pk] = escalation.manager
        text = (f"The escalation raised {escalation.raised_at:%Y-%m-%d %H:%M} UTC was to be "
                f"acknowledged by {escalation.ack_due_at:%H:%M} UTC.")
        services._event(case, EventKind.SLA, body=text, public=False,
                        data={"escalation": escalation.pk, "overdue": True})
        services._notify(case, event="case.escalation", users=people.values(),
                         key=f"ack-overdue:{escalation.pk}",
                         headline=f"{case.number}: escalation not acknowledged", body=text,
                         public=False)
        audit_record(actor=None, obj=case, action="escalation_overdue",
                     changes={"ack_due_at": [None, escalation.ack_due_at.isoformat()]})
    return len(overdue)


