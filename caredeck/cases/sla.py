"""SLA clocks of a case, as stored instants (clocks.py acts on them when they come).

- Targets: the tenant contract's minutes per criticality, `case_response_minutes` (first
  response) and `case_resolution_minutes` (solution confirmed).
- Calendar: criticality 1 runs 24x7; the others count the working hours and holidays of
  the case's support group (UTC office hours when it has none yet).
- A warning goes to the owner when `CASES_SLA_WARNING_SHARE` of the target is left; on
  breach the group's care manager is told, once.
- While the case waits on the customer both clocks pause: the working minutes left are
  kept and the due instants are set again from them on resume.
"""

from __future__ import annotations

import datetime

from django.conf import settings

from caredeck.accounts.models import default_case_resolution_minutes, default_case_response_minutes
from caredeck.cases.models import Case, Criticality
from caredeck.core.calendar import BusinessHours

OFFICE_HOURS = BusinessHours()
# Both clocks of a case: (target field on the contract, case field prefix, stop field).
CLOCKS = (
    ("case_response_minutes", "response", "first_response_at"),
    ("case_resolution_minutes", "resolution", "resolved_at"),
)
DEFAULT_TARGETS = {
    "case_response_minutes": default_case_response_minutes,
    "case_resolution_minutes": default_case_resolution_minutes,
}
FIELDS = [
    f"{prefix}_{suffix}"
    for _, prefix, _ in CLOCKS
    for suffix in ("due_at", "warn_at", "warned_at", "left_minutes")
] + ["sla_paused_at"]


def warning_share() -> float:
    return float(getattr(settings, "CASES_SLA_WARNING_SHARE", 0.2))


def calendar_for(case: Case, criticality: int | None = None) -> BusinessHours:
    if (criticality or case.criticality) == Criticality.CRITICAL:
        return BusinessHours.around_the_clock()
    group = case.group
    if group is None:
        return OFFICE_HOURS
    return BusinessHours(
        tz=group.timezone, country=group.country, start=group.day_start, end=group.day_end,
        workdays=tuple(group.workdays or ()),
    )


def target_minutes(case: Case, contract_field: str, criticality: int | None = None) -> int:
    contract = getattr(case.organization, "contract", None)
    targets = getattr(contract, contract_field, None) or DEFAULT_TARGETS[contract_field]()
    key = str(criticality or case.criticality)
    return int(targets.get(key) or DEFAULT_TARGETS[contract_field]()[key])


def _running(case: Case, stop_field: str) -> bool:
    return getattr(case, stop_field) is None


def _set(case: Case, prefix: str, now: datetime.datetime, left: float, target: int,
         calendar: BusinessHours) -> None:
    """Due and warning instants from `left` working minutes at `now`."""
    setattr(case, f"{prefix}_due_at", calendar.add_minutes(now, left))
    margin = target * warning_share()
    warned = getattr(case, f"{prefix}_warned_at") is not None
    warn_at = None
    if not warned:
        warn_at = calendar.add_minutes(now, left - margin) if left > margin else now
    setattr(case, f"{prefix}_warn_at", warn_at)


def start(case: Case, now: datetime.datetime) -> None:
    """Both clocks from the case's submission."""
    calendar = calendar_for(case)
    for contract_field, prefix, _ in CLOCKS:
        target = target_minutes(case, contract_field)
        _set(case, prefix, now, target, target, calendar)


def pause(case: Case, now: datetime.datetime) -> None:
    """The case waits on the customer: keep the working minutes left, stop the alarms."""
    if case.sla_paused_at is not None:
        return
    calendar = calendar_for(case)
    for _, prefix, stop_field in CLOCKS:
        due = getattr(case, f"{prefix}_due_at")
        if _running(case, stop_field) and due is not None:
            setattr(case, f"{prefix}_left_minutes", round(calendar.minutes_between(now, due)))
        setattr(case, f"{prefix}_warn_at", None)
    case.sla_paused_at = now


def resume(case: Case, now: datetime.datetime) -> None:
    """The customer answered: the clocks run on with the minutes they had left."""
    if case.sla_paused_at is None:
        return
    calendar = calendar_for(case)
    for contract_field, prefix, stop_field in CLOCKS:
        left = getattr(case, f"{prefix}_left_minutes")
        if _running(case, stop_field) and left is not None and left <= 0:
            # Paused after its due: the target was already missed. Keep the instant it
            # fell due (or now, when a retarget used up the time while paused), so the
            # breach fires and `met` says missed instead of a fresh due at `now`.
            due = getattr(case, f"{prefix}_due_at")
            setattr(case, f"{prefix}_due_at", now if due is None else min(due, now))
            setattr(case, f"{prefix}_warn_at", None)
        elif _running(case, stop_field) and left is not None:
            _set(case, prefix, now, left, target_minutes(case, contract_field), calendar)
        setattr(case, f"{prefix}_left_minutes", None)
    case.sla_paused_at = None


def stop(case: Case, prefix: str, now: datetime.datetime) -> None:
    """First response given (`response`) or solution confirmed (`resolution`)."""
    stop_field = dict((p, s) for _, p, s in CLOCKS)[prefix]
    if getattr(case, stop_field) is None:
        setattr(case, stop_field, now)
    setattr(case, f"{prefix}_warn_at", None)
    setattr(case, f"{prefix}_left_minutes", None)


def retarget(case: Case, now: datetime.datetime, old_criticality: int) -> None:
    """Criticality changed: each running clock keeps the working minutes already spent
    and gets the new criticality's target (and calendar) for the rest."""
    old_calendar = calendar_for(case, old_criticality)
    new_calendar = calendar_for(case)
    for contract_field, prefix, stop_field in CLOCKS:
        if not _running(case, stop_field):
            continue
        old_target = target_minutes(case, contract_field, old_criticality)
        left = getattr(case, f"{prefix}_left_minutes")
        if left is None:
            due = getattr(case, f"{prefix}_due_at")
            left = old_calendar.minutes_between(now, due) if due else old_target
        spent = old_target - left
        new_target = target_minutes(case, contract_field)
        new_left = max(new_target - spent, 0)
        # A warning of the old target says nothing of the new one when there is time to
        # warn again before it.
        if new_left > new_target * warning_share():
            setattr(case, f"{prefix}_warned_at", None)
        if case.sla_paused_at is not None:
            setattr(case, f"{prefix}_left_minutes", round(new_left))
        else:
            _set(case, prefix, now, new_left, new_target, new_calendar)
        # A breach of the old target says nothing about the new one.
        if getattr(case, f"{prefix}_breached_at") is not None and new_left > 0:
            setattr(case, f"{prefix}_breached_at", None)


def met(case: Case, prefix: str) -> bool | None:
    """Whether a stopped clock met its target (None while it runs)."""
    stopped = getattr(case, dict((p, s) for _, p, s in CLOCKS)[prefix])
    if stopped is None:
        return None
    due = getattr(case, f"{prefix}_due_at")
    return getattr(case, f"{prefix}_breached_at") is None and (due is None or stopped <= due)
