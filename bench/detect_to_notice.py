#!/usr/bin/env python3
"""Detect-to-notice benchmark: a monitored target goes down → the first notice accepted by
the SMTP sink, split into confirmation (hysteresis) and CareDeck's own part.

    .venv/bin/python bench/detect_to_notice.py [--tenants 5] [--correlation 5]

What it does, in one run (the sink and process helpers are bench/notify_fanout.py's, the
target bench/probe_throughput.py's, the tenants bench/outage_notice.py's):

1. A local SMTP sink (aiosmtpd, in a subprocess of its own) records when it accepted each
   message and its Message-ID; a loopback target (aiohttp, a process of its own) answers
   200 until told to answer 503.
2. A fresh SQLite database in a temporary `CAREDECK_DATA_DIR`, migrated, gets `--tenants`
   customer tenants (default 5) homed in us-east (PoPs Ashburn + San José) with
   `--contacts` designated contacts each, an incident manager, the two built-in probe
   locations at those PoPs (`location_create`) and one HTTP check per tenant
   (`check_create`: every `--interval` s (30), 2 failures to alert, quorum 2, timeout 5 s,
   status 200), each against its own path of the target.
3. The real processes `caredeck probe`, `caredeck worker` and `caredeck scheduler`, with
   `CAREDECK_MONITORING_CORRELATION_SECONDS=--correlation` (5) and the scheduler's tick
   at its default (`CAREDECK_SCHEDULER_TICK_SECONDS`, 5 s); e-mail to the sink.
4. Once every check is up, the target is broken (t0: the instant it starts answering 503).
   It waits until every tenant's first notice is accepted by the sink.

Figures, from the database and the sink: t1 the first failed run (CheckResult), t2 the
first check's DOWN state change (its locations' hysteresis and the quorum: confirmation),
t3 the incident's declaration (Incident.declared_at), t4 the first notice (event
`incident.notice`) accepted by the sink. Confirmation = t2 − t0 (dominated by interval ×
failures), CareDeck's own part = t4 − t2 (correlation window, scheduler tick, worker,
declaration, e-mail), and the total; the same per tenant (its own check's DOWN → its own
first notice). Target (issue 8): CareDeck's own part under 60 s, for every tenant.
Exits 0 whether the target is met or not (it says which); 1 when no notice came.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import notify_fanout as fanout  # noqa: E402 - the sibling benchmarks' machinery
import outage_notice  # noqa: E402
import probe_throughput  # noqa: E402

OWN_PART_TARGET = 60.0
NOTICE_EVENT = "incident.notice"


def setup_monitoring(manager, *, base_url: str, interval: int, failures: int, quorum: int):
    """The built-in probe locations at the tenants' PoPs and one check per tenant, made
    through the services as staff would. Returns {check pk: organization pk}."""
    from caredeck.accounts.models import Organization
    from caredeck.monitoring import services
    from caredeck.topology.models import Pop

    for slug in outage_notice.AFFECTED_DEPLOYMENT["pops"]:
        pop = Pop.objects.get(slug=slug)
        services.location_create(actor=manager, slug=pop.slug, name=pop.name, pop=pop)
    checks = {}
    tenants = Organization.objects.filter(slug__startswith="tenant-").order_by("slug")
    for i, org in enumerate(tenants):
        check = services.check_create(
            actor=manager, organization=org, name="Agent desktop", area="agent_login",
            kind="http", target=f"{base_url}/t/{i}", interval=interval, timeout=5,
            failures_to_alert=failures, successes_to_recover=2, quorum=quorum,
            assertions=[{"type": "status", "value": 200}],
        )
        checks[check.pk] = org.pk
    return checks


def states() -> dict[str, int]:
    from django.db import close_old_connections
    from django.db.models import Count

    from caredeck.monitoring.models import Check

    close_old_connections()
    return dict(Check.objects.values_list("state").annotate(n=Count("pk")))


def notices_by_tenant(records: list[tuple[float, str]]) -> tuple[dict[int, float], dict]:
    """{organization pk: first accept time of its first notice}, and every e-mail's
    (event, organization) by Message-ID."""
    from django.db import close_old_connections

    from caredeck.notify.models import Channel, OutboundMessage
    from caredeck.notify.services import message_id_header

    close_old_connections()
    known = {
        message_id_header(OutboundMessage(dedupe_key=key)): (event, org)
        for key, event, org in OutboundMessage.objects.filter(channel=Channel.EMAIL)
        .values_list("dedupe_key", "event", "organization_id")
    }
    first: dict[int, float] = {}
    for stamp, message_id in records:
        event, org = known.get(message_id, (None, None))
        if event == NOTICE_EVENT and org is not None:
            first[org] = min(first.get(org, stamp), stamp)
    return first, known


def notices_per_tenant() -> dict[int, int]:
    """{organization pk: first notices written for it} (one per incident it is in)."""
    from django.db.models import Count

    from caredeck.incidents.models import Notice, NoticeKind

    return dict(Notice.objects.filter(kind=NoticeKind.FIRST).values_list("organization_id")
                .annotate(n=Count("pk")))


def row(figure: str, value: str, target: str = "", verdict: str = "") -> str:
    return f"  {figure:<46} {value:<48} {target:<10} {verdict}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=5, help="tenants homed in us-east")
    parser.add_argument("--contacts", type=int, default=2, help="designated contacts each")
    parser.add_argument("--interval", type=int, default=30, help="check interval (s)")
    parser.add_argument("--failures", type=int, default=2, help="failures to alert")
    parser.add_argument("--quorum", type=int, default=2)
    parser.add_argument("--correlation", type=int, default=5,
                        help="CAREDECK_MONITORING_CORRELATION_SECONDS")
    parser.add_argument("--timeout", type=float, default=300, help="give up after (s)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="caredeck-bench-detect-"))
    processes: list[subprocess.Popen] = []
    helpers: list[subprocess.Popen] = []
    try:
        sink_port = fanout.free_port()
        sink_log = workdir / "sink.log"
        sink_log.touch()
        sink_process = subprocess.Popen(
            [sys.executable, fanout.__file__, "--serve-sink", str(sink_port), str(sink_log)],
            stdout=subprocess.PIPE, text=True, start_new_session=True,
        )
        helpers.append(sink_process)
        if sink_process.stdout.readline().strip() != "sink ready":
            sys.exit("the SMTP sink did not start")
        sink = fanout.SinkLog(sink_log)
        target, target_port, _ = probe_throughput.target_start(workdir)
        helpers.append(target)
        base_url = f"http://127.0.0.1:{target_port}"

        manager_email = "incident.manager@provider.example"  # outage_notice.seed's
        env = {k: v for k, v in os.environ.items()
               if k not in {"DJANGO_SETTINGS_MODULE", "CAREDECK_TESTING"}}
        env.update(CAREDECK_DATA_DIR=str(workdir / "data"), DATABASE_URL="", REDIS_URL="",
                   EMAIL_URL=f"smtp://127.0.0.1:{sink_port}", CAREDECK_LOG_LEVEL="WARNING",
                   CAREDECK_MONITORING_CORRELATION_SECONDS=str(args.correlation),
                   CAREDECK_MONITORING_INCIDENT_MANAGER=manager_email)
        os.environ.clear()
        os.environ.update(env)
        outage_notice.django_setup()
        from django.conf import settings
        from django.core.management import call_command
        from django.db import connections

        call_command("migrate", verbosity=0)
        manager = outage_notice.seed(args.tenants, 0, args.contacts)
        checks = setup_monitoring(manager, base_url=base_url, interval=args.interval,
                                  failures=args.failures, quorum=args.quorum)
        connections.close_all()

        process_env = {**env, "CAREDECK_LOG_LEVEL": "INFO"}
        for name in ("probe", "worker", "scheduler"):
            processes.append(fanout.start(name, [name], process_env, workdir))
        fanout.wait_for_log(workdir, "probe", ("Probe running",), 60)
        fanout.wait_for_log(workdir, "worker", ("Starting worker", "Listening on"), 60)
        fanout.wait_for_log(workdir, "scheduler", ("is active",), 60)

        def alive() -> None:
            for p in processes:
                if p.poll() is not None:
                    sys.exit(f"{p.args} exited with {p.returncode}; logs in {workdir}")

        # Every check up (each location's first run is within one interval).
        deadline = time.monotonic() + args.interval * 2 + 30
        while states().get("up", 0) < len(checks):
            alive()
            if time.monotonic() > deadline:
                sys.exit(f"the checks did not come up: {states()}; logs in {workdir}")
            time.sleep(0.5)
        up_at = time.time()

        t0 = float(probe_throughput.target_call(target_port, "break"))
        deadline = time.monotonic() + args.timeout
        timed_out = False
        while True:
            alive()
            sink.poll()
            first, _ = notices_by_tenant(sink.records)
            if len(first) >= len(checks):
                break
            if time.monotonic() > deadline:
                timed_out = True
                break
            time.sleep(0.25)
        time.sleep(1.0)
        sink.poll()
        fanout.stop(processes)
        processes.clear()

        from caredeck.incidents.models import Incident
        from caredeck.monitoring.models import CheckResult, CheckState, StateChange

        after = datetime.datetime.fromtimestamp(t0, datetime.UTC)
        failed_runs = {}
        for check_id, started in (CheckResult.objects.filter(started_at__gte=after, ok=False)
                                  .order_by("started_at")
                                  .values_list("synthetic_check_id", "started_at")):
            failed_runs.setdefault(check_id, started.timestamp())
        down_at = {}
        for check_id, at in (StateChange.objects.filter(at__gte=after,
                                                        to_state=CheckState.DOWN)
                             .order_by("at").values_list("synthetic_check_id", "at")):
            down_at.setdefault(check_id, at.timestamp())
        incidents = list(Incident.objects.filter(declared_at__gte=after).order_by("declared_at")
                         .values_list("number", "severity", "failure_target", "declared_at",
                                      "detected_at"))
        first, known = notices_by_tenant(sink.records)
        team = sum(1 for _, m in sink.records if known.get(m, ("",))[0] not in
                   (NOTICE_EVENT, None))

        if not down_at or not first:
            print(f"no {'DOWN state change' if not down_at else 'notice'} within "
                  f"{args.timeout:g} s; logs in {workdir}")
            args.keep = True
            return 1
        t1 = min(failed_runs.values())
        t2 = min(down_at.values())
        t3 = incidents[0][3].timestamp() if incidents else float("nan")
        t4 = min(first.values())
        per_tenant = []  # (confirmation, own part) per tenant: its check's DOWN, its notice
        for check_id, org in checks.items():
            if check_id in down_at and org in first:
                per_tenant.append((down_at[check_id] - t0, first[org] - down_at[check_id]))
        own_parts = sorted(own for _, own in per_tenant)
        worst = own_parts[-1] if own_parts else float("nan")
        met = (not timed_out and len(per_tenant) == len(checks)
               and t4 - t2 < OWN_PART_TARGET and worst < OWN_PART_TARGET)

        print()
        print("CareDeck detect-to-notice benchmark — `caredeck probe` + `caredeck worker` + "
              "`caredeck scheduler`, SQLite (WAL) + database tasks")
        print(f"  machine: {os.cpu_count()} CPU(s), Python {sys.version.split()[0]}; "
              f"{len(checks)} tenants homed in us-east × {args.contacts} designated contacts; "
              f"one HTTP check each from 2 built-in locations (Ashburn, San José)")
        print(f"  checks: every {args.interval} s, {args.failures} failures to alert, quorum "
              f"{args.quorum}; MONITORING_CORRELATION_SECONDS={args.correlation}, "
              f"SCHEDULER_TICK_SECONDS={settings.SCHEDULER_TICK_SECONDS}, "
              f"MONITORING_CORRELATION_MIN_TENANTS="
              f"{settings.MONITORING_CORRELATION_MIN_TENANTS}")
        print(f"  the target broke (t0) {t0 - up_at:.1f} s after every check was up")
        print()
        print(row("instant (seconds after t0, target answers 503)", "value", "target",
                  "verdict"))
        print(row("-" * 46, "-" * 48, "-" * 10, "-" * 7))
        print(row("t1 first failed run (CheckResult.started_at)", f"{t1 - t0:.2f} s"))
        print(row("t2 first check DOWN (StateChange, confirmed)", f"{t2 - t0:.2f} s"))
        print(row("t3 incident declared (Incident.declared_at)", f"{t3 - t0:.2f} s"))
        print(row("t4 first notice accepted by the SMTP sink", f"{t4 - t0:.2f} s"))
        print(row("confirmation (hysteresis) t2 − t0", f"{t2 - t0:.2f} s",
                  f"≲ {args.interval * args.failures} s"))
        print(row("CareDeck's own part t4 − t2", f"{t4 - t2:.2f} s",
                  f"< {OWN_PART_TARGET:g} s", "met" if t4 - t2 < OWN_PART_TARGET else "MISSED"))
        print(row("  of which t3 − t2 (correlation, tick, task)", f"{t3 - t2:.2f} s"))
        print(row("  of which t4 − t3 (notice to the sink)", f"{t4 - t3:.2f} s"))
        print(row("total t4 − t0", f"{t4 - t0:.2f} s"))
        print(row("per tenant: its check DOWN → its first notice",
                  f"min {own_parts[0]:.2f} s, p50 {fanout.percentile(own_parts, 50):.2f} s, "
                  f"max {worst:.2f} s "
                  f"({len(per_tenant)} of {len(checks)})",
                  f"< {OWN_PART_TARGET:g} s", "met" if met else "MISSED"))
        confirmations = sorted(c for c, _ in per_tenant)
        if confirmations:
            print(row("per tenant: confirmation (its check DOWN − t0)",
                      f"min {confirmations[0]:.2f} s, max {confirmations[-1]:.2f} s"))
        per_org = notices_per_tenant()
        print(row("tenants with a first notice accepted", f"{len(first)} of {len(checks)}"))
        print(row("first notices (Notice rows) per tenant",
                  f"{sum(per_org.values())} for {len(per_org)} tenants; "
                  f"{sum(1 for n in per_org.values() if n > 1)} tenant(s) got more than one"))
        print(row("team e-mails accepted", f"{team}"))
        for number, severity, target_id, declared, detected in incidents:
            print(row(f"incident {number}", f"{severity}, "
                      f"{'failure of ' + target_id if target_id else 'tenant scope'}, "
                      f"declared {declared.timestamp() - t0:.2f} s, detected "
                      f"{detected.timestamp() - t0:.2f} s"))
        print()
        print("result: " + ("target met" if met else "target MISSED")
              + (f" (timed out after {args.timeout:g} s)" if timed_out else ""))
        return 0
    finally:
        fanout.stop(processes)
        fanout.stop(helpers)
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
