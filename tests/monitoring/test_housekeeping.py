"""Keeping monitoring data under frozen time: hourly and daily roll-ups (idempotent,
maintenance left out), expiry of raw results, silent agents flagged once and not read as
down, and time-based availability from the state history minus maintenance."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from caredeck.core.audit import AuditEntry
from caredeck.maintenance.models import Maintenance, MaintenanceStatus, MaintenanceTenant
from caredeck.monitoring import housekeeping, selectors
from caredeck.monitoring.models import (
    CheckResult,
    CheckState,
    ProbeLocation,
    Rollup,
    StateChange,
)
from caredeck.notify.models import OutboundMessage
from tests.monitoring.conftest import T0

pytestmark = pytest.mark.django_db

ASH, SJ = "pop-ashburn", "pop-san-jose"
MINUTE = datetime.timedelta(minutes=1)
HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)


def fresh(obj):
    obj.refresh_from_db()
    return obj


def result(check, location, started_at, ok=True, ms=100, in_maintenance=False):
    return CheckResult.objects.create(
        synthetic_check=check, location=ProbeLocation.objects.get(slug=location),
        started_at=started_at, ok=ok, duration_ms=ms, in_maintenance=in_maintenance)


def rollups(period):
    return sorted(Rollup.objects.filter(period=period).values_list(
        "location__slug", "bucket", "runs", "failures", "total_ms", "max_ms"))


# --- Roll-ups and expiry ---------------------------------------------------------------


def test_rollups_per_hour_and_day_are_correct_and_idempotent(frozen, make_check):
    check = make_check()
    day = T0.replace(hour=0)  # 2030-06-03 00:00
    result(check, ASH, day + 7 * HOUR + 5 * MINUTE, ms=100)
    result(check, ASH, day + 7 * HOUR + 35 * MINUTE, ok=False, ms=300)
    result(check, ASH, day + 6 * HOUR + 59 * MINUTE, ms=50)
    result(check, SJ, day + 7 * HOUR + 10 * MINUTE, ms=80)
    result(check, ASH, day - HOUR, ok=False, ms=900)  # yesterday 23:00
    result(check, ASH, day + 7 * HOUR + 40 * MINUTE, ok=False, ms=5000, in_maintenance=True)

    written = housekeeping.rollup()
    hours = rollups(Rollup.Period.HOUR)
    assert hours == [
        (ASH, day - HOUR, 1, 1, 900, 900),
        (ASH, day + 6 * HOUR, 1, 0, 50, 50),
        (ASH, day + 7 * HOUR, 2, 1, 400, 300),  # the maintenance run is left out
        (SJ, day + 7 * HOUR, 1, 0, 80, 80),
    ]
    days = rollups(Rollup.Period.DAY)
    assert days == [
        (ASH, day - DAY, 1, 1, 900, 900),
        (ASH, day, 3, 1, 450, 300),
        (SJ, day, 1, 0, 80, 80),
    ]
    assert written == 7

    assert housekeeping.rollup() == 7  # run twice: the same rows, not twice the counts
    assert rollups(Rollup.Period.HOUR) == hours and rollups(Rollup.Period.DAY) == days
    assert Rollup.objects.count() == 7

    # A later run in a bucket already written updates it.
    result(check, SJ, day + 7 * HOUR + 50 * MINUTE, ok=False, ms=120)
    housekeeping.rollup()
    assert (SJ, day + 7 * HOUR, 2, 1, 200, 120) in rollups(Rollup.Period.HOUR)
    assert (SJ, day, 2, 1, 200, 120) in rollups(Rollup.Period.DAY)


def test_prune_deletes_raw_results_past_the_retention_and_keeps_rollups(
    frozen, make_check, settings
):
    settings.MONITORING_RAW_DAYS = 3
    check = make_check()
    old = result(check, ASH, T0 - 3 * DAY - MINUTE, ok=False)
    kept = result(check, ASH, T0 - 3 * DAY + MINUTE)
    Rollup.objects.create(synthetic_check=check, location=old.location,
                          period=Rollup.Period.DAY, bucket=T0.replace(hour=0) - 3 * DAY,
                          runs=1, failures=1)
    assert housekeeping.prune() == 1
    assert list(CheckResult.objects.all()) == [kept]
    assert Rollup.objects.count() == 1

    settings.MONITORING_RAW_DAYS = 14
    result(check, ASH, T0 - 13 * DAY)
    assert housekeeping.prune() == 0


# --- Agent silence ---------------------------------------------------------------------


@pytest.fixture
def agent(db):
    return ProbeLocation.objects.create(slug="agent-chicago", name="Chicago agent",
                                        mode=ProbeLocation.Mode.AGENT)


def agent_notices():
    return OutboundMessage.objects.filter(event="monitoring.agent", channel="email")


def test_a_silent_agent_is_flagged_once_and_not_read_as_down(
    frozen, make_check, report, agent, settings, engineer, platform_admin, incident_manager
):
    settings.MONITORING_AGENT_SILENCE_SECONDS = 900
    check = make_check(failures_to_alert=1, quorum=1, locations=[ASH, agent.slug])
    housekeeping.agent_seen(agent)
    report(check, {ASH: True, agent.slug: True})
    frozen.shift(60)
    report(check, {agent.slug: False})  # its last word: down
    housekeeping.agent_seen(fresh(agent))
    check = fresh(check)
    assert check.state == CheckState.DOWN

    frozen.shift(899)  # last seen 899 s ago: not yet
    assert housekeeping.agents_silence() == 0
    frozen.shift(2)
    assert housekeeping.agents_silence() == 1
    agent = fresh(agent)
    assert agent.silent_since == timezone.now()
    assert sorted(agent_notices().values_list("recipient", flat=True)) == sorted([
        engineer.email, platform_admin.email])  # engineers and platform admins only
    assert AuditEntry.objects.filter(action="agent_silent").count() == 1

    # Its checks are re-settled without it: Ashburn says up.
    check = fresh(check)
    assert check.state == CheckState.UP
    assert check.state_changes.last().reason == "up from 1 of 1 locations"

    frozen.shift(600)
    assert housekeeping.agents_silence() == 0  # flagged once
    assert agent_notices().count() == 2


def test_an_agent_back_votes_again(frozen, make_check, report, agent, settings):
    check = make_check(failures_to_alert=1, successes_to_recover=1, quorum=2,
                       locations=[ASH, agent.slug])
    housekeeping.agent_seen(agent)
    report(check, {ASH: True, agent.slug: True})
    frozen.shift(settings.MONITORING_AGENT_SILENCE_SECONDS + 1)
    assert housekeeping.agents_silence() == 1
    report(check, {ASH: False})
    # Ashburn alone (the agent silent): down from 1 of 1.
    assert fresh(check).state == CheckState.DOWN

    frozen.shift(60)
    housekeeping.agent_seen(fresh(agent))  # as the agent API finds it: from the database
    assert fresh(agent).silent_since is None
    assert AuditEntry.objects.filter(action="agent_back").count() == 1
    # Its vote (up) counts again at once: 1 of 2 down with quorum 2 is not down.
    check = fresh(check)
    assert check.state == CheckState.UP
    assert check.state_changes.last().reason == "up from 1 of 2 locations"
    report(check, {ASH: False, agent.slug: False})
    assert fresh(check).state == CheckState.DOWN


def test_a_builtin_location_is_never_flagged(frozen, make_check, settings):
    make_check()
    frozen.shift(settings.MONITORING_AGENT_SILENCE_SECONDS * 10)
    assert housekeeping.agents_silence() == 0
    assert not ProbeLocation.objects.filter(silent_since__isnull=False).exists()


# --- Availability ----------------------------------------------------------------------


def history(check, *moves):
    state = CheckState.PENDING
    for when, to in moves:
        StateChange.objects.create(synthetic_check=check, at=when, from_state=state,
                                   to_state=to)
        state = to


def test_downtime_and_availability_from_the_state_history(frozen, make_check):
    check = make_check()
    check.created_at = T0 - 10 * DAY
    check.save()
    day = T0.replace(hour=0) - DAY  # yesterday 00:00
    history(check, (day - DAY, CheckState.UP), (day + 2 * HOUR, CheckState.DOWN),
            (day + 3 * HOUR, CheckState.UP), (day + 20 * HOUR, CheckState.DOWN),
            (day + 20 * HOUR + 30 * MINUTE, CheckState.PENDING),
            (day + 20 * HOUR + 36 * MINUTE, CheckState.UP))
    assert selectors.downtime(check, day, day + DAY) == [
        (day + 2 * HOUR, day + 3 * HOUR),
        (day + 20 * HOUR, day + 20 * HOUR + 30 * MINUTE)]
    # 90 minutes down of 1,440.
    assert selectors.availability(check, day, day + DAY) == round(100 * (1 - 90 / 1440), 4)
    # Clipped to the period; still down at its end.
    history_end = day + DAY + 7 * HOUR
    StateChange.objects.create(synthetic_check=check, at=history_end,
                               from_state=CheckState.UP, to_state=CheckState.DOWN)
    assert selectors.downtime(check, day + 2 * HOUR + 30 * MINUTE, T0) == [
        (day + 2 * HOUR + 30 * MINUTE, day + 3 * HOUR),
        (day + 20 * HOUR, day + 20 * HOUR + 30 * MINUTE),
        (history_end, T0)]


def test_maintenance_is_excluded_from_downtime_and_from_the_period(
    frozen, make_check, incident_manager, deployed
):
    check = make_check()  # acme, agent_login
    check.created_at = T0 - 10 * DAY
    check.save()
    day = T0.replace(hour=0) - DAY
    history(check, (day - DAY, CheckState.UP), (day + 2 * HOUR, CheckState.DOWN),
            (day + 4 * HOUR, CheckState.UP))

    def window(start, end, areas, organization=deployed[0], status=MaintenanceStatus.COMPLETED):
        maintenance = Maintenance.objects.create(
            title="Upgrade", impact="Calls may drop.", starts_at=start, ends_at=end,
            status=status, owner=incident_manager)
        MaintenanceTenant.objects.create(maintenance=maintenance, organization=organization,
                                         areas=areas)

    # The check's area (as the scope stores it: area cells) from 03:00 to 05:00.
    window(day + 3 * HOUR, day + 5 * HOUR, [{"area": "agent_login", "name": "Agent login"}])
    # Another area, another tenant, a cancelled window: none of them count.
    window(day + 2 * HOUR, day + 3 * HOUR, [{"area": "reporting", "name": "Reporting"}])
    window(day + 2 * HOUR, day + 3 * HOUR, [], organization=deployed[1])
    window(day + 2 * HOUR, day + 3 * HOUR, [], status=MaintenanceStatus.CANCELLED)

    assert selectors.downtime(check, day, day + DAY) == [(day + 2 * HOUR, day + 3 * HOUR)]
    # 60 minutes down of the 1,320 outside maintenance.
    assert selectors.availability(check, day, day + DAY) == round(100 * (1 - 60 / 1320), 4)


def test_ninety_daily_bars(frozen, make_check):
    check = make_check()
    check.created_at = T0 - 2 * DAY - 12 * HOUR  # May 31, 20:00
    check.save()
    today = T0.replace(hour=0)
    history(check, (check.created_at, CheckState.UP),
            (today - DAY + 6 * HOUR, CheckState.DOWN),
            (today - DAY + 12 * HOUR, CheckState.UP))
    bars = selectors.daily_bars(check)
    assert len(bars) == 90
    assert bars[-1]["day"] == today.date()
    assert bars[0]["day"] == (today - 89 * DAY).date()
    assert all(bar["availability"] is None for bar in bars[:-4])  # before the check
    assert bars[-4]["availability"] == 100.0  # from its creation at 20:00
    assert bars[-3]["availability"] == 100.0
    assert bars[-2]["availability"] == 75.0  # 6 of 24 hours down
    assert bars[-1]["availability"] == 100.0  # today so far


def test_a_new_agent_has_the_silence_period_to_report_first(frozen, make_check, agent, settings):
    settings.MONITORING_AGENT_SILENCE_SECONDS = 900
    make_check(locations=[ASH, agent.slug])
    frozen.shift(600)
    assert housekeeping.agents_silence() == 0  # never reported, but only 10 minutes old
    frozen.shift(301)
    assert housekeeping.agents_silence() == 1


def test_measured_availability_per_area_and_tenant_feeds_the_sla_page(
    frozen, make_check, report, page_as, admin_a, deployed
):
    from caredeck.monitoring.selectors import measured_availability

    desktop = make_check(name="Desktop", area="agent_login", failures_to_alert=1, quorum=1,
                         successes_to_recover=1)
    routing = make_check(name="Routing", area="call_routing", failures_to_alert=1, quorum=1)
    start = timezone.now()
    report(desktop, {ASH: True, SJ: True})
    report(routing, {ASH: True, SJ: True})
    frozen.shift(3600)
    report(desktop, {ASH: False, SJ: False})  # the desktop is down for one hour
    frozen.shift(3600)
    report(desktop, {ASH: True, SJ: True})
    frozen.shift(7200)  # four hours in all
    measured = measured_availability(deployed[0], start, timezone.now())
    assert measured["checks"] == 2
    assert measured["areas"]["agent_login"]["availability"] == 75.0
    assert measured["areas"]["call_routing"]["availability"] == 100.0
    assert measured["tenant"] == 75.0
    body = page_as(admin_a).get("/reports/sla/").content.decode()
    assert "Measured by synthetic checks" in body and "Agent login" in body
