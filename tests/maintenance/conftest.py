"""Maintenance fixtures: time frozen at T0 (a Monday morning, UTC) and a helper that
schedules a window five days ahead, by default over the Ashburn PoP (which both A and B
reach: A by private line, B through the internet, so each gets its own texts)."""

from __future__ import annotations

import datetime

import pytest
import time_machine

from caredeck.maintenance.services import maintenance_schedule

T0 = datetime.datetime(2030, 6, 3, 8, 0, tzinfo=datetime.UTC)
HOUR = datetime.timedelta(hours=1)
MINUTE = datetime.timedelta(minutes=1)
START = T0 + datetime.timedelta(days=5)
END = START + 2 * HOUR


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def schedule(deployed, incident_manager, contact_a, contact_b):
    """schedule(**overrides) -> a window announced as the incident manager."""

    def make(**overrides):
        fields = {
            "actor": incident_manager,
            "title": "Edge router upgrade",
            "impact": "Calls may drop once while traffic moves to the partner PoP.",
            "starts_at": START,
            "ends_at": END,
            "failure": {"target": "pop-ashburn"},
            **overrides,
        }
        return maintenance_schedule(**fields)

    return make
