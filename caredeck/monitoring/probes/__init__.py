"""Probe engines: run one synthetic check and return its outcome.

Pure asyncio, no Django models and no database: the runner schedules thousands of checks
in one event loop and calls ``await run_probe(spec, session=...)`` for each of them. A
probe never raises; every failure (refused connection, timeout, failed assertion, a SIP
486) comes back as a ``ProbeOutcome`` with ``ok=False`` and a human-readable ``error``.

Kinds:
- ``http``: one request or a multi-step transaction (``probes.http``);
- ``websocket``: a scripted chat over WebSocket, or over HTTP request/response
  (``probes.websocket``);
- ``sip_options`` / ``sip_call``: SIP OPTIONS ping over UDP/TCP/TLS, and a full call with
  media, DTMF and hang-up (``probes.sip``).

The runner creates one ``ProbeSession`` per event loop (``async with ProbeSession() as s``)
and passes ``s.http`` as ``session``: the shared connector keeps connections alive between
runs of checks against the same host, which is most of the CPU saved at 10,000 checks per
cycle. Without a session, each run makes a short-lived one of its own.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime

import aiohttp

KINDS = ("http", "websocket", "sip_options", "sip_call")
EVIDENCE_LIMIT = 4000


@dataclass
class ProbeSpec:
    kind: str  # "http" | "websocket" | "sip_options" | "sip_call"
    target: str  # URL, ws(s):// URL, or SIP URI sip:user@host:port;transport=udp|tcp|tls
    timeout: float = 10  # seconds for the whole run
    assertions: list[dict] = field(default_factory=list)
    config: dict = field(default_factory=dict)


@dataclass
class StepTiming:
    name: str
    ms: float
    ok: bool
    detail: str = ""


@dataclass
class ProbeOutcome:
    ok: bool
    duration_ms: float
    status_code: int | None = None
    error: str = ""
    steps: list[StepTiming] = field(default_factory=list)
    evidence: str = ""  # response excerpt / chat transcript / SIP trace (<= 4000 chars)
    tls_expires_at: datetime | None = None


def clip(text: str, limit: int = EVIDENCE_LIMIT) -> str:
    """Evidence is stored per result row: keep its size bounded."""
    if len(text) <= limit:
        return text
    return text[: limit - 15] + "\n… (truncated)"


class ProbeSession:
    """The shared HTTP client of one event loop.

    One TCPConnector for every HTTP and WebSocket check: keep-alive reuses connections to
    the same host across runs (no TCP + TLS handshake every 5 minutes per check when the
    server keeps the connection), ``limit_per_host`` stops a burst of checks against one
    tenant from opening hundreds of sockets to it, and the DNS cache saves a lookup per
    run. Cookies are not shared: ``DummyCookieJar`` keeps one check's login from leaking
    into another tenant's check (multi-step transactions carry tokens explicitly).
    """

    def __init__(self, *, limit: int = 1000, limit_per_host: int = 20,
                 keepalive_timeout: float = 60, user_agent: str = "CareDeck-Probe/1.0"):
        self._kwargs = dict(limit=limit, limit_per_host=limit_per_host,
                            keepalive_timeout=keepalive_timeout, ttl_dns_cache=300)
        self._user_agent = user_agent
        self.http: aiohttp.ClientSession | None = None

    async def start(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(**self._kwargs)
        self.http = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            headers={"User-Agent": self._user_agent},
            # Each probe applies its own deadline; no session-wide default of 5 minutes.
            timeout=aiohttp.ClientTimeout(total=None),
        )
        return self.http

    async def close(self) -> None:
        if self.http is not None:
            await self.http.close()
            self.http = None

    async def __aenter__(self) -> aiohttp.ClientSession:
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.close()


def with_own_session(engine):
    """An engine `engine(spec, session)` that also runs alone (a test, one check from the
    command line) with a short-lived session of its own."""

    async def run(spec: ProbeSpec, *, session: aiohttp.ClientSession | None = None
                  ) -> ProbeOutcome:
        if session is None:
            async with ProbeSession(limit_per_host=4) as own:
                return await engine(spec, own)
        return await engine(spec, session)

    return run


def _engine(kind: str):
    # Imported lazily so that a runner doing only HTTP checks does not load the SIP code.
    if kind == "http":
        from caredeck.monitoring.probes import http
        return http.run
    if kind == "websocket":
        from caredeck.monitoring.probes import websocket
        return websocket.run
    if kind in ("sip_options", "sip_call"):
        from caredeck.monitoring.probes import sip
        return sip.run_options if kind == "sip_options" else sip.run_call
    return None


async def run_probe(spec: ProbeSpec, *, session: aiohttp.ClientSession | None = None
                    ) -> ProbeOutcome:
    """Run one check; never raises (a cancellation by the caller is still propagated)."""
    started = time.perf_counter()
    engine = _engine(spec.kind)
    if engine is None:
        return ProbeOutcome(ok=False, duration_ms=0.0, error=f"unknown probe kind {spec.kind!r}")
    try:
        # The engines apply spec.timeout themselves so they can say which step was slow;
        # this outer guard only catches an engine that forgot to. The grace covers the
        # clean-up a failed call does after its deadline (CANCEL or BYE, half a second).
        return await asyncio.wait_for(engine(spec, session=session), spec.timeout + 2)
    except TimeoutError:
        return ProbeOutcome(ok=False, duration_ms=_ms(started),
                            error=f"timed out after {spec.timeout:g} s")
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a probe turns every failure into an outcome
        return ProbeOutcome(ok=False, duration_ms=_ms(started),
                            error=f"probe error: {type(exc).__name__}: {exc}")


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def validate_spec(kind: str, target: str, assertions: list | None, config: dict | None
                  ) -> dict[str, list[str]]:
    """Field -> messages for the API and forms; empty when the check can run."""
    from caredeck.monitoring.probes.validation import validate
    return validate(kind, target, assertions, config)


__all__ = ["KINDS", "ProbeOutcome", "ProbeSession", "ProbeSpec", "StepTiming", "clip",
           "run_probe", "validate_spec"]
