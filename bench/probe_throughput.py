#!/usr/bin/env python3
"""Probe-throughput benchmark: 10,000 HTTP checks every 5 minutes from the built-in probe,
against Prometheus' blackbox_exporter probing the same targets at the same rate.

    .venv/bin/python bench/probe_throughput.py                 # 10,000 checks, 300 s cycle
    .venv/bin/python bench/probe_throughput.py --checks 2000 --interval 60   # a quick look

What it does, in one run:

1. **Target**: an aiohttp server in a process of its own on loopback (keep-alive on)
   answers `GET /t/<n>` with 200 "ok" and notes when each request arrived, by path and by
   client (User-Agent), so both probers' start times are also measured at the target.
2. **Database**: SQLite (WAL) in a temporary `CAREDECK_DATA_DIR`, migrated, gets in bulk
   `--tenants` customer tenants, `--locations` built-in probe locations (at the reference
   PoPs) and `--checks` HTTP checks (interval `--interval`, timeout 10 s, assertion
   status 200), check *i* against `http://127.0.0.1:<port>/t/<i>`. The assignments are
   written directly with `bulk_create` (check_create would take minutes for 10,000), first
   runs spread over the interval as `services._first_run` does (the stable CRC32 offset of
   check and location, in whole seconds), from an instant T0 a few seconds after the
   processes have started.
3. **CareDeck**: the real `caredeck probe` process (the built-in probe: lease, run with the
   shared aiohttp session, record in batches), with `CAREDECK_MONITORING_CONCURRENCY`.
4. **blackbox_exporter**: Debian's `prometheus-blackbox-exporter` with one `http_2xx`
   module (timeout 10 s, IPv4), driven from this process by an asyncio loop that calls
   `/probe?module=http_2xx&target=<url>` for the same targets at the same scheduled
   instants (T0 + the same offsets), as Prometheus would scrape it. The driver's CPU is
   not counted; only the exporter's.
5. Both run at the same time for one full cycle [T0, T0 + interval); then the probe is
   stopped (SIGTERM: it finishes its runs and flushes) and the figures are read.

Figures, for each side: runs started in the cycle, ok, checks per second, start-time
lateness against schedule p50/p99/max (CareDeck: CheckResult.started_at − scheduled_at;
both: arrival at the target − scheduled instant), CPU seconds of the prober's process over
the cycle and per 1,000 checks, and the ratio CareDeck / blackbox_exporter. Targets (issue
8): CareDeck's lateness p99 under 5 s, and CPU per check within 2× blackbox_exporter's.
Exits 0 whether a target is met or not (it says which); 1 when a run is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import notify_fanout as fanout  # noqa: E402 - the sibling benchmark's machinery

LATENESS_P99_TARGET = 5.0
CPU_RATIO_TARGET = 2.0
BLACKBOX = "/usr/bin/prometheus-blackbox-exporter"
BLACKBOX_CONFIG = """\
modules:
  http_2xx:
    prober: http
    timeout: 10s
    http:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
"""


# --- The target (runs as `probe_throughput.py --serve-target PORT LOG`) -------------------


def serve_target(port: int, log_path: str) -> None:
    """200 "ok" on every path (503 "down" once /__break was called, until /__mend); each
    request noted as (arrival time, client, path); /__dump writes the notes to LOG."""
    from aiohttp import web

    notes: list[tuple[float, str, str]] = []
    state = {"broken": False}

    async def handle(request: web.Request) -> web.Response:
        arrived = time.time()
        path = request.path
        if path.startswith("/__"):
            if path == "/__break":
                state["broken"] = True
            elif path == "/__mend":
                state["broken"] = False
            elif path == "/__dump":
                with open(log_path, "w") as f:
                    f.writelines(f"{t:.6f} {who} {p}\n" for t, who, p in notes)
                return web.Response(text=str(len(notes)))
            return web.Response(text=f"{arrived:.6f}")
        agent = request.headers.get("User-Agent", "")
        notes.append((arrived, "caredeck" if agent.startswith("CareDeck") else "other", path))
        if state["broken"]:
            return web.Response(status=503, text="down")
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handle)

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None, keepalive_timeout=75)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
        print("target ready", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await runner.cleanup()

    asyncio.run(main())


def target_start(workdir: Path) -> tuple[subprocess.Popen, int, Path]:
    port = fanout.free_port()
    notes = workdir / "target.log"
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve-target", str(port), str(notes)],
        stdout=subprocess.PIPE, text=True, start_new_session=True,
    )
    if process.stdout.readline().strip() != "target ready":
        sys.exit("the target server did not start")
    return process, port, notes


def target_call(port: int, what: str) -> str:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/__{what}", timeout=30) as r:
        return r.read().decode()


def target_notes(port: int, path: Path) -> list[tuple[float, str, str]]:
    target_call(port, "dump")
    rows = []
    for line in path.read_text().splitlines():
        stamp, who, p = line.split(" ", 2)
        rows.append((float(stamp), who, p))
    return rows


# --- Set-up -----------------------------------------------------------------------------


def django_setup() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "caredeck.settings"
    import django

    django.setup()


def offset(check_pk: int, location_pk: int, interval: int) -> int:
    """services._first_run's stable spread (whole seconds) of a check at a location."""
    return zlib.crc32(f"{check_pk}:{location_pk}".encode()) % max(interval, 1)


def seed(*, checks: int, tenants: int, locations: int, interval: int, base_url: str,
         first_cycle: float, fresh: bool = False) -> dict[str, float]:
    """Tenants, built-in locations, checks and their assignments, in bulk. Returns the
    scheduled instant of each target path's first run (at the first location).

    The checks are up, as after an earlier cycle (steady state); `fresh`: pending, as just
    created, so this cycle also settles every check's first verdict (pending → up)."""
    from django.db import transaction

    from caredeck.accounts.models import Organization
    from caredeck.accounts.roles import OrganizationKind
    from caredeck.monitoring.models import (
        Check,
        CheckAssignment,
        CheckKind,
        CheckState,
        ProbeLocation,
    )
    from caredeck.topology.models import FunctionalArea, Pop

    t0 = datetime.datetime.fromtimestamp(first_cycle, datetime.UTC)
    before = t0 - datetime.timedelta(seconds=interval)
    state = CheckState.PENDING if fresh else CheckState.UP
    history = {} if fresh else {"consecutive_successes": 5, "last_ok": True,
                                "last_run_at": before, "last_duration_ms": 2}
    area = FunctionalArea.objects.get(slug="agent_login")
    pops = list(Pop.objects.order_by("slug")[:locations])
    with transaction.atomic():
        Organization.objects.bulk_create(
            [Organization(slug=f"tenant-{i:05d}", name=f"Tenant {i:05d}",
                          kind=OrganizationKind.CUSTOMER) for i in range(tenants)],
            batch_size=500,
        )
        orgs = list(Organization.objects.filter(slug__startswith="tenant-").order_by("slug")
                    .values_list("pk", flat=True))
        locs = [ProbeLocation.objects.create(slug=pop.slug, name=pop.name, pop=pop)
                for pop in pops]
        Check.objects.bulk_create(
            [Check(organization_id=orgs[i % len(orgs)], area=area, name=f"Web {i:05d}",
                   kind=CheckKind.HTTP, target=f"{base_url}/t/{i}", interval=interval,
                   timeout=10, assertions=[{"type": "status", "value": 200}],
                   state=state, state_since=before)
             for i in range(checks)],
            batch_size=1000,
        )
        rows = list(Check.objects.values_list("pk", "target"))
        CheckAssignment.objects.bulk_create(
            [CheckAssignment(synthetic_check_id=pk, location=loc, state=state, **history,
                             next_run_at=t0 + datetime.timedelta(
                                 seconds=offset(pk, loc.pk, interval)))
             for pk, _ in rows for loc in locs],
            batch_size=1000,
        )
    first = locs[0].pk
    return {target.removeprefix(base_url): first_cycle + offset(pk, first, interval)
            for pk, target in rows}


# --- blackbox_exporter --------------------------------------------------------------------


def blackbox_start(workdir: Path) -> tuple[subprocess.Popen, int]:
    if not os.path.exists(BLACKBOX):
        sys.exit("prometheus-blackbox-exporter is not installed "
                 "(apt-get install -y prometheus-blackbox-exporter), or run with --no-blackbox")
    config = workdir / "blackbox.yml"
    config.write_text(BLACKBOX_CONFIG)
    port = fanout.free_port()
    log = open(workdir / "blackbox.log", "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [BLACKBOX, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}",
         "--log.level=warn"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    import socket

    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process, port
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                sys.exit(f"blackbox_exporter did not start; see {workdir / 'blackbox.log'}")
            time.sleep(0.05)


async def drive_blackbox(port: int, schedule: list[tuple[float, str]],
                         until: float) -> list[tuple[float, float, float, bool]]:
    """Call /probe for each (scheduled instant, target URL) at its instant, as a
    Prometheus scrape would. Returns (scheduled, sent, answered, probe_success)."""
    import aiohttp

    done: list[tuple[float, float, float, bool]] = []
    url = f"http://127.0.0.1:{port}/probe"

    async def one(http, scheduled: float, target: str) -> None:
        sent = time.time()
        try:
            async with http.get(url, params={"module": "http_2xx", "target": target}) as r:
                text = await r.text()
            success = "\nprobe_success 1" in text
        except aiohttp.ClientError:
            success = False
        done.append((scheduled, sent, time.time(), success))

    tasks = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                     timeout=aiohttp.ClientTimeout(total=30)) as http:
        for scheduled, target in schedule:
            if scheduled >= until:
                break
            delay = scheduled - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(http, scheduled, target)))
        await asyncio.gather(*tasks)
    return done


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) of each thread of a process."""
    found = {}
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            found[int(task.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            continue
    return found


# --- Figures ------------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    return fanout.percentile(values, p) if values else float("nan")


def lateness_text(values: list[float]) -> str:
    if not values:
        return "-"
    return (f"p50 {pct(values, 50):.3f} s, p99 {pct(values, 99):.3f} s, "
            f"max {max(values):.3f} s")


def row(figure: str, caredeck: str, blackbox: str = "", verdict: str = "") -> str:
    return f"  {figure:<42} {caredeck:<38} {blackbox:<38} {verdict}"


# --- Main ---------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checks", type=int, default=10_000)
    parser.add_argument("--interval", type=int, default=300, help="seconds (the cycle)")
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--locations", type=int, default=1, help="built-in probe locations "
                        "(each runs every check; blackbox_exporter probes once per check)")
    parser.add_argument("--concurrency", type=int, default=0,
                        help="CAREDECK_MONITORING_CONCURRENCY (default: the setting's)")
    parser.add_argument("--lead", type=float, default=20.0,
                        help="seconds from seeding to T0 (processes start meanwhile)")
    parser.add_argument("--fresh", action="store_true",
                        help="checks just created (pending): the cycle also settles each "
                             "check's first verdict; default: up, as after an earlier cycle")
    parser.add_argument("--no-blackbox", action="store_true", help="CareDeck alone")
    parser.add_argument("--profile", action="store_true",
                        help="run `caredeck probe` under cProfile and print where its time "
                             "goes (the CPU figures then include the profiler's overhead)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="caredeck-bench-probe-"))
    processes: list[subprocess.Popen] = []
    try:
        target, target_port, notes_path = target_start(workdir)
        processes.append(target)
        base_url = f"http://127.0.0.1:{target_port}"

        env = {k: v for k, v in os.environ.items()
               if k not in {"DJANGO_SETTINGS_MODULE", "CAREDECK_TESTING"}}
        env.update(CAREDECK_DATA_DIR=str(workdir / "data"), DATABASE_URL="", REDIS_URL="",
                   CAREDECK_LOG_LEVEL="INFO")
        if args.concurrency:
            env["CAREDECK_MONITORING_CONCURRENCY"] = str(args.concurrency)
        os.environ.clear()
        os.environ.update(env)
        django_setup()
        from django.conf import settings
        from django.core.management import call_command

        started = time.monotonic()
        call_command("migrate", verbosity=0)
        migrated = time.monotonic() - started
        t0 = time.time() + args.lead
        first_runs = seed(checks=args.checks, tenants=args.tenants, locations=args.locations,
                          interval=args.interval, base_url=base_url, first_cycle=t0,
                          fresh=args.fresh)
        seeded = time.monotonic() - started - migrated
        end = t0 + args.interval
        from django.db import connections

        connections.close_all()

        blackbox = None
        if not args.no_blackbox:
            blackbox, blackbox_port = blackbox_start(workdir)
            processes.append(blackbox)
        if args.profile:
            log = open(workdir / "probe.log", "wb")  # noqa: SIM115 - closed with the process
            probe = subprocess.Popen(
                [sys.executable, "-m", "cProfile", "-o", str(workdir / "probe.prof"),
                 "-m", "caredeck.cli", "probe"],
                cwd=fanout.ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        else:
            probe = fanout.start("probe", ["probe"], env, workdir)
        processes.append(probe)
        fanout.wait_for_log(workdir, "probe", ("Probe running",), 60)
        if time.time() > t0 - 1:
            sys.exit(f"the processes took too long to start; raise --lead (now {args.lead})")

        load_before = os.getloadavg()[0]
        watched = {"caredeck": probe, "target": target}
        if blackbox:
            watched["blackbox"] = blackbox
        time.sleep(max(0.0, t0 - time.time()))
        cpu_start = {name: fanout.cpu_seconds(p.pid) for name, p in watched.items()}
        threads_start = thread_cpu(probe.pid)
        driver_start = time.process_time()

        schedule = sorted((at, base_url + path) for path, at in first_runs.items())
        cpu_end: dict[str, float] = {}
        threads_end: dict[int, float] = {}

        async def cycle():
            async def sample_at_end():
                await asyncio.sleep(max(0.0, end - time.time()))
                cpu_end.update({name: fanout.cpu_seconds(p.pid) for name, p in watched.items()})
                threads_end.update(thread_cpu(probe.pid))

            sampler = asyncio.create_task(sample_at_end())
            done = (await drive_blackbox(blackbox_port, schedule, end)) if blackbox else []
            await sampler
            return done

        blackbox_runs = asyncio.run(cycle())
        driver_cpu = time.process_time() - driver_start
        for p in processes:
            if p.poll() is not None:
                sys.exit(f"{p.args} exited with {p.returncode}; logs in {workdir}")
        time.sleep(3.0)  # the last runs of the cycle finish and are flushed
        load_after = os.getloadavg()[0]
        fanout.stop([probe])
        processes.remove(probe)
        notes = target_notes(target_port, notes_path)

        from caredeck.monitoring.models import CheckResult

        start_dt = datetime.datetime.fromtimestamp(t0, datetime.UTC)
        end_dt = datetime.datetime.fromtimestamp(end, datetime.UTC)
        results = list(CheckResult.objects.filter(
            scheduled_at__gte=start_dt, scheduled_at__lt=end_dt,
        ).values_list("scheduled_at", "started_at", "ok", "error"))
        expected = args.checks * args.locations
        late = sorted((s2 - s1).total_seconds() for s1, s2, _, _ in results)
        ok = sum(1 for r in results if r[2])
        errors = Counter(e for _, _, o, e in results if not o)
        cd_in_cycle = sum(1 for _, s2, _, _ in results if s2 < end_dt)
        # At the target: arrival − scheduled instant, per client (first location only for
        # CareDeck's arrival figure when there are several: they share the path).
        arrivals: dict[str, list[float]] = {"caredeck": [], "other": []}
        seen: set[tuple[str, str]] = set()
        for stamp, who, path in sorted(notes):
            scheduled = first_runs.get(path)
            if scheduled is None or not t0 <= scheduled < end or (who, path) in seen:
                continue
            seen.add((who, path))
            arrivals[who].append(stamp - scheduled)
        cd_cpu = cpu_end["caredeck"] - cpu_start["caredeck"]
        target_cpu = cpu_end["target"] - cpu_start["target"]
        cd_per_k = cd_cpu / max(cd_in_cycle, 1) * 1000
        loop_cpu = threads_end.get(probe.pid, 0.0) - threads_start.get(probe.pid, 0.0)
        db_cpu = sum(v - threads_start.get(tid, 0.0) for tid, v in threads_end.items()
                     if tid != probe.pid)
        bb_late = sorted(sent - scheduled for scheduled, sent, _, _ in blackbox_runs)
        bb_ok = sum(1 for r in blackbox_runs if r[3])
        bb_cpu = cpu_end.get("blackbox", 0.0) - cpu_start.get("blackbox", 0.0)
        bb_per_k = bb_cpu / max(len(blackbox_runs), 1) * 1000
        ratio = cd_per_k / bb_per_k if blackbox and bb_per_k else float("nan")
        cd_p99 = pct(late, 99)

        print()
        print("CareDeck probe-throughput benchmark — built-in probe (`caredeck probe`) "
              "against blackbox_exporter")
        print(f"  machine: {os.cpu_count()} CPU(s), Python {sys.version.split()[0]}, SQLite "
              f"(WAL); load average {load_before:.1f} before the cycle, {load_after:.1f} "
              f"after")
        print(f"  set-up: migrate {migrated:.1f} s; {args.tenants} tenants, {args.locations} "
              f"built-in location(s), {args.checks} HTTP checks every {args.interval} s "
              f"({expected} runs per cycle), checks "
              f"{'pending (just created)' if args.fresh else 'up (steady state)'}, "
              f"MONITORING_CONCURRENCY="
              f"{args.concurrency or settings.MONITORING_CONCURRENCY}, in {seeded:.1f} s")
        print(f"  target: aiohttp on 127.0.0.1:{target_port}, keep-alive; "
              f"{len(notes)} requests served, CPU {target_cpu:.1f} s over the cycle")
        described = ("0.23 (Debian), module http_2xx, driven at the same instants"
                     if blackbox else "not run")
        print(f"  cycle: one full cycle of {args.interval} s from T0"
              f"{' (probe under cProfile)' if args.profile else ''}; blackbox_exporter "
              f"{described}")
        print()
        print(row("figure", "CareDeck built-in probe", "blackbox_exporter", "verdict"))
        print(row("-" * 42, "-" * 38, "-" * 38, "-" * 7))
        print(row("runs scheduled in the cycle / recorded", f"{expected} / {len(results)}",
                  f"{len(schedule)} / {len(blackbox_runs)}" if blackbox else "-"))
        print(row("runs ok", f"{ok}" + (f" (failed: {dict(errors.most_common(3))})"
                                        if errors else ""),
                  f"{bb_ok}" if blackbox else "-"))
        print(row("checks per second (runs / cycle)",
                  f"{cd_in_cycle / args.interval:.1f}",
                  f"{len(blackbox_runs) / args.interval:.1f}" if blackbox else "-"))
        print(row("lateness (started_at − scheduled_at)", lateness_text(late), "-",
                  f"p99 < {LATENESS_P99_TARGET:g} s: "
                  f"{'met' if cd_p99 < LATENESS_P99_TARGET else 'MISSED'}"))
        print(row("lateness (driver sent − scheduled)", "-",
                  lateness_text(bb_late) if blackbox else "-"))
        print(row("lateness at the target (arrival − sched.)",
                  lateness_text(sorted(arrivals["caredeck"])),
                  lateness_text(sorted(arrivals["other"])) if blackbox else "-"))
        print(row("CPU of the prober's process, cycle", f"{cd_cpu:.1f} s",
                  f"{bb_cpu:.1f} s" if blackbox else "-"))
        print(row("  of which: event loop (probes)", f"{loop_cpu:.1f} s "
                  f"({loop_cpu / max(cd_in_cycle, 1) * 1000:.2f} per 1,000)"))
        print(row("  of which: threads (lease, record)", f"{db_cpu:.1f} s "
                  f"({db_cpu / max(cd_in_cycle, 1) * 1000:.2f} per 1,000)"))
        print(row("CPU seconds per 1,000 checks", f"{cd_per_k:.2f}",
                  f"{bb_per_k:.2f}" if blackbox else "-"))
        if blackbox:
            print(row("ratio CareDeck / blackbox_exporter (CPU)", f"{ratio:.2f}", "",
                      f"≤ {CPU_RATIO_TARGET:g}: "
                      f"{'met' if ratio <= CPU_RATIO_TARGET else 'MISSED'}"))
        print(row("for reference: the driver's CPU", "", f"{driver_cpu:.1f} s (not counted)"))
        if args.profile:
            fanout.stop(processes)
            processes.clear()
            import io
            import pstats

            out = io.StringIO()
            stats = pstats.Stats(str(workdir / "probe.prof"), stream=out)
            stats.sort_stats("tottime").print_stats(30)
            print()
            print(f"Where `caredeck probe` spends its time (cProfile, tottime; "
                  f"{workdir / 'probe.prof'}):")
            print(out.getvalue())
        missing = len(results) < expected or (blackbox and len(blackbox_runs) < len(schedule))
        return 1 if missing else 0
    finally:
        fanout.stop(processes)
        if args.keep or args.profile:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve-target":
        serve_target(int(sys.argv[2]), sys.argv[3])
    else:
        sys.exit(main())
