#!/usr/bin/env python3
"""Vote-storm benchmark: 1,000 users casting and taking back votes through the API.

    CAREDECK_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/caredeck \\
      .venv/bin/python bench/vote_storm.py [--seconds 60]

What it does, in one run (the PostgreSQL and process helpers are bench/notify_fanout.py's):

1. A fresh `caredeck_bench_<random>` database on the PostgreSQL server of DATABASE_URL /
   CAREDECK_TEST_POSTGRES_URL (dropped afterwards), migrated, gets `--users` customers
   (default 1,000) spread over `--tenants` tenants (default 20) that use one product
   (vote threshold `--threshold`, default 25), an API token each (`token_create`), a
   product manager and a platform administrator with tokens, and `--ideas` ideas (default
   50) on that product.
2. A real `caredeck web` (gunicorn, `--web-workers` workers × 4 threads) on loopback.
3. The storm, `--seconds` long (default 60): `--clients` threads (default 32), each with
   one keep-alive HTTP connection (stdlib `http.client`), act in a closed loop for a
   random user: `POST /api/v1/ideas/<n>/vote/` or `DELETE …/vote/` (a user takes a vote
   back about half the time while they hold any, always when their budget looks used
   up). One request in ten goes to one of 10 "hot" users whom every thread hammers at
   once and who keep voting with their budget used up (taking one back one time in
   five), so one user's votes really race each other; the clients' view of who holds what
   is a guess corrected by the answers, so "no votes left", "already voted" and "no vote
   to take back" 409s occur as they would with double clicks and several tabs. Meanwhile
   the product manager delivers an idea every `--deliver-every` s (accepted, then
   delivered: its votes go back) and the administrator grants one vote to a random user
   every `--grant-every` s.
4. The check, from the database: each user's live votes never exceed their budget (10 +
   grants); each idea's `votes` equals its live Vote rows; delivered ideas hold none; and
   what the API answered matches what is stored: one Vote row per 201, one row taken back
   ("withdrawn") per 200 DELETE. Every miss is a violation (there must be 0).
5. Baseline, same clients and connections, `--baseline-seconds` (default 20): `GET
   /api/v1/me/votes/` for a random user (token authentication and the two budget
   queries, no write).

Figures: requests/s, votes cast/s and taken back/s, p50/p95/max latency, 409s by reason,
other statuses, and the same for the baseline with the ratios. Exits 1 on any violation
or server error (5xx, broken connection).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import notify_fanout as fanout  # noqa: E402 - the sibling benchmark's machinery

HOT_USERS = 10
HOT_SHARE = 0.1


def django_setup() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "caredeck.settings"
    import django

    django.setup()


# --- Set-up -----------------------------------------------------------------------------


def seed(*, users: int, tenants: int, ideas: int, threshold: int):
    """Tenants, users with tokens, a PM and an administrator with tokens, ideas. Returns
    (user ids, user tokens, PM token, admin token, idea numbers)."""
    from django.contrib.auth.hashers import make_password
    from django.db import transaction

    from caredeck.accounts.models import Organization, Product, RoleGrant, User
    from caredeck.accounts.roles import OrganizationKind, Role
    from caredeck.accounts.services import token_create
    from caredeck.ideas.services import idea_submit

    unusable = make_password(None)
    with transaction.atomic():
        product = Product.objects.create(slug="cloud-cx", name="Cloud CX",
                                         vote_threshold=threshold)
        Organization.objects.bulk_create([
            Organization(slug=f"tenant-{i:03d}", name=f"Tenant {i:03d}",
                         kind=OrganizationKind.CUSTOMER)
            for i in range(tenants)
        ])
        orgs = list(Organization.objects.filter(slug__startswith="tenant-").order_by("slug"))
        Organization.platforms.through.objects.bulk_create([
            Organization.platforms.through(organization_id=o.pk, product_id=product.pk)
            for o in orgs
        ])
        User.objects.bulk_create([
            User(email=f"voter{i:04d}@{orgs[i % tenants].slug}.example",
                 name=f"Voter {i:04d}", organization=orgs[i % tenants], password=unusable)
            for i in range(users)
        ], batch_size=1000)
        people = list(User.objects.filter(organization__in=orgs).order_by("pk"))
        RoleGrant.objects.bulk_create(
            [RoleGrant(user=u, role=Role.CUSTOMER_MEMBER) for u in people], batch_size=1000)
        provider = Organization.objects.get(kind=OrganizationKind.PROVIDER)
        staff = {}
        for role in (Role.PRODUCT_MANAGER, Role.PLATFORM_ADMIN):
            staff[role] = User.objects.create(email=f"{role}@provider.example", name=role,
                                              organization=provider, password=unusable)
            RoleGrant.objects.create(user=staff[role], role=role)
    tokens = [token_create(actor=u, name="vote storm")[1] for u in people]
    pm_token = token_create(actor=staff[Role.PRODUCT_MANAGER], name="vote storm")[1]
    admin_token = token_create(actor=staff[Role.PLATFORM_ADMIN], name="vote storm")[1]
    rng = random.Random(7)
    numbers = [
        idea_submit(actor=rng.choice(people), product=product, title=f"Storm idea {n}",
                    description="An idea of the vote storm.").number
        for n in range(ideas)
    ]
    return [u.pk for u in people], tokens, pm_token, admin_token, numbers


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


# --- The clients ------------------------------------------------------------------------


def reason_key(detail: str) -> str:
    for needle, key in (("no votes left", "no votes left"), ("already voted", "already voted"),
                        ("no vote on", "no vote to take back"),
                        ("takes no more votes", "idea closed")):
        if needle in detail:
            return key
    return detail[:60]


class World:
    """The clients' shared guess of who holds which vote; the answers correct it."""

    def __init__(self, users: int, ideas: int, budget: int):
        self.lock = threading.Lock()
        self.held = [set() for _ in range(users)]
        self.budget = [budget] * users
        self.open = set(range(ideas))
        self.ideas = ideas

    def next_request(self, rng: random.Random) -> tuple[str, int, int]:
        users = len(self.held)
        hot = rng.random() < HOT_SHARE
        user = rng.randrange(HOT_USERS) if hot else rng.randrange(users)
        with self.lock:
            held = self.held[user] & self.open
            full = len(held) >= self.budget[user]
            # A hot user keeps voting when their votes look used up (one in five times
            # they take one back): their budget is contested by every thread at once.
            if held and ((full and not hot) or rng.random() < (0.2 if hot else 0.5)):
                return "DELETE", user, rng.choice(sorted(held))
            choices = sorted(self.open - held) or sorted(self.open)
        return "POST", user, rng.choice(choices)

    def answered(self, method: str, user: int, idea: int, status: int, body: dict) -> None:
        with self.lock:
            if status in (200, 201):
                (self.held[user].add if body.get("voted") else self.held[user].discard)(idea)
                self.budget[user] = body.get("my_votes", {}).get("budget", self.budget[user])
            elif status == 409:
                key = reason_key(body.get("detail", ""))
                if key == "already voted":
                    self.held[user].add(idea)
                elif key == "no vote to take back":
                    self.held[user].discard(idea)
                elif key == "idea closed":
                    self.open.discard(idea)


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.statuses: Counter = Counter()
        self.reasons: Counter = Counter()
        self.broken = 0

    def merge(self, latencies, statuses, reasons, broken) -> None:
        with self.lock:
            self.latencies += latencies
            self.statuses.update(statuses)
            self.reasons.update(reasons)
            self.broken += broken


def client(port: int, deadline: float, seed_: int, tally: Tally, *, tokens, numbers,
           world: World | None) -> None:
    """One thread: a keep-alive connection and a closed loop of requests until the
    deadline. With a world, votes and un-votes; without, the baseline GET."""
    rng = random.Random(seed_)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    latencies, statuses, reasons, broken = [], Counter(), Counter(), 0
    while time.monotonic() < deadline:
        if world is not None:
            method, user, idea = world.next_request(rng)
            path = f"/api/v1/ideas/{numbers[idea]}/vote/"
        else:
            method, user, idea = "GET", rng.randrange(len(tokens)), -1
            path = "/api/v1/me/votes/"
        headers = {"Authorization": f"Bearer {tokens[user]}", "Content-Length": "0"}
        started = time.perf_counter()
        try:
            conn.request(method, path, headers=headers)
            response = conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException):
            broken += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            continue
        latencies.append(time.perf_counter() - started)
        statuses[(method, response.status)] += 1
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        if response.status == 409:
            reasons[reason_key(body.get("detail", ""))] += 1
        if world is not None:
            world.answered(method, user, idea, response.status, body)
    conn.close()
    tally.merge(latencies, statuses, reasons, broken)


def staff_loop(port: int, deadline: float, *, pm_token: str, admin_token: str, numbers,
               world: World, user_ids, deliver_every: float, grant_every: float,
               events: Counter) -> None:
    """The product manager delivers an open idea now and then (its votes go back); the
    administrator grants a vote to a random user."""
    from django.utils import timezone

    now = timezone.now()
    quarter = f"{now.year}-Q{(now.month - 1) // 3 + 1}"
    rng = random.Random(11)

    def post(token: str, path: str, body: dict) -> int:
        # A connection per request: between two staff actions gunicorn's keep-alive
        # (2 s) would have closed it.
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            conn.request("POST", path, body=json.dumps(body), headers={
                "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            return response.status
        finally:
            conn.close()

    next_delivery = time.monotonic() + deliver_every if deliver_every else float("inf")
    next_grant = time.monotonic() + grant_every if grant_every else float("inf")
    while time.monotonic() < deadline:
        if time.monotonic() >= next_delivery:
            next_delivery += deliver_every
            with world.lock:
                candidates = sorted(world.open)
            if len(candidates) > 1:
                idea = rng.choice(candidates)
                path = f"/api/v1/ideas/{numbers[idea]}/transition/"
                status = post(pm_token, path, {"status": "accepted", "message": "Planned.",
                                               "target_quarter": quarter})
                events[f"accepted {status}"] += 1
                status = post(pm_token, path, {
                    "status": "delivered", "message": "Shipped.",
                    "release_notes_url": "https://docs.example.com/release-notes"})
                events[f"delivered {status}"] += 1
                if status == 200:
                    with world.lock:
                        world.open.discard(idea)
        if time.monotonic() >= next_grant:
            next_grant += grant_every
            user = rng.randrange(len(user_ids))
            status = post(admin_token, "/api/v1/vote-grants/",
                          {"user": user_ids[user], "amount": 1, "reason": "Vote storm"})
            events[f"granted {status}"] += 1
        time.sleep(0.05)


def run_phase(port: int, seconds: float, clients: int, **kwargs) -> tuple[Tally, float]:
    tally = Tally()
    deadline = time.monotonic() + seconds
    threads = [threading.Thread(target=client, args=(port, deadline, 1000 + i, tally),
                                kwargs=kwargs, daemon=True) for i in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return tally, time.monotonic() - started


# --- The check --------------------------------------------------------------------------


def violations(storm: Tally) -> dict[str, int]:
    from django.conf import settings
    from django.db import close_old_connections
    from django.db.models import Count, Q, Sum

    from caredeck.accounts.models import User
    from caredeck.ideas.models import VOTABLE, Idea, Vote

    close_old_connections()
    users = User.objects.filter(organization__kind="customer").annotate(
        live=Count("idea_votes", filter=Q(idea_votes__returned_at__isnull=True), distinct=True),
    )
    granted = dict(
        User.objects.annotate(g=Sum("vote_grants__amount")).values_list("pk", "g")
    )
    over_budget = sum(
        1 for u in users if u.live > settings.IDEAS_VOTE_BUDGET + (granted.get(u.pk) or 0)
    )
    ideas = Idea.objects.annotate(
        live=Count("vote_rows", filter=Q(vote_rows__returned_at__isnull=True)))
    wrong_counts = sum(1 for i in ideas if i.votes != i.live)
    closed_with_votes = sum(1 for i in ideas if i.status not in VOTABLE and i.live)
    cast = storm.statuses[("POST", 201)]
    taken_back = storm.statuses[("DELETE", 200)]
    return {
        "users over budget": over_budget,
        "ideas whose count is not their live votes": wrong_counts,
        "closed ideas holding votes": closed_with_votes,
        "201s without a stored vote (or the reverse)": abs(Vote.objects.count() - cast),
        "200 DELETEs without a vote taken back (or the reverse)": abs(
            Vote.objects.filter(returned_because="withdrawn").count() - taken_back),
    }


# --- Main -------------------------------------------------------------------------------


def describe(name: str, tally: Tally, elapsed: float) -> dict:
    requests = len(tally.latencies)
    lat = tally.latencies or [0.0]
    figures = {
        "requests": requests, "rps": requests / elapsed,
        "p50": fanout.percentile(lat, 50) * 1000, "p95": fanout.percentile(lat, 95) * 1000,
        "max": max(lat) * 1000,
    }
    print(f"  {name}: {requests:,} requests in {elapsed:.1f} s = {figures['rps']:,.0f} "
          f"requests/s; latency p50 {figures['p50']:.1f} ms, p95 {figures['p95']:.1f} ms, "
          f"max {figures['max']:.0f} ms")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--baseline-seconds", type=float, default=20)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--ideas", type=int, default=50)
    parser.add_argument("--threshold", type=int, default=25, help="the product's vote threshold")
    parser.add_argument("--clients", type=int, default=32, help="client threads")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers (× 4 threads)")
    parser.add_argument("--deliver-every", type=float, default=10, help="s; 0: no deliveries")
    parser.add_argument("--grant-every", type=float, default=5, help="s; 0: no grants")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="caredeck-bench-"))
    cleanup: list = []
    processes = []
    try:
        server_url = fanout.postgres_url()
        db_url, db_name = fanout.postgres_database_create(server_url)
        cleanup.append(lambda: fanout.postgres_database_drop(server_url, db_name))
        env = {k: v for k, v in os.environ.items()
               if k not in {"DJANGO_SETTINGS_MODULE", "CAREDECK_TESTING"}}
        env.update(CAREDECK_DATA_DIR=str(workdir / "data"), DATABASE_URL=db_url, REDIS_URL="",
                   CAREDECK_LOG_LEVEL="WARNING", CAREDECK_WEB_WORKERS=str(args.web_workers))
        os.environ.clear()
        os.environ.update(env)
        django_setup()
        from django.conf import settings
        from django.core.management import call_command
        from django.db import connection

        t0 = time.monotonic()
        call_command("migrate", verbosity=0)
        user_ids, tokens, pm_token, admin_token, numbers = seed(
            users=args.users, tenants=args.tenants, ideas=args.ideas, threshold=args.threshold)
        seeded = time.monotonic() - t0
        server_version = connection.cursor().connection.info.server_version
        connection.close()

        port = fanout.free_port()
        processes.append(fanout.start("web", ["web", "--host", "127.0.0.1", "--port", str(port)],
                                      env, workdir))
        wait_for_http(port, 60)
        # A short warm-up: every gunicorn thread opens its database connection.
        run_phase(port, 2, args.clients, tokens=tokens, numbers=numbers, world=None)

        load_before = os.getloadavg()[0]
        world = World(args.users, args.ideas, settings.IDEAS_VOTE_BUDGET)
        events: Counter = Counter()
        staff = threading.Thread(target=staff_loop, args=(port, time.monotonic() + args.seconds),
                                 kwargs={"pm_token": pm_token, "admin_token": admin_token,
                                         "numbers": numbers, "world": world,
                                         "user_ids": user_ids,
                                         "deliver_every": args.deliver_every,
                                         "grant_every": args.grant_every, "events": events},
                                 daemon=True)
        staff.start()
        storm, storm_elapsed = run_phase(port, args.seconds, args.clients, tokens=tokens,
                                         numbers=numbers, world=world)
        staff.join()
        found = violations(storm)
        baseline, base_elapsed = run_phase(port, args.baseline_seconds, args.clients,
                                           tokens=tokens, numbers=numbers, world=None)
        fanout.stop(processes)
        processes.clear()

        server_errors = sum(n for (_, code), n in storm.statuses.items() if code >= 500) + sum(
            n for (_, code), n in baseline.statuses.items() if code >= 500)
        broken = storm.broken + baseline.broken
        cast, taken_back = storm.statuses[("POST", 201)], storm.statuses[("DELETE", 200)]
        print()
        print(f"CareDeck vote storm — PostgreSQL {server_version // 10000} "
              f"({urlparse(db_url).hostname}), `caredeck web` (gunicorn {args.web_workers} "
              f"workers × 4 threads)")
        print(f"  machine: {os.cpu_count()} CPU(s), Python {sys.version.split()[0]}, load "
              f"average before the storm {load_before:.1f}; {args.clients} client threads, "
              f"keep-alive http.client")
        print(f"  set-up: migrate + {args.users} users in {args.tenants} tenants with tokens + "
              f"{args.ideas} ideas (threshold {args.threshold}) in {seeded:.1f} s")
        s = describe(f"storm ({args.seconds:.0f} s, POST/DELETE …/vote/)", storm, storm_elapsed)
        print(f"  votes cast: {cast:,} ({cast / storm_elapsed:,.0f}/s); taken back: "
              f"{taken_back:,} ({taken_back / storm_elapsed:,.0f}/s); vote changes "
              f"{(cast + taken_back) / storm_elapsed:,.0f}/s")
        print(f"  409s by reason: {dict(storm.reasons.most_common())}")
        others = {f"{m} {c}": n for (m, c), n in sorted(storm.statuses.items())
                  if c not in (200, 201, 409)}
        print(f"  other answers: {others or 'none'}; broken connections: {storm.broken}")
        print(f"  staff meanwhile: {dict(sorted(events.items()))}")
        b = describe(f"baseline ({args.baseline_seconds:.0f} s, GET /api/v1/me/votes/)",
                     baseline, base_elapsed)
        print(f"  ratio storm / baseline: throughput {s['rps'] / b['rps']:.2f}, p95 latency "
              f"{s['p95'] / b['p95']:.2f}×")
        total = sum(found.values())
        print(f"  budget and count violations: {total} (must be 0)")
        for name, count in found.items():
            print(f"    {name}: {count}")
        print(f"  server errors: {server_errors}, broken connections: {broken} (must be 0)")
        return 0 if total == 0 and server_errors == 0 and broken == 0 else 1
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
