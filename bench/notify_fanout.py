#!/usr/bin/env python3
"""Fan-out benchmark: one outage notice to 1,000 tenants × 5 designated contacts.

    .venv/bin/python bench/notify_fanout.py                           # embedded default
    .venv/bin/python bench/notify_fanout.py --backend postgres-redis  # PostgreSQL + Redis

What it does, in one run:

1. A local SMTP sink (aiosmtpd, in a subprocess of its own) records when it accepted each
   message and its Message-ID.
2. A fresh CareDeck database (embedded: SQLite in a temporary CAREDECK_DATA_DIR; or a new
   `caredeck_bench_<random>` database on the PostgreSQL server of DATABASE_URL /
   CAREDECK_TEST_POSTGRES_URL, dropped afterwards) gets 1,000 customer tenants with 5
   designated contacts each.
3. `--workers` real `caredeck worker` processes (default 2) and one `caredeck scheduler`
   start, as in production, and go idle.
4. One transaction fans the event "incident.notice" out to every contact (one
   `notify_users` call per affected tenant): 5,000 e-mails plus 5,000 in-app items, the
   event's default channels. The clock starts when that transaction commits.
5. It waits until the sink has every e-mail, then until the outbox shows every row sent.
6. Baseline: a plain `smtplib` loop sends 5,000 similar messages (same subject and
   bodies, text + HTML, built with the standard `email` package) to the same sink over
   one connection.

Figures: time from the commit to the last e-mail accepted, p50/p95 per-message latency
(accept time − commit time), messages per second, and the ratio to the baseline's rate.
Targets (issue 3): every e-mail within 60 s of the event; at least half the baseline's
rate. `--backend postgres-redis` uses the PostgreSQL URL above and REDIS_URL (when unset,
a throw-away Debian redis-server is started on loopback).
"""

from __future__ import annotations

import argparse
import email.policy
import os
import re
import secrets
import shutil
import signal
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = Path(__file__).resolve().parent / "templates"
MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.MULTILINE | re.IGNORECASE)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- The SMTP sink (runs as `notify_fanout.py --serve-sink PORT LOG`) ------------------


def serve_sink(port: int, log_path: str) -> None:
    from aiosmtpd.controller import Controller

    log = open(log_path, "a", buffering=1)  # noqa: SIM115 - open for the process' life

    class Sink:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook
            accepted = time.time()
            found = MESSAGE_ID.search(envelope.content)
            log.write(f"{accepted:.6f} {found.group(1).decode() if found else '-'}\n")
            return "250 OK"

    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    print("sink ready", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        signal.pause()
    finally:
        controller.stop()
        log.close()


class SinkLog:
    """Reads the sink's log as it grows: (accept time, Message-ID) per message."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = 0
        self.records: list[tuple[float, str]] = []

    def poll(self) -> int:
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        complete = data.rfind(b"\n") + 1
        self.offset += complete
        for line in data[:complete].splitlines():
            stamp, message_id = line.decode().split(" ", 1)
            self.records.append((float(stamp), message_id))
        return len(self.records)


# --- Back-ends ------------------------------------------------------------------------


def postgres_url() -> str:
    url = os.environ.get("DATABASE_URL") or os.environ.get("CAREDECK_TEST_POSTGRES_URL")
    if not url or not url.startswith("postgres"):
        sys.exit("--backend postgres-redis needs DATABASE_URL or CAREDECK_TEST_POSTGRES_URL "
                 "(postgres://user@host:port/db)")
    return url


def postgres_database_create(url: str) -> tuple[str, str]:
    """A new database on the server of `url`: (its URL, its name)."""
    import psycopg

    name = f"caredeck_bench_{secrets.token_hex(4)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunparse(urlparse(url)._replace(path=f"/{name}")), name


def postgres_database_drop(url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def redis_start(workdir: Path) -> tuple[subprocess.Popen, str]:
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not os.path.exists(binary):
        sys.exit("REDIS_URL is unset and redis-server is not installed "
                 "(apt-get install redis-server)")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(workdir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                sys.exit("redis-server did not start")
            time.sleep(0.05)
    return process, f"redis://127.0.0.1:{port}/0"


# --- CareDeck side ---------------------------------------------------------------------


def django_setup() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "caredeck.settings"
    import django

    django.setup()
    from django.conf import settings

    # The notice's own e-mail template (incidents will bring theirs). Rendering happens
    # in this process, when the rows are written; the workers only send them.
    settings.TEMPLATES[0]["DIRS"] = [str(TEMPLATES), *settings.TEMPLATES[0]["DIRS"]]


def seed(tenants: int, contacts: int) -> list:
    """Customer tenants, each with `contacts` designated contacts; bulk, in one go."""
    from django.contrib.auth.hashers import make_password
    from django.db import transaction

    from caredeck.accounts.models import Organization, RoleGrant, User
    from caredeck.accounts.roles import OrganizationKind, Role

    unusable = make_password(None)
    with transaction.atomic():
        Organization.objects.bulk_create(
            [
                Organization(slug=f"tenant-{i:05d}", name=f"Tenant {i:05d}",
                             kind=OrganizationKind.CUSTOMER)
                for i in range(tenants)
            ],
            batch_size=500,
        )
        orgs = list(Organization.objects.filter(slug__startswith="tenant-").order_by("slug"))
        User.objects.bulk_create(
            [
                User(email=f"contact{c}@{org.slug}.example", name=f"Contact {c} of {org.name}",
                     organization=org, password=unusable)
                for org in orgs
                for c in range(contacts)
            ],
            batch_size=1000,
        )
        users = list(User.objects.filter(organization__in=orgs).order_by("pk"))
        RoleGrant.objects.bulk_create(
            [RoleGrant(user=u, role=Role.DESIGNATED_CONTACT) for u in users], batch_size=1000
        )
    by_org: dict[int, list] = {}
    for user in users:
        by_org.setdefault(user.organization_id, []).append(user)
    return [(org, by_org[org.pk]) for org in orgs]


def fan_out(affected: list, *, single_call: bool = False, batched: bool = True) -> float:
    """The event: an outage notice to the designated contacts of every affected tenant,
    in one transaction. Returns the wall-clock time of its commit."""
    import contextlib

    from django.db import transaction

    from caredeck.notify.services import notify_users, outbox_batched

    if single_call:  # one notify_users call for everybody, without an organization
        affected = [(None, [user for _, contacts in affected for user in contacts])]
    context = {
        "title": "Cloud CX: calls fail to connect in eu-west",
        "text": "Since 09:12 UTC some inbound calls fail to connect for tenants in eu-west. "
                "Engineers are working on it; next update within 30 minutes.",
    }
    committed: list[float] = []
    with transaction.atomic():
        # Registered first, so it runs first after COMMIT, before the enqueue hooks.
        transaction.on_commit(lambda: committed.append(time.time()))
        # outbox_batched(): the rows of all the calls are enqueued as full batches.
        with outbox_batched() if batched else contextlib.nullcontext():
            for org, contacts in affected:
                notify_users(
                    event="incident.notice", users=contacts,
                    dedupe_base="INC-000001:notice:1", template="incident_notice",
                    organization=org, url="/incidents/INC-000001/",
                    context={**context, "tenant": org.name if org else "your organization"},
                )
    return committed[0]


def outbox_counts() -> dict[str, int]:
    from django.db import close_old_connections
    from django.db.models import Count

    from caredeck.notify.models import OutboundMessage

    close_old_connections()
    rows = OutboundMessage.objects.values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}


def start(name: str, args: list[str], env: dict, logdir: Path) -> subprocess.Popen:
    log = open(logdir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [sys.executable, "-m", "caredeck.cli", *args], cwd=ROOT, env=env,
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )


def wait_for_log(logdir: Path, name: str, needles: tuple[str, ...], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = (logdir / f"{name}.log").read_text(errors="replace")
        if any(n in text for n in needles):
            return
        time.sleep(0.1)
    sys.exit(f"{name} did not start; see {logdir / (name + '.log')}:\n{text[-2000:]}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its finished children so far (Linux; the
    forking RQ worker runs each job in a child), 0 where unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
        return ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def stop(processes: list[subprocess.Popen]) -> None:
    for p in processes:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for p in processes:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


# --- The baseline ----------------------------------------------------------------------


def _similar(i: int, sample: dict) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = sample["subject"]
    msg["From"] = "CareDeck <caredeck@localhost>"
    msg["To"] = f"contact{i % 5}@baseline-{i // 5:05d}.example"
    msg["Message-ID"] = make_msgid(domain="baseline.example")
    msg.set_content(sample["body_text"])
    msg.add_alternative(sample["body_html"], subtype="html")
    return msg


def baseline(
    port: int, count: int, sample: dict, sink: SinkLog, *, prebuilt: bool = False
) -> tuple[float, float]:
    """A plain smtplib loop over one connection: (start time, last accept time). Each
    message is built in the loop with the standard `email` package; with `prebuilt`, all
    are built before the clock starts (the sink's own limit for one connection)."""
    ready = None
    if prebuilt:
        ready = [_similar(i, sample).as_bytes(policy=email.policy.SMTP) for i in range(count)]
    started = time.time()
    before = sink.poll()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for i in range(count):
            if ready is not None:
                smtp.sendmail("caredeck@localhost", [f"contact{i % 5}@b.example"], ready[i])
            else:
                smtp.send_message(_similar(i, sample))
    deadline = time.monotonic() + 30
    while sink.poll() < before + count and time.monotonic() < deadline:
        time.sleep(0.05)
    return started, max(t for t, _ in sink.records[before:])


# --- Main -----------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["embedded", "postgres-redis"], default="embedded")
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--contacts", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2, help="caredeck worker processes")
    parser.add_argument("--timeout", type=float, default=600, help="give up after (s)")
    parser.add_argument("--single-call", action="store_true",
                        help="one notify_users call for all contacts instead of one per tenant")
    parser.add_argument("--unbatched", action="store_true",
                        help="without outbox_batched(): one small task per notify_users call")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--serve-sink", nargs=2, metavar=("PORT", "LOG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_sink:
        serve_sink(int(args.serve_sink[0]), args.serve_sink[1])
        return 0

    total = args.tenants * args.contacts
    workdir = Path(tempfile.mkdtemp(prefix="caredeck-bench-"))
    cleanup: list = []
    processes: list[subprocess.Popen] = []
    try:
        # The sink, in a process of its own (as a real mail relay would be).
        sink_port = free_port()
        sink_log = workdir / "sink.log"
        sink_log.touch()
        sink_process = subprocess.Popen(
            [sys.executable, __file__, "--serve-sink", str(sink_port), str(sink_log)],
            stdout=subprocess.PIPE, text=True, start_new_session=True,
        )
        cleanup.append(lambda: stop([sink_process]))
        assert sink_process.stdout.readline().strip() == "sink ready"
        sink = SinkLog(sink_log)

        env = {k: v for k, v in os.environ.items()
               if k not in {"DJANGO_SETTINGS_MODULE", "CAREDECK_TESTING"}}
        env.update(CAREDECK_DATA_DIR=str(workdir / "data"),
                   EMAIL_URL=f"smtp://127.0.0.1:{sink_port}", CAREDECK_LOG_LEVEL="WARNING")
        if args.backend == "embedded":
            env.update(DATABASE_URL="", REDIS_URL="")
            described = "SQLite (WAL) + django_tasks_db DatabaseBackend"
        else:
            server_url = postgres_url()
            db_url, db_name = postgres_database_create(server_url)
            cleanup.append(lambda: postgres_database_drop(server_url, db_name))
            redis_url = os.environ.get("REDIS_URL")
            if not redis_url:
                redis_process, redis_url = redis_start(workdir)
                cleanup.append(lambda: stop([redis_process]))
            env.update(DATABASE_URL=db_url, REDIS_URL=redis_url)
            described = f"PostgreSQL ({urlparse(db_url).hostname}) + Redis/RQ"
        os.environ.clear()
        os.environ.update(env)
        django_setup()
        from django.conf import settings
        from django.core.management import call_command

        t0 = time.monotonic()
        call_command("migrate", verbosity=0)
        affected = seed(args.tenants, args.contacts)
        seeded = time.monotonic() - t0

        # Workers and the scheduler, started and idle before the event, as in production.
        # Their log level is INFO so we can see them come up.
        process_env = {**env, "CAREDECK_LOG_LEVEL": "INFO"}
        for i in range(args.workers):
            processes.append(start(f"worker{i + 1}", ["worker"], process_env, workdir))
        processes.append(start("scheduler", ["scheduler"], process_env, workdir))
        for i in range(args.workers):
            wait_for_log(workdir, f"worker{i + 1}", ("Starting worker", "Listening on"), 30)
        wait_for_log(workdir, "scheduler", ("is active",), 30)
        time.sleep(1.0)  # past db_worker's random start-up delay (up to 1 s)

        load_before = os.getloadavg()[0]
        cpu_before = {p.pid: cpu_seconds(p.pid) for p in [*processes, sink_process]}
        t1 = time.monotonic()
        committed = fan_out(affected, single_call=args.single_call, batched=not args.unbatched)
        fanned = time.monotonic() - t1

        deadline = time.monotonic() + args.timeout
        while sink.poll() < total:
            if time.monotonic() > deadline:
                print(f"TIMEOUT: {len(sink.records)} of {total} e-mails after {args.timeout} s")
                break
            for p in processes:
                if p.poll() is not None:
                    sys.exit(f"{p.args} exited with {p.returncode}; logs in {workdir}")
            time.sleep(0.02)
        counts = outbox_counts()
        while counts.get("sent", 0) < 2 * total and time.monotonic() < deadline:
            time.sleep(0.1)
            counts = outbox_counts()
        cpu = {p.pid: cpu_seconds(p.pid) - cpu_before[p.pid] for p in [*processes, sink_process]}
        worker_cpu = sum(cpu[p.pid] for p in processes[: args.workers])
        sink_cpu = cpu[sink_process.pid]
        stop(processes)
        processes.clear()

        records = sink.records[:]
        first_seen: dict[str, float] = {}
        for stamp, message_id in records:
            first_seen.setdefault(message_id, stamp)
        latencies = [stamp - committed for stamp in first_seen.values()]
        last = max(first_seen.values())
        caredeck_rate = len(first_seen) / (last - committed)

        from django.db.models import Max

        from caredeck.notify.models import OutboundMessage

        all_sent = OutboundMessage.objects.aggregate(last=Max("sent_at"))["last"].timestamp()
        sample = OutboundMessage.objects.filter(channel="email").values(
            "subject", "body_text", "body_html"
        ).first()
        size = len(sample["body_text"]) + len(sample["body_html"])
        base_start, base_last = baseline(sink_port, total, sample, sink)
        base_rate = total / (base_last - base_start)
        raw_start, raw_last = baseline(sink_port, total, sample, sink, prebuilt=True)
        raw_rate = total / (raw_last - raw_start)

        ratio = caredeck_rate / base_rate
        within = last - committed
        print()
        print(f"CareDeck notify fan-out benchmark — {described}")
        print(f"  machine: {os.cpu_count()} CPU(s), Python {sys.version.split()[0]}, "
              f"{args.workers} `caredeck worker` + 1 `caredeck scheduler`, "
              f"OUTBOX_BATCH_SIZE={settings.OUTBOX_BATCH_SIZE}")
        print(f"  set-up: migrate + {args.tenants} tenants × {args.contacts} contacts in "
              f"{seeded:.1f} s; fan-out transaction "
              f"({1 if args.single_call else args.tenants} notify_users call(s)"
              f"{'' if args.unbatched else ' in outbox_batched()'}, "
              f"{2 * total} outbox rows) {fanned:.1f} s before its commit")
        print(f"  e-mails accepted by the sink: {len(records)} "
              f"({len(first_seen)} distinct Message-IDs, {len(records) - len(first_seen)} "
              f"duplicates) of {total}; message bodies {size} bytes (text + HTML)")
        print(f"  commit → last e-mail accepted: {within:.2f} s   (target ≤ 60 s: "
              f"{'met' if within <= 60 and len(first_seen) == total else 'MISSED'})")
        print(f"  per-message latency (accept − commit): p50 {percentile(latencies, 50):.2f} s, "
              f"p95 {percentile(latencies, 95):.2f} s, max {max(latencies):.2f} s, "
              f"mean {statistics.fmean(latencies):.2f} s")
        print(f"  commit → every outbox row sent (e-mail + in-app): {all_sent - committed:.2f} s; "
              f"statuses {dict(sorted(counts.items()))}")
        print(f"  CareDeck rate: {caredeck_rate:,.0f} e-mails/s; CPU used meanwhile: workers "
              f"{worker_cpu:.1f} s, SMTP sink {sink_cpu:.1f} s; load average before the "
              f"event {load_before:.1f}")
        print(f"  baseline (plain smtplib loop, one connection, same sink): "
              f"{base_rate:,.0f} messages/s ({total} in {base_last - base_start:.2f} s)")
        print(f"  ratio CareDeck / baseline: {ratio:.2f}   (target ≥ 0.50: "
              f"{'met' if ratio >= 0.5 else 'MISSED'})")
        print(f"  for reference, the same loop with messages built before the clock "
              f"started: {raw_rate:,.0f} messages/s (ratio {caredeck_rate / raw_rate:.2f})")
        return 0 if within <= 60 and ratio >= 0.5 and len(first_seen) == total else 1
    finally:
        stop(processes)
        for step in reversed(cleanup):
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - report and go on cleaning up
                print(f"cleanup: {exc}", file=sys.stderr)
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
