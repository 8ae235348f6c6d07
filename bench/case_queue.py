#!/usr/bin/env python3
"""Case-queue benchmark: the Care queues and a tenant's case list over 100,000 cases.

    .venv/bin/python bench/case_queue.py                        # SQLite (embedded default)
    CAREDECK_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/caredeck \\
      .venv/bin/python bench/case_queue.py --backend postgres   # PostgreSQL

What it does, in one run (the process and PostgreSQL helpers are bench/notify_fanout.py's):

1. A fresh database (embedded: SQLite in a temporary CAREDECK_DATA_DIR; postgres: a new
   `caredeck_bench_<random>` database on the server of DATABASE_URL /
   CAREDECK_TEST_POSTGRES_URL, dropped afterwards), migrated, gets in bulk: `--tenants`
   customer tenants (default 500) with a contract, the three products and two designated
   contacts each; six support groups; `--analysts` Care analysts (default 20) with their
   Expert rows spread over the groups and time zones; `--cases` cases (default 100,000)
   with numbers assigned in the bulk insert (`CS-000001`…, the key's own number, as
   `save()` would give it), spread over the tenants and the last two years: 95 % closed,
   the rest open / waiting for information / solution proposed / confirmed, with SLA
   due times on the active ones, owned by the analysts of the case's group (2 % of the
   active ones unassigned); 2 % of the cases escalated (40 still waiting for an
   acknowledgement).
2. A real `caredeck web` (gunicorn, `--web-workers` workers × 4 threads) on loopback.
3. Sign-in through the real form (`/login/`, CSRF token, session cookie) as one analyst
   and as one tenant's designated contact.
4. For each view, one keep-alive connection (stdlib `http.client`), `--warmup` requests
   (default 20) then `--requests` timed ones (default 200), one after the other:
   - bare: `GET /healthz/` (no session; one `SELECT 1`), the baseline;
   - the analyst's queue: `GET /cases/queues/?queue=mine` (first page of their active
     cases, with the counts of every queue tab);
   - the analyst's group queue: `GET /cases/queues/?queue=group`;
   - the tenant's case list: `GET /cases/` (their organization's active cases) and
     `GET /cases/?status=all` (all ~200 of them, first page).
   Every answer must be a 200 that holds a case number of the data set.

Figures: p50 / p95 / max / mean per view, and the ratio of each p50 and p95 to the bare
view's. Target (issue 6): p95 under 100 ms for the queue and the tenant list. With
`--queries`, it also renders each view once in this process (Django's test client) and
prints the number of SQL queries and the slowest ones, to see where time goes. Exits 1
when a target is missed or an answer is wrong.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import os
import random
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode, urlparse

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import notify_fanout as fanout  # noqa: E402 - the sibling benchmark's machinery

TARGET_P95_MS = 100.0
PASSWORD = "bench-queue-password"  # noqa: S105 - a throw-away database
GROUPS = [
    ("reporting-analytics", "Reporting & Analytics", "Europe/London", "GB"),
    ("technical-account-management", "Technical Account Management", "America/New_York", "US"),
    ("voice-self-service", "Voice Self Service", "America/Los_Angeles", "US"),
    ("telephony", "Telephony", "America/New_York", "US"),
    ("business-applications", "Business Applications", "Europe/Berlin", "DE"),
    ("customer-care", "Customer Care", "UTC", "US"),
]
ZONES = [("America/New_York", "US"), ("America/Chicago", "US"), ("America/Los_Angeles", "US"),
         ("Europe/London", "GB"), ("Europe/Berlin", "DE"), ("Asia/Kolkata", "IN"),
         ("Asia/Singapore", "SG"), ("Australia/Sydney", "AU")]
PRODUCTS = [("cloud-cx", "Cloud CX"), ("engage-premise", "Engage (premise)"),
            ("workforce", "Workforce Engagement")]
# Status shares of the data set: a help desk's history is mostly closed cases.
STATUSES = [("closed", 0.95), ("open", 0.025), ("info_requested", 0.008),
            ("solution_proposed", 0.012), ("confirmed", 0.005)]
CASE_NUMBER = re.compile(rb"CS-\d{6}")


def django_setup() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "caredeck.settings"
    import django

    django.setup()


# --- Set-up -----------------------------------------------------------------------------


def seed(*, tenants: int, analysts: int, cases: int, rng: random.Random) -> dict:
    """Everything in bulk, in one transaction. Returns who signs in and what they see."""
    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from django.utils import timezone

    from caredeck.accounts.models import Contract, Organization, Product, RoleGrant, User
    from caredeck.accounts.roles import OrganizationKind, Role
    from caredeck.cases.models import (
        Case,
        CaseEscalation,
        Expert,
        Skill,
        SupportGroup,
    )

    now = timezone.now()
    unusable = make_password(None)
    usable = make_password(PASSWORD)
    with transaction.atomic():
        provider = Organization.objects.get(kind=OrganizationKind.PROVIDER)
        products = [Product.objects.create(slug=s, name=n) for s, n in PRODUCTS]
        manager = User.objects.create(email="care.manager@provider.example",
                                      name="Care Manager", organization=provider,
                                      password=unusable)
        RoleGrant.objects.create(user=manager, role=Role.CARE_MANAGER)
        groups = SupportGroup.objects.bulk_create([
            SupportGroup(slug=slug, name=name, timezone=tz, country=country,
                         is_default=slug == "customer-care", manager=manager)
            for slug, name, tz, country in GROUPS
        ])
        for i, group in enumerate(groups):
            if i < len(products):
                group.products.add(products[i])
        staff = User.objects.bulk_create([
            User(email=f"analyst{i:02d}@provider.example", name=f"Analyst {i:02d}",
                 organization=provider, password=usable if i == 0 else unusable,
                 timezone=ZONES[i % len(ZONES)][0])
            for i in range(analysts)
        ])
        RoleGrant.objects.bulk_create([RoleGrant(user=u, role=Role.CARE_ANALYST) for u in staff])
        experts = Expert.objects.bulk_create([
            Expert(user=u, group=groups[i % len(groups)], timezone=ZONES[i % len(ZONES)][0],
                   country=ZONES[i % len(ZONES)][1], shift_start=dt.time(8),
                   shift_end=dt.time(17))
            for i, u in enumerate(staff)
        ])
        Skill.objects.bulk_create([
            Skill(expert=e, product=p, level=rng.randint(1, 3))
            for e in experts for p in products if rng.random() < 0.6
        ])
        orgs = Organization.objects.bulk_create([
            Organization(slug=f"tenant-{i:04d}", name=f"Tenant {i:04d}",
                         kind=OrganizationKind.CUSTOMER)
            for i in range(tenants)
        ], batch_size=500)
        Contract.objects.bulk_create([Contract(organization=o) for o in orgs], batch_size=500)
        Organization.platforms.through.objects.bulk_create([
            Organization.platforms.through(organization_id=o.pk, product_id=p.pk)
            for o in orgs for p in products
        ], batch_size=2000)
        contacts = User.objects.bulk_create([
            User(email=f"contact{c}@{o.slug}.example", name=f"Contact {c} of {o.name}",
                 organization=o, password=usable if (i, c) == (0, 0) else unusable)
            for i, o in enumerate(orgs) for c in range(2)
        ], batch_size=1000)
        RoleGrant.objects.bulk_create([
            RoleGrant(user=u, role=Role.DESIGNATED_CONTACT) for u in contacts
        ], batch_size=1000)

        by_group: dict[int, list] = {}
        for e in experts:
            by_group.setdefault(e.group_id, []).append(e.user_id)
        status_names = [s for s, _ in STATUSES]
        status_weights = [w for _, w in STATUSES]
        two_years = 730 * 24 * 3600
        rows = []
        for n in range(1, cases + 1):
            org_index = rng.randrange(tenants)
            org = orgs[org_index]
            group = groups[rng.randrange(len(groups))]
            status = rng.choices(status_names, status_weights)[0]
            active = status != "closed"
            created = now - dt.timedelta(seconds=rng.randrange(
                30 * 24 * 3600 if active else two_years))
            crit = rng.choices([1, 2, 3, 4], [3, 17, 50, 30])[0]
            owner = None if active and rng.random() < 0.02 else rng.choice(by_group[group.pk])
            requester = contacts[2 * org_index + rng.randrange(2)]
            response_due = created + dt.timedelta(hours=(1, 4, 8, 24)[crit - 1])
            resolution_due = created + dt.timedelta(days=(1, 3, 10, 20)[crit - 1])
            answered = created + dt.timedelta(minutes=rng.randrange(5, 600))
            resolved = answered + dt.timedelta(hours=rng.randrange(1, 400))
            waiting = status in ("info_requested", "solution_proposed")
            rows.append(Case(
                id=n, number=f"CS-{n:06d}", organization_id=org.pk,
                product_id=products[rng.randrange(len(products))].pk,
                deployment=rng.choice(["cloud", "premise"]), criticality=crit,
                summary=f"Bench case {n}: agents report problem {rng.randrange(1000)}",
                description="Since this morning agents see **error 503** at login.",
                status=status, requester_id=requester.pk, opened_by_id=requester.pk,
                complexity=rng.choice(["low", "medium", "high"]), group_id=group.pk,
                owner_id=owner, created_at=created, updated_at=created, routed_at=created,
                first_response_at=None if status == "open" and rng.random() < 0.3
                else answered,
                resolved_at=resolved if status in ("confirmed", "closed") else None,
                confirmed_at=resolved if status in ("confirmed", "closed") else None,
                closed_at=resolved + dt.timedelta(minutes=30) if status == "closed" else None,
                close_reason="resolved" if status == "closed" else "",
                solutions_proposed=1, response_due_at=response_due,
                resolution_due_at=resolution_due,
                response_warn_at=response_due - dt.timedelta(minutes=30) if active else None,
                resolution_warn_at=resolution_due - dt.timedelta(hours=2) if active else None,
                sla_paused_at=created if waiting else None,
                waiting_since=created if waiting else None,
                auto_close_at=created + dt.timedelta(days=7) if waiting else None,
            ))
            if len(rows) == 5000:
                Case.objects.bulk_create(rows)
                rows = []
        if rows:
            Case.objects.bulk_create(rows)
        active_ids = list(Case.objects.exclude(status="closed").values_list(
            "pk", "created_at"))
        closed_sample = rng.sample(range(1, cases + 1), k=max(0, cases // 50 - 40))
        escalations = [
            CaseEscalation(case_id=pk, raised_by_id=contacts[0].pk, raised_at=created,
                           business_impact="Agents idle.", manager=manager,
                           ack_due_at=created + dt.timedelta(hours=1))
            for pk, created in rng.sample(active_ids, k=min(40, len(active_ids)))
        ]
        for pk in closed_sample:
            raised = now - dt.timedelta(seconds=rng.randrange(two_years))
            escalations.append(CaseEscalation(
                case_id=pk, raised_by_id=contacts[0].pk, raised_at=raised,
                business_impact="Agents idle.", manager=manager,
                ack_due_at=raised + dt.timedelta(hours=1),
                acknowledged_at=raised + dt.timedelta(minutes=rng.randrange(5, 120)),
                acknowledged_by=manager, next_steps="Bridge.", communication_plan="Hourly."))
        CaseEscalation.objects.bulk_create(escalations, batch_size=2000)
    analyst = staff[0]
    tenant = orgs[0]
    return {
        "analyst": analyst.email, "contact": contacts[0].email,
        "analyst_active": Case.objects.filter(owner=analyst).exclude(status="closed").count(),
        "group_active": Case.objects.filter(group_id=experts[0].group_id).exclude(
            status="closed").count(),
        "tenant_cases": Case.objects.filter(organization=tenant).count(),
        "tenant_active": Case.objects.filter(organization=tenant).exclude(
            status="closed").count(),
        "escalations": len(escalations),
    }


# --- HTTP -------------------------------------------------------------------------------


def wait_for_http(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz/")
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit(f"caredeck web did not answer on port {port}")


def _cookies(response, jar: dict) -> None:
    for header, value in response.getheaders():
        if header.lower() == "set-cookie":
            name, _, rest = value.partition("=")
            jar[name.strip()] = rest.split(";", 1)[0]


def sign_in(port: int, email: str) -> str:
    """Through the real form: GET /login/ for the CSRF token, POST the credentials.
    Returns the Cookie header of the signed-in session."""
    jar: dict[str, str] = {}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/login/")
    response = conn.getresponse()
    html = response.read()
    _cookies(response, jar)
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    if response.status != 200 or token is None:
        sys.exit(f"/login/ answered {response.status} without a CSRF token")
    body = urlencode({"csrfmiddlewaretoken": token.group(1).decode(), "username": email,
                      "password": PASSWORD})
    conn.request("POST", "/login/", body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": "; ".join(f"{k}={v}" for k, v in jar.items()),
        "Referer": f"http://127.0.0.1:{port}/login/"})
    response = conn.getresponse()
    response.read()
    _cookies(response, jar)
    conn.close()
    if response.status != 302 or "sessionid" not in jar:
        sys.exit(f"signing in as {email} failed: {response.status}")
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def measure(port: int, path: str, cookie: str | None, *, warmup: int, requests: int,
            must_hold: re.Pattern | None) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Cookie": cookie} if cookie else {}
    latencies, wrong, size = [], 0, 0
    for i in range(warmup + requests):
        started = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - started
        if response.status != 200 or (must_hold is not None and not must_hold.search(body)):
            wrong += 1
        if i >= warmup:
            latencies.append(elapsed * 1000)
            size = len(body)
    conn.close()
    return {
        "path": path, "p50": fanout.percentile(latencies, 50),
        "p95": fanout.percentile(latencies, 95), "max": max(latencies),
        "mean": sum(latencies) / len(latencies), "wrong": wrong, "bytes": size,
        "n": len(latencies),
    }


def explain_queries(views: list[tuple[str, str, str | None]]) -> None:
    """Each view once in this process: its SQL queries and the slowest of them."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from caredeck.accounts.models import User

    for name, path, email in views:
        client = Client()
        if email:
            client.force_login(User.objects.get(email=email))
        client.get(path)  # warm
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            response = client.get(path)
            elapsed = (time.perf_counter() - started) * 1000
        total = sum(float(q["time"]) for q in ctx.captured_queries) * 1000
        print(f"  {name}: {response.status_code}, {len(ctx.captured_queries)} queries, "
              f"{total:.1f} ms in SQL of {elapsed:.1f} ms in-process")
        for q in sorted(ctx.captured_queries, key=lambda q: -float(q["time"]))[:3]:
            print(f"      {float(q['time']) * 1000:6.1f} ms  {q['sql'][:300]}")


# --- Main -------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["embedded", "postgres"], default="embedded")
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--tenants", type=int, default=500)
    parser.add_argument("--analysts", type=int, default=20)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers (× 4 threads)")
    parser.add_argument("--queries", action="store_true",
                        help="also print each view's SQL queries (in-process)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="caredeck-bench-"))
    cleanup: list = []
    processes = []
    try:
        env = {k: v for k, v in os.environ.items()
               if k not in {"DJANGO_SETTINGS_MODULE", "CAREDECK_TESTING"}}
        env.update(CAREDECK_DATA_DIR=str(workdir / "data"), REDIS_URL="",
                   CAREDECK_LOG_LEVEL="WARNING", CAREDECK_WEB_WORKERS=str(args.web_workers),
                   CAREDECK_DEBUG="", CAREDECK_HTTPS="")
        if args.backend == "embedded":
            env["DATABASE_URL"] = ""
        else:
            server_url = fanout.postgres_url()
            db_url, db_name = fanout.postgres_database_create(server_url)
            cleanup.append(lambda: fanout.postgres_database_drop(server_url, db_name))
            env["DATABASE_URL"] = db_url
        os.environ.clear()
        os.environ.update(env)
        django_setup()
        from django.core.management import call_command
        from django.db import connection

        t0 = time.monotonic()
        call_command("migrate", verbosity=0)
        migrated = time.monotonic() - t0
        t0 = time.monotonic()
        world = seed(tenants=args.tenants, analysts=args.analysts, cases=args.cases,
                     rng=random.Random(6))
        seeded = time.monotonic() - t0
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            described = (f"PostgreSQL {connection.cursor().connection.info.server_version // 10000}"
                         f" ({urlparse(env['DATABASE_URL']).hostname})")
        else:
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            import sqlite3
            described = f"SQLite {sqlite3.sqlite_version} (WAL)"
        views = [
            ("bare /healthz/", "/healthz/", None, None),
            ("analyst: my queue", "/cases/queues/?queue=mine", world["analyst"], CASE_NUMBER),
            ("analyst: group queue", "/cases/queues/?queue=group", world["analyst"],
             CASE_NUMBER),
            ("tenant: case list", "/cases/", world["contact"], CASE_NUMBER),
            ("tenant: all cases", "/cases/?status=all", world["contact"], CASE_NUMBER),
        ]
        if args.queries:
            print("In-process, one request each (Django test client):")
            explain_queries([(n, p, e) for n, p, e, _ in views])
        connection.close()

        port = fanout.free_port()
        processes.append(fanout.start("web", ["web", "--host", "127.0.0.1", "--port", str(port)],
                                      env, workdir))
        wait_for_http(port, 60)
        cookies = {email: sign_in(port, email) for email in (world["analyst"], world["contact"])}
        load_before = os.getloadavg()[0]
        results = []
        for name, path, email, pattern in views:
            results.append((name, measure(port, path, cookies.get(email), warmup=args.warmup,
                                          requests=args.requests, must_hold=pattern)))
        # The bare view once more at the end: the machine's drift during the run.
        bare_after = measure(port, "/healthz/", None, warmup=args.warmup,
                             requests=args.requests, must_hold=None)
        fanout.stop(processes)
        processes.clear()

        bare = results[0][1]
        print()
        print(f"CareDeck case-queue benchmark — {described}, `caredeck web` (gunicorn "
              f"{args.web_workers} workers × 4 threads)")
        print(f"  machine: {os.cpu_count()} CPU(s), Python {sys.version.split()[0]}, load "
              f"average before {load_before:.1f}; one keep-alive client, requests one after "
              f"the other, {args.warmup} warm-up + {args.requests} timed per view")
        print(f"  set-up: migrate {migrated:.1f} s; {args.cases:,} cases over {args.tenants} "
              f"tenants, {args.analysts} analysts in {len(GROUPS)} groups, "
              f"{world['escalations']:,} escalations, bulk in {seeded:.1f} s")
        print(f"  the analyst ({world['analyst']}) owns {world['analyst_active']} active cases, "
              f"the group {world['group_active']}; the tenant ({world['contact']}) has "
              f"{world['tenant_cases']} cases, {world['tenant_active']} active")
        failed = False
        for name, r in results:
            ratio = "" if r is bare else (f"   ×{r['p50'] / bare['p50']:.1f} p50, "
                                          f"×{r['p95'] / bare['p95']:.1f} p95 of bare")
            verdict = ""
            if r is not bare:
                ok = r["p95"] < TARGET_P95_MS
                failed |= not ok
                verdict = f"   target p95 < {TARGET_P95_MS:.0f} ms: {'met' if ok else 'MISSED'}"
            print(f"  {name:22} {r['path']:28} p50 {r['p50']:6.1f} ms  p95 {r['p95']:6.1f} ms"
                  f"  max {r['max']:6.1f} ms  mean {r['mean']:6.1f} ms  {r['bytes']:,} B"
                  f"{ratio}{verdict}")
            if r["wrong"]:
                failed = True
                print(f"    {r['wrong']} answers were not a 200 with a case number")
        print(f"  bare /healthz/ again at the end: p50 {bare_after['p50']:.1f} ms, p95 "
              f"{bare_after['p95']:.1f} ms")
        return 1 if failed else 0
    finally:
        fanout.stop(processes)
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
