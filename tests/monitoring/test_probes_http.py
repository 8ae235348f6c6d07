"""HTTP probes against a real aiohttp server on loopback (and a TLS one)."""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web

from caredeck.monitoring.probes import ProbeSession, ProbeSpec, run_probe, validate_spec
from caredeck.monitoring.probes.assertions import JSONPathError, parse_path, resolve
from caredeck.monitoring.probes.http import cert_not_after
from tests.monitoring.conftest import self_signed_cert

TOKEN = "s3cret-token"


def make_app() -> web.Application:
    async def ok(request):
        return web.Response(text="Welcome to the CareDeck demo",
                            headers={"X-Tenant": "acme", "Cache-Control": "no-store, private"})

    async def status(request):
        return web.Response(status=int(request.match_info["code"]), text="status page")

    async def data(request):
        return web.json_response({"service": {"name": "voice", "queues": [
            {"name": "billing", "waiting": 3}, {"name": "sales", "waiting": 0}]},
            "display name": "Acme"})

    async def slow(request):
        await asyncio.sleep(float(request.query.get("s", "1")))
        return web.Response(text="finally")

    async def echo(request):
        return web.json_response({"method": request.method, "body": await request.text(),
                                  "x": request.headers.get("X-Probe", "")})

    async def redirect(request):
        raise web.HTTPFound("/ok")

    async def login(request):
        payload = await request.json()
        if payload.get("user") != "probe" or payload.get("password") != "pw":
            return web.json_response({"error": "bad credentials"}, status=401)
        return web.json_response({"token": TOKEN, "agent": {"id": 42}})

    async def desktop(request):
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"error": "not signed in"}, status=401)
        return web.Response(text="<h1>Agent desktop</h1> queue: billing, agent 42")

    async def queue(request):
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"error": "not signed in"}, status=401)
        return web.json_response({"queue": request.match_info["name"], "waiting": 3})

    app = web.Application()
    app.add_routes([
        web.get("/ok", ok), web.get("/status/{code}", status), web.get("/data", data),
        web.get("/slow", slow), web.route("*", "/echo", echo), web.get("/redirect", redirect),
        web.post("/login", login), web.get("/desktop", desktop),
        web.get("/queues/{name}", queue),
    ])
    return app


async def serve(ssl_context=None):
    runner = web.AppRunner(make_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    return runner, port


def probe(path_or_specs, **spec_kwargs):
    """Serve the app, run the probe(s) with one shared session, return the outcome(s)."""
    async def main():
        runner, port = await serve()
        base = f"http://127.0.0.1:{port}"
        try:
            async with ProbeSession() as session:
                specs = path_or_specs if isinstance(path_or_specs, list) else [path_or_specs]
                outcomes = [
                    await run_probe(ProbeSpec("http", base + path, **spec_kwargs),
                                    session=session)
                    for path in specs
                ]
        finally:
            await runner.cleanup()
        return outcomes if isinstance(path_or_specs, list) else outcomes[0]
    return asyncio.run(main())


def test_status_body_header_and_json_assertions_pass():
    outcome = probe("/ok", assertions=[
        {"type": "status", "value": 200},
        {"type": "body_contains", "value": "CareDeck demo"},
        {"type": "header", "name": "x-TENANT", "value": "acme"},
        {"type": "header", "name": "cache-control", "value": "no-store", "match": "contains"},
        {"type": "latency_ms", "max": 2000},
    ])
    assert outcome.ok, outcome.error
    assert outcome.status_code == 200
    assert outcome.steps[0].ok and outcome.steps[0].ms > 0
    assert outcome.tls_expires_at is None and outcome.evidence == ""


def test_failed_assertions_say_what_was_expected_and_what_came():
    outcome = probe("/ok", assertions=[
        {"type": "status", "value": 201},
        {"type": "body_contains", "value": "Goodbye"},
        {"type": "header", "name": "X-Tenant", "value": "acm"},
        {"type": "header", "name": "X-Missing"},
    ])
    assert not outcome.ok
    assert "expected status 201, got 200" in outcome.error
    assert "expected the body to contain 'Goodbye', got 'Welcome to the CareDeck demo'" in (
        outcome.error)
    assert "expected header X-Tenant: 'acm', got 'acme'" in outcome.error
    assert "expected header X-Missing, it is missing" in outcome.error
    assert outcome.evidence.startswith("GET http://127.0.0.1:")
    assert "HTTP 200" in outcome.evidence and "Welcome to the CareDeck demo" in outcome.evidence


def test_json_path_values_and_missing_paths():
    ok = probe("/data", assertions=[
        {"type": "json_path", "path": "$.service.name", "value": "voice"},
        {"type": "json_path", "path": "$.service.queues[0].waiting", "value": 3},
        {"type": "json_path", "path": "$.service.queues[-1]['name']", "value": "sales"},
        {"type": "json_path", "path": "$['display name']"},
    ])
    assert ok.ok, ok.error
    bad = probe("/data", assertions=[
        {"type": "json_path", "path": "$.service.queues[5].waiting", "value": 3},
        {"type": "json_path", "path": "$.service.region", "value": "eu"},
        {"type": "json_path", "path": "$.service.name", "value": "chat"},
    ])
    assert not bad.ok
    assert "no index [5] at $.service.queues (a list of 2)" in bad.error
    assert "no key 'region' at $.service (an object with keys name, queues)" in bad.error
    assert "expected $.service.name == 'chat', got 'voice'" in bad.error
    not_json = probe("/ok", assertions=[{"type": "json_path", "path": "$.a"}])
    assert "the body is not JSON" in not_json.error


def test_an_error_status_fails_without_a_status_assertion_and_passes_with_one():
    failed = probe("/status/503")
    assert not failed.ok and failed.status_code == 503
    assert failed.error == "expected a status below 400, got 503"
    accepted = probe("/status/404", assertions=[{"type": "status", "value": [404, 410]}])
    assert accepted.ok, accepted.error


def test_latency_assertion_and_timeout():
    slow = probe("/slow?s=0.3", assertions=[{"type": "latency_ms", "max": 100}])
    assert not slow.ok
    assert slow.error.startswith("expected a response within 100 ms, took ")
    timed_out = probe("/slow?s=2", timeout=0.5)
    assert not timed_out.ok and timed_out.error == "timed out after 0.5 s"
    assert 500 <= timed_out.duration_ms < 1000
    assert timed_out.steps[0].ok is False


def test_post_with_headers_and_body_and_redirects():
    posted = probe("/echo", config={"method": "POST", "body": "ping",
                                    "headers": {"X-Probe": "yes"}},
                   assertions=[{"type": "json_path", "path": "$.body", "value": "ping"},
                               {"type": "json_path", "path": "$.x", "value": "yes"},
                               {"type": "json_path", "path": "$.method", "value": "POST"}])
    assert posted.ok, posted.error
    followed = probe("/redirect", assertions=[{"type": "body_contains", "value": "Welcome"}])
    assert followed.ok and followed.status_code == 200
    not_followed = probe("/redirect", config={"follow_redirects": False},
                         assertions=[{"type": "status", "value": 302}])
    assert not_followed.ok, not_followed.error


def test_connection_refused_is_an_outcome_not_an_exception():
    outcome = asyncio.run(run_probe(ProbeSpec("http", "http://127.0.0.1:1/", timeout=2)))
    assert not outcome.ok and outcome.error.startswith("connection failed")
    unknown = asyncio.run(run_probe(ProbeSpec("ftp", "ftp://x")))
    assert unknown.error == "unknown probe kind 'ftp'"


LOGIN_FLOW = [
    {"name": "log in", "method": "POST", "url": "/login",
     "json": {"user": "probe", "password": "pw"},
     "extract": {"token": "$.token", "agent": "$.agent.id"}},
    {"name": "open desktop", "url": "/desktop",
     "headers": {"Authorization": "Bearer {{token}}"},
     "assertions": [{"type": "body_contains", "value": "agent {{agent}}"}],
     "extract": {"queue": {"regex": r"queue: (\w+)"}}},
    {"name": "read the queue", "url": "/queues/{{queue}}",
     "headers": {"Authorization": "Bearer {{token}}"},
     "assertions": [{"type": "json_path", "path": "$.waiting", "value": 3}]},
]


def test_multi_step_transaction_carries_extracted_variables():
    outcome = probe("/", config={"steps": LOGIN_FLOW},
                    assertions=[{"type": "latency_ms", "max": 5000}])
    assert outcome.ok, outcome.error
    assert [s.name for s in outcome.steps] == ["log in", "open desktop", "read the queue"]
    assert all(s.ok for s in outcome.steps)
    assert outcome.steps[2].detail.endswith("/queues/billing -> 200")


def test_multi_step_failure_names_the_step_and_keeps_its_response():
    steps = [dict(LOGIN_FLOW[0], json={"user": "probe", "password": "wrong"}), LOGIN_FLOW[1]]
    outcome = probe("/", config={"steps": steps})
    assert not outcome.ok
    assert outcome.error == "log in: expected a status below 400, got 401"
    assert [s.ok for s in outcome.steps] == [False]
    assert "bad credentials" in outcome.evidence
    # A token that was never extracted cannot be used.
    steps = [dict(LOGIN_FLOW[0], extract={}), LOGIN_FLOW[1]]
    outcome = probe("/", config={"steps": steps})
    assert outcome.error.startswith("open desktop: unknown variable {{token}}")
    # An extraction that does not match fails its step.
    steps = [dict(LOGIN_FLOW[0], extract={"token": "$.session.token"})]
    outcome = probe("/", config={"steps": steps})
    assert outcome.error == (
        "log in: extract token: $.session.token: no key 'session' at $ "
        "(an object with keys token, agent)")


def test_tls_expiry_is_read_from_the_connection(tmp_path):
    cert, key = self_signed_cert(tmp_path, days=10)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def main():
        runner, port = await serve(context)
        url = f"https://127.0.0.1:{port}/ok"
        try:
            async with ProbeSession() as session:
                unverified = await run_probe(ProbeSpec(
                    "http", url, config={"verify_tls": False},
                    assertions=[{"type": "tls_expiry_days", "min": 5}]), session=session)
                too_soon = await run_probe(ProbeSpec(
                    "http", url, config={"verify_tls": False},
                    assertions=[{"type": "tls_expiry_days", "min": 14}]), session=session)
                verified = await run_probe(ProbeSpec("http", url), session=session)
        finally:
            await runner.cleanup()
        return unverified, too_soon, verified

    unverified, too_soon, verified = asyncio.run(main())
    assert unverified.ok, unverified.error
    expected = datetime.now(UTC) + timedelta(days=10)
    assert abs(unverified.tls_expires_at - expected) < timedelta(minutes=5)
    assert not too_soon.ok
    assert re.fullmatch(r"expected a TLS certificate valid for 14\+ days, "
                        r"it expires in (9\.9|10\.0) days", too_soon.error), too_soon.error
    assert too_soon.tls_expires_at is not None
    assert not verified.ok and verified.error.startswith("TLS certificate error")
    assert "self-signed" in verified.error or "self signed" in verified.error


def test_cert_not_after_rejects_garbage():
    assert cert_not_after(b"\x30\x03\x02\x01") is None


def test_jsonpath_subset():
    doc = {"a": {"b": [10, {"c d": True}]}}
    assert resolve(doc, "$") == doc
    assert resolve(doc, "$.a.b[0]") == 10
    assert resolve(doc, "$.a.b[1]['c d']") is True
    assert resolve(doc, '$["a"]["b"][-2]') == 10
    assert parse_path("$.a[0]['x\\'y']") == ["a", 0, "x'y"]
    for bad in ("a.b", "$..a", "$.a[*]", "$.a[?(@.x)]"):
        with pytest.raises(JSONPathError):
            parse_path(bad)


def test_validate_spec_messages():
    assert validate_spec("http", "https://acme.example/health",
                         [{"type": "status", "value": 200}], {}) == {}
    errors = validate_spec("http", "ftp://acme.example", [
        {"type": "speed"}, {"type": "latency_ms", "max": -1},
        {"type": "json_path", "path": "a.b"}], {"method": "FETCH"})
    assert errors["target"] == ["the URL must start with http:// or https://"]
    assert "assertion 1: unknown type 'speed'" in errors["assertions"][0]
    assert "1-300000" in errors["assertions"][1]
    assert "starts with '$'" in errors["assertions"][2]
    assert errors["config"][0].startswith("method must be one of")
    steps = validate_spec("http", "https://acme.example", [], {"steps": [
        {"name": "x", "url": "/login", "extract": {"tok en": "$.a", "b": {"regex": "("}}},
        {"url": "/d", "assertions": [{"type": "status", "value": 999}]}]})
    assert any("variable name 'tok en'" in m for m in steps["config"])
    assert any("bad regex" in m for m in steps["config"])
    assert any(m.startswith("step 2: assertion 1 (status)") for m in steps["config"])
    assert validate_spec("websocket", "http://x", [], {"script": [{"send": "hi"}]}) == {
        "target": ["the URL must start with ws:// or wss://"]}
    assert validate_spec("websocket", "wss://x/chat", [], {"script": [
        {"send": "hi"}, {"expect": "hello", "within": 5}]}) == {}
    assert "script step 1" in validate_spec("websocket", "ws://x", [], {"script": [
        {"send": "a", "expect": "b"}]})["config"][0]
    assert validate_spec("sip_call", "sip:queue@10.0.0.1:5060;transport=udp", [],
                         {"dtmf": "1#", "media_seconds": 3}) == {}
    bad_sip = validate_spec("sip_call", "tel:+4930123", [{"type": "body_contains",
                                                          "value": "x"}],
                            {"dtmf": "9x", "media_seconds": 0})
    assert bad_sip["target"][0].startswith("not a SIP URI")
    assert "does not apply" in bad_sip["assertions"][0]
    assert len(bad_sip["config"]) == 2
    assert validate_spec("sip_options", "sip:h:5060;transport=sctp", [],
                         {"accepted_codes": [200, 1000]}) == {
        "target": ["unsupported transport 'sctp' (udp, tcp or tls)"],
        "config": ["accepted_codes must be a list of SIP codes 100-699"]}
    assert validate_spec("smtp", "x", [], {}) == {"kind": [
        "unknown kind 'smtp' (one of http, websocket, sip_options, sip_call)"]}


def test_cpu_per_check_with_a_shared_session():
    """2,000 concurrent checks through one session: the figure the runner is sized by."""
    async def main():
        runner, port = await serve()
        url = f"http://127.0.0.1:{port}/ok"
        assertions = [{"type": "status", "value": 200},
                      {"type": "body_contains", "value": "Welcome"}]
        try:
            async with ProbeSession(limit_per_host=100) as session:
                await run_probe(ProbeSpec("http", url), session=session)  # warm up
                cpu = time.process_time()
                outcomes = await asyncio.gather(*[
                    run_probe(ProbeSpec("http", url, timeout=30, assertions=assertions),
                              session=session) for _ in range(2000)])
                cpu = time.process_time() - cpu
        finally:
            await runner.cleanup()
        return outcomes, cpu

    outcomes, cpu = asyncio.run(main())
    assert all(o.ok for o in outcomes), next(o.error for o in outcomes if not o.ok)
    # Client and server share this process, so this is an upper bound for the client.
    per_check_us = cpu / 2000 * 1e6
    print(f"CPU per HTTP check (client + server in one process): {per_check_us:.0f} µs")
    assert per_check_us < 5000
