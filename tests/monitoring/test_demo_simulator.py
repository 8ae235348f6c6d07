"""The demo's simulated tenant endpoints and its monitoring set-up.

- The simulator (in-process, in a thread with its own event loop, on free ports) serves
  what the demo's checks expect: the web transaction, the chat bot, SIP OPTIONS and a
  call that plays its tone — each check passes when run by the real probe engines.
- Breaking a region (a row in the database, as the simulator page writes it) makes its
  endpoints fail and leaves the other regions alone; mending restores them. A broken PoP
  fails the tenants whose PoP pair includes it.
- The demo's locations and checks load idempotently; the simulator page is for staff who
  run monitoring, audited, and polls its live panel.
"""

from __future__ import annotations

import asyncio

import pytest

from caredeck.core.models import AuditEntry
from caredeck.monitoring import demo
from caredeck.monitoring.models import Check, CheckAssignment, ProbeLocation, SimulatedOutage
from caredeck.monitoring.probes import ProbeSession, ProbeSpec, run_probe
from caredeck.monitoring.simulator import Breakage, SimulatorThread, endpoints, load_breakage
from caredeck.monitoring.simulator_views import outage_end, outage_start
from caredeck.topology.deployments import deployment_set
from tests.factories import OrganizationFactory

REGIONS = ["eu-west-1", "us-east", "us-west"]



def _specs(sim, region: str, tenant: str, *, timeout: float = 8) -> dict[str, ProbeSpec]:
    urls = endpoints(region, tenant, port=sim.port, sip_port=sim.sip_ports[region])
    return {
        spec["kind"]: ProbeSpec(kind=spec["kind"], target=spec["target"], timeout=timeout,
                                assertions=spec.get("assertions", []), config=spec["config"])
        for spec in demo.check_specs(urls, {"chat_email"})
    }


def _run_all(specs: dict[str, ProbeSpec]) -> dict:
    async def main():
        async with ProbeSession() as session:
            outcomes = await asyncio.gather(*(run_probe(s, session=session)
                                              for s in specs.values()))
        return dict(zip(specs, outcomes, strict=True))

    return asyncio.run(main())


@pytest.fixture
def sim_no_db():
    with SimulatorThread(regions=REGIONS, load=Breakage) as sim:
        yield sim


def test_the_simulator_serves_what_the_demo_checks_expect(sim_no_db):
    outcomes = _run_all(_specs(sim_no_db, "us-east", "acme"))
    assert set(outcomes) == {"http", "websocket", "sip_options", "sip_call"}
    for kind, outcome in outcomes.items():
        assert outcome.ok, (kind, outcome.error, outcome.evidence[:500])
    web = outcomes["http"]
    assert [s.name for s in web.steps] == ["health", "log in", "open desktop"]
    call = outcomes["sip_call"]
    assert call.status_code == 200
    assert any("media" in s.name and s.ok for s in call.steps)


def test_the_desktop_needs_the_token_from_the_login(sim_no_db):
    urls = endpoints("us-east", "acme", port=sim_no_db.port, sip_port=1)
    spec = ProbeSpec(kind="http", target=urls["desktop"], timeout=5,
                     assertions=[{"type": "status", "value": 200}])
    outcome = _run_all({"http": spec})["http"]
    assert not outcome.ok and outcome.status_code == 401
    unknown = ProbeSpec(kind="http", target=urls["web"].replace("us-east", "mars"), timeout=5)
    assert _run_all({"http": unknown})["http"].status_code == 404


@pytest.mark.django_db(transaction=True)
def test_breaking_a_region_fails_its_endpoints_and_mending_restores_them(platform_admin):
    with SimulatorThread(regions=REGIONS, poll=60) as sim:
        outage_start(actor=platform_admin, target="us-east")
        sim.refresh()
        assert sim.breakage.regions == {"us-east"}
        broken = _run_all(_specs(sim, "us-east", "acme", timeout=2))
        for kind, outcome in broken.items():
            assert not outcome.ok, kind
        assert broken["http"].status_code == 503
        others = _run_all(_specs(sim, "us-west", "globex"))
        assert all(o.ok for o in others.values()), {k: o.error for k, o in others.items()}

        assert outage_end(actor=platform_admin, target="us-east")
        sim.refresh()
        mended = _run_all(_specs(sim, "us-east", "acme"))
        assert all(o.ok for o in mended.values()), {k: o.error for k, o in mended.items()}


@pytest.mark.django_db(transaction=True)
def test_a_broken_pop_fails_the_tenants_it_serves(platform_admin, deployed):
    emea = OrganizationFactory(slug="emea-co", name="EMEA Co")
    deployment_set(actor=platform_admin, organization=emea, primary_region="eu-west-1",
                   secondary_region="eu-west-2", pops=["pop-london", "pop-frankfurt"],
                   connectivity="internet", areas=["call_routing", "agent_login"])
    outage_start(actor=platform_admin, target="pop-london")
    breakage = load_breakage()
    assert breakage.regions == frozenset() and breakage.tenants == {"emea-co"}
    assert breakage.broken("eu-west-1", "emea-co") and not breakage.broken("us-east", "acme")
    with SimulatorThread(regions=REGIONS, poll=60) as sim:
        failing = _run_all(_specs(sim, "eu-west-1", "emea-co", timeout=2))
        assert not any(o.ok for o in failing.values())
        fine = _run_all(_specs(sim, "us-east", "acme"))
        assert all(o.ok for o in fine.values()), {k: o.error for k, o in fine.items()}


# --- The demo's set-up ----------------------------------------------------------------


def test_the_demo_loads_its_locations_and_checks_idempotently(db, platform_admin, deployed):
    ports = {region: 9001 + i for i, region in enumerate(
        ["ca-central", "eu-east", "eu-west-1", "eu-west-2", "us-east", "us-west"])}
    assert demo.load_demo_monitoring(platform_admin, port=9000, ports=ports) == 8
    tenant_a, tenant_b = deployed
    assert ProbeLocation.objects.filter(mode="builtin", pop__isnull=False).count() == 10
    for tenant in deployed:
        checks = Check.objects.filter(organization=tenant)
        assert sorted(checks.values_list("kind", flat=True)) == [
            "http", "sip_call", "sip_options", "websocket"]
        for check in checks:
            assert (check.interval, check.failures_to_alert, check.quorum) == (60, 2, 2)
            assert sorted(check.assignments.values_list("location__slug", flat=True)) == [
                "pop-ashburn", "pop-san-jose"]
    web = Check.objects.get(organization=tenant_a, kind="http")
    assert web.target == "http://127.0.0.1:9000/us-east/acme/health"
    assert {a["type"] for a in web.assertions} == {"status", "latency_ms"}
    assert web.config["steps"][0]["assertions"][1]["type"] == "json_path"
    assert Check.objects.get(organization=tenant_b, kind="sip_call").target == \
        "sip:globex@127.0.0.1:9006;transport=udp"

    audits, assignments = AuditEntry.objects.count(), CheckAssignment.objects.count()
    assert demo.load_demo_monitoring(platform_admin, port=9000, ports=ports) == 0
    assert (AuditEntry.objects.count(), CheckAssignment.objects.count()) == (audits, assignments)
    assert Check.objects.count() == 8

    # The simulator moved: the checks follow it (and nothing else changes).
    moved = {region: port + 100 for region, port in ports.items()}
    assert demo.load_demo_monitoring(platform_admin, port=9100, ports=moved) == 8
    web.refresh_from_db()
    assert web.target == "http://127.0.0.1:9100/us-east/acme/health"
    assert Check.objects.count() == 8


def test_the_demo_checks_pass_validation_and_skip_the_fleet(db, platform_admin, deployed):
    fleet = OrganizationFactory(slug="fleet-001", name="Fleet 001")
    deployment_set(actor=platform_admin, organization=fleet, primary_region="us-east",
                   secondary_region="us-west", pops=["pop-ashburn", "pop-san-jose"],
                   connectivity="internet", areas=["call_routing", "agent_login"])
    demo.load_demo_monitoring(platform_admin, port=9000)
    assert not Check.objects.filter(organization=fleet).exists()
    assert Check.objects.filter(organization__in=deployed).count() == 8


# --- The page -------------------------------------------------------------------------


def test_the_simulator_page_breaks_and_mends_audited(db, page_as, platform_admin, deployed):
    client = page_as(platform_admin)
    page = client.get("/monitoring/simulator/")
    assert page.status_code == 200
    assert b"Break us-east" in page.content and b'hx-trigger="every 5s"' in page.content

    response = client.post("/monitoring/simulator/break/", {"target": "us-east"})
    assert response.status_code == 302
    outage = SimulatedOutage.objects.get()
    assert outage.target == "us-east" and outage.started_by == platform_admin
    assert AuditEntry.objects.filter(object_kind="simulated_outage", object_id="us-east",
                                     action="broken").exists()
    assert b"Mend us-east" in client.get("/monitoring/simulator/").content
    live = client.get("/monitoring/simulator/", HTTP_HX_REQUEST="true")
    assert live.status_code == 200 and b"<html" not in live.content
    assert b"us-east" in live.content

    client.post("/monitoring/simulator/break/", {"target": "us-east"})  # already broken
    assert SimulatedOutage.objects.count() == 1
    client.post("/monitoring/simulator/break/", {"target": "atlantis"})
    assert SimulatedOutage.objects.count() == 1

    client.post("/monitoring/simulator/mend/", {"target": "us-east"})
    assert not SimulatedOutage.objects.exists()
    assert AuditEntry.objects.filter(object_kind="simulated_outage", object_id="us-east",
                                     action="mended").exists()


def test_only_staff_who_run_monitoring_use_the_simulator(db, page_as, admin_a, tam,
                                                          care_analyst):
    for user in (admin_a, tam, care_analyst):
        client = page_as(user)
        assert client.get("/monitoring/simulator/").status_code == 403
        assert client.post("/monitoring/simulator/break/",
                           {"target": "us-east"}).status_code == 403
        assert client.post("/monitoring/simulator/mend/",
                           {"target": "us-east"}).status_code == 403
    assert not SimulatedOutage.objects.exists()
