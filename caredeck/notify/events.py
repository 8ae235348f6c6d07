"""Event types people can be notified of: one table, with each one's default channels
and whether it is mandatory. A mandatory notice cannot be switched off, only re-routed
to other channels (the person keeps at least one).

Apps emit these through `notify.services.notify_users` / `notify_webhooks`. Later apps add
their rows here (incident notices, case updates, idea answers, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

from caredeck.notify.models import Channel


@dataclass(frozen=True)
class EventType:
    slug: str
    label: str
    description: str
    default_channels: tuple[str, ...]
    mandatory: bool = False
    # Channels a person may choose for it (webhooks belong to organizations, not people).
    channels: tuple[str, ...] = (Channel.EMAIL, Channel.IN_APP)
    # Only provider staff receive it (customers neither see nor choose it).
    staff_only: bool = False


EVENT_TYPES: dict[str, EventType] = {
    e.slug: e
    for e in [
        EventType(
            "access.requested", "Access requests",
            "Someone from a prospective customer or partner asks for access.",
            (Channel.EMAIL, Channel.IN_APP), staff_only=True,
        ),
        EventType(
            "outbox.dead", "Undeliverable notifications",
            "A notification could not be delivered for a day and was given up.",
            (Channel.EMAIL, Channel.IN_APP), mandatory=True, staff_only=True,
        ),
        EventType(
            "incident.notice", "Outage notices",
            "First notice and status updates of an incident that affects your organization.",
            (Channel.EMAIL, Channel.IN_APP), mandatory=True,
        ),
        EventType(
            "maintenance.notice", "Maintenance notices",
            "Planned maintenance announced ahead, with start and end notices.",
            (Channel.EMAIL, Channel.IN_APP), mandatory=True,
        ),
        EventType(
            "incident.report", "Incident reports and root-cause analyses",
            "The incident report and the root-cause analysis of an incident that affected "
            "your organization.",
            (Channel.EMAIL, Channel.IN_APP), mandatory=True,
        ),
        EventType(
            "incident.team", "Incident team notices",
            "You are on an incident's team: declared, scope changed, resolved; reminders "
            "before a customer notice is due and escalations when one is missed.",
            (Channel.EMAIL, Channel.IN_APP), mandatory=True, staff_only=True,
        ),
        EventType(
            "maintenance.team", "Maintenance owner alerts",
            "A maintenance window you own started, ended or runs past its end.",
            (Channel.EMAIL, Channel.IN_APP), mandatory=True, staff_only=True,
        ),
        EventType(
            "problem.team", "Problem records",
            "Action items assigned to you and root-cause analyses falling due.",
            (Channel.EMAIL, Channel.IN_APP), staff_only=True,
        ),
        EventType(
            "idea.status", "Ideas you voted for or follow",
            "An idea you voted for or follow changes status or gets a product manager's "
            "update.", (Channel.EMAIL, Channel.IN_APP),
        ),
        EventType(
            "idea.comment", "Comments on ideas you follow",
            "Someone comments on an idea you follow.", (Channel.IN_APP,),
        ),
        EventType(
            "idea.moderation", "Moderation of your comments",
            "A moderator hid one of your comments, with the reason.",
            (Channel.EMAIL, Channel.IN_APP), mandatory=True,
        ),
        EventType(
            "idea.pm_clock", "Ideas waiting on a PM answer",
            "An idea reached its vote threshold: your public answer is due, reminders and "
            "escalations when it is late.", (Channel.EMAIL, Channel.IN_APP), staff_only=True,
        ),
        EventType(
            "case.update", "Your support cases",
            "Each step of a case you opened or that was opened for you: information we "
            "need, solutions to review, replies, escalations, closure.",
            (Channel.EMAIL, Channel.IN_APP), mandatory=True,
        ),
        EventType(
            "case.work", "Cases you own or help on",
            "A case routed or handed over to you, the customer's answers, confirmations "
            "and rejections, and SLA warnings before a breach.",
            (Channel.EMAIL, Channel.IN_APP), mandatory=True, staff_only=True,
        ),
        EventType(
            "case.sla", "Case SLA breaches",
            "A case of a group you manage missed its first-response or resolution target.",
            (Channel.EMAIL, Channel.IN_APP), mandatory=True, staff_only=True,
        ),
        EventType(
            "case.escalation", "Case escalations",
            "A customer escalated a case: acknowledge it with next steps and a "
            "communication plan; reminders when the acknowledgement is late.",
            (Channel.EMAIL, Channel.IN_APP), mandatory=True, staff_only=True,
        ),
        EventType(
            "monitoring.agent", "Probe agents",
            "A remote probe agent stopped reporting (its checks do not count meanwhile).",
            (Channel.EMAIL, Channel.IN_APP), staff_only=True,
        ),
        EventType(
            "webhook.test", "Webhook test", "A test message sent from the webhook settings.",
            (), channels=(),
        ),
    ]
}

# Sent to one address for one purpose (an invitation, a reset link): never optional,
# never re-routed, and not listed in anyone's subscriptions.
TRANSACTIONAL_EVENTS = {"user.invited", "user.password_reset", "access.declined"}


def event_type(slug: str) -> EventType:
    try:
        return EVENT_TYPES[slug]
    except KeyError as exc:
        raise LookupError(f"Unknown event type {slug!r}; add it to notify/events.py") from exc
