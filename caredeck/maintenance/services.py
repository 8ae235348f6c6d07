"""Every state change of maintenance windows.

People (MANAGE_MAINTENANCE) schedule a window, reschedule it or change its texts and
scope, start it, complete it or cancel it; the clocks (clocks.py) start it, remind,
end it or report an overrun at its stored times. Each use case validates, checks the
state table (states.py), writes in one transaction with its audit entry and its
notices (notices.py), and returns the window.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from caredeck.accounts.access import has_capability
from caredeck.accounts.models import User
from caredeck.accounts.roles import Capability, OrganizationKind
from caredeck.core.audit import audit_record, changes_between, snapshot
from caredeck.core.exceptions import Conflict
from caredeck.maintenance import notices
from caredeck.maintenance.clocks import clocks_close, clocks_plan
from caredeck.maintenance.models import (
    ClockKind,
    Maintenance,
    MaintenanceClock,
    MaintenanceStatus,
    MaintenanceTenant,
    NoticeKind,
)
from caredeck.maintenance.states import EARLY_START, EDITABLE, transition_check
from caredeck.topology.scope import Scope, TenantScope, scope_resolve

S = MaintenanceStatus

TITLE_MAX = 200
IMPACT_MAX = 4000
REASON_MAX = 1000

WINDOW_FIELDS = ("title", "impact", "starts_at", "ends_at", "owner", "auto_complete")
AUDIT_FIELDS = (
    *WINDOW_FIELDS, "status", "sequence", "failure_target", "failure_type",
    "started_at", "completed_at", "cancelled_at", "overrun_at",
)
SCOPE_KEYS = ("failure", "organizations", "areas")


def _require_manage(actor) -> None:
    if not has_capability(actor, Capability.MANAGE_MAINTENANCE):
        raise PermissionDenied("Your roles do not allow this (schedule and run maintenance).")


def _locked(maintenance: Maintenance) -> Maintenance:
    """The window re-read under a row lock, so a clock firing at the same moment waits."""
    return Maintenance.objects.select_for_update().get(pk=maintenance.pk)


# --- Validation --------------------------------------------------------------------------


def _text(errors: dict, field: str, value, *, limit: int, message: str) -> str:
    value = value.strip() if isinstance(value, str) else ""
    if not value:
        errors[field] = [message]
    elif len(value) > limit:
        errors[field] = [f"At most {limit} characters."]
    return value


def _moment(errors: dict, field: str, value) -> datetime.datetime | None:
    if not isinstance(value, datetime.datetime):
        errors[field] = ["Give a date and time, e.g. 2030-06-01T22:00:00Z."]
        return None
    if timezone.is_naive(value):
        errors[field] = ["Give the time with its time zone (e.g. Z or +02:00)."]
        return None
    return value


def _window_errors(
    errors: dict, starts_at, ends_at, *, now: datetime.datetime, check_start: bool
) -> None:
    if "starts_at" in errors or "ends_at" in errors:
        return
    if check_start and starts_at < now:
        errors["starts_at"] = ["The start is in the past: a window is announced ahead."]
    if ends_at <= starts_at:
        errors["ends_at"] = ["The end must be after the start."]


def _owner(errors: dict, owner) -> User | None:
    if not isinstance(owner, User) or not owner.is_active or (
        owner.organization.kind != OrganizationKind.PROVIDER
        or not has_capability(owner, Capability.MANAGE_MAINTENANCE)
    ):
        errors["owner"] = ["The owner must be active provider staff who may run maintenance."]
        return None
    return owner


def _scope(errors: dict, *, failure, organizations, areas) -> Scope | None:
    if failure and (organizations or areas):
        errors["failure"] = [
            "Choose one scope: a failed element, or tenants with their areas, not both."
        ]
        return None
    try:
        return scope_resolve(failure=failure or None, organizations=organizations, areas=areas)
    except ValidationError as exc:
        errors.update(exc.message_dict)
        return None


def tenant_impact_text(tenant: TenantScope) -> str:
    """What this tenant will notice, one line per area. Like an incident's text (what
    callers and agents feel), but for an impact only operations see (reporting delayed
    while a zone is down) it says that rather than a bare "degraded"."""
    lines = []
    for area in tenant.areas:
        felt = [
            text for text in (area.get("customer"), area.get("agent"))
            if text and text.strip().lower() != "none"
        ]
        operational = (area.get("operational") or "").strip()
        if not felt and operational and operational.lower() != "none":
            felt = [operational]
        if felt:
            lines.append(f"{area.get('name') or area['area']}: {' '.join(felt)}")
    return "\n".join(lines)


# --- Scheduling ---------------------------------------------------------------------------


def maintenance_schedule(
    *,
    actor,
    title: str,
    impact: str,
    starts_at: datetime.datetime,
    ends_at: datetime.datetime,
    failure: dict | None = None,
    organizations=None,
    areas=None,
    owner: User | None = None,
    auto_complete: bool = False,
) -> Maintenance:
    """Schedule a window and announce it, with its calendar invite, to every tenant its
    scope reaches; plan its reminders, start and end."""
    _require_manage(actor)
    now = timezone.now()
    errors: dict[str, list[str]] = {}
    title = _text(errors, "title", title, limit=TITLE_MAX, message="Give the window a title.")
    impact = _text(
        errors, "impact", impact, limit=IMPACT_MAX,
        message="Say what tenants should expect, e.g. “Calls may drop for up to 1 minute”.",
    )
    starts_at = _moment(errors, "starts_at", starts_at)
    ends_at = _moment(errors, "ends_at", ends_at)
    _window_errors(errors, starts_at, ends_at, now=now, check_start=True)
    owner = _owner(errors, owner if owner is not None else actor)
    scope = _scope(errors, failure=failure, organizations=organizations, areas=areas)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        maintenance = Maintenance.objects.create(
            title=title, impact=impact, starts_at=starts_at, ends_at=ends_at, owner=owner,
            created_by=actor, auto_complete=bool(auto_complete),
            failure_target=scope.failure_target, failure_type=scope.failure_type,
            created_at=now, updated_at=now,
        )
        rows = MaintenanceTenant.objects.bulk_create(
            [
                MaintenanceTenant(
                    maintenance=maintenance, organization_id=t.organization_id,
                    areas=t.areas, impact_text=tenant_impact_text(t), added_at=now,
                )
                for t in scope.tenants
            ]
        )
        clocks_plan(maintenance, now=now)
        audit_record(
            actor=actor, obj=maintenance, action="scheduled",
            changes={
                **changes_between({}, snapshot(maintenance, AUDIT_FIELDS)),
                "tenants": [None, sorted(t.slug for t in scope.tenants)],
            },
        )
        notices.tenants_notify(
            maintenance=maintenance, rows=_with_organizations(rows),
            kind=NoticeKind.ANNOUNCEMENT,
        )
    return maintenance


def _with_organizations(rows: list[MaintenanceTenant]) -> list[MaintenanceTenant]:
    """The rows again with their organization and contract (for the tenant's time zone)."""
    return list(
        MaintenanceTenant.objects.filter(pk__in=[r.pk for r in rows])
        .select_related("organization__contract")
        .order_by("organization__name")
    )


def _active_rows(maintenance: Maintenance) -> list[MaintenanceTenant]:
    return list(
        maintenance.tenants.filter(removed_at__isnull=True)
        .select_related("organization__contract")
        .order_by("organization__name")
    )


def maintenance_update(*, actor, maintenance: Maintenance, **changes: Any) -> Maintenance:
    """Change a window: its title, expected impact, owner or auto-completion; its times
    (a reschedule: SEQUENCE+1, the moved invite to every tenant, reminders re-planned);
    its scope (`failure`, or `organizations` with `areas`: while scheduled only).
    Everything given is validated together and applied in one transaction."""
    _require_manage(actor)
    unknown = set(changes) - set(WINDOW_FIELDS) - set(SCOPE_KEYS)
    if unknown:
        raise ValidationError({name: ["This cannot be changed."] for name in sorted(unknown)})
    with transaction.atomic():
        maintenance = _locked(maintenance)
        if maintenance.status not in EDITABLE:
            raise Conflict(
                f"{maintenance.number} is {maintenance.get_status_display().lower()}: "
                "a finished or cancelled window no longer changes."
            )
        now = timezone.now()
        errors: dict[str, list[str]] = {}
        fields: dict[str, Any] = {}
        if "title" in changes:
            fields["title"] = _text(
                errors, "title", changes["title"], limit=TITLE_MAX,
                message="Give the window a title.",
            )
        if "impact" in changes:
            fields["impact"] = _text(
                errors, "impact", changes["impact"], limit=IMPACT_MAX,
                message="Say what tenants should expect.",
            )
        if "owner" in changes:
            fields["owner"] = _owner(errors, changes["owner"])
        if "auto_complete" in changes:
            fields["auto_complete"] = bool(changes["auto_complete"])
        starts_at = (
            _moment(errors, "starts_at", changes["starts_at"])
            if "starts_at" in changes else maintenance.starts_at
        )
        ends_at = (
            _moment(errors, "ends_at", changes["ends_at"])
            if "ends_at" in changes else maintenance.ends_at
        )
        moved_start = starts_at is not None and starts_at != maintenance.starts_at
        moved_end = ends_at is not None and ends_at != maintenance.ends_at
        if moved_start and maintenance.status == S.IN_PROGRESS:
            raise Conflict(
                f"{maintenance.number} has started: only its end can move "
                "(extend or shorten the window)."
            )
        _window_errors(errors, starts_at, ends_at, now=now, check_start=moved_start)
        if moved_end and maintenance.status == S.IN_PROGRESS and "ends_at" not in errors and (
            ends_at <= now
        ):
            errors["ends_at"] = ["The new end is in the past: complete the window instead."]
        scope = None
        if any(key in changes for key in SCOPE_KEYS):
            if maintenance.status != S.SCHEDULED:
                raise Conflict(
                    f"{maintenance.number} has started: its scope is fixed now; "
                    "announce a new window for other tenants."
                )
            scope = _scope(
                errors, failure=changes.get("failure"),
                organizations=changes.get("organizations"), areas=changes.get("areas"),
            )
        if errors:
            raise ValidationError(errors)

        before = snapshot(maintenance, AUDIT_FIELDS)
        for name, value in fields.items():
            setattr(maintenance, name, value)
        rescheduled = moved_start or moved_end
        if rescheduled:
            maintenance.starts_at, maintenance.ends_at = starts_at, ends_at
            maintenance.sequence += 1
            # A longer window that had run over is not over its end any more.
            maintenance.overrun_at = None
        added, removed = ([], [])
        if scope is not None:
            added, removed = _scope_apply(maintenance, scope, now=now)
            if (added or removed) and not rescheduled:
                # A tenant taken out gets a cancel, one put back a new invite: calendars
                # accept either only with a higher SEQUENCE than what they hold.
                maintenance.sequence += 1
        maintenance.updated_at = now
        maintenance.save()
        changes_made = changes_between(before, snapshot(maintenance, AUDIT_FIELDS))
        if scope is not None and (added or removed):
            changes_made["tenants added"] = [None, sorted(r.organization.slug for r in added)]
            changes_made["tenants removed"] = [None, sorted(r.organization.slug for r in removed)]
        if not changes_made:
            return maintenance
        if rescheduled:
            clocks_plan(maintenance, now=now)
        action = "updated"
        if rescheduled:
            action = "rescheduled"
        elif scope is not None:
            action = "scope_changed"
        audit_record(actor=actor, obj=maintenance, action=action, changes=changes_made)
        added_ids = {r.pk for r in added}
        if rescheduled:
            # Everyone already told gets the moved invite; newly added tenants get the
            # announcement (with the same, current invite) instead.
            notices.tenants_notify(
                maintenance=maintenance,
                rows=[r for r in _active_rows(maintenance) if r.pk not in added_ids],
                kind=NoticeKind.RESCHEDULED,
            )
        if added:
            notices.tenants_notify(
                maintenance=maintenance, rows=_with_organizations(added),
                kind=NoticeKind.ANNOUNCEMENT,
            )
        if removed:
            notices.tenants_notify(
                maintenance=maintenance, rows=_with_organizations(removed),
                kind=NoticeKind.CANCELLED, detail="no longer concerned", cancel_invite=True,
            )
    return maintenance


def _scope_apply(
    maintenance: Maintenance, scope: Scope, *, now: datetime.datetime
) -> tuple[list[MaintenanceTenant], list[MaintenanceTenant]]:
    """Store a new scope: returns the tenant rows added and removed. A tenant taken out
    keeps its row (removed_at), so its notices stay explained; put back, it is active
    again."""
    maintenance.failure_target = scope.failure_target
    maintenance.failure_type = scope.failure_type
    rows = {
        r.organization_id: r
        for r in maintenance.tenants.select_related("organization")
    }
    wanted = {t.organization_id: t for t in scope.tenants}
    added, removed = [], []
    for org_id, tenant in wanted.items():
        text = tenant_impact_text(tenant)
        row = rows.get(org_id)
        if row is None:
            row = MaintenanceTenant.objects.create(
                maintenance=maintenance, organization_id=org_id, areas=tenant.areas,
                impact_text=text, added_at=now,
            )
            added.append(row)
            continue
        was_removed = row.removed_at is not None
        if was_removed or row.areas != tenant.areas or row.impact_text != text:
            row.areas, row.impact_text = tenant.areas, text
            if was_removed:
                row.removed_at, row.added_at = None, now
                added.append(row)
            row.save()
    for org_id, row in rows.items():
        if org_id not in wanted and row.removed_at is None:
            row.removed_at = now
            row.save(update_fields=["removed_at"])
            removed.append(row)
    return added, removed


# --- Transitions by hand -------------------------------------------------------------------


def maintenance_start(*, actor, maintenance: Maintenance) -> Maintenance:
    """Start the window now (its start clock would otherwise do it at its time)."""
    _require_manage(actor)
    with transaction.atomic():
        maintenance = _locked(maintenance)
        transition_check(maintenance, S.IN_PROGRESS)
        now = timezone.now()
        if now < maintenance.starts_at - EARLY_START:
            raise Conflict(
                f"{maintenance.number} is announced for "
                f"{maintenance.starts_at:%Y-%m-%d %H:%M} UTC: start it at most "
                f"{int(EARLY_START.total_seconds() // 60)} minutes early, or reschedule it "
                "so tenants are told."
            )
        _start(maintenance, actor=actor, now=now)
    return maintenance


def maintenance_complete(*, actor, maintenance: Maintenance) -> Maintenance:
    """The work is done: the end notice goes out now, early or late."""
    _require_manage(actor)
    with transaction.atomic():
        maintenance = _locked(maintenance)
        transition_check(maintenance, S.COMPLETED)
        _complete(maintenance, actor=actor, now=timezone.now())
    return maintenance


def maintenance_cancel(*, actor, maintenance: Maintenance, reason: str = "") -> Maintenance:
    """Call the window off before it starts: every tenant gets the cancel invite
    (METHOD:CANCEL, same UID, higher SEQUENCE) so it leaves their calendars."""
    _require_manage(actor)
    if reason is None:
        reason = ""
    if not isinstance(reason, str) or len(reason.strip()) > REASON_MAX:
        raise ValidationError(
            {"reason": [f"Give the reason as text of at most {REASON_MAX} characters, "
                        "or leave it out."]}
        )
    reason = reason.strip()
    with transaction.atomic():
        maintenance = _locked(maintenance)
        transition_check(maintenance, S.CANCELLED)
        now = timezone.now()
        before = snapshot(maintenance, AUDIT_FIELDS)
        maintenance.status = S.CANCELLED
        maintenance.cancelled_at = now
        maintenance.sequence += 1
        maintenance.updated_at = now
        maintenance.save()
        clocks_close(maintenance, now=now)
        changes = changes_between(before, snapshot(maintenance, AUDIT_FIELDS))
        if reason:
            changes["reason"] = [None, reason]
        audit_record(actor=actor, obj=maintenance, action="cancelled", changes=changes)
        notices.tenants_notify(
            maintenance=maintenance, rows=_active_rows(maintenance),
            kind=NoticeKind.CANCELLED, reason=reason,
        )
    return maintenance


def _transition(maintenance: Maintenance, *, actor, now, action: str, **fields) -> None:
    before = snapshot(maintenance, AUDIT_FIELDS)
    for name, value in fields.items():
        setattr(maintenance, name, value)
    maintenance.updated_at = now
    maintenance.save()
    audit_record(
        actor=actor, obj=maintenance, action=action,
        changes=changes_between(before, snapshot(maintenance, AUDIT_FIELDS)),
    )


def _start(maintenance: Maintenance, *, actor, now) -> None:
    _transition(
        maintenance, actor=actor, now=now, action="started",
        status=S.IN_PROGRESS, started_at=now,
    )
    clocks_close(maintenance, now=now, fulfilled=ClockKind.START, keep=(ClockKind.END,))
    notices.tenants_notify(
        maintenance=maintenance, rows=_active_rows(maintenance), kind=NoticeKind.START
    )


def _complete(maintenance: Maintenance, *, actor, now) -> None:
    _transition(
        maintenance, actor=actor, now=now, action="completed",
        status=S.COMPLETED, completed_at=now,
    )
    clocks_close(maintenance, now=now, fulfilled=ClockKind.END)
    notices.tenants_notify(
        maintenance=maintenance, rows=_active_rows(maintenance), kind=NoticeKind.END
    )


# --- What the clocks do (clocks.clock_fire, under the clock's and the window's lock) -----


def clock_must_wait(*, maintenance: Maintenance, clock: MaintenanceClock) -> bool:
    """The end clock waits while the window has not started: when the scheduler was
    down over a whole window, both fall due together and a parallel worker may reach
    the end first; the start must go out before the end."""
    return clock.kind == ClockKind.END and maintenance.status == S.SCHEDULED


def clock_act(*, maintenance: Maintenance, clock: MaintenanceClock, now) -> str:
    """Do what a due clock means for the window in its current state; returns what
    happened. The clock is already marked done in the same transaction."""
    if clock.kind in notices.REMINDERS:
        return _remind(maintenance, clock, now=now)
    if clock.kind == ClockKind.START:
        if maintenance.status != S.SCHEDULED:
            return "skipped: already started by hand or cancelled"
        _start(maintenance, actor=None, now=now)
        notices.owner_alert(maintenance=maintenance, what="started")
        return "started"
    if clock.kind == ClockKind.END:
        if maintenance.status != S.IN_PROGRESS:
            return "skipped: not in progress"
        if maintenance.auto_complete:
            _complete(maintenance, actor=None, now=now)
            notices.owner_alert(maintenance=maintenance, what="completed")
            return "completed"
        if maintenance.overrun_at is not None:
            return "skipped: overrun already reported"
        _transition(maintenance, actor=None, now=now, action="overrun", overrun_at=now)
        notices.owner_alert(maintenance=maintenance, what="overrun")
        notices.tenants_notify(
            maintenance=maintenance, rows=_active_rows(maintenance), kind=NoticeKind.OVERRUN
        )
        return "overrun"
    raise ValueError(f"Unknown clock kind {clock.kind!r}")


def _remind(maintenance: Maintenance, clock: MaintenanceClock, *, now) -> str:
    if maintenance.status != S.SCHEDULED or maintenance.starts_at <= now:
        return "skipped: not upcoming any more"
    # After an outage of the scheduler several reminders may be due at once: only the
    # latest is sent ("starts in 1 h", not also "starts in 72 h").
    later_due = maintenance.clocks.filter(
        done_at__isnull=True, kind__in=list(notices.REMINDERS), due_at__gt=clock.due_at,
        due_at__lte=now,
    ).exists()
    if later_due:
        return "skipped: a later reminder is due too"
    label = notices.REMINDERS[clock.kind][1]
    notices.tenants_notify(
        maintenance=maintenance, rows=_active_rows(maintenance), kind=NoticeKind.REMINDER,
        detail=label,
    )
    return f"reminded {label} before"


# --- History that happened before it was recorded (demo data, imports) ----------------------


def maintenance_record_past(
    *,
    actor,
    title: str,
    impact: str,
    starts_at: datetime.datetime,
    ends_at: datetime.datetime,
    failure: dict | None = None,
    organizations=None,
    areas=None,
) -> Maintenance:
    """Record a window that already took place, completed, so availability reports can
    exclude it and status pages show it in their history. Nothing is sent: telling
    tenants about past work now would only confuse them."""
    _require_manage(actor)
    now = timezone.now()
    errors: dict[str, list[str]] = {}
    title = _text(errors, "title", title, limit=TITLE_MAX, message="Give the window a title.")
    impact = _text(errors, "impact", impact, limit=IMPACT_MAX, message="Say what happened.")
    starts_at = _moment(errors, "starts_at", starts_at)
    ends_at = _moment(errors, "ends_at", ends_at)
    _window_errors(errors, starts_at, ends_at, now=now, check_start=False)
    if "ends_at" not in errors and ends_at is not None and ends_at > now:
        errors["ends_at"] = ["A recorded window has ended; schedule a future one instead."]
    scope = _scope(errors, failure=failure, organizations=organizations, areas=areas)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        maintenance = Maintenance.objects.create(
            title=title, impact=impact, starts_at=starts_at, ends_at=ends_at, owner=actor,
            created_by=actor, status=S.COMPLETED, started_at=starts_at, completed_at=ends_at,
            failure_target=scope.failure_target, failure_type=scope.failure_type,
            created_at=now, updated_at=now,
        )
        MaintenanceTenant.objects.bulk_create(
            [
                MaintenanceTenant(
                    maintenance=maintenance, organization_id=t.organization_id,
                    areas=t.areas, impact_text=tenant_impact_text(t), added_at=now,
                )
                for t in scope.tenants
            ]
        )
        audit_record(
            actor=actor, obj=maintenance, action="recorded",
            changes={
                **changes_between({}, snapshot(maintenance, AUDIT_FIELDS)),
                "tenants": [None, sorted(t.slug for t in scope.tenants)],
            },
        )
    return maintenance
