"""The schedule: every periodic job and every source of stored due times, in one table.

`caredeck manage schedule list` prints it with each entry's next due time. The scheduler
loop (core/scheduler.py) walks it on every tick; each entry only enqueues tasks. Later
apps add their clocks here (incident notices, case SLAs, idea PM answers, checks, ...).
"""

from datetime import timedelta

from caredeck.core.scheduler import ScheduleEntry

SCHEDULE: list[ScheduleEntry] = [
    ScheduleEntry(
        name="outbox-delivery",
        description="Deliver outbox messages whose next attempt is due (first tries, "
        "retries with back-off, and messages a dead worker left in 'sending').",
        run="caredeck.notify.services.outbox_enqueue_due",
        next_due="caredeck.notify.services.outbox_next_due",
    ),
    ScheduleEntry(
        name="incident-clocks",
        description="Remind the incident manager before a customer notice is due and "
        "escalate to the care managers when one is missed.",
        run="caredeck.incidents.clocks.enqueue_due",
        next_due="caredeck.incidents.clocks.next_due",
    ),
    ScheduleEntry(
        name="maintenance-clocks",
        description="Maintenance windows: reminders 72 h, 24 h and 1 h before, the start, "
        "and the end (or the overrun alert) at their stored times.",
        run="caredeck.maintenance.clocks.enqueue_due",
        next_due="caredeck.maintenance.clocks.next_due",
    ),
    ScheduleEntry(
        name="problem-reminders",
        description="Problem management: remind the owner one business day before a "
        "root-cause analysis is due, and action-item owners on the due date.",
        run="caredeck.problems.clocks.reminders_enqueue_due",
        next_due="caredeck.problems.clocks.reminders_next_due",
    ),
    ScheduleEntry(
        name="idea-clocks",
        description="Ideas lab: remind the product's lead 5 business days before a PM's "
        "public answer is due, escalate when it is missed, and remind the PMs when an idea "
        "in development has had no public update for 60 days.",
        run="caredeck.ideas.clocks.enqueue_due",
        next_due="caredeck.ideas.clocks.next_due",
    ),
    ScheduleEntry(
        name="case-clocks",
        description="Customer Care: SLA warnings to the owner and breaches to the care "
        "manager, reminders to customers a case waits on and the auto-close after 7 days, "
        "and escalations not acknowledged in time.",
        run="caredeck.cases.clocks.enqueue_due",
        next_due="caredeck.cases.clocks.next_due",
    ),
    ScheduleEntry(
        name="monitoring-alerts",
        description="Synthetic monitoring: confirmed failures whose correlation window "
        "ended become incidents (one per failed region or PoP, else per tenant).",
        run="caredeck.monitoring.alerts.enqueue_due",
        next_due="caredeck.monitoring.alerts.next_due",
    ),
    ScheduleEntry(
        name="monitoring-agents",
        description="Flag remote probe agents that stopped reporting (once each).",
        run="caredeck.monitoring.housekeeping.agents_silence",
        every=timedelta(minutes=1),
    ),
    ScheduleEntry(
        name="monitoring-rollups",
        description="Roll check results up per hour and day; delete raw results after "
        "14 days.",
        run="caredeck.monitoring.housekeeping.rollup_and_prune",
        every=timedelta(hours=1),
    ),
    ScheduleEntry(
        name="task-results-prune",
        description="Delete finished task results older than 7 days (database backend).",
        run="caredeck.core.maintenance.task_results_prune",
        every=timedelta(hours=6),
    ),
]
