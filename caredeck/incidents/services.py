"""Running an incident: declare, scope, update, resolve, report, close.

The promises (seed digest §8) are clocks per affected tenant, stored on AffectedTenant:
first notice due = detection (or the moment a tenant joins the scope) + the contract's
notice minutes; next update due = last notice + the contract's cadence. Each public
update is a notice to every current tenant and restarts its cadence. The scheduler
(incidents/clocks.py) reminds the incident manager before a due time and escalates to
the care managers when one passes.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from caredeck.accounts.access import has_capability
from caredeck.accounts.models import Organization, User
from caredeck.accounts.roles import Capability, OrganizationKind, Role
from caredeck.core.audit import audit_record, changes_between, snapshot
from caredeck.core.calendar import contract_business_days
from caredeck.core.exceptions import Conflict
from caredeck.core.uploads import checked_upload_name
from caredeck.core.validation import clean_text
from caredeck.incidents.models import (
    OPEN_STATUSES,
    UPDATE_STATUSES,
    AffectedTenant,
    ClockKind,
    EventKind,
    Incident,
    IncidentSource,
    IncidentStatus,
    IncidentUpdate,
    NoticeKind,
    Severity,
    TeamMember,
    TeamRole,
    TimelineEvent,
)
from caredeck.incidents.notices import incident_url, notify_affected
from caredeck.notify.services import notify_users
from caredeck.topology.scope import Scope, scope_resolve

S = IncidentStatus

# Which status may follow which. A resolved incident may be reopened by an update that
# sets an open status; a closed one is final.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.INVESTIGATING: frozenset({S.IDENTIFIED, S.MONITORING, S.RESOLVED}),
    S.IDENTIFIED: frozenset({S.INVESTIGATING, S.MONITORING, S.RESOLVED}),
    S.MONITORING: frozenset({S.INVESTIGATING, S.IDENTIFIED, S.RESOLVED}),
    S.RESOLVED: frozenset({S.INVESTIGATING, S.IDENTIFIED, S.MONITORING, S.CLOSED}),
    S.CLOSED: frozenset(),
}

INCIDENT_FIELDS = (
    "title", "severity", "status", "detected_at", "resolved_at", "closed_at", "manager",
    "failure_target", "failure_type", "security_involved", "executive_involved",
)
FINDINGS_FIELDS = ("customer_impact", "customer_experience", "technical_description", "report")

DEFAULT_NOTICE_MINUTES = 15
DEFAULT_UPDATE_MINUTES = 30


def reminder_lead() -> datetime.timedelta:
    """How long before a notice is due the incident manager is reminded (default 5 min)."""
    return datetime.timedelta(minutes=getattr(settings, "INCIDENT_REMINDER_MINUTES", 5))


def _require(actor) -> None:
    if not has_capability(actor, Capability.MANAGE_INCIDENTS):
        raise PermissionDenied("Your roles do not allow this (declare and run incidents).")


def _minutes(organization: Organization, name: str, default: int) -> datetime.timedelta:
    contract = getattr(organization, "contract", None)
    return datetime.timedelta(minutes=getattr(contract, name, None) or default)


def _set_clock(row: AffectedTenant, kind: str | None, due_at: datetime.datetime | None) -> None:
    row.due_kind = kind or ""
    row.due_at = due_at
    row.remind_at = due_at - reminder_lead() if due_at else None
    row.escalate_at = due_at


def _timeline(incident, kind, text, *, actor=None, public=False, organization=None, **extra):
    return TimelineEvent.objects.create(
        incident=incident, kind=kind, text=text, actor=actor, public=public,
        organization=organization, **extra,
    )


def _clean_detected_at(value, now) -> datetime.datetime:
    if value in (None, ""):
        return now
    if isinstance(value, str):
        from django.utils.dateparse import parse_datetime

        try:
            parsed = parse_datetime(value)
        except ValueError:
            parsed = None
        if parsed is None:
            raise ValidationError(
                {"detected_at": ["Give a date and time, e.g. 2026-11-26T10:05Z."]}
            )
        value = parsed
    if not isinstance(value, datetime.datetime):
        raise ValidationError({"detected_at": ["Give a date and time."]})
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    if value > now + datetime.timedelta(minutes=1):
        raise ValidationError({"detected_at": ["Detection cannot be in the future."]})
    if value < now - datetime.timedelta(days=7):
        raise ValidationError({"detected_at": ["Detection more than 7 days ago: declare it "
                                               "as a new incident with today's time."]})
    return value


def _manager_for(actor, manager) -> User:
    if manager is None:
        if actor is not None and has_capability(actor, Capability.MANAGE_INCIDENTS):
            return actor
        raise ValidationError({"manager": ["Name the incident manager."]})
    if not isinstance(manager, User):
        manager = User.objects.filter(pk=manager).first() if str(manager).isdigit() else None
    if (
        manager is None
        or not manager.is_active
        or manager.organization.kind != OrganizationKind.PROVIDER
        or not has_capability(manager, Capability.MANAGE_INCIDENTS)
    ):
        raise ValidationError(
            {"manager": ["The manager must be provider staff who run incidents."]}
        )
    return manager


def _default_first_notice(incident: Incident) -> str:
    return (
        f"We are investigating an issue ({incident.get_severity_display()}) detected at "
        f"{incident.detected_at:%H:%M} UTC. Your services affected are listed below. "
        "We will send the next update within your agreed update interval."
    )


# --- Declaring and scoping -------------------------------------------------------------


def incident_declare(
    *,
    actor,
    title: str,
    severity: str,
    detected_at=None,
    failure: dict | None = None,
    organizations: list[str] | None = None,
    areas: list[str] | None = None,
    manager=None,
    security_involved: bool = False,
    executive_involved: bool = False,
    first_notice: str = "",
    notify: bool = True,
    source: str = IncidentSource.MANUAL,
) -> Incident:
    """Declare an incident. Its scope (a failed element, or tenants and areas) is
    resolved now; with `notify` every affected tenant gets its first notice at once,
    each with its own impact text. Raises ValidationError per field."""
    if source == IncidentSource.MANUAL:
        _require(actor)
    now = timezone.now()
    errors: dict[str, list[str]] = {}
    try:
        title = clean_text("title", title, limit=200)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if severity not in Severity.values:
        errors["severity"] = [f"Choose one of {', '.join(Severity.values)}."]
    try:
        detected_at = _clean_detected_at(detected_at, now)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        first_notice = clean_text("first_notice", first_notice, required=False)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        manager = _manager_for(actor, manager)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    scope = None
    try:
        scope = scope_resolve(failure=failure, organizations=organizations, areas=areas)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)

    with transaction.atomic():
        incident = Incident.objects.create(
            title=title, severity=severity, detected_at=detected_at, declared_at=now,
            manager=manager, declared_by=actor if getattr(actor, "pk", None) else None,
            failure_target=scope.failure_target, failure_type=scope.failure_type,
            security_involved=bool(security_involved),
            executive_involved=bool(executive_involved), source=source,
        )
        audit_record(
            actor=actor, obj=incident, action="declared",
            changes={
                **{k: [None, v] for k, v in snapshot(incident, INCIDENT_FIELDS).items() if v},
                "tenants": [None, [t.slug for t in scope.tenants]],
            },
        )
        _timeline(
            incident, EventKind.DECLARED, f"Declared {incident.get_severity_display()}: {title}",
            actor=actor, public=True,
        )
        _team_on_declare(incident, scope)
        rows = _add_tenants(incident, scope.tenants, now=now, initial=True)
        _timeline(
            incident, EventKind.SCOPE,
            _scope_text(scope, len(rows)), actor=actor,
            data={"tenants": [t.slug for t in scope.tenants]},
        )
        if notify and rows:
            _send_first_notices(incident, rows, text=first_notice, now=now)
        _tell_team(incident, "declared", f"{incident.number} declared: {title}")
    return incident


def _scope_text(scope: Scope, count: int) -> str:
    if scope.failure_target:
        return (f"Scope: {scope.failure_target} down ({scope.failure_type or 'failure'}); "
                f"{count} tenant(s) affected per the impact analysis.")
    return f"Scope: {count} tenant(s) chosen by hand."


def _add_tenants(incident, tenants, *, now, initial: bool) -> list[AffectedTenant]:
    """Create (or bring back) the rows of tenants entering the scope and start their
    first-notice clocks: from detection for the initial scope, from now for later ones."""
    if not tenants:
        return []
    orgs = {
        o.pk: o for o in Organization.objects.filter(
            pk__in=[t.organization_id for t in tenants]
        ).select_related("contract")
    }
    existing = {
        r.organization_id: r for r in incident.affected.filter(organization_id__in=list(orgs))
    }
    new_rows, back = [], []
    for tenant in tenants:
        org = orgs[tenant.organization_id]
        start = incident.detected_at if initial else now
        due = start + _minutes(org, "notice_minutes", DEFAULT_NOTICE_MINUTES)
        row = existing.get(org.pk)
        if row is not None:
            if row.removed_at is None:
                continue
            row.removed_at = None
            row.areas, row.impact_text = tenant.areas, tenant.impact_text
            if row.first_notice_at is None:
                row.added_at = now
                _set_clock(row, ClockKind.FIRST_NOTICE, due)
            else:
                _set_clock(row, ClockKind.UPDATE, now + _minutes(
                    org, "update_minutes", DEFAULT_UPDATE_MINUTES))
            row.save()
            back.append(row)
            continue
        row = AffectedTenant(
            incident=incident, organization=org, areas=tenant.areas,
            impact_text=tenant.impact_text, added_at=now if not initial else incident.declared_at,
        )
        _set_clock(row, ClockKind.FIRST_NOTICE, due)
        new_rows.append(row)
    AffectedTenant.objects.bulk_create(new_rows, batch_size=500)
    created = list(
        incident.affected.filter(organization_id__in=[r.organization_id for r in new_rows])
        .select_related("organization", "organization__contract")
    )
    return created + back


def _send_first_notices(incident, rows, *, text: str, now) -> None:
    """First notice to tenants that have not had one; their update cadence starts."""
    rows = [r for r in rows if r.first_notice_at is None and r.removed_at is None]
    if not rows:
        return
    notify_affected(
        incident=incident, kind=NoticeKind.FIRST, template="incident_notice",
        context={"body": text or _default_first_notice(incident)}, tenants=rows, now=now,
    )
    _restart_cadence(rows, now=now, first=True)


def _restart_cadence(rows: list[AffectedTenant], *, now, first: bool = False,
                     stop: bool = False) -> None:
    """After a notice to `rows`: the next update is due one cadence from now (or no more
    notices are due once resolved). One UPDATE per contract cadence, not a CASE per row
    and field: a region-wide incident is a thousand rows."""
    by_cadence: dict[datetime.timedelta | None, list[int]] = {}
    for row in rows:
        cadence = None if stop else _minutes(
            row.organization, "update_minutes", DEFAULT_UPDATE_MINUTES)
        by_cadence.setdefault(cadence, []).append(row.pk)
    for cadence, ids in by_cadence.items():
        due = now + cadence if cadence is not None else None
        fields = {
            "last_notice_at": now,
            "due_kind": ClockKind.UPDATE if due else "",
            "due_at": due,
            "remind_at": due - reminder_lead() if due else None,
            "escalate_at": due,
        }
        updated = AffectedTenant.objects.filter(pk__in=ids)
        if first:
            updated.update(first_notice_at=now, **fields)
        else:
            updated.filter(first_notice_at__isnull=True).update(first_notice_at=now)
            updated.update(**fields)


def incident_scope_change(
    *, actor, incident: Incident, failure=None, organizations=None, areas=None,
    notify: bool = True,
) -> Incident:
    """Re-scope a running incident. Tenants entering the scope get their first notice
    (their clocks start now); tenants leaving it stop receiving notices; those staying
    get their areas and texts refreshed (a hand-edited impact text is kept)."""
    _require(actor)
    if incident.status not in OPEN_STATUSES:
        raise Conflict(f"{incident.number} is {incident.get_status_display().lower()}: "
                       "only an open incident's scope can change.")
    scope = scope_resolve(failure=failure, organizations=organizations, areas=areas)
    now = timezone.now()
    with transaction.atomic():
        incident = Incident.objects.select_for_update(of=("self",)).get(pk=incident.pk)
        current = {
            r.organization_id: r
            for r in incident.affected.filter(removed_at__isnull=True).select_related(
                "organization")
        }
        wanted = {t.organization_id: t for t in scope.tenants}
        leaving = [r for oid, r in current.items() if oid not in wanted]
        for row in leaving:
            row.removed_at = now
            _set_clock(row, None, None)
        AffectedTenant.objects.bulk_update(
            leaving, ["removed_at", "due_kind", "due_at", "remind_at", "escalate_at"]
        )
        staying = [r for oid, r in current.items() if oid in wanted]
        for row in staying:
            tenant = wanted[row.organization_id]
            row.areas = tenant.areas
        AffectedTenant.objects.bulk_update(staying, ["areas"])
        entering = _add_tenants(
            incident, [t for oid, t in wanted.items() if oid not in current], now=now,
            initial=False,
        )
        before = {"failure_target": incident.failure_target, "failure_type": incident.failure_type,
                  "tenants": sorted(r.organization.slug for r in current.values())}
        incident.failure_target, incident.failure_type = scope.failure_target, scope.failure_type
        incident.updated_at = now
        incident.save(update_fields=["failure_target", "failure_type", "updated_at"])
        after = {"failure_target": incident.failure_target, "failure_type": incident.failure_type,
                 "tenants": sorted(t.slug for t in scope.tenants)}
        audit_record(actor=actor, obj=incident, action="scope_changed",
                     changes=changes_between(before, after))
        _timeline(
            incident, EventKind.SCOPE,
            f"{_scope_text(scope, len(wanted))} {len(entering)} joined, {len(leaving)} left.",
            actor=actor, data={"joined": [r.organization.slug for r in entering],
                               "left": [r.organization.slug for r in leaving]},
        )
        _team_add_tams(incident, [r.organization for r in entering])
        if notify and entering:
            latest = incident.updates.filter(public=True).last()
            _send_first_notices(
                incident, entering, now=now,
                text=latest.body if latest else _default_first_notice(incident),
            )
        if entering or leaving:
            _tell_team(incident, f"scope:{now.isoformat()}",
                       f"{incident.number} scope changed: {len(entering)} tenant(s) joined, "
                       f"{len(leaving)} left")
    return incident


def incident_monitor_note(*, incident: Incident, text: str) -> TimelineEvent:
    """Synthetic monitoring writes on the staff timeline (a check joined, the checks
    recovered with a suggested resolution update) and tells the team; no person acts."""
    with transaction.atomic():
        event = _timeline(incident, EventKind.NOTE, text[:5000], data={"source": "monitor"})
        _tell_team(incident, f"monitor:{event.pk}", f"{incident.number}: {text[:150]}")
    return event


def incident_tenant_text_set(*, actor, incident: Incident, organization, impact_text: str):
    """Edit what one tenant is told it feels (pre-filled from the failure matrix)."""
    _require(actor)
    impact_text = clean_text("impact_text", impact_text, limit=5000)
    with transaction.atomic():
        row = incident.affected.select_for_update().filter(organization=organization).first()
        if row is None:
            raise ValidationError({"organization": ["That tenant is not in this incident."]})
        before = row.impact_text
        row.impact_text = impact_text
        row.save(update_fields=["impact_text"])
        audit_record(actor=actor, obj=incident, action="impact_text_changed",
                     changes={f"impact_text.{organization.slug}": [before, impact_text]})
        _timeline(incident, EventKind.SCOPE, f"Impact text for {organization.name} edited.",
                  actor=actor)
    return row


# --- Team ------------------------------------------------------------------------------


def _team_on_declare(incident: Incident, scope: Scope) -> None:
    members = [TeamMember(incident=incident, user=incident.manager, role=TeamRole.MANAGER)]
    members += [
        TeamMember(incident=incident, user=u, role=TeamRole.CARE)
        for u in User.objects.filter(
            role_grants__role=Role.CARE_MANAGER, is_active=True,
            organization__kind=OrganizationKind.PROVIDER,
        ).distinct()
    ]
    TeamMember.objects.bulk_create(members, ignore_conflicts=True)
    _team_add_tams(
        incident, Organization.objects.filter(pk__in=[t.organization_id for t in scope.tenants])
    )


def _team_add_tams(incident: Incident, organizations) -> None:
    """The TAM of an affected tenant is told: Customer Care / TAM informs the customer."""
    tam_ids = {o.tam_id for o in organizations if o.tam_id}
    TeamMember.objects.bulk_create(
        [TeamMember(incident=incident, user_id=pk, role=TeamRole.CARE) for pk in tam_ids],
        ignore_conflicts=True,
    )


def incident_team_add(*, actor, incident: Incident, user: User, role: str) -> TeamMember:
    _require(actor)
    if role not in TeamRole.values:
        raise ValidationError({"role": [f"Choose one of {', '.join(TeamRole.values)}."]})
    if not user.is_active or user.organization.kind != OrganizationKind.PROVIDER:
        raise ValidationError({"user": ["Only active provider staff join an incident team."]})
    with transaction.atomic():
        member, created = TeamMember.objects.get_or_create(
            incident=incident, user=user, role=role
        )
        if role == TeamRole.MANAGER:
            before = incident.manager
            incident.manager = user
            incident.save(update_fields=["manager"])
            audit_record(actor=actor, obj=incident, action="manager_changed",
                         changes={"manager": [str(before), str(user)]})
        if role == TeamRole.SECURITY and not incident.security_involved:
            incident.security_involved = True
            incident.save(update_fields=["security_involved"])
        if role == TeamRole.EXECUTIVE and not incident.executive_involved:
            incident.executive_involved = True
            incident.save(update_fields=["executive_involved"])
        if created:
            audit_record(actor=actor, obj=incident, action="team_added",
                         changes={"team": [None, f"{user.email} ({TeamRole(role).label})"]})
            _timeline(incident, EventKind.TEAM,
                      f"{user.name or user.email} joined as {TeamRole(role).label}.", actor=actor)
            notify_users(
                event="incident.team", users=[user],
                dedupe_base=f"{incident.number}:team:{user.pk}:{role}",
                template="incident_team",
                context={"incident": incident,
                         "headline": f"You joined {incident.number} as {TeamRole(role).label}"},
                url=incident_url(incident),
            )
    return member


def _tell_team(incident: Incident, occurrence: str, headline: str) -> None:
    """Internal notice to everyone on the team (each role gets the team notices)."""
    users = list(
        User.objects.filter(pk__in=incident.team.values("user_id"), is_active=True)
    )
    notify_users(
        event="incident.team", users=users, dedupe_base=f"{incident.number}:team:{occurrence}",
        template="incident_team", context={"incident": incident, "headline": headline},
        url=incident_url(incident),
    )


# --- Updates, resolution, report, close ------------------------------------------------


def _check_transition(incident: Incident, status: str) -> None:
    if status == incident.status:
        return
    if status not in TRANSITIONS[incident.status]:
        raise Conflict(
            f"{incident.number} is {incident.get_status_display().lower()}; it cannot become "
            f"{IncidentStatus(status).label.lower()}."
        )


def incident_update_post(
    *, actor, incident: Incident, status: str, body: str, public: bool = True
) -> IncidentUpdate:
    """Post an update. A public one is a notice to every current affected tenant (first
    notice for those not yet told) and restarts each tenant's update cadence; an internal
    note stays on the staff timeline. Status `resolved` resolves the incident."""
    _require(actor)
    errors = {}
    if status not in UPDATE_STATUSES:
        errors["status"] = [f"Choose one of {', '.join(UPDATE_STATUSES)}."]
    try:
        body = clean_text("body", body)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    if not public and status != incident.status:
        raise ValidationError({"public": ["A status change is news for customers: make the "
                                          "update public, or keep the status."]})
    now = timezone.now()
    with transaction.atomic():
        incident = Incident.objects.select_for_update(of=("self",)).get(pk=incident.pk)
        if incident.status == S.CLOSED:
            raise Conflict(f"{incident.number} is closed: no more updates.")
        _check_transition(incident, status)
        before = snapshot(incident, INCIDENT_FIELDS)
        update = IncidentUpdate.objects.create(
            incident=incident, status=status, body=body, public=public, author=actor,
            created_at=now,
        )
        incident.status = status
        if status == S.RESOLVED and incident.resolved_at is None:
            incident.resolved_at = now
            incident.report_due_at = _report_due(incident, now)
        elif status in OPEN_STATUSES:
            incident.resolved_at = None
            incident.report_due_at = None
        incident.updated_at = now
        incident.save()
        audit_record(
            actor=actor, obj=incident,
            action="resolved" if status == S.RESOLVED and before["status"] != S.RESOLVED
            else ("update_posted" if public else "note_added"),
            changes={**changes_between(before, snapshot(incident, INCIDENT_FIELDS)),
                     "update": [None, body[:500]]},
        )
        _timeline(
            incident,
            EventKind.RESOLVED if status == S.RESOLVED and before["status"] != S.RESOLVED
            else (EventKind.UPDATE if public else EventKind.NOTE),
            f"{IncidentStatus(status).label}: {body}", actor=actor, public=public,
            data={"update": update.pk, "status": status},
        )
        if incident.problem_id and before["resolved_at"] != snapshot(
            incident, ["resolved_at"]
        )["resolved_at"]:
            # The problem's RCA is due from its incidents' resolution.
            from caredeck.problems.services import problem_rca_due_refresh

            problem_rca_due_refresh(problem=incident.problem)
        if public:
            _notify_update(incident, update, now=now)
        if status == S.RESOLVED and before["status"] != S.RESOLVED:
            _tell_team(incident, "resolved", f"{incident.number} resolved")
        elif before["status"] == S.RESOLVED and status in OPEN_STATUSES:
            _tell_team(incident, f"reopened:{now.isoformat()}", f"{incident.number} reopened")
    return update


def _notify_update(incident: Incident, update: IncidentUpdate, *, now) -> None:
    rows = list(
        incident.affected.filter(removed_at__isnull=True).select_related(
            "organization", "organization__contract")
    )
    if not rows:
        return
    resolved = update.status == S.RESOLVED
    first = [r for r in rows if r.first_notice_at is None]
    later = [r for r in rows if r.first_notice_at is not None]
    context = {"body": update.body}
    if first:
        notify_affected(incident=incident, kind=NoticeKind.FIRST, template="incident_notice",
                        context=context, update=update, tenants=first, now=now)
    if later:
        notify_affected(
            incident=incident, kind=NoticeKind.RESOLVED if resolved else NoticeKind.UPDATE,
            template="incident_notice", context=context, update=update, tenants=later, now=now,
        )
    _restart_cadence(rows, now=now, stop=resolved)


def _report_due(incident: Incident, resolved_at) -> datetime.datetime:
    """The customer report is due per contract: the strictest affected tenant's
    business days after resolution (5 business days without a contract)."""
    dues = [
        contract_business_days(resolved_at, row.organization.contract.rca_business_days,
                               row.organization.contract)
        for row in incident.affected.filter(removed_at__isnull=True).select_related(
            "organization__contract")
        if getattr(row.organization, "contract", None)
    ]
    return min(dues) if dues else contract_business_days(resolved_at, 5, None)


def incident_resolve(*, actor, incident: Incident, body: str) -> Incident:
    """Resolve with a public resolution notice to every affected tenant."""
    if incident.status == S.RESOLVED:
        raise Conflict(f"{incident.number} is already resolved.")
    incident_update_post(actor=actor, incident=incident, status=S.RESOLVED, body=body)
    incident.refresh_from_db()
    return incident


EDITABLE_FIELDS = ("title", "severity", *FINDINGS_FIELDS)


def incident_findings_set(*, actor, incident: Incident, **fields) -> Incident:
    """Edit the title and severity, and the forensic and published fields: customer
    impact and experience, the technical description (internal) and the customer
    incident report (sent when published)."""
    _require(actor)
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({name: ["Unknown field."] for name in unknown})
    cleaned = {
        name: clean_text(name, value, required=name == "title",
                          limit=200 if name == "title" else 20000)
        for name, value in fields.items() if name != "severity"
    }
    if "severity" in fields:
        if fields["severity"] not in Severity.values:
            raise ValidationError({"severity": [f"Choose one of {', '.join(Severity.values)}."]})
        cleaned["severity"] = fields["severity"]
    with transaction.atomic():
        incident = Incident.objects.select_for_update(of=("self",)).get(pk=incident.pk)
        if incident.status == S.CLOSED:
            raise Conflict(f"{incident.number} is closed.")
        if incident.report_published_at and "report" in cleaned and \
                cleaned["report"] != incident.report:
            raise Conflict("The incident report was already published to the tenants.")
        before = snapshot(incident, EDITABLE_FIELDS)
        for name, value in cleaned.items():
            setattr(incident, name, value)
        changes = changes_between(before, snapshot(incident, EDITABLE_FIELDS))
        if not changes:
            return incident
        incident.updated_at = timezone.now()
        incident.save()
        audit_record(actor=actor, obj=incident, action="findings_updated",
                     changes={k: [v[0][:300] if v[0] else v[0], v[1][:300] if v[1] else v[1]]
                              for k, v in changes.items()})
        _timeline(incident, EventKind.FINDINGS,
                  "Findings updated: " + ", ".join(k.replace("_", " ") for k in changes),
                  actor=actor)
    return incident


def incident_report_publish(*, actor, incident: Incident) -> Incident:
    """Send the customer incident report to every tenant the incident affected."""
    _require(actor)
    now = timezone.now()
    with transaction.atomic():
        incident = Incident.objects.select_for_update(of=("self",)).get(pk=incident.pk)
        if incident.status not in (S.RESOLVED, S.CLOSED):
            raise Conflict("Publish the incident report once the incident is resolved.")
        if incident.report_published_at:
            raise Conflict("The incident report was already published.")
        if not incident.report.strip():
            raise ValidationError({"report": ["Write the customer incident report first."]})
        incident.report_published_at = now
        incident.save(update_fields=["report_published_at"])
        audit_record(actor=actor, obj=incident, action="report_published",
                     changes={"report_published_at": [None, now.isoformat()]})
        notify_affected(
            incident=incident, kind=NoticeKind.REPORT, template="incident_report",
            event="incident.report", context={"report": incident.report},
            tenants=list(
                incident.affected.filter(first_notice_at__isnull=False).select_related(
                    "organization", "organization__contract")
            ),
            now=now,
        )
        _timeline(incident, EventKind.REPORT, "Incident report published to the affected "
                  "tenants.", actor=actor, public=True)
    return incident


def incident_close(*, actor, incident: Incident) -> Incident:
    """Close a resolved incident once the customers have their report (if any were told)."""
    _require(actor)
    with transaction.atomic():
        incident = Incident.objects.select_for_update(of=("self",)).get(pk=incident.pk)
        _check_transition(incident, S.CLOSED)
        told = incident.affected.filter(first_notice_at__isnull=False).exists()
        if told and not incident.report_published_at:
            raise Conflict("Publish the incident report to the affected tenants before "
                           "closing.")
        before = snapshot(incident, INCIDENT_FIELDS)
        incident.status = S.CLOSED
        incident.closed_at = timezone.now()
        incident.save(update_fields=["status", "closed_at"])
        audit_record(actor=actor, obj=incident, action="closed",
                     changes=changes_between(before, snapshot(incident, INCIDENT_FIELDS)))
        _timeline(incident, EventKind.CLOSED, "Closed.", actor=actor, public=True)
    return incident


# --- Evidence --------------------------------------------------------------------------

EVIDENCE_EXTENSIONS = {
    ".txt", ".log", ".json", ".csv", ".har", ".pcap", ".pcapng", ".png", ".jpg", ".jpeg",
    ".pdf", ".zip", ".gz",
}
EVIDENCE_MAX_BYTES = 5 * 1024 * 1024


def incident_evidence_add(*, actor, incident: Incident, text: str, upload=None) -> TimelineEvent:
    """Attach forensic evidence (a log capture, a screenshot, a trace) with a note.
    Evidence is internal: staff only, served after a permission check."""
    _require(actor)
    text = clean_text("text", text, required=upload is None, limit=5000)
    if upload is not None:
        name = checked_upload_name(
            upload, field="file", extensions=EVIDENCE_EXTENSIONS, max_bytes=EVIDENCE_MAX_BYTES,
            what="a log, capture, image, PDF or archive",
        )
    with transaction.atomic():
        event = TimelineEvent(
            incident=incident, kind=EventKind.EVIDENCE, text=text, actor=actor, public=False,
        )
        if upload is not None:
            event.attachment_name = name
            event.attachment.save(name, upload, save=False)
        event.save()
        audit_record(actor=actor, obj=incident, action="evidence_added",
                     changes={"evidence": [None, event.attachment_name or text[:200]]})
    return event
