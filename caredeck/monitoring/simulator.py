"""The demo's simulated tenant endpoints, per region, served on loopback by one asyncio
process (`caredeck simulator`, supervised by `caredeck demo`).

For a tenant homed in region R (its deployment's primary region):

- web: ``http://127.0.0.1:<port>/<R>/<tenant>/health`` answers
  ``{"status": "ok", "region": R, "tenant": …}``; ``POST …/login`` gives a token and
  ``GET …/desktop`` with ``Authorization: Bearer <token>`` shows the agent desktop (a
  multi-step check: log in → open the desktop → read the queue);
- chat: ``ws://127.0.0.1:<port>/<R>/<tenant>/chat``: a bot that answers "welcome …" to
  any message and "agent Ana joined" to "agent please";
- voice: a SIP responder per region on UDP port ``<port> + 1 + index of R`` (regions in
  slug order), ``sip:<tenant>@127.0.0.1:<that port>``: answers OPTIONS and calls and
  plays a 440 Hz tone (``probes/sip_peer.py``).

What is broken lives in the database (``SimulatedOutage``, set on the simulator page by
the web process) and is re-read every second:

- a broken **region**: its web endpoints answer 503, its chat sockets are refused (open
  ones closed), its SIP responder ignores every datagram (OPTIONS and calls time out);
- a broken **PoP**: the endpoints of the tenants whose deployment's PoP pair includes
  it fail the same way. Every probe location runs on this one machine, so the simulator
  cannot tell which PoP a check comes from: a broken PoP fails those tenants' endpoints
  for checks from every location, not only from that PoP's location.

The port is ``CAREDECK_SIMULATOR_PORT`` (default 8790); the demo's checks are built
from the same function (``endpoints``), so the two agree.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import os
import re
import secrets
import signal
import threading
from dataclasses import dataclass

from aiohttp import WSMsgType, web

from caredeck.monitoring.probes.sip_peer import SipResponder

log = logging.getLogger("caredeck.simulator")

DEFAULT_PORT = 8790
POLL_SECONDS = 1.0
HOST = "127.0.0.1"
_REQUEST_LINE = re.compile(rb"^([A-Z]+) sips?:(?:([^@;?\s]+)@)?")


def simulator_port() -> int:
    return int(os.environ.get("CAREDECK_SIMULATOR_PORT", "") or DEFAULT_PORT)


def region_slugs() -> list[str]:
    from caredeck.topology.models import Region

    return list(Region.objects.order_by("slug").values_list("slug", flat=True))


def sip_ports(regions: list[str], base: int) -> dict[str, int]:
    """Region -> UDP port of its SIP responder: base + 1 + index (slug order)."""
    return {region: base + 1 + i for i, region in enumerate(sorted(regions))}


def endpoints(region: str, tenant: str, *, port: int | None = None,
              sip_port: int | None = None) -> dict[str, str]:
    """The URLs of one tenant's simulated endpoints (what the demo's checks target)."""
    port = port or simulator_port()
    if sip_port is None:
        sip_port = sip_ports(region_slugs(), port)[region]
    base = f"http://{HOST}:{port}/{region}/{tenant}"
    return {
        "web": base + "/health", "login": base + "/login", "desktop": base + "/desktop",
        "chat": f"ws://{HOST}:{port}/{region}/{tenant}/chat",
        "sip": f"sip:{tenant}@{HOST}:{sip_port};transport=udp",
    }


# --- What is broken --------------------------------------------------------------------


@dataclass(frozen=True)
class Breakage:
    regions: frozenset[str] = frozenset()
    tenants: frozenset[str] = frozenset()  # failing because a broken PoP serves them
    targets: frozenset[str] = frozenset()

    def broken(self, region: str, tenant: str | None = None) -> bool:
        return region in self.regions or (tenant is not None and tenant in self.tenants)


def load_breakage() -> Breakage:
    """The broken regions and PoPs from the database (two small queries, three when a
    PoP is broken)."""
    from django.db import close_old_connections

    from caredeck.monitoring.models import SimulatedOutage
    from caredeck.topology.models import Deployment, Pop, Region

    close_old_connections()
    targets = set(SimulatedOutage.objects.values_list("target", flat=True))
    if not targets:
        return Breakage()
    regions = set(Region.objects.filter(slug__in=targets).values_list("slug", flat=True))
    pops = set(Pop.objects.filter(slug__in=targets).values_list("slug", flat=True))
    tenants = set()
    if pops:
        tenants = set(Deployment.objects.filter(pops__slug__in=pops)
                      .values_list("organization__slug", flat=True))
    return Breakage(frozenset(regions), frozenset(tenants), frozenset(targets))


# --- The endpoints -----------------------------------------------------------------------


class _SipGate(asyncio.DatagramProtocol):
    """One region's SIP port: hands datagrams to the responder unless the region (or, for
    a new OPTIONS / INVITE, the called tenant) is broken; then it stays silent."""

    def __init__(self, simulator: Simulator, region: str, responder: SipResponder):
        self.simulator, self.region, self.responder = simulator, region, responder
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport):
        self.transport = transport
        self.responder._udp = transport  # responder.close() closes the socket

    def datagram_received(self, data, addr):
        breakage = self.simulator.breakage
        if self.region in breakage.regions:
            return
        if breakage.tenants:
            match = _REQUEST_LINE.match(data)
            if match and match[1] in (b"OPTIONS", b"INVITE") and match[2] and \
                    match[2].decode(errors="replace") in breakage.tenants:
                return
        self.responder.handle(data, lambda out: self.transport.sendto(out, addr))

    def error_received(self, exc):
        pass


class Simulator:
    """The web + chat server and one SIP responder per region, in the running loop."""

    def __init__(self, *, host: str = HOST, port: int = 0, regions: list[str] | None = None,
                 sip_base_port: int | None = None, poll: float = POLL_SECONDS,
                 load=load_breakage):
        self.host, self.port, self.poll, self._load = host, port, poll, load
        self.regions = sorted(regions) if regions is not None else None
        self.sip_base_port = sip_base_port
        self.breakage = Breakage()
        self.sip_ports: dict[str, int] = {}
        self.responders: dict[str, SipResponder] = {}
        self.sockets: dict[tuple[str, str], set[web.WebSocketResponse]] = {}
        self._secret = secrets.token_bytes(16)
        self._runner: web.AppRunner | None = None
        self._poller: asyncio.Task | None = None

    # -- life cycle ---------------------------------------------------------------------

    async def start(self) -> None:
        if self.regions is None:
            self.regions = await asyncio.to_thread(_regions_from_db)
        await self.refresh()
        app = web.Application()
        app.add_routes([
            web.get("/", self.index),
            web.get("/{region}/{tenant}/health", self.health),
            web.post("/{region}/{tenant}/login", self.login),
            web.get("/{region}/{tenant}/desktop", self.desktop),
            web.get("/{region}/{tenant}/chat", self.chat),
        ])
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        requested, self.port = self.port, self._runner.addresses[0][1]
        base = self.sip_base_port
        if base is None:  # next to the web port; free ports when that one was free too
            base = self.port if requested else 0
        wanted = sip_ports(self.regions, base) if base else {r: 0 for r in self.regions}
        loop = asyncio.get_running_loop()
        for region, port in wanted.items():
            responder = SipResponder(self.host)
            transport, _ = await loop.create_datagram_endpoint(
                lambda r=region, s=responder: _SipGate(self, r, s), local_addr=(self.host, port))
            self.responders[region] = responder
            self.sip_ports[region] = transport.get_extra_info("sockname")[1]
        self._poller = asyncio.create_task(self._poll())
        log.info("Simulated tenant endpoints on http://%s:%d/, SIP on UDP %s",
                 self.host, self.port, ", ".join(f"{r}:{p}" for r, p in self.sip_ports.items()))

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        for responder in self.responders.values():
            responder.close()
        for group in list(self.sockets.values()):
            for ws in list(group):
                with contextlib.suppress(Exception):
                    await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll)
            try:
                await self.refresh()
            except Exception:  # the database may be busy: keep the last known state
                log.exception("Reading the simulated outages failed")

    async def refresh(self) -> None:
        breakage = await asyncio.to_thread(self._load)
        if breakage != self.breakage:
            log.info("Simulated outages now: %s", ", ".join(sorted(breakage.targets)) or "none")
        self.breakage = breakage
        await self._apply()

    async def _apply(self) -> None:
        """Close the chat sockets and calls of what is broken; forget finished calls."""
        for (region, tenant), group in list(self.sockets.items()):
            if self.breakage.broken(region, tenant):
                for ws in list(group):
                    with contextlib.suppress(Exception):
                        await ws.close(code=1011, message=b"service unavailable")
        for region, responder in self.responders.items():
            for call_id, call in list(responder.calls.items()):
                if region in self.breakage.regions and call.state not in ("ended",):
                    call.state = "ended"
                    call.stop()
                if call.state in ("ended", "cancelled", "rejected"):
                    responder.calls.pop(call_id, None)

    # -- web ------------------------------------------------------------------------------

    def _unavailable(self, request) -> web.Response | None:
        region, tenant = request.match_info["region"], request.match_info["tenant"]
        if self.regions and region not in self.regions:
            return web.json_response({"error": f"no region {region}"}, status=404)
        if self.breakage.broken(region, tenant):
            return web.json_response({"status": "unavailable", "region": region}, status=503)
        return None

    def _token(self, region: str, tenant: str) -> str:
        return hmac.new(self._secret, f"{region}/{tenant}".encode(), hashlib.sha256).hexdigest()

    async def index(self, request) -> web.Response:
        return web.json_response({
            "regions": {r: {"sip_port": self.sip_ports.get(r),
                            "broken": r in self.breakage.regions} for r in self.regions or []},
            "broken": sorted(self.breakage.targets),
        })

    async def health(self, request) -> web.Response:
        if failed := self._unavailable(request):
            return failed
        region, tenant = request.match_info["region"], request.match_info["tenant"]
        return web.json_response({"status": "ok", "region": region, "tenant": tenant})

    async def login(self, request) -> web.Response:
        if failed := self._unavailable(request):
            return failed
        region, tenant = request.match_info["region"], request.match_info["tenant"]
        return web.json_response({"token": self._token(region, tenant), "agent": "probe"})

    async def desktop(self, request) -> web.Response:
        if failed := self._unavailable(request):
            return failed
        region, tenant = request.match_info["region"], request.match_info["tenant"]
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given, self._token(region, tenant)):
            return web.Response(status=401, text="Sign in first.")
        return web.Response(content_type="text/html", text=(
            f"<!doctype html><title>Agent desktop</title><h1>Agent desktop</h1>"
            f"<p>tenant: {tenant}</p><p>region: {region}</p><p>queue: support</p>"
            f"<p>agents ready: 3</p>"))

    async def chat(self, request) -> web.StreamResponse:
        if failed := self._unavailable(request):
            return failed
        key = (request.match_info["region"], request.match_info["tenant"])
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        self.sockets.setdefault(key, set()).add(ws)
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                if self.breakage.broken(*key):
                    await ws.close(code=1011, message=b"service unavailable")
                    break
                if msg.data.strip().lower() == "agent please":
                    await ws.send_str("typing…")
                    await ws.send_str("agent Ana joined")
                else:
                    await ws.send_str(f"welcome to {key[1]} chat, how can we help?")
        finally:
            group = self.sockets.get(key)
            if group is not None:
                group.discard(ws)
                if not group:
                    self.sockets.pop(key, None)
        return ws


def _regions_from_db() -> list[str]:
    from django.db import close_old_connections

    close_old_connections()
    return region_slugs()


# --- Running it ------------------------------------------------------------------------


class SimulatorThread:
    """The simulator in a thread with its own event loop (tests, benchmarks)::

        with SimulatorThread(regions=["us-east"]) as sim:
            sim.port, sim.sip_ports["us-east"], sim.refresh()
    """

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.simulator: Simulator | None = None
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> SimulatorThread:
        self.thread.start()
        self.simulator = Simulator(**self.kwargs)
        asyncio.run_coroutine_threadsafe(self.simulator.start(), self.loop).result(30)
        return self

    @property
    def port(self) -> int:
        return self.simulator.port

    @property
    def sip_ports(self) -> dict[str, int]:
        return self.simulator.sip_ports

    @property
    def breakage(self) -> Breakage:
        return self.simulator.breakage

    def refresh(self) -> None:
        """Re-read the outages now (instead of waiting for the next poll)."""
        asyncio.run_coroutine_threadsafe(self.simulator.refresh(), self.loop).result(30)

    def __exit__(self, *exc) -> None:
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self.simulator.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def serve(*, host: str = HOST, port: int | None = None) -> None:
    """`caredeck simulator`: serve until SIGTERM / SIGINT."""
    port = port or simulator_port()

    async def main():
        simulator = Simulator(host=host, port=port, sip_base_port=port)
        await simulator.start()
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        await stopping.wait()
        await simulator.stop()

    asyncio.run(main())
