"""The clocks of the Ideas Lab, as stored instants on the idea (services.py sets them).

- **PM answer**: when an idea reaches its product's vote threshold a product manager's
  public answer is due in 30 business days (`pm_answer_due_at`). At `pm_remind_at` (5
  business days before) the product's lead is reminded, or every product manager when
  the product has no lead. At `pm_escalate_at` (the due time), if nobody answered, the
  miss is escalated: to the product's lead and every product manager, and to the
  platform administrators as well when the product has no lead.
- **In development**: a public update is due every `IDEAS_DEV_UPDATE_DAYS` (60) days
  (`dev_update_due_at`). When it passes without one, the product managers are reminded
  and the instant moves on by one more period, so the reminder repeats while no update
  comes; a PM update or a status change restarts it (services.py).

The scheduler (caredeck/schedule.py, entry "idea-clocks") asks `enqueue_due` on every
tick; it only enqueues one task per idea with something due (ideas/tasks.py). The task
locks the idea, re-checks what is still due and clears (or advances) the instant it
handled in the same transaction as the messages it writes, so a second tick, a second
worker or a restart never sends twice; the outbox's dedupe keys, which name the due
time, guard the same.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Min, Q
from django.utils import timezone

from caredeck.accounts.roles import Role
from caredeck.core.audit import audit_record
from caredeck.ideas.models import Idea, IdeaStatus
from caredeck.notify.audience import staff_with_roles
from caredeck.notify.services import notify_users

# How many ideas one tick enqueues at most; the rest follow on the next tick.
IDEAS_PER_TICK = 500
# The PM worklist shows an in-development idea this long before its update falls due.
DEV_UPDATE_WORKLIST_HORIZON = datetime.timedelta(days=14)


def _pm_clock_running() -> Q:
    return Q(status=IdeaStatus.UNDER_PM_REVIEW, pm_answered_at__isnull=True)


def _dev_clock_running() -> Q:
    return Q(status=IdeaStatus.IN_DEVELOPMENT, dev_update_due_at__isnull=False)


def _due(now: datetime.datetime) -> Q:
    return (
        (_pm_clock_running() & (Q(pm_remind_at__lte=now) | Q(pm_escalate_at__lte=now)))
        | (_dev_clock_running() & Q(dev_update_due_at__lte=now))
    )


def enqueue_due() -> int:
    """Schedule entry: one task per idea with a reminder, an escalation or an
    in-development update due now. Returns how many it enqueued."""
    from caredeck.ideas.tasks import fire_idea_clocks

    ids = list(
        Idea.objects.filter(_due(timezone.now())).order_by("pk")
        .values_list("pk", flat=True)[:IDEAS_PER_TICK]
    )
    for idea_id in ids:
        fire_idea_clocks.enqueue(idea_id)
    return len(ids)


def next_due() -> datetime.datetime | None:
    """Schedule entry: the earliest stored instant of a running idea clock."""
    pm = Idea.objects.filter(_pm_clock_running()).aggregate(
        remind=Min("pm_remind_at"), escalate=Min("pm_escalate_at")
    )
    dev = Idea.objects.filter(_dev_clock_running()).aggregate(at=Min("dev_update_due_at"))
    times = [t for t in (*pm.values(), dev["at"]) if t is not None]
    return min(times) if times else None


# --- Who hears -------------------------------------------------------------------------


def product_managers_of(product) -> list:
    """Who answers for a product's ideas: its lead, or every product manager when the
    product has none (or its lead left)."""
    lead = product.lead if product.lead_id else None
    if lead is not None and lead.is_active:
        return [lead]
    return staff_with_roles(Role.PRODUCT_MANAGER)


def escalation_audience(product) -> list:
    """The product's lead and every product manager; with no lead, every product
    manager and the platform administrators, so a missed answer always reaches someone
    above the people who were reminded."""
    lead = product.lead if product.lead_id else None
    if lead is not None and lead.is_active:
        people = [lead, *staff_with_roles(Role.PRODUCT_MANAGER)]
    else:
        people = staff_with_roles(Role.PRODUCT_MANAGER, Role.PLATFORM_ADMIN)
    return list({person.pk: person for person in people}.values())


def _names(people) -> str:
    return ", ".join(p.name or p.email for p in people[:5]) + (
        f" and {len(people) - 5} more" if len(people) > 5 else ""
    )


# --- Firing (called by the task) -------------------------------------------------------


def fire(idea_id: int) -> dict[str, int]:
    """Send what is due now for one idea and clear (or advance) the instants it handled.
    Returns counts of reminders, escalations and in-development reminders sent."""
    from caredeck.ideas.services import idea_url

    now = timezone.now()
    sent = {"reminders": 0, "escalations": 0, "dev_reminders": 0}
    with transaction.atomic():
        idea = (
            Idea.objects.select_for_update(of=("self",)).select_related("product__lead")
            .filter(pk=idea_id).first()
        )
        if idea is None:
            return sent
        url = idea_url(idea)
        pm_running = idea.status == IdeaStatus.UNDER_PM_REVIEW and idea.pm_answered_at is None
        due = idea.pm_answer_due_at
        if pm_running and due and idea.pm_escalate_at and idea.pm_escalate_at <= now:
            # Past due: the escalation says it all, a late reminder would only confuse.
            idea.pm_escalate_at = idea.pm_remind_at = None
            idea.save(update_fields=["pm_escalate_at", "pm_remind_at"])
            people = escalation_audience(idea.product)
            headline = (f"{idea.number}: the public answer was due {due:%Y-%m-%d} and is "
                        "missing, escalated to the product's lead")
            notify_users(
                event="idea.pm_clock", users=people,
                dedupe_base=f"{idea.number}:pm-escalate:{due.isoformat()}",
                template="idea_pm_clock",
                context={"idea": idea, "headline": headline, "escalation": True}, url=url,
            )
            audit_record(actor=None, obj=idea, action="pm_answer_escalated",
                         changes={"pm_answer_due_at": [None, due.isoformat()],
                                  "told": [None, _names(people)]})
            sent["escalations"] += 1
        elif pm_running and due and idea.pm_remind_at and idea.pm_remind_at <= now:
            idea.pm_remind_at = None
            idea.save(update_fields=["pm_remind_at"])
            people = product_managers_of(idea.product)
            headline = f"{idea.number} needs your public answer by {due:%Y-%m-%d}"
            notify_users(
                event="idea.pm_clock", users=people,
                dedupe_base=f"{idea.number}:pm-remind:{due.isoformat()}",
                template="idea_pm_clock",
                context={"idea": idea, "headline": headline, "escalation": False}, url=url,
            )
            audit_record(actor=None, obj=idea, action="pm_answer_reminded",
                         changes={"pm_answer_due_at": [None, due.isoformat()],
                                  "told": [None, _names(people)]})
            sent["reminders"] += 1
        dev_due = idea.dev_update_due_at
        if idea.status == IdeaStatus.IN_DEVELOPMENT and dev_due and dev_due <= now:
            period = datetime.timedelta(days=settings.IDEAS_DEV_UPDATE_DAYS)
            following = dev_due + period
            # After a long scheduler outage only one reminder goes out; the cadence
            # keeps its rhythm from the last public update.
            while following <= now:
                following += period
            idea.dev_update_due_at = following
            idea.save(update_fields=["dev_update_due_at"])
            people = product_managers_of(idea.product)
            since = idea.last_public_update_at
            headline = (f"{idea.number} is in development and needs a public update"
                        + (f" (the last was {since:%Y-%m-%d})" if since else ""))
            notify_users(
                event="idea.pm_clock", users=people,
                dedupe_base=f"{idea.number}:dev-update:{dev_due.isoformat()}",
                template="idea_pm_clock",
                context={"idea": idea, "headline": headline, "escalation": False}, url=url,
            )
            audit_record(actor=None, obj=idea, action="dev_update_reminded",
                         changes={"dev_update_due_at": [dev_due.isoformat(),
                                                        following.isoformat()],
                                  "told": [None, _names(people)]})
            sent["dev_reminders"] += 1
    return sent


# --- The PM worklist -------------------------------------------------------------------


def pm_work_for(user) -> list[dict]:
    """What the ideas lab asks of `user` now, as worklist rows: ideas waiting on their
    public answer (soonest due first) and in-development ideas whose periodic update is
    due within two weeks or overdue. A user answers for the products they lead, and for
    products without a lead when they are a product manager."""
    from django.urls import reverse

    from caredeck.accounts.access import has_capability
    from caredeck.accounts.roles import Capability

    if not has_capability(user, Capability.MANAGE_IDEAS):
        return []
    mine = Q(product__lead=user)
    if Role.PRODUCT_MANAGER in user.roles:
        mine |= Q(product__lead__isnull=True) | Q(product__lead__is_active=False)
    ideas = Idea.objects.filter(mine).select_related("product")
    rows: list[dict] = []
    waiting = ideas.filter(_pm_clock_running(), pm_answer_due_at__isnull=False).order_by(
        "pm_answer_due_at", "pk")[:20]
    waiting = list(waiting)
    if waiting:
        from caredeck.ideas.reports import business_days_left, provider_calendar

        country, tz = provider_calendar()
        now = timezone.now()
    for idea in waiting:
        left = business_days_left(idea.pm_answer_due_at, now, country=country, tz=tz)
        rows.append({
            "title": f"{idea.number} {idea.title}: PM answer due",
            "detail": f"{idea.product.name} · {idea.votes} votes · " + (
                "answer overdue" if left is None
                else f"{left} business day{'s' if left != 1 else ''} left"),
            "url": reverse("idea-detail", args=[idea.number]),
            "due_at": idea.pm_answer_due_at,
        })
    horizon = timezone.now() + DEV_UPDATE_WORKLIST_HORIZON
    updates = ideas.filter(_dev_clock_running(), dev_update_due_at__lte=horizon).order_by(
        "dev_update_due_at", "pk")[:20]
    for idea in updates:
        since = idea.last_public_update_at
        rows.append({
            "title": f"{idea.number} {idea.title}: development update due",
            "detail": f"{idea.product.name} · in development"
            + (f" · last update {since:%Y-%m-%d}" if since else ""),
            "url": reverse("idea-detail", args=[idea.number]),
            "due_at": idea.dev_update_due_at,
        })
    return rows
