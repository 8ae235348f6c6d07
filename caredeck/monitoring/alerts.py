"""Confirmed failures into incidents, with correlation over the topology.

A check that goes down waits `MONITORING_CORRELATION_SECONDS` (its `alert_due_at`) for
its neighbours. When alerts fall due, the failing checks are grouped:

- **Region**: tenants homed in one region (primary region of their deployment) with a
  check down, at least `MONITORING_CORRELATION_MIN_TENANTS` of them → the region's
  failure is proposed, with the impact analysis of topology, and one incident scoped by
  that failure is opened (or the open one for that element joined).
- **PoP**: the probe location at one PoP says down for checks of several tenants while
  their other locations do not → that PoP's failure, likewise.
- Anything else: an incident for the tenant and the check's functional area, or the
  open incident that already has the tenant in scope.

The incident's detection time is the first failed run, so its first-notice clock runs
from the failure, not from the alert. Recovery of every linked check writes a suggested
resolution update on the incident's staff timeline.
"""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from caredeck.accounts.roles import Role
from caredeck.incidents import services as incident_services
from caredeck.incidents.models import OPEN_STATUSES, IncidentSource
from caredeck.monitoring.models import (
    Check,
    CheckAssignment,
    CheckState,
    FailureProposal,
)
from caredeck.notify.audience import staff_with_roles
from caredeck.topology.impact import impact_of
from caredeck.topology.models import Deployment

log = logging.getLogger(__name__)


def _on_call_manager():
    email = getattr(settings, "MONITORING_INCIDENT_MANAGER", "")
    people = staff_with_roles(Role.INCIDENT_MANAGER)
    for person in people:
        if email and person.email == email:
            return person
    return people[0] if people else None


def enqueue_due() -> int:
    """Schedule entry: alerts whose correlation window ended (one task for the batch,
    so the grouping sees them together)."""
    from caredeck.monitoring.tasks import fire_alerts

    now = timezone.now()
    _rearm_after_maintenance(now)
    due = Check.objects.filter(alert_due_at__lte=now, state=CheckState.DOWN)
    if due.exists():
        fire_alerts.enqueue()
        return 1
    return 0


def _rearm_after_maintenance(now) -> int:
    """A check that went down inside a maintenance window did not alert; if it is still
    down once no window covers it, it alerts now (its detection time stays the first
    failed run)."""
    from caredeck.monitoring.evaluation import in_maintenance

    quiet = Check.objects.select_related("area").filter(
        state=CheckState.DOWN, incident__isnull=True, alert_due_at__isnull=True,
        is_active=True)
    rearmed = [check.pk for check in quiet if not in_maintenance(check, now)]
    if rearmed:
        Check.objects.filter(pk__in=rearmed).update(alert_due_at=now)
    return len(rearmed)


def next_due():
    return Check.objects.filter(state=CheckState.DOWN).aggregate(at=Min("alert_due_at"))["at"]


def fire(now: datetime.datetime | None = None) -> list[int]:
    """Turn the due alerts into incidents. Returns the ids of incidents opened or joined."""
    now = now or timezone.now()
    touched: list[int] = []
    with transaction.atomic():
        due = list(
            Check.objects.select_for_update(of=("self",))
            .select_related("organization", "area", "incident")
            .filter(alert_due_at__lte=now, state=CheckState.DOWN)
        )
        if not due:
            return []
        for check in due:
            check.alert_due_at = None
            # A check still linked to an incident that is no longer open (it recovered
            # and the incident was resolved) is a new failure: it alerts again.
            if check.incident_id and check.incident.status not in OPEN_STATUSES:
                check.incident = None
        Check.objects.bulk_update(due, ["alert_due_at", "incident"])
        pending = [c for c in due if c.incident_id is None]
        for group_target, checks in _correlate(pending, now):
            touched.append(_open_for_element(group_target, checks, now))
        explained = {c.pk for c in pending if c.incident_id}
        alone = [c for c in pending if c.pk not in explained and c.incident_id is None]
        waiting = _neighbours_failing(alone, now)
        for check in alone:
            if check.pk in waiting:
                continue
            incident_id = _open_for_tenant(check, now)
            if incident_id:
                touched.append(incident_id)
    return [i for i in touched if i]


def _neighbours_failing(checks: list[Check], now) -> set[int]:
    """The checks whose alert waits one more window: other tenants homed in the same
    region have runs failing that are not confirmed yet (checks start at different
    seconds of their interval, so a region's failure reaches them one by one). A check
    waits at most one interval after it was confirmed down, then alerts alone."""
    if not checks:
        return set()
    homes = dict(Deployment.objects.filter(
        organization_id__in={c.organization_id for c in checks}
    ).values_list("organization_id", "primary_region_id"))
    failing_regions = set(
        CheckAssignment.objects.filter(
            consecutive_failures__gte=1, synthetic_check__is_active=True,
            synthetic_check__organization__deployment__primary_region_id__in=set(
                homes.values()),
        ).exclude(synthetic_check__state=CheckState.DOWN)
        .values_list("synthetic_check__organization_id",
                     "synthetic_check__organization__deployment__primary_region_id")
    )
    window = datetime.timedelta(seconds=settings.MONITORING_CORRELATION_SECONDS)
    waiting = set()
    for check in checks:
        region = homes.get(check.organization_id)
        others = {org for org, home in failing_regions
                  if home == region and org != check.organization_id}
        patience = datetime.timedelta(seconds=max(check.interval, 60))
        if region and others and now - check.state_since < patience:
            check.alert_due_at = now + window
            waiting.add(check.pk)
    Check.objects.bulk_update([c for c in checks if c.pk in waiting], ["alert_due_at"])
    return waiting


def _correlate(pending: list[Check], now: datetime.datetime | None = None
               ) -> list[tuple[str, list[Check]]]:
    """(element id, its failing checks) for regions and PoPs failing several tenants."""
    from caredeck.monitoring import evaluation

    minimum = settings.MONITORING_CORRELATION_MIN_TENANTS
    if not pending:
        return []
    now = now or timezone.now()
    # Every check down now (not only the due ones): neighbours that alerted earlier
    # belong to the same element failure; not those a maintenance window covers (their
    # alerts are suppressed, so they must not make an element failure either).
    pending_pks = {c.pk for c in pending}
    down = list(Check.objects.select_related("organization", "area")
                .filter(state=CheckState.DOWN, is_active=True).exclude(pk__in=pending_pks))
    windows = evaluation.maintenance_rows({c.organization_id for c in down}, now)
    down = [c for c in down if not evaluation.covered(
        windows.get(c.organization_id, []), c.area.slug, now)]
    by_pk = {c.pk: c for c in [*down, *pending]}
    homes = dict(Deployment.objects.filter(
        organization_id__in={c.organization_id for c in by_pk.values()}
    ).values_list("organization_id", "primary_region__slug"))
    groups: list[tuple[str, list[Check]]] = []
    by_region: dict[str, list[Check]] = defaultdict(list)
    for check in by_pk.values():
        region = homes.get(check.organization_id)
        if region:
            by_region[region].append(check)
    used: set[int] = set()
    for region, checks in sorted(by_region.items(), key=lambda kv: -len(kv[1])):
        tenants = {c.organization_id for c in checks}
        if len(tenants) >= minimum and any(c.pk in {p.pk for p in pending} for c in checks):
            groups.append((region, checks))
            used |= {c.pk for c in checks}
    # PoPs: the location at one PoP down for several tenants' checks while their other
    # locations are not (a check down from every location is not a PoP's failure).
    by_pop: dict[str, list[Check]] = defaultdict(list)
    rows = CheckAssignment.objects.filter(
        location__is_active=True, location__silent_since__isnull=True,
        synthetic_check__in=[c for c in pending if c.pk not in used],
    ).values_list("synthetic_check_id", "location__pop__slug", "state")
    votes: dict[int, list[tuple]] = defaultdict(list)
    for check_id, pop, state in rows:
        votes[check_id].append((pop, state))
    for check_id, located in votes.items():
        down_pops = {pop for pop, state in located if state == CheckState.DOWN}
        others_down = any(state == CheckState.DOWN and pop is None for pop, state in located)
        elsewhere = [state for pop, state in located if pop not in down_pops]
        if (len(down_pops) == 1 and None not in down_pops and not others_down
                and elsewhere and CheckState.DOWN not in elsewhere):
            by_pop[next(iter(down_pops))].append(by_pk[check_id])
    for pop, checks in sorted(by_pop.items(), key=lambda kv: -len(kv[1])):
        fresh = [c for c in checks if c.pk not in used]
        if len({c.organization_id for c in fresh}) >= minimum:
            groups.append((pop, fresh))
            used |= {c.pk for c in fresh}
    return groups


def _link(checks: list[Check], incident_id: int) -> None:
    for check in checks:
        check.incident_id = incident_id
    Check.objects.filter(pk__in=[c.pk for c in checks]).update(incident_id=incident_id)


def _open_for_element(target: str, checks: list[Check], now) -> int | None:
    detected = min((c.failing_since or now) for c in checks)
    try:
        impact = impact_of(target=target)
    except ValidationError:
        impact = {"tenants": [], "summary": {}}
    proposal = FailureProposal.objects.create(
        target=target, failure_type=impact.get("failure") or "", detected_at=detected,
        tenants=sorted({c.organization.slug for c in checks}),
        impact={"summary": impact.get("summary", {}),
                "tenants": [t["organization"] for t in impact.get("tenants", [])]},
    )
    proposal.checks.set(checks)
    existing = incident_services.Incident.objects.filter(
        failure_target=target, status__in=OPEN_STATUSES,
    ).order_by("pk").first()
    if existing is not None:
        incident_services.incident_monitor_note(
            incident=existing,
            text=f"Synthetic checks of {len(proposal.tenants)} tenant(s) confirm the "
                 f"failure of {target}: {', '.join(proposal.tenants)}.")
        incident_id = existing.pk
    else:
        incident_id = _declare(
            title=f"Synthetic checks failing through {target}", severity="SEV1",
            detected_at=detected, failure={"target": target},
        )
    proposal.incident_id = incident_id
    proposal.save(update_fields=["incident"])
    if incident_id:
        _link(checks, incident_id)
    return incident_id


def _open_for_tenant(check: Check, now) -> int | None:
    existing = incident_services.Incident.objects.filter(
        status__in=OPEN_STATUSES, affected__organization_id=check.organization_id,
        affected__removed_at__isnull=True,
    ).order_by("pk").first()
    if existing is not None:
        incident_services.incident_monitor_note(
            incident=existing, text=f"Synthetic check “{check.name}” of "
            f"{check.organization.name} is down since {check.failing_since:%H:%M:%S} UTC.")
        _link([check], existing.pk)
        return existing.pk
    incident_id = _declare(
        title=f"{check.organization.name}: {check.area.name} check failing ({check.name})",
        severity="SEV3", detected_at=check.failing_since or now,
        organizations=[check.organization.slug], areas=[check.area.slug],
    )
    if incident_id:
        _link([check], incident_id)
    return incident_id


def _declare(*, title, severity, detected_at, failure=None, organizations=None, areas=None):
    manager = _on_call_manager()
    if manager is None:
        log.error("No incident manager to run a monitoring incident: %s", title)
        return None
    try:
        incident = incident_services.incident_declare(
            actor=None, manager=manager, title=title[:200], severity=severity,
            detected_at=detected_at, failure=failure, organizations=organizations,
            areas=areas, source=IncidentSource.MONITOR,
        )
    except ValidationError as error:
        log.error("Monitoring could not declare %r: %s", title, error.message_dict)
        return None
    return incident.pk


def recovered(check: Check, now) -> None:
    """A linked check is up again; when all the incident's checks are, suggest the
    resolution update (a person posts it: recovery of a probe is not a root cause)."""
    incident = check.incident
    if incident is None or incident.status not in OPEN_STATUSES:
        return
    still_down = incident.checks.filter(state=CheckState.DOWN).exclude(pk=check.pk).count()
    if still_down:
        return
    incident_services.incident_monitor_note(
        incident=incident,
        text=f"All synthetic checks of this incident pass again since {now:%H:%M:%S} UTC. "
             "Suggested resolution update: “Service is restored; we keep monitoring and "
             "will publish the incident report.”",
    )
