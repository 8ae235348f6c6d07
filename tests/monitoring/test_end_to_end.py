"""End to end: stop a region's simulated endpoints → one incident with the right tenants →
first notices at a local SMTP server.

Real pieces on loopback: the demo's simulator (web, chat WebSocket, SIP responders, in a
thread), the built-in probe's runner loop with the real probe engines, an SMTP server
(aiosmtpd). Time is driven, not slept: each probe pass runs what is made due now, with
the clock moved on by one interval (time-machine); then past the correlation window the
scheduler's tick enqueues the alert, and the test settings' ImmediateBackend runs the
enqueued tasks (the alert, the deliveries) inline.

The world: Acme and Initech homed in us-east, Globex in us-west (its areas are all
distributed, so a us-east failure does not reach it), each with the demo's four checks
(web transaction, chat, SIP OPTIONS, SIP call) every 30 s from the two PoPs of its
deployment, down after 2 failed runs from both (quorum 2).
"""

from __future__ import annotations

import asyncio
import datetime
import email
import socket
import time
from email import policy

import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.conf import settings as django_settings

from caredeck.accounts.roles import Role
from caredeck.core.scheduler import tick
from caredeck.incidents.models import Incident
from caredeck.monitoring import demo, services
from caredeck.monitoring.models import Check, CheckAssignment, CheckResult, CheckState
from caredeck.monitoring.runner import DatabaseSource, Runner
from caredeck.monitoring.simulator import SimulatorThread, endpoints
from caredeck.monitoring.simulator_views import outage_start
from caredeck.notify.services import outbox_enqueue_due
from caredeck.topology.deployments import deployment_set
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
INTERVAL = 30



class Inbox:
    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def smtp(settings):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    yield inbox
    controller.stop()


def probe_pass(at: datetime.datetime) -> int:
    """At `at`: every assignment due, one pass of the built-in probe's loop."""
    with time_machine.travel(at, tick=True):
        CheckAssignment.objects.update(next_run_at=datetime.datetime.now(datetime.UTC))
        runner = Runner(DatabaseSource(), concurrency=50)
        return asyncio.run(runner.loop(until=time.monotonic() + 2))


def test_a_broken_region_opens_one_incident_and_first_notices_reach_its_contacts(
    smtp, platform_admin, deployed, locations, incident_manager, contact_a, contact_b,
    member_a,
):
    tenant_a, tenant_b = deployed
    tenant_c = OrganizationFactory(slug="initech", name="Initech Banking")
    deployment_set(actor=platform_admin, organization=tenant_c, primary_region="us-east",
                   secondary_region="us-west", pops=["pop-san-jose", "pop-ashburn"],
                   connectivity="internet", areas=["call_routing", "agent_login"])
    contact_c = UserFactory(email="contact@initech.test", organization=tenant_c,
                            roles=[Role.CUSTOMER_MEMBER, Role.DESIGNATED_CONTACT])
    homed = {tenant_a.slug, tenant_c.slug}

    with SimulatorThread(poll=3600) as sim:  # refreshed by hand below
        for tenant, region in ((tenant_a, "us-east"), (tenant_b, "us-west"),
                               (tenant_c, "us-east")):
            urls = endpoints(region, tenant.slug, port=sim.port, sip_port=sim.sip_ports[region])
            for spec in demo.check_specs(urls, set()):
                services.check_create(
                    actor=platform_admin, organization=tenant, **spec, interval=INTERVAL,
                    timeout=4, retries=0, failures_to_alert=2, successes_to_recover=2,
                    quorum=2)
        assert CheckAssignment.objects.count() == 12 * 2

        t0 = datetime.datetime.now(datetime.UTC)
        # Healthy: every check of every tenant passes from both PoPs.
        assert probe_pass(t0) == 24
        failed = CheckResult.objects.filter(ok=False)
        assert not failed.exists(), [(r.synthetic_check.name, r.error) for r in failed]
        assert set(Check.objects.values_list("state", flat=True)) == {CheckState.UP}, [
            (c.name, c.organization.slug, list(c.assignments.values_list("state", "last_ok")),
             list(c.state_changes.values_list("to_state", "reason")))
            for c in Check.objects.exclude(state=CheckState.UP)]

        # The region goes down: its endpoints stop answering.
        outage_start(actor=platform_admin, target="us-east")
        sim.refresh()
        for n in (1, 2):
            probe_pass(t0 + datetime.timedelta(seconds=INTERVAL * n))

    region_checks = Check.objects.filter(organization__slug__in=homed)
    assert set(region_checks.values_list("state", flat=True)) == {CheckState.DOWN}
    assert set(Check.objects.filter(organization=tenant_b)
               .values_list("state", flat=True)) == {CheckState.UP}
    first_failed = CheckResult.objects.filter(ok=False).order_by("started_at").first()
    assert first_failed.synthetic_check.organization.slug in homed
    assert not CheckResult.objects.filter(ok=False, synthetic_check__organization=tenant_b)
    assert not Incident.objects.exists()  # still inside the correlation window

    # Past the correlation window: the scheduler's tick fires the alert.
    after_window = t0 + datetime.timedelta(
        seconds=INTERVAL * 2 + django_settings.MONITORING_CORRELATION_SECONDS + 5)
    with time_machine.travel(after_window, tick=True):
        enqueued = tick("test-scheduler")
        assert enqueued is not None and enqueued.get("monitoring-alerts") == 1
        outbox_enqueue_due()

    incident = Incident.objects.get()
    assert incident.source == "monitor"
    assert incident.failure_target == "us-east"
    assert incident.detected_at == first_failed.started_at
    affected = set(incident.affected.filter(removed_at__isnull=True)
                   .values_list("organization__slug", flat=True))
    assert affected == homed
    assert set(region_checks.values_list("incident", flat=True)) == {incident.pk}
    assert incident.affected.filter(first_notice_at__isnull=False).count() == 2

    # First notices at the SMTP server: the designated contacts of exactly those tenants.
    to_tenants = [m for m in smtp.messages if not m["To"].endswith("@provider.test")]
    assert sorted(m["To"] for m in to_tenants) == sorted([contact_a.email, contact_c.email])
    for message in to_tenants:
        assert incident.number in message["Subject"] + message.get_body(
            ("plain",)).get_content()
    assert contact_b.email not in {m["To"] for m in smtp.messages}
    assert member_a.email not in {m["To"] for m in smtp.messages}
