"""The probe loop: lease due runs, run them concurrently in one event loop, report the
outcomes in batches.

The same loop serves two places (a *source* leases and reports):
- the **built-in probe** of `caredeck run` (`caredeck probe`), for the locations in
  "builtin" mode, straight against the database (recording.py);
- a **remote agent** (`caredeck probe --location pop-x --url https://caredeck… --token …`)
  at a PoP, which pulls its due runs and posts its outcomes over the API.

Nothing sleeps inside a probe: the loop wakes when the next run is due (at most every
second), runs up to `concurrency` probes at once, and a probe that fails `retries` times
in a row is one failed run.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import signal
import time
from dataclasses import asdict

from caredeck.monitoring.probes import ProbeOutcome, ProbeSession, ProbeSpec, run_probe

log = logging.getLogger("caredeck.probe")
FLUSH_EVERY = 0.5  # seconds between two reports of outcomes
FLUSH_SIZE = 500
IDLE_WAKE = 1.0


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class DatabaseSource:
    """The built-in probe: leases and records through the ORM (in a worker thread, so the
    event loop keeps running probes while the database works)."""

    def __init__(self, location_ids: list[int] | None = None):
        self.location_ids = location_ids

    def _locations(self) -> list[int]:
        from caredeck.monitoring.models import ProbeLocation

        if self.location_ids is not None:
            return self.location_ids
        return list(ProbeLocation.objects.filter(
            mode=ProbeLocation.Mode.BUILTIN, is_active=True).values_list("pk", flat=True))

    def _lease(self, limit: int):
        from django.db import close_old_connections

        from caredeck.monitoring.recording import lease_due

        close_old_connections()
        return lease_due(self._locations(), limit=limit)

    def _record(self, outcomes):
        from django.db import close_old_connections

        from caredeck.monitoring.recording import record

        close_old_connections()
        return record(outcomes)

    async def lease(self, limit: int):
        return await asyncio.to_thread(self._lease, limit)

    async def report(self, outcomes) -> None:
        await asyncio.to_thread(self._record, outcomes)


class AgentSource:
    """A remote agent: pulls its location's due runs and posts outcomes over the API,
    authenticated by the location's token."""

    def __init__(self, base_url: str, token: str):
        self.base = base_url.rstrip("/") + "/api/v1/probe/"
        self.headers = {"Authorization": f"Bearer {token}"}
        self._http = None

    async def _client(self):
        import aiohttp

        if self._http is None:
            self._http = aiohttp.ClientSession(headers=self.headers,
                                               timeout=aiohttp.ClientTimeout(total=30))
        return self._http

    async def lease(self, limit: int):
        http = await self._client()
        async with http.get(self.base + "runs/", params={"limit": str(limit)}) as response:
            response.raise_for_status()
            data = await response.json()
        return [_RemoteRun(**row) for row in data["runs"]]

    async def report(self, outcomes) -> None:
        http = await self._client()
        body = [{**o, "scheduled_at": _iso(o["scheduled_at"]), "started_at": _iso(o["started_at"]),
                 "tls_expires_at": _iso(o["tls_expires_at"])} for o in outcomes]
        async with http.post(self.base + "results/", json={"results": body}) as response:
            response.raise_for_status()

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()


def _iso(value):
    return value.isoformat() if isinstance(value, datetime.datetime) else value


class _RemoteRun:
    """A due run as the API sends it (same attributes as recording.DueRun)."""

    def __init__(self, assignment_id, check_id, location_id, scheduled_at, kind, target,
                 timeout, retries, assertions, config):
        self.assignment_id, self.check_id, self.location_id = assignment_id, check_id, location_id
        self.scheduled_at = scheduled_at  # ISO text: sent back as it came
        self.kind, self.target, self.timeout, self.retries = kind, target, timeout, retries
        self.assertions, self.config = assertions, config


async def run_one(run, session) -> dict:
    """Run a leased run (with its retries); returns the outcome as the recorder wants it."""
    spec = ProbeSpec(kind=run.kind, target=run.target, timeout=run.timeout,
                     assertions=run.assertions or [], config=run.config or {})
    started_at = _utcnow()
    outcome: ProbeOutcome | None = None
    for _ in range(1 + max(0, run.retries)):
        outcome = await run_probe(spec, session=session)
        if outcome.ok:
            break
    return {
        "assignment_id": run.assignment_id, "scheduled_at": run.scheduled_at,
        "started_at": started_at, "ok": outcome.ok, "duration_ms": outcome.duration_ms,
        "status_code": outcome.status_code, "error": outcome.error,
        "steps": [asdict(step) for step in outcome.steps], "evidence": outcome.evidence,
        "tls_expires_at": outcome.tls_expires_at,
    }


class Runner:
    def __init__(self, source, *, concurrency: int = 200):
        self.source = source
        self.concurrency = concurrency
        self.pending: list[dict] = []
        self.in_flight: set[asyncio.Task] = set()
        self.stopping = asyncio.Event()
        self.ran = 0

    async def _flush(self) -> None:
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        try:
            await self.source.report(batch)
        except Exception:  # a report that failed is retried with the next batch
            log.exception("Reporting %d outcomes failed; keeping them", len(batch))
            self.pending = batch + self.pending

    async def _run(self, run, session) -> None:
        # Await first: `self.pending` is swapped by each flush, and an outcome appended
        # to the list that was current when the run started would be lost.
        outcome = await run_one(run, session)
        self.pending.append(outcome)
        self.ran += 1

    async def loop(self, *, until: float | None = None) -> int:
        """Run until stopped (or until the monotonic deadline `until`, for tests and
        benchmarks). Returns the number of runs done."""
        last_flush = time.monotonic()
        async with ProbeSession(limit=self.concurrency * 2) as session:
            while not self.stopping.is_set():
                if until is not None and time.monotonic() >= until:
                    break
                room = self.concurrency - len(self.in_flight)
                runs = []
                if room > 0:
                    try:
                        runs = await self.source.lease(room)
                    except Exception:
                        log.exception("Leasing due runs failed")
                for run in runs:
                    task = asyncio.create_task(self._run(run, session))
                    self.in_flight.add(task)
                    task.add_done_callback(self.in_flight.discard)
                now = time.monotonic()
                if len(self.pending) >= FLUSH_SIZE or now - last_flush >= FLUSH_EVERY:
                    await self._flush()
                    last_flush = now
                if not runs:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.stopping.wait(),
                                               IDLE_WAKE if not self.in_flight else 0.2)
                elif len(self.in_flight) >= self.concurrency:
                    await asyncio.wait(self.in_flight, return_when=asyncio.FIRST_COMPLETED)
            if self.in_flight:
                await asyncio.wait(self.in_flight, timeout=30)
            await self._flush()
        return self.ran


def run_forever(source, *, concurrency: int) -> None:
    """Run the loop until SIGTERM / SIGINT (finishing the runs in flight)."""

    async def main():
        runner = Runner(source, concurrency=concurrency)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, runner.stopping.set)
        log.info("Probe running (%s, %d at once)", type(source).__name__, concurrency)
        await runner.loop()

    asyncio.run(main())
