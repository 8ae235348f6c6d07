"""A remote probe agent end to end: `caredeck probe --url … --token …` pulls its
location's due runs over the API, runs them, and posts the outcomes, which CareDeck
records for that location only."""

from __future__ import annotations

import asyncio
import datetime
import time

import pytest

from caredeck.monitoring import services
from caredeck.monitoring.models import CheckAssignment, CheckResult, ProbeLocation
from caredeck.monitoring.runner import AgentSource, Runner

pytestmark = pytest.mark.django_db(transaction=True)


def run_agent(base_url: str, token: str, seconds: float = 2.0) -> int:
    async def main():
        source = AgentSource(base_url, token)
        try:
            return await Runner(source, concurrency=20).loop(until=time.monotonic() + seconds)
        finally:
            await source.close()

    return asyncio.run(main())


def test_an_agent_runs_only_its_locations_checks(live_server, platform_admin, make_check):
    agent, token = services.location_create(actor=platform_admin, slug="agent-chicago",
                                            name="Chicago agent", mode="agent")
    check = make_check(locations=["pop-ashburn", "agent-chicago"])
    CheckAssignment.objects.update(next_run_at=datetime.datetime.now(datetime.UTC))

    assert run_agent(live_server.url, token) == 1  # its own run, not Ashburn's
    results = CheckResult.objects.filter(synthetic_check=check)
    assert [(r.location.slug, r.ok) for r in results] == [("agent-chicago", True)]
    agent.refresh_from_db()
    assert agent.last_seen_at is not None
    ashburn = CheckAssignment.objects.get(synthetic_check=check, location__slug="pop-ashburn")
    assert ashburn.last_run_at is None and ashburn.leased_until is None


def test_a_wrong_token_gets_nothing(live_server, make_check):
    make_check()
    CheckAssignment.objects.update(next_run_at=datetime.datetime.now(datetime.UTC))
    assert run_agent(live_server.url, "cdp_not-a-token", seconds=1.0) == 0
    assert not CheckResult.objects.exists()
    assert not ProbeLocation.objects.filter(last_seen_at__isnull=False).exists()
