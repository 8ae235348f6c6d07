"""Demo maintenance: one window coming up in three days, announced like any other, and
one completed two weeks ago, so status pages and availability reports have history.

Idempotent (by title): loading the demo twice schedules nothing the second time.
"""

from __future__ import annotations

import datetime

from django.utils import timezone

from caredeck.maintenance.models import Maintenance
from caredeck.maintenance.services import maintenance_record_past, maintenance_schedule

UPCOMING_TITLE = "Network maintenance in US West, zone A"
PAST_TITLE = "Router upgrade at the Ashburn PoP"


def load_demo_maintenance(provider_staff_user) -> list[Maintenance]:
    """Schedule the demo's windows as `provider_staff_user` (who must be allowed to run
    maintenance, e.g. the platform administrator). Returns the two windows."""
    today = timezone.now().astimezone(datetime.UTC).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    upcoming = Maintenance.objects.filter(title=UPCOMING_TITLE).first()
    if upcoming is None:
        starts = today + datetime.timedelta(days=3, hours=6)
        upcoming = maintenance_schedule(
            actor=provider_staff_user,
            title=UPCOMING_TITLE,
            impact="Switch firmware upgrade in one availability zone. Calls continue; "
            "administrators on a back-end server in that zone log in again, and reports "
            "may be delayed by up to an hour.",
            starts_at=starts,
            ends_at=starts + datetime.timedelta(hours=2),
            failure={"target": "us-west-a"},
            auto_complete=True,
        )
    past = Maintenance.objects.filter(title=PAST_TITLE).first()
    if past is None:
        starts = today - datetime.timedelta(days=14) + datetime.timedelta(hours=5)
        past = maintenance_record_past(
            actor=provider_staff_user,
            title=PAST_TITLE,
            impact="Edge router replacement at the Ashburn PoP; traffic moved to the "
            "partner PoP for the duration.",
            starts_at=starts,
            ends_at=starts + datetime.timedelta(minutes=90),
            failure={"target": "pop-ashburn"},
        )
    return [upcoming, past]
