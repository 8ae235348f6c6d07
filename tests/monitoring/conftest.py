"""Monitoring fixtures: real peers on loopback for the probe tests (SIPp, a self-signed
certificate), probe locations at the reference PoPs, a local HTTP target that can be
broken and mended, a check factory, and the frozen clock with a helper that posts runs
for the evaluation, alert and housekeeping tests."""

from __future__ import annotations

import datetime
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import time_machine
from django.utils import timezone

from caredeck.monitoring import recording, services
from caredeck.monitoring.models import CheckAssignment, ProbeLocation
from caredeck.monitoring.recording import RunOutcome

# A Monday morning, UTC: the frozen clock of the evaluation, alert and housekeeping tests.
T0 = datetime.datetime(2030, 6, 3, 8, 0, tzinfo=datetime.UTC)

SIPP = "/usr/bin/sipp"


def pytest_collection_modifyitems(config, items):
    # SIPp (Debian's sip-tester) is the reference peer of the SIP tests. Locally they are
    # skipped without it; under CI=true they run anyway and fail, so a missing install
    # never hides.
    if os.path.exists(SIPP) or os.environ.get("CI") == "true":
        return
    for item in items:
        if "sipp" in item.fixturenames:
            item.add_marker(pytest.mark.skip(reason=f"{SIPP} is not installed (sip-tester)"))


def self_signed_cert(directory: Path, days: int) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 valid for ``days``, made with openssl."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", str(days), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    return cert, key


class Target:
    """A loopback web server answering 200 "ok" (or 503 once broken)."""

    def __init__(self):
        self.broken = False
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the stdlib's name
                status, body = (503, b"down") if target.broken else (200, b"ok")
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def http_target():
    target = Target()
    yield target
    target.close()


@pytest.fixture
def locations(db):
    """Built-in probe locations at the PoPs the `deployed` tenants reach."""
    from caredeck.topology.models import Pop

    return [
        ProbeLocation.objects.create(slug=pop.slug, name=pop.name, pop=pop)
        for pop in Pop.objects.filter(slug__in=["pop-ashburn", "pop-san-jose"])
    ]


@pytest.fixture
def make_check(platform_admin, deployed, locations, http_target):
    def make(organization=None, **fields):
        defaults = {"name": "Agent desktop", "area": "agent_login", "kind": "http",
                    "target": http_target.url, "interval": 60, "timeout": 5,
                    "assertions": [{"type": "status", "value": 200}]}
        defaults.update(fields)
        return services.check_create(actor=platform_admin,
                                     organization=organization or deployed[0], **defaults)

    return make


@pytest.fixture
def frozen():
    """Time frozen at T0; `frozen.shift(seconds)` / `frozen.move_to(at)` move it."""
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def same_region(deployed, platform_admin):
    """B homed in us-east too (same PoPs): both tenants share a primary region."""
    from caredeck.topology.deployments import deployment_set

    deployment_set(
        actor=platform_admin, organization=deployed[1], primary_region="us-east",
        secondary_region="us-west", pops=["pop-san-jose", "pop-ashburn"],
        connectivity="internet", areas=["call_routing", "agent_login"],
    )
    return deployed


def assignment_of(check, location) -> CheckAssignment:
    slug = getattr(location, "slug", location)
    return CheckAssignment.objects.get(synthetic_check=check, location__slug=slug)


@pytest.fixture
def report():
    """report(check, {location slug: ok, ...}, at=None) -> records one run per location
    (started and scheduled at `at`, by default now) through recording.record, as a
    runner would post them; returns how many checks changed state."""

    def post(check, outcomes: dict, *, at=None, duration_ms=100) -> int:
        at = at or timezone.now()
        return recording.record([
            RunOutcome(assignment_id=assignment_of(check, slug).pk, scheduled_at=at,
                       started_at=at, ok=ok, duration_ms=duration_ms,
                       error="" if ok else "HTTP 503", evidence="" if ok else "down")
            for slug, ok in outcomes.items()
        ], now=at)

    return post
