"""Keeping the monitoring data: hourly and daily roll-ups, expiry of raw results after
`MONITORING_RAW_DAYS`, and the silence of remote probe agents.

An agent that has not reported for `MONITORING_AGENT_SILENCE_SECONDS` is flagged once
(staff hear) and its location stops voting, so its silence is never read as the tenants
being down; it votes again from its next report.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Q, Sum
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from caredeck.accounts.roles import Role
from caredeck.core.audit import audit_record
from caredeck.monitoring.models import Check, CheckResult, ProbeLocation, Rollup
from caredeck.notify.audience import staff_with_roles
from caredeck.notify.services import notify_users


def rollup(now: datetime.datetime | None = None) -> int:
    """Recompute the hour and day buckets touched in the last two days (idempotent:
    re-running gives the same rows). Returns the number of buckets written."""
    now = now or timezone.now()
    since = (now - datetime.timedelta(days=2)).replace(hour=0, minute=0, second=0,
                                                       microsecond=0)
    written = 0
    for period, trunc in ((Rollup.Period.HOUR, TruncHour), (Rollup.Period.DAY, TruncDay)):
        rows = (
            CheckResult.objects.filter(started_at__gte=since, in_maintenance=False)
            .annotate(bucket=trunc("started_at"))
            .values("synthetic_check_id", "location_id", "bucket")
            .annotate(runs=Count("pk"), failures=Count("pk", filter=Q(ok=False)),
                      total_ms=Sum("duration_ms"), max_ms=Max("duration_ms"))
        )
        with transaction.atomic():
            for row in rows:
                Rollup.objects.update_or_create(
                    synthetic_check_id=row["synthetic_check_id"],
                    location_id=row["location_id"], period=period, bucket=row["bucket"],
                    defaults={"runs": row["runs"], "failures": row["failures"],
                              "total_ms": row["total_ms"] or 0, "max_ms": row["max_ms"] or 0},
                )
                written += 1
    return written


def prune(now: datetime.datetime | None = None) -> int:
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(days=settings.MONITORING_RAW_DAYS)
    deleted, _ = CheckResult.objects.filter(started_at__lt=cutoff).delete()
    return deleted


def rollup_and_prune() -> int:
    """Schedule entry (hourly)."""
    return rollup() + prune()


def agents_silence(now: datetime.datetime | None = None) -> int:
    """Schedule entry: flag agents gone silent, once. Returns how many were flagged."""
    from caredeck.monitoring import evaluation

    now = now or timezone.now()
    limit = now - datetime.timedelta(seconds=settings.MONITORING_AGENT_SILENCE_SECONDS)
    flagged = 0
    silent = ProbeLocation.objects.filter(
        mode=ProbeLocation.Mode.AGENT, is_active=True, silent_since__isnull=True,
    ).filter(
        Q(last_seen_at__lt=limit)
        | Q(last_seen_at__isnull=True, created_at__lt=limit, checks__isnull=False)
    )
    for location in silent.distinct():
        with transaction.atomic():
            location = ProbeLocation.objects.select_for_update().get(pk=location.pk)
            if location.silent_since is not None:
                continue
            location.silent_since = now
            location.save(update_fields=["silent_since"])
            audit_record(actor=None, obj=location, action="agent_silent", changes={
                "last_seen_at": [None, location.last_seen_at.isoformat()
                                 if location.last_seen_at else None]})
            seen = (f"{location.last_seen_at:%Y-%m-%d %H:%M} UTC" if location.last_seen_at
                    else "never")
            notify_users(
                event="monitoring.agent", users=staff_with_roles(Role.ENGINEER,
                                                                 Role.PLATFORM_ADMIN),
                dedupe_base=f"agent-silent:{location.slug}:{now.isoformat()}",
                template="monitoring_agent",
                context={"location": location, "seen": seen},
            )
            # Its votes no longer count: re-settle the checks it runs.
            for check in Check.objects.select_for_update().filter(assignments__location=location):
                evaluation.settle(check, now=now)
        flagged += 1
    return flagged


def agent_seen(location: ProbeLocation, now: datetime.datetime | None = None) -> None:
    """An agent reported: note it, and end a silence."""
    now = now or timezone.now()
    fields = {"last_seen_at": now}
    if location.silent_since is not None:
        fields["silent_since"] = None
        audit_record(actor=None, obj=location, action="agent_back",
                     changes={"silent_since": [location.silent_since.isoformat(), None]})
    ended = "silent_since" in fields
    with transaction.atomic():
        ProbeLocation.objects.filter(pk=location.pk).update(**fields)
        for name, value in fields.items():
            setattr(location, name, value)
        if ended:
            # It votes again: re-settle its checks (its stored verdicts count from now,
            # not only once one of them changes).
            from caredeck.monitoring import evaluation

            for check in (Check.objects.select_for_update()
                          .filter(assignments__location=location)):
                evaluation.settle(check, now=now)
