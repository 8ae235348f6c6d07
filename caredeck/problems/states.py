"""The life of a problem record: which status may follow which, in one table.

    open ─────────────► root_cause_known ─────► known_error ─────► resolved ─► closed
      └──────────────────────────────────────────►┘   └──────────────►┘
                          root_cause_known ─────────────────────────►┘

| from             | to                                  | needs                          |
| ---------------- | ----------------------------------- | ------------------------------ |
| open             | root_cause_known, known_error       | root cause / work-around       |
| root_cause_known | known_error, resolved               | work-around / root cause       |
| known_error      | resolved                            | root cause                     |
| resolved         | closed                              | RCA published if one is owed,  |
|                  |                                     | every action item done         |
| closed           | (nothing: the record is final)      |                                |

A move the table does not list is refused with 409 and the reason; a move it lists but
whose needs are missing is refused with 400 on the field to fill in (services.py).
"""

from __future__ import annotations

from caredeck.problems.models import ProblemStatus

S = ProblemStatus

TRANSITIONS: dict[str, tuple[str, ...]] = {
    S.OPEN: (S.ROOT_CAUSE_KNOWN, S.KNOWN_ERROR),
    S.ROOT_CAUSE_KNOWN: (S.KNOWN_ERROR, S.RESOLVED),
    S.KNOWN_ERROR: (S.RESOLVED,),
    S.RESOLVED: (S.CLOSED,),
    S.CLOSED: (),
}

# The button label of each move, as the person taking it would say it.
ACTION_LABELS: dict[str, str] = {
    S.ROOT_CAUSE_KNOWN: "Root cause found",
    S.KNOWN_ERROR: "Known error: work-around in place",
    S.RESOLVED: "Resolve",
    S.CLOSED: "Close",
}


def allowed_next(status: str) -> tuple[str, ...]:
    return TRANSITIONS.get(status, ())


def refusal(current: str, target: str) -> str:
    """Why the table refuses `current` -> `target`, in words for a 409."""
    current_label = S(current).label if current in S.values else current
    target_label = S(target).label if target in S.values else target
    allowed = allowed_next(current)
    if not allowed:
        return f"The problem is {current_label.lower()}: it no longer changes status."
    if current == target:
        return f"The problem is already {current_label.lower()}."
    options = ", ".join(S(s).label.lower() for s in allowed)
    return (
        f"A problem that is {current_label.lower()} cannot become {target_label.lower()}; "
        f"it can become: {options}."
    )
