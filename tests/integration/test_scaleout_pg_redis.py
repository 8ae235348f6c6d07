"""Scale-out on PostgreSQL + Redis: two workers and two schedulers, 5,000 e-mails, each once.

Real processes: Debian's redis-server on a free loopback port (no persistence, in a temp
dir), a database of its own on the PostgreSQL server of CAREDECK_TEST_POSTGRES_URL, an
aiosmtpd sink on loopback recording Message-IDs. One outage notice goes to 1,000 tenants
× 5 designated contacts in one transaction (5,000 e-mails + 5,000 in-app items). The
pick-up grace is 3 s, so before any worker starts the active scheduler has enqueued every
message a second time: two workers race over duplicate tasks, and must still send each
e-mail exactly once. Midway the active scheduler is killed; the standby takes over when
the lease runs out, and the lease never has two holders.

Runs in the PostgreSQL pass only (DATABASE_URL=postgres://…). Under CI=true a missing
PostgreSQL URL or redis-server fails the test instead of skipping it. It takes about 40 s,
30 of them waiting for the dead scheduler's lease to run out.

At the end: unit tests of `outbox_batched()`, which the fan-out uses (both passes).
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlparse, urlunparse

import pytest
from aiosmtpd.controller import Controller

from caredeck.notify.services import message_id_header, notify_users, outbox_batched
from tests.factories import UserFactory

TENANTS, CONTACTS = 1000, 5
EMAILS = TENANTS * CONTACTS
ROOT = Path(__file__).resolve().parents[2]
CI = os.environ.get("CI") == "true"
PG_URL = os.environ.get("CAREDECK_TEST_POSTGRES_URL") or (
    os.environ.get("DATABASE_URL", "") if os.environ.get("DATABASE_URL", "").startswith("postgres")
    else ""
)
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.MULTILINE | re.IGNORECASE)

TEMPLATES = {
    "incident_notice.subject.txt": "{% autoescape off %}Outage notice: {{ title }}"
    "{% endautoescape %}",
    "incident_notice.txt": '{% extends "notify/email/base.txt" %}{% block body %}{{ title }} '
    "({{ tenant }}){% endblock %}",
    "incident_notice.html": '{% extends "notify/email/base.html" %}{% block body %}'
    "<p>{{ title }} ({{ tenant }})</p>{% endblock %}",
}

FAN_OUT = f"""
import os
import django
django.setup()
from django.conf import settings
settings.TEMPLATES[0]["DIRS"] = [os.environ["SCALEOUT_TEMPLATES"]]
from django.contrib.auth.hashers import make_password
from django.db import transaction
from caredeck.accounts.models import Organization, RoleGrant, User
from caredeck.notify.services import notify_users, outbox_batched

orgs = Organization.objects.bulk_create([
    Organization(slug=f"tenant-{{i:04d}}", name=f"Tenant {{i:04d}}", kind="customer")
    for i in range({TENANTS})
])
orgs = list(Organization.objects.filter(slug__startswith="tenant-").order_by("slug"))
unusable = make_password(None)
User.objects.bulk_create([
    User(email=f"c{{c}}@{{org.slug}}.test", name=f"Contact {{c}}", organization=org,
         password=unusable)
    for org in orgs for c in range({CONTACTS})
], batch_size=1000)
users = list(User.objects.filter(organization__in=orgs))
RoleGrant.objects.bulk_create(
    [RoleGrant(user=u, role="designated_contact") for u in users], batch_size=1000
)
contacts = {{}}
for user in users:
    contacts.setdefault(user.organization_id, []).append(user)
with transaction.atomic(), outbox_batched():
    for org in orgs:
        notify_users(
            event="incident.notice", users=contacts[org.pk], dedupe_base="INC-000001:notice:1",
            template="incident_notice", organization=org, url="/incidents/INC-000001/",
            context={{"title": "Cloud CX calls fail in eu-west", "tenant": org.name}},
        )
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _skip_or_fail(reason: str) -> None:
    if CI:
        pytest.fail(f"CI=true, so this cannot be skipped: {reason}")
    pytest.skip(reason)


@pytest.fixture
def requirements():
    if not PG_URL:
        _skip_or_fail("CAREDECK_TEST_POSTGRES_URL is not set (postgres://user@host:port/db)")
    if not os.path.exists(REDIS_SERVER):
        _skip_or_fail("redis-server is not installed (apt-get install redis-server)")
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("PostgreSQL + Redis scale-out: runs in the PostgreSQL pass "
                    "(DATABASE_URL=postgres://…), not in the SQLite pass")


@pytest.fixture
def redis_url(requirements, tmp_path):
    port = _free_port()
    workdir = tmp_path / "redis"
    workdir.mkdir()
    process = subprocess.Popen(
        [REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
         "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            assert process.poll() is None, "redis-server exited"
            assert time.monotonic() < deadline, "redis-server did not answer within 10 s"
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.kill()
        process.wait()


@pytest.fixture
def database_url(requirements):
    import psycopg

    name = f"caredeck_scaleout_{secrets.token_hex(4)}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunparse(urlparse(PG_URL)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Sink:
    def __init__(self):
        self.message_ids: list[str] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        found = MESSAGE_ID.search(envelope.content)
        self.message_ids.append(found.group(1).decode() if found else "(none)")
        return "250 OK"


@pytest.fixture
def smtp():
    sink = Sink()
    mail_log = logging.getLogger("mail.log")
    level = mail_log.level
    mail_log.setLevel(logging.WARNING)  # aiosmtpd logs every command at INFO: 25,000 lines
    controller = Controller(sink, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield sink, controller.port
    controller.stop()
    mail_log.setLevel(level)


def _start(name: str, args: list[str], env: dict, logs: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "caredeck.cli", *args], cwd=ROOT, env=env,
        stdout=open(logs / f"{name}.log", "wb"), stderr=subprocess.STDOUT,  # noqa: SIM115
        start_new_session=True,
    )


def _log(logs: Path, name: str) -> str:
    return (logs / f"{name}.log").read_text(errors="replace")


def test_two_workers_two_schedulers_send_5000_once(tmp_path, database_url, redis_url, smtp):
    import psycopg

    sink, smtp_port = smtp
    templates = tmp_path / "templates" / "notify" / "email"
    templates.mkdir(parents=True)
    for filename, text in TEMPLATES.items():
        (templates / filename).write_text(text)
    logs = tmp_path / "logs"
    logs.mkdir()
    env = {
        key: value for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "CAREDECK_TESTING"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="caredeck.settings", DATABASE_URL=database_url,
        REDIS_URL=redis_url, EMAIL_URL=f"smtp://127.0.0.1:{smtp_port}",
        CAREDECK_DATA_DIR=str(tmp_path / "data"), CAREDECK_LOG_LEVEL="INFO",
        CAREDECK_SCHEDULER_TICK_SECONDS="1", CAREDECK_OUTBOX_PICKUP_GRACE_SECONDS="3",
        SCALEOUT_TEMPLATES=str(tmp_path / "templates"),
    )
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "caredeck.cli", "manage", "migrate", "-v", "0"],
        cwd=ROOT, env=env, check=True, timeout=120,
    )
    subprocess.run([sys.executable, "-c", FAN_OUT], cwd=ROOT, env=env, check=True, timeout=120)
    db = psycopg.connect(database_url, autocommit=True)

    def outbox() -> dict[tuple[str, str], int]:
        rows = db.execute(
            "SELECT channel, status, count(*) FROM notify_outboundmessage GROUP BY 1, 2"
        ).fetchall()
        return {(channel, status): n for channel, status, n in rows}

    assert outbox() == {("email", "queued"): EMAILS, ("in_app", "queued"): EMAILS}

    processes: dict[str, subprocess.Popen] = {}
    holders: list[tuple[str, object, object]] = []  # the lease as seen, each change once

    def watch_lease() -> None:
        row = db.execute(
            "SELECT holder, acquired_at, expires_at FROM core_schedulerlease WHERE name = %s",
            ["scheduler"],
        ).fetchone()
        if row and (not holders or holders[-1][0] != row[0]):
            holders.append(row)
        elif row:
            holders[-1] = row  # the same holder renewed: keep its latest expiry

    def wait_for(condition, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            for name, process in processes.items():
                if process.poll() is not None and name != killed:
                    pytest.fail(f"{name} exited with {process.returncode}:\n"
                                f"{_log(logs, name)[-3000:]}")
            assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
            watch_lease()
            time.sleep(0.1)

    killed = None
    try:
        for name in ("scheduler-1", "scheduler-2"):
            processes[name] = _start(name, ["scheduler"], env, logs)
        # Once the grace has passed, the active scheduler enqueues every message again:
        # each one now has two tasks in Redis before any worker runs.
        wait_for(lambda: "outbox-delivery enqueued" in _log(logs, "scheduler-1")
                 + _log(logs, "scheduler-2"), 30, "a scheduler re-enqueued the outbox")
        active = [n for n in ("scheduler-1", "scheduler-2") if "is active" in _log(logs, n)]
        assert len(active) == 1, active
        first_holder = re.search(r"scheduler (\S+) is active", _log(logs, active[0]))[1]
        standby = ({"scheduler-1", "scheduler-2"} - set(active)).pop()

        for name in ("worker-1", "worker-2"):
            processes[name] = _start(name, ["worker"], env, logs)
        wait_for(lambda: len(sink.message_ids) >= EMAILS // 5, 60, "deliveries began")
        killed = active[0]  # the active scheduler dies in the middle of the run
        os.killpg(processes[killed].pid, signal.SIGKILL)

        wait_for(lambda: len(set(sink.message_ids)) >= EMAILS
                 and outbox().get(("in_app", "sent")) == EMAILS, 90, "every message sent")
        wait_for(lambda: "is active" in _log(logs, standby), 45, "the standby took over")
        watch_lease()
    finally:
        for process in processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    elapsed = time.monotonic() - started

    # Every e-mail arrived, each exactly once, with the Message-ID of its outbox row.
    keys = [k for (k,) in db.execute(
        "SELECT dedupe_key FROM notify_outboundmessage WHERE channel = 'email'"
    ).fetchall()]
    expected = {message_id_header(SimpleNamespace(dedupe_key=k)) for k in keys}
    assert len(expected) == EMAILS
    received = sink.message_ids
    duplicates = len(received) - len(set(received))
    assert duplicates == 0, f"{duplicates} e-mails arrived twice"
    assert set(received) == expected, (
        f"missing {len(expected - set(received))}, unexpected {len(set(received) - expected)}"
    )
    # Claimed once each, although most had two or more tasks; nothing failed or is pending.
    assert db.execute(
        "SELECT status, attempts, count(*) FROM notify_outboundmessage GROUP BY 1, 2"
    ).fetchall() == [("sent", 1, 2 * EMAILS)]
    assert db.execute("SELECT count(*) FROM notify_inappnotification").fetchone()[0] == EMAILS
    for name in ("worker-1", "worker-2"):
        log = _log(logs, name)
        assert "Job OK" in log, f"{name} ran no job"
        assert "Traceback" not in log, log[-3000:]

    # One scheduler at a time: the first holder until it was killed, then the standby,
    # which acquired the lease only after the dead holder's lease had run out.
    second_holder = re.search(r"scheduler (\S+) is active", _log(logs, standby))[1]
    assert [h for h, _, _ in holders] == [first_holder, second_holder], holders
    assert holders[1][1] >= holders[0][2]
    assert _log(logs, killed).count(" is active") == 1
    assert _log(logs, standby).count(" is active") == 1
    assert elapsed < 180, f"took {elapsed:.0f} s"
    db.close()
    print(f"\nscale-out: {EMAILS} e-mails, 2 workers, 2 schedulers: {elapsed:.0f} s in all")


# --- outbox_batched(), which the fan-out above uses: both passes, no processes ----------


def _notice(users):
    return notify_users(
        event="access.requested", users=users, dedupe_base="batched:1",
        template="access_requested", url="/access-requests/1/",
        context={"access_request": {"name": "Peter", "email": "p@initech.test",
                                    "company": "Initech", "get_kind_display": "Customer"},
                 "link": "http://x/access-requests/1/"},
    )


@pytest.fixture
def enqueued(settings, monkeypatch):
    settings.OUTBOX_BATCH_SIZE = 4
    batches: list[list[int]] = []
    monkeypatch.setattr(
        "caredeck.notify.tasks.deliver_messages", SimpleNamespace(enqueue=batches.append)
    )
    return batches


def test_calls_inside_outbox_batched_are_enqueued_as_full_batches(
    db, enqueued, django_capture_on_commit_callbacks
):
    people = [UserFactory() for _ in range(6)]
    with django_capture_on_commit_callbacks(execute=True), outbox_batched():
        # One call per tenant, two rows each (e-mail + in-app): nothing enqueued yet.
        rows = [m.pk for person in people for m in _notice([person])]
        with outbox_batched():  # nested: the outer block enqueues
            rows += [m.pk for m in _notice([UserFactory()])]
        assert enqueued == []
    assert [len(batch) for batch in enqueued] == [4, 4, 4, 2]
    assert sorted(pk for batch in enqueued for pk in batch) == sorted(rows)


def test_without_outbox_batched_each_call_enqueues_its_own_batch(
    db, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            _notice([UserFactory()])
    assert [len(batch) for batch in enqueued] == [2, 2, 2]


def test_an_outbox_batched_block_that_raises_enqueues_nothing(
    db, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), outbox_batched():
            _notice([UserFactory()])
            raise RuntimeError("the service failed")
        _notice([UserFactory()])  # after the block: enqueued on commit as usual
    assert [len(batch) for batch in enqueued] == [2]
