"""Demo incidents: one running now (its clocks tick on the home worklist and the incident
page) and two from the past weeks (for status history, the promise and SLA reports).

Past incidents are run through the real services and then moved back in time as a
whole, so every notice, update and timeline entry keeps its real spacing.
"""

from __future__ import annotations

import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from caredeck.incidents import services
from caredeck.incidents.models import (
    AffectedTenant,
    Incident,
    IncidentUpdate,
    Notice,
    TimelineEvent,
)


def _shift(incident: Incident, delta: datetime.timedelta) -> None:
    """Move a whole incident back in time by `delta`."""
    Incident.objects.filter(pk=incident.pk).update(
        detected_at=F("detected_at") - delta, declared_at=F("declared_at") - delta,
        created_at=F("created_at") - delta, updated_at=F("updated_at") - delta,
    )
    for field in ("resolved_at", "closed_at", "report_due_at", "report_published_at"):
        Incident.objects.filter(pk=incident.pk, **{f"{field}__isnull": False}).update(
            **{field: F(field) - delta}
        )
    for field in ("added_at", "due_at", "remind_at", "escalate_at", "first_notice_at",
                  "last_notice_at", "removed_at"):
        AffectedTenant.objects.filter(incident=incident, **{f"{field}__isnull": False}).update(
            **{field: F(field) - delta}
        )
    Notice.objects.filter(incident=incident).update(sent_at=F("sent_at") - delta)
    Notice.objects.filter(incident=incident, due_at__isnull=False).update(
        due_at=F("due_at") - delta
    )
    IncidentUpdate.objects.filter(incident=incident).update(created_at=F("created_at") - delta)
    TimelineEvent.objects.filter(incident=incident).update(at=F("at") - delta)


def load_demo_incidents(manager) -> None:
    if Incident.objects.exists():
        return
    with transaction.atomic():
        # Each step, then the whole incident so far moved back: 25 min from detection to
        # the update, 23 more to the resolution.
        past = services.incident_declare(
            actor=manager, title="Calls to agents fail in the London PoP", severity="SEV2",
            failure={"target": "pop-london"},
            first_notice="Calls reaching agents through our London point of presence fail "
            "to connect. Engineers are re-routing traffic.",
        )
        _shift(past, datetime.timedelta(minutes=25))
        services.incident_update_post(
            actor=manager, incident=past, status="identified",
            body="A carrier cross-connect in London failed; traffic moves to Frankfurt.",
        )
        _shift(past, datetime.timedelta(minutes=23))
        services.incident_resolve(actor=manager, incident=past,
                                  body="All calls flow through Frankfurt; London is repaired.")
        services.incident_findings_set(
            actor=manager, incident=past,
            customer_impact="Inbound calls for agents in the UK failed for 48 minutes.",
            technical_description="Cross-connect XC-114 lost light; BGP withdrew too late.",
            report="On the 48-minute outage of calls through London: a carrier "
            "cross-connect failed and our failover waited for BGP. We now fail over on "
            "loss of light within 30 seconds.",
        )
        services.incident_report_publish(actor=manager, incident=past)
        services.incident_close(actor=manager, incident=past)
        _shift(past, datetime.timedelta(days=18, hours=3))

        minor = services.incident_declare(
            actor=manager, title="Historical reports delayed in us-west", severity="SEV3",
            failure={"target": "us-west-b"},
        )
        _shift(minor, datetime.timedelta(hours=2, minutes=10))
        services.incident_resolve(actor=manager, incident=minor,
                                  body="Reports have caught up; nothing was lost.")
        _shift(minor, datetime.timedelta(days=6, hours=5))

        now = timezone.now()
        services.incident_declare(
            actor=manager, title="Agent log-in slow in us-east", severity="SEV2",
            detected_at=now - datetime.timedelta(minutes=4),
            failure={"target": "us-east-a"},
            first_notice="Agents in us-east may wait up to a minute to log in. Calls in "
            "progress are not affected.",
        )
