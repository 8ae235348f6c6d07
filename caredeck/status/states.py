"""The states a functional area can be in, and how an incident or a maintenance window
puts an area into one.

The mapping is one small table so the status page, the history bars, the feed, the API
and the public page all say the same thing about the same moment:

- SEV1, or an area whose matrix cell says the service is unavailable: major outage;
- SEV2: partial outage;
- SEV3 and SEV4: degraded;
- a maintenance window in progress that touches the area: maintenance.

When several apply, the worst wins. Maintenance ranks below every incident state: an
incident during a window is what the tenant needs to see.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models

from caredeck.incidents.models import Severity


class AreaState(models.TextChoices):
    OPERATIONAL = "operational", "Operational"
    MAINTENANCE = "maintenance", "Maintenance"
    DEGRADED = "degraded", "Degraded"
    PARTIAL_OUTAGE = "partial_outage", "Partial outage"
    MAJOR_OUTAGE = "major_outage", "Major outage"


# Higher is worse.
RANK = {
    AreaState.OPERATIONAL: 0,
    AreaState.MAINTENANCE: 1,
    AreaState.DEGRADED: 2,
    AreaState.PARTIAL_OUTAGE: 3,
    AreaState.MAJOR_OUTAGE: 4,
}

# Shown beside every state label, so no state is told by colour alone.
ICONS = {
    AreaState.OPERATIONAL: "✓",
    AreaState.MAINTENANCE: "⚙",
    AreaState.DEGRADED: "▲",
    AreaState.PARTIAL_OUTAGE: "◑",
    AreaState.MAJOR_OUTAGE: "✕",
}

# Severities whose minutes count as unavailable in the SLA report (see reports.py).
OUTAGE_SEVERITIES = frozenset({Severity.SEV1, Severity.SEV2})


def area_slug(entry: Any) -> str:
    """The functional-area id of one entry of an `areas` list (a dict with "area")."""
    if isinstance(entry, dict):
        return str(entry.get("area") or "")
    return str(entry or "")


def is_unavailable(entry: Any) -> bool:
    return isinstance(entry, dict) and bool(entry.get("service_unavailable"))


def incident_state(severity: str, entry: Any) -> AreaState:
    """What an open incident of `severity` does to the area described by `entry`."""
    if severity == Severity.SEV1 or is_unavailable(entry):
        return AreaState.MAJOR_OUTAGE
    if severity == Severity.SEV2:
        return AreaState.PARTIAL_OUTAGE
    return AreaState.DEGRADED


def counts_as_outage(severity: str, entry: Any) -> bool:
    """Whether the incident's minutes on this area count against availability."""
    return severity in OUTAGE_SEVERITIES or is_unavailable(entry)


def worst(states: Iterable[AreaState]) -> AreaState:
    found = AreaState.OPERATIONAL
    for state in states:
        if RANK[AreaState(state)] > RANK[found]:
            found = AreaState(state)
    return found


def state_view(state: AreaState) -> dict[str, str]:
    """What a template needs to show a state: value (for the CSS class), label, icon."""
    state = AreaState(state)
    return {"value": state.value, "label": state.label, "icon": ICONS[state]}
