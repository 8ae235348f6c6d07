"""The clocks of problem management, as stored due times.

- The RCA of a problem is due `rca_business_days` of the contract (default 5) after its
  incidents were resolved, in each affected tenant's business calendar; the earliest
  promise over every tenant of every linked incident is the problem's `rca_due_at`.
- Its owner is reminded one business day before (`rca_remind_at`), and each action-item
  owner at 09:00 of the item's due date in their time zone (`ActionItem.remind_at`).

The scheduler (caredeck/schedule.py, entry "problem-reminders") asks `reminders_enqueue_due`
on every tick; it only enqueues tasks (problems/tasks.py), which send and clear the
stored instant, so each reminder goes out once per due time even across restarts.
"""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.db.models import Min
from django.urls import reverse
from django.utils import timezone

from caredeck.core.calendar import add_business_days, contract_business_days, is_business_day
from caredeck.notify.services import notify_users
from caredeck.problems.models import ActionItem, Problem, ProblemStatus

# The provider's default promise (API.md, "Defaults") when no contract says otherwise.
DEFAULT_RCA_BUSINESS_DAYS = 5
# Action-item owners hear about a due item at this local time of its due date.
ACTION_ITEM_REMIND_TIME = datetime.time(9, 0)
# A reminder handed to a worker is pushed this far ahead, so the next ticks do not
# enqueue it again; if the worker dies, it is due again after this and re-enqueued.
REMINDER_LEASE = datetime.timedelta(minutes=5)
# How many reminders one tick enqueues at most; the rest follow on the next tick.
REMINDERS_PER_TICK = 500


def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def contract_of(organization):
    try:
        return organization.contract
    except ObjectDoesNotExist:
        return None


# --- The RCA due time ------------------------------------------------------------------


def tenant_rca_due_at(incident, organization) -> datetime.datetime | None:
    """When `organization` is owed the RCA of `incident` under its own contract."""
    if incident.resolved_at is None:
        return None
    contract = contract_of(organization)
    days = contract.rca_business_days if contract else DEFAULT_RCA_BUSINESS_DAYS
    return contract_business_days(incident.resolved_at, days, contract)


def rca_due_for(incidents) -> tuple[datetime.datetime | None, object | None]:
    """(the earliest RCA promise over the incidents' current affected tenants, the
    contract that makes it). An incident with no tenant falls back to the default 5
    business days in the US/UTC calendar; an unresolved one does not count yet."""
    best: tuple[datetime.datetime | None, object | None] = (None, None)
    for incident in incidents:
        if incident.resolved_at is None:
            continue
        rows = incident.affected.filter(removed_at__isnull=True).select_related(
            "organization", "organization__contract"
        )
        candidates = [
            (tenant_rca_due_at(incident, row.organization), contract_of(row.organization))
            for row in rows
        ] or [(add_business_days(incident.resolved_at, DEFAULT_RCA_BUSINESS_DAYS), None)]
        for due, contract in candidates:
            if best[0] is None or due < best[0]:
                best = (due, contract)
    return best


def business_day_before(moment: datetime.datetime, contract) -> datetime.datetime:
    """The same local time one business day earlier, in the contract's calendar (the
    one the due time was counted in), so "tomorrow it is due" means a working day."""
    country = contract.support_country if contract else "US"
    zone = zone_of(contract.support_timezone if contract else "UTC")
    local = moment.astimezone(zone)
    day = local.date() - datetime.timedelta(days=1)
    while not is_business_day(day, country=country):
        day -= datetime.timedelta(days=1)
    result = datetime.datetime.combine(day, local.time()).replace(tzinfo=zone)
    return result.astimezone(datetime.UTC)


def rca_clock_refresh(problem: Problem) -> list[str]:
    """Recompute the problem's RCA due time from its incidents (after linking,
    unlinking or an incident's resolution) and its owner's reminder. Saves the fields
    that changed and returns their names. A published RCA keeps the time it was held to.
    """
    if problem.rca_published_at is not None:
        return []
    due, contract = rca_due_for(problem.incidents.all())
    if due == problem.rca_due_at:
        return []
    problem.rca_due_at = due
    # A changed due time deserves its own reminder (its dedupe key names the due time).
    problem.rca_remind_at = business_day_before(due, contract) if due else None
    problem.save(update_fields=["rca_due_at", "rca_remind_at"])
    return ["rca_due_at"]


# --- Action items ----------------------------------------------------------------------


def action_item_remind_at(owner, due_on: datetime.date) -> datetime.datetime | None:
    """09:00 of the due date where the owner works; None when that has already passed
    (an item given on its due date is announced by its assignment notice)."""
    moment = datetime.datetime.combine(due_on, ACTION_ITEM_REMIND_TIME).replace(
        tzinfo=zone_of(getattr(owner, "timezone", "UTC"))
    )
    return moment if moment > timezone.now() else None


def action_item_due_at(item: ActionItem) -> datetime.datetime:
    """The end of the item's due date in its owner's time zone: when it becomes late."""
    next_day = item.due_on + datetime.timedelta(days=1)
    return datetime.datetime.combine(next_day, datetime.time(0, 0)).replace(
        tzinfo=zone_of(item.owner.timezone)
    )


# --- The scheduler's source ----------------------------------------------------------------


def _claim(model, field: str, pk: int, seen, now) -> bool:
    """Push one due reminder a lease ahead; False when another scheduler (or the
    worker) changed it first."""
    pushed = model.objects.filter(pk=pk, **{field: seen}).update(**{field: now + REMINDER_LEASE})
    return bool(pushed)


def reminders_enqueue_due() -> int:
    """Enqueue every reminder whose stored time has come. Run by the scheduler."""
    from caredeck.problems import tasks

    now = timezone.now()
    enqueued = 0
    due_rcas = Problem.objects.filter(
        rca_remind_at__lte=now, rca_published_at__isnull=True
    ).exclude(status=ProblemStatus.CLOSED).values_list("pk", "rca_remind_at")
    for pk, seen in due_rcas[:REMINDERS_PER_TICK]:
        if _claim(Problem, "rca_remind_at", pk, seen, now):
            tasks.rca_reminder_send.enqueue(pk)
            enqueued += 1
    due_items = ActionItem.objects.filter(
        remind_at__lte=now, done_at__isnull=True
    ).values_list("pk", "remind_at")
    for pk, seen in due_items[:REMINDERS_PER_TICK]:
        if _claim(ActionItem, "remind_at", pk, seen, now):
            tasks.action_item_reminder_send.enqueue(pk)
            enqueued += 1
    return enqueued


def reminders_next_due() -> datetime.datetime | None:
    """The earliest stored reminder time (for `schedule list`)."""
    rca = Problem.objects.filter(rca_published_at__isnull=True).exclude(
        status=ProblemStatus.CLOSED
    ).aggregate(at=Min("rca_remind_at"))["at"]
    item = ActionItem.objects.filter(done_at__isnull=True).aggregate(at=Min("remind_at"))["at"]
    found = [at for at in (rca, item) if at is not None]
    return min(found) if found else None


# --- Sending (called by the tasks) -----------------------------------------------------


def rca_reminder_send(*, problem_id: int) -> int:
    """Tell the owner the RCA falls due (or is overdue). Returns messages written."""
    with transaction.atomic():
        problem = Problem.objects.select_related("owner").filter(pk=problem_id).first()
        if (
            problem is None or problem.rca_remind_at is None or problem.rca_due_at is None
            or problem.rca_published_at is not None or problem.status == ProblemStatus.CLOSED
        ):
            return 0
        Problem.objects.filter(pk=problem.pk).update(rca_remind_at=None)
        messages = notify_users(
            event="problem.team", users=[problem.owner],
            dedupe_base=f"{problem.number}:rca-due:{problem.rca_due_at.isoformat()}",
            template="problem_rca_due",
            context={"problem": problem, "overdue": problem.rca_due_at <= timezone.now()},
            url=reverse("problem-detail", args=[problem.number]),
        )
    return len(messages)


def action_item_reminder_send(*, item_id: int) -> int:
    """Tell an action item's owner it is due today. Returns messages written."""
    with transaction.atomic():
        item = (
            ActionItem.objects.select_related("owner", "problem", "review__incident")
            .filter(pk=item_id).first()
        )
        if item is None or item.remind_at is None or item.done_at is not None:
            return 0
        ActionItem.objects.filter(pk=item.pk).update(remind_at=None)
        messages = notify_users(
            event="problem.team", users=[item.owner],
            dedupe_base=f"action-item:{item.pk}:due:{item.due_on.isoformat()}",
            template="problem_action_item_due",
            context={"item": item, "problem": item.problem, "incident": item.review.incident},
            url=action_item_url(item),
        )
    return len(messages)


def action_item_url(item: ActionItem) -> str:
    if item.problem_id:
        return reverse("problem-detail", args=[item.problem.number])
    return reverse("incident-review", args=[item.review.incident.number])
