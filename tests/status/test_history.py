"""90 days of daily history per functional area: each day's worst state, the minutes an
incident held the area, maintenance minutes, and the uptime beside the bars."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pytest

from caredeck.status.selectors import tenant_status
from caredeck.status.states import AreaState
from caredeck.status.svg import history_svg
from tests.status.conftest import area, at

NOW = at("2025-06-30 12:00")


def history_of(organization):
    status = tenant_status(organization, now=NOW, zone=dt.UTC)
    return {a.area: a.history for a in status.areas}


@pytest.mark.django_db
def test_each_day_has_the_worst_state_and_the_impacted_minutes(
    deployed, tenant_a, make_incident, affect, make_window
):
    # Two hours of SEV2 on call routing, with a SEV3 on the same day and area.
    sev2 = make_incident(
        severity="SEV2", detected_at=at("2025-06-27 09:00"), resolved_at=at("2025-06-27 11:00")
    )
    affect(sev2, tenant_a, [area("call_routing")])
    sev3 = make_incident(
        severity="SEV3", detected_at=at("2025-06-27 10:00"), resolved_at=at("2025-06-27 12:00")
    )
    affect(sev3, tenant_a, [area("call_routing"), area("reporting")])
    # Across midnight: 30 minutes on the 20th, 45 on the 21st.
    night = make_incident(
        severity="SEV1", detected_at=at("2025-06-20 23:30"), resolved_at=at("2025-06-21 00:45")
    )
    affect(night, tenant_a, [area("agent_login")])
    make_window(
        tenant_a, [area("reporting")], starts_at=at("2025-06-28 02:00"),
        ends_at=at("2025-06-28 03:00"), started_at=at("2025-06-28 02:00"),
        completed_at=at("2025-06-28 02:40"),
    )

    history = history_of(tenant_a)
    routing = history["call_routing"]
    assert len(routing.days) == 90
    assert routing.days[-1].day == dt.date(2025, 6, 30)
    assert routing.days[0].day == dt.date(2025, 4, 2)
    day = {d.day: d for d in routing.days}
    # Overlapping incidents: the worst state, and the union of their minutes (09:00-12:00).
    assert day[dt.date(2025, 6, 27)].state == AreaState.PARTIAL_OUTAGE
    assert day[dt.date(2025, 6, 27)].impacted_minutes == 180
    assert day[dt.date(2025, 6, 26)].state == AreaState.OPERATIONAL
    assert day[dt.date(2025, 6, 26)].impacted_minutes == 0
    assert [d.day for d in routing.troubled_days] == [dt.date(2025, 6, 27)]

    login = {d.day: d for d in history["agent_login"].days}
    assert (login[dt.date(2025, 6, 20)].state, login[dt.date(2025, 6, 20)].impacted_minutes) == (
        AreaState.MAJOR_OUTAGE, 30
    )
    assert login[dt.date(2025, 6, 21)].impacted_minutes == 45

    reporting = {d.day: d for d in history["reporting"].days}
    assert reporting[dt.date(2025, 6, 27)].state == AreaState.DEGRADED
    assert reporting[dt.date(2025, 6, 28)].state == AreaState.MAINTENANCE
    assert reporting[dt.date(2025, 6, 28)].maintenance_minutes == 40
    assert reporting[dt.date(2025, 6, 28)].impacted_minutes == 0

    # Uptime: SEV2 outage minutes count, the SEV3 degradation does not.
    period = (NOW - dt.datetime(2025, 4, 2, tzinfo=dt.UTC)).total_seconds()
    assert routing.uptime == 1 - Fraction(2 * 3600, int(period))
    assert history["reporting"].uptime == 1
    assert routing.uptime_text == "99.90 %"  # 2 h of 89.5 days, rounded down


@pytest.mark.django_db
def test_the_bars_say_date_state_and_minutes_in_words(deployed, tenant_a, make_incident, affect):
    sev2 = make_incident(
        severity="SEV2", detected_at=at("2025-06-27 09:00"), resolved_at=at("2025-06-27 09:42")
    )
    affect(sev2, tenant_a, [area("call_routing")])

    svg = str(history_svg(history_of(tenant_a)["call_routing"], "h-1"))
    assert svg.count("<use ") == 90
    assert "<title>Fri 2025-06-27: Partial outage, 42 min impacted</title>" in svg
    # Days that read the same share one tooltip.
    assert "<title>Wed 2025-04-02 – Thu 2025-06-26: Operational</title>" in svg
    assert "<title>Sat 2025-06-28 – Mon 2025-06-30: Operational</title>" in svg
    assert 'role="img"' in svg
    assert "last 90 days: 89 operational, 1 partial outage" in svg


@pytest.mark.django_db
def test_an_incident_still_open_counts_until_now(deployed, tenant_a, make_incident, affect):
    ongoing = make_incident(severity="SEV1", detected_at=at("2025-06-30 11:00"))
    affect(ongoing, tenant_a, [area("call_routing")])
    today = history_of(tenant_a)["call_routing"].days[-1]
    assert (today.state, today.impacted_minutes) == (AreaState.MAJOR_OUTAGE, 60)
