"""From runs to verdicts under frozen time: hysteresis per location, k of n locations per
check, the correlation window before an alert, maintenance suppression, and a silent
agent's location not voting."""

from __future__ import annotations

import datetime

import pytest
from django.conf import settings
from django.utils import timezone

from caredeck.maintenance.services import maintenance_schedule, maintenance_start
from caredeck.monitoring import evaluation
from caredeck.monitoring.models import (
    CheckResult,
    CheckState,
    ProbeLocation,
    StateChange,
)
from tests.monitoring.conftest import T0, assignment_of

pytestmark = pytest.mark.django_db

ASH, SJ = "pop-ashburn", "pop-san-jose"
MINUTE = datetime.timedelta(minutes=1)


def at(minutes: float) -> datetime.datetime:
    return T0 + datetime.timedelta(minutes=minutes)


def step(frozen, report, check, outcomes: dict) -> None:
    """One minute on, then one run per location."""
    frozen.shift(MINUTE)
    report(check, outcomes)


def fresh(check):
    check.refresh_from_db()
    return check


# --- Hysteresis at one location --------------------------------------------------------


def test_n_consecutive_failures_take_a_location_down_and_n_minus_1_do_not(
    frozen, make_check, report
):
    check = make_check(failures_to_alert=3, successes_to_recover=2, quorum=1,
                       locations=[ASH])
    report(check, {ASH: True})
    assert assignment_of(check, ASH).state == CheckState.UP
    assert fresh(check).state == CheckState.UP

    step(frozen, report, check, {ASH: False})
    step(frozen, report, check, {ASH: False})
    row = assignment_of(check, ASH)
    assert (row.state, row.consecutive_failures) == (CheckState.UP, 2)
    assert fresh(check).state == CheckState.UP

    step(frozen, report, check, {ASH: False})
    row = assignment_of(check, ASH)
    assert row.state == CheckState.DOWN
    assert row.first_failure_at == at(1)  # the first failed run, not the confirming one
    check = fresh(check)
    assert check.state == CheckState.DOWN
    assert check.failing_since == at(1)
    assert check.state_since == at(3)


def test_a_success_in_between_resets_the_count(frozen, make_check, report):
    check = make_check(failures_to_alert=3, quorum=1, locations=[ASH])
    report(check, {ASH: True})
    for ok in (False, False, True, False, False):
        step(frozen, report, check, {ASH: ok})
    row = assignment_of(check, ASH)
    assert (row.state, row.consecutive_failures) == (CheckState.UP, 2)
    assert fresh(check).state == CheckState.UP

    step(frozen, report, check, {ASH: False})
    row = assignment_of(check, ASH)
    assert row.state == CheckState.DOWN
    assert row.first_failure_at == at(4)  # counted again from after the success
    assert fresh(check).failing_since == at(4)


def test_m_successes_bring_it_back_up(frozen, make_check, report):
    check = make_check(failures_to_alert=2, successes_to_recover=3, quorum=1,
                       locations=[ASH])
    report(check, {ASH: True})
    step(frozen, report, check, {ASH: False})
    step(frozen, report, check, {ASH: False})
    assert fresh(check).state == CheckState.DOWN

    step(frozen, report, check, {ASH: True})
    step(frozen, report, check, {ASH: True})
    row = assignment_of(check, ASH)
    assert (row.state, row.consecutive_successes) == (CheckState.DOWN, 2)
    assert fresh(check).state == CheckState.DOWN

    step(frozen, report, check, {ASH: True})
    row = assignment_of(check, ASH)
    assert row.state == CheckState.UP and row.first_failure_at is None
    check = fresh(check)
    assert check.state == CheckState.UP
    assert check.failing_since is None and check.alert_due_at is None
    assert [(c.from_state, c.to_state, c.at) for c in check.state_changes.all()] == [
        ("pending", "up", at(0)), ("up", "down", at(2)), ("down", "up", at(5)),
    ]


def test_a_single_success_while_down_keeps_the_first_failure_time(frozen, make_check, report):
    """A location that is down and passes once (fewer than M successes) is still down:
    its failure began at its first failed run, and the check's detection time is that
    run once enough locations agree."""
    check = make_check(failures_to_alert=2, successes_to_recover=2, quorum=2)
    report(check, {ASH: True, SJ: True})
    step(frozen, report, check, {ASH: False, SJ: True})  # minute 1: Ashburn's first failure
    step(frozen, report, check, {ASH: False, SJ: True})  # Ashburn down
    step(frozen, report, check, {ASH: True, SJ: True})  # one success: still down
    step(frozen, report, check, {ASH: False, SJ: False})
    assert assignment_of(check, ASH).state == CheckState.DOWN
    assert assignment_of(check, ASH).first_failure_at == at(1)
    assert fresh(check).state == CheckState.UP  # 1 of 2
    step(frozen, report, check, {ASH: False, SJ: False})
    check = fresh(check)
    assert check.state == CheckState.DOWN
    assert check.failing_since == at(1)


# --- k of n ----------------------------------------------------------------------------


def test_with_quorum_two_one_location_down_is_not_enough_both_are(frozen, make_check, report):
    check = make_check(failures_to_alert=2, quorum=2)
    report(check, {ASH: True, SJ: True})
    step(frozen, report, check, {ASH: False, SJ: True})
    step(frozen, report, check, {ASH: False, SJ: True})
    assert assignment_of(check, ASH).state == CheckState.DOWN
    check = fresh(check)
    assert check.state == CheckState.UP and check.alert_due_at is None

    step(frozen, report, check, {ASH: False, SJ: False})
    step(frozen, report, check, {ASH: False, SJ: False})
    check = fresh(check)
    assert check.state == CheckState.DOWN
    assert check.failing_since == at(1)  # the earliest first failure of the locations down
    assert check.state_changes.last().reason.startswith("down from 2 of 2 locations")


def test_with_quorum_one_a_single_location_suffices(frozen, make_check, report):
    check = make_check(failures_to_alert=2, quorum=1)
    report(check, {ASH: True, SJ: True})
    step(frozen, report, check, {ASH: True, SJ: False})
    step(frozen, report, check, {ASH: True, SJ: False})
    check = fresh(check)
    assert check.state == CheckState.DOWN
    assert "down from 1 of 2 locations" in check.state_changes.last().reason


def test_the_quorum_is_capped_at_the_number_of_voting_locations(frozen, make_check, report):
    check = make_check(failures_to_alert=1, quorum=5)
    report(check, {ASH: True, SJ: True})
    step(frozen, report, check, {ASH: False, SJ: True})
    assert fresh(check).state == CheckState.UP  # 1 of 2: not all
    step(frozen, report, check, {ASH: False, SJ: False})
    assert fresh(check).state == CheckState.DOWN  # 2 of 2: as many as there are


def test_a_silent_agents_location_does_not_vote(frozen, make_check, report):
    agent = ProbeLocation.objects.create(slug="agent-chicago", name="Chicago agent",
                                         mode=ProbeLocation.Mode.AGENT)
    check = make_check(failures_to_alert=1, quorum=2, locations=[ASH, agent.slug])
    report(check, {ASH: True, agent.slug: True})
    assert fresh(check).state == CheckState.UP

    # The agent falls silent: its last word (up) no longer counts; Ashburn alone says up.
    ProbeLocation.objects.filter(pk=agent.pk).update(silent_since=timezone.now())
    assert evaluation.verdict(check)[0] == CheckState.UP
    assert evaluation.verdict(check)[2] == "up from 1 of 1 locations"

    # Ashburn fails: with the agent silent the check is as the other locations say.
    step(frozen, report, check, {ASH: False})
    check = fresh(check)
    assert check.state == CheckState.DOWN
    assert "down from 1 of 1 locations" in check.state_changes.last().reason


def test_a_silent_agent_that_said_down_does_not_keep_the_check_down(frozen, make_check,
                                                                      report):
    agent = ProbeLocation.objects.create(slug="agent-chicago", name="Chicago agent",
                                         mode=ProbeLocation.Mode.AGENT)
    check = make_check(failures_to_alert=1, quorum=1, locations=[ASH, agent.slug])
    report(check, {ASH: True, agent.slug: False})
    assert fresh(check).state == CheckState.DOWN
    ProbeLocation.objects.filter(pk=agent.pk).update(silent_since=timezone.now())
    assert evaluation.verdict(check)[0] == CheckState.UP
    # Every location silent: nobody reports, the check waits (pending), never down.
    ProbeLocation.objects.filter(slug=ASH).update(silent_since=timezone.now())
    assert evaluation.verdict(check) == (CheckState.PENDING, None, "no location reports")


# --- Going down: the correlation window, history, maintenance -------------------------


def test_going_down_starts_the_correlation_window_and_writes_history(frozen, make_check,
                                                                      report):
    check = make_check(failures_to_alert=2, quorum=2)
    report(check, {ASH: True, SJ: True})
    step(frozen, report, check, {ASH: False, SJ: False})
    assert fresh(check).alert_due_at is None  # one failure: not confirmed
    step(frozen, report, check, {ASH: False, SJ: False})
    check = fresh(check)
    assert check.state == CheckState.DOWN
    assert check.failing_since == at(1)  # detection = the first failed run
    assert check.alert_due_at == at(2) + datetime.timedelta(
        seconds=settings.MONITORING_CORRELATION_SECONDS)
    changes = list(StateChange.objects.filter(synthetic_check=check))
    assert [(c.from_state, c.to_state, c.at) for c in changes] == [
        ("pending", "up", at(0)), ("up", "down", at(2))]
    # Further failures change nothing (no second state change, same window).
    step(frozen, report, check, {ASH: False, SJ: False})
    assert check.state_changes.count() == 2
    assert fresh(check).alert_due_at == at(2) + datetime.timedelta(
        seconds=settings.MONITORING_CORRELATION_SECONDS)


def window(incident_manager, *, start: bool = True, **scope):
    """A maintenance window from ten minutes on for two hours, started now if `start`."""
    now = timezone.now()
    maintenance = maintenance_schedule(
        actor=incident_manager, title="Edge router upgrade",
        impact="Calls may drop once.", starts_at=now + 10 * MINUTE,
        ends_at=now + 130 * MINUTE, **scope,
    )
    if start:
        maintenance = maintenance_start(actor=incident_manager, maintenance=maintenance)
    return maintenance


def go_down(frozen, report, check) -> None:
    report(check, {ASH: True, SJ: True})
    step(frozen, report, check, {ASH: False, SJ: False})
    step(frozen, report, check, {ASH: False, SJ: False})


@pytest.mark.parametrize("scope", [
    {"organizations": ["acme"], "areas": ["agent_login"]},  # the check's area
    {"organizations": ["acme"]},  # the whole tenant (every area it uses)
    {"failure": {"target": "pop-ashburn"}},  # an element whose impact reaches the tenant
], ids=["area", "tenant", "element"])
def test_going_down_in_a_maintenance_window_schedules_no_alert(
    frozen, make_check, report, incident_manager, scope
):
    check = make_check(failures_to_alert=2, quorum=2)
    window(incident_manager, **scope)
    assert evaluation.in_maintenance(check, timezone.now())
    go_down(frozen, report, check)
    check = fresh(check)
    assert check.state == CheckState.DOWN  # the history still shows it
    assert check.alert_due_at is None  # but it never alerts
    results = CheckResult.objects.filter(synthetic_check=check)
    assert results.count() == 6 and all(r.in_maintenance for r in results)


def test_a_window_over_another_area_or_tenant_does_not_suppress(
    frozen, make_check, report, incident_manager
):
    check = make_check(failures_to_alert=2, quorum=2)  # acme, agent_login
    window(incident_manager, organizations=["acme"], areas=["reporting"])
    window(incident_manager, organizations=["globex"])
    assert not evaluation.in_maintenance(check, timezone.now())
    go_down(frozen, report, check)
    check = fresh(check)
    assert check.alert_due_at is not None
    assert not CheckResult.objects.filter(synthetic_check=check, in_maintenance=True).exists()


def test_a_window_only_scheduled_covers_its_times_not_before(
    frozen, make_check, report, incident_manager
):
    check = make_check(failures_to_alert=2, quorum=2)
    window(incident_manager, start=False, organizations=["acme"])
    assert not evaluation.in_maintenance(check, timezone.now())
    assert evaluation.in_maintenance(check, timezone.now() + 10 * MINUTE)
    assert not evaluation.in_maintenance(check, timezone.now() + 130 * MINUTE)
    go_down(frozen, report, check)
    assert fresh(check).alert_due_at is not None


def test_results_of_one_batch_are_each_flagged_in_maintenance(
    frozen, make_check, report, incident_manager
):
    """A batch carries both locations' runs of a check: the passing one and the failing
    one are both inside the window (the flag is not decided by whichever came first)."""
    check = make_check(failures_to_alert=2, quorum=2)
    window(incident_manager, organizations=["acme"], areas=["agent_login"])
    report(check, {ASH: True, SJ: False})
    report(check, {SJ: False, ASH: True})
    flags = list(CheckResult.objects.filter(synthetic_check=check)
                 .values_list("location__slug", "ok", "in_maintenance"))
    assert sorted(flags) == [(ASH, True, True), (ASH, True, True),
                             (SJ, False, True), (SJ, False, True)]


def test_a_check_still_down_when_its_window_ends_alerts_then(
    frozen, make_check, report, incident_manager
):
    from caredeck.maintenance.services import maintenance_complete
    from caredeck.monitoring import alerts

    check = make_check(failures_to_alert=2, quorum=2)
    maintenance = window(incident_manager, organizations=["acme"])
    go_down(frozen, report, check)
    alerts.enqueue_due()
    assert fresh(check).alert_due_at is None  # still inside the window: quiet
    assert fresh(check).incident is None
    maintenance_complete(actor=incident_manager, maintenance=maintenance)
    alerts.enqueue_due()  # re-arms it, and the tests' task backend runs the alert at once
    check = fresh(check)
    assert check.incident is not None
    assert check.incident.detected_at == check.failing_since  # from the first failed run
