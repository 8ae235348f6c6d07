"""The life of a maintenance window, as one table of allowed transitions.

scheduled → in_progress → completed; scheduled → cancelled. A window that has started
cannot be cancelled (its work is under way: it is completed, possibly early), and a
finished or cancelled window never moves again. Services and clock handlers ask
`transition_check` before they change the status, so a forbidden move is a 409 with
the reason, wherever it comes from.
"""

from __future__ import annotations

import datetime

from caredeck.core.exceptions import Conflict
from caredeck.maintenance.models import Maintenance, MaintenanceStatus

S = MaintenanceStatus

TRANSITIONS: dict[str, frozenset[str]] = {
    S.SCHEDULED: frozenset({S.IN_PROGRESS, S.CANCELLED}),
    S.IN_PROGRESS: frozenset({S.COMPLETED}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
}

# Why a move is refused, by (from, to); a generic sentence for the rest.
_REASONS: dict[tuple[str, str], str] = {
    (S.IN_PROGRESS, S.CANCELLED): "it is in progress: a window that has started cannot be "
    "cancelled; complete it when the work is done (or undone)",
    (S.IN_PROGRESS, S.IN_PROGRESS): "it has already started",
    (S.SCHEDULED, S.COMPLETED): "it has not started yet: start it first, or cancel it",
    (S.COMPLETED, S.COMPLETED): "it is already completed",
    (S.CANCELLED, S.CANCELLED): "it is already cancelled",
}

# A window may be started by hand this long before its announced start (people begin a
# little early); earlier than that it should be rescheduled, so tenants are told.
EARLY_START = datetime.timedelta(minutes=60)

# Statuses in which the window's announced times, texts and scope may still change.
EDITABLE = frozenset({S.SCHEDULED, S.IN_PROGRESS})
OPEN = (S.SCHEDULED, S.IN_PROGRESS)
CLOSED = (S.COMPLETED, S.CANCELLED)


def can_move(maintenance: Maintenance, to: str) -> bool:
    return to in TRANSITIONS[maintenance.status]


def transition_check(maintenance: Maintenance, to: str) -> None:
    """Raise Conflict (409) with the reason unless `maintenance` may move to `to`."""
    if can_move(maintenance, to):
        return
    reason = _REASONS.get((maintenance.status, to))
    if reason is None:
        reason = (
            f"it is {maintenance.get_status_display().lower()} and cannot become "
            f"{S(to).label.lower()}"
        )
    raise Conflict(f"{maintenance.number} cannot be {_verb(to)}: {reason}.")


def _verb(to: str) -> str:
    return {
        S.IN_PROGRESS: "started",
        S.COMPLETED: "completed",
        S.CANCELLED: "cancelled",
        S.SCHEDULED: "rescheduled",
    }[to]
