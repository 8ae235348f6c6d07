"""A worker killed with SIGKILL in the middle of a batch loses nothing.

Real processes on a temporary SQLite file with the database task backend: 300 e-mails are
queued, `caredeck worker` is killed after ~60 reached a real SMTP server (aiosmtpd on
loopback), then a new worker and `caredeck scheduler` start. Every message must arrive;
only one that was in flight at the kill may arrive twice, and then with the same
Message-ID.
"""

from __future__ import annotations

import asyncio
import email
import hashlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from email import policy

import pytest
from aiosmtpd.controller import Controller

MESSAGES = 300
BATCH = 50
KILL_AFTER = 60  # received messages: the worker is in its second batch

QUEUE_MAIL = f"""
from django.db import transaction
from caredeck.accounts.models import Organization, User
from caredeck.notify.models import OutboundMessage, Subscription
from caredeck.notify.services import notify_users

org = Organization.objects.create(slug="kill-test", name="Kill Test", kind="customer")
users = User.objects.bulk_create([
    User(email=f"p{{i:03d}}@kill.test", name=f"Person {{i}}", organization=org)
    for i in range({MESSAGES})
])
Subscription.objects.bulk_create([
    Subscription(user=u, event="access.requested", channels=["email"]) for u in users
])
with transaction.atomic():
    notify_users(
        event="access.requested", users=users, dedupe_base="kill-test:1",
        template="access_requested", url="/access-requests/1/",
        context={{"access_request": {{"name": "Peter", "email": "p@initech.test",
                  "company": "Initech", "get_kind_display": "Customer"}},
                  "link": "http://127.0.0.1/access-requests/1/"}},
    )
print(OutboundMessage.objects.count())
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SlowInbox:
    """Takes ~20 ms per message and records (Message-ID, To) of each one accepted."""

    def __init__(self):
        self.received: list[tuple[str, str]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        await asyncio.sleep(0.02)
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        self.received.append((message["Message-ID"], message["To"]))
        return "250 OK"


@pytest.fixture
def smtp():
    inbox = SlowInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


def _rows(db_path, sql):
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=20) as connection:
        return connection.execute(sql).fetchall()


def _statuses(db_path) -> dict[str, int]:
    sql = "SELECT status, COUNT(*) FROM notify_outboundmessage GROUP BY status"
    return dict(_rows(db_path, sql))


def _start(env, log, *args):
    return subprocess.Popen(
        [sys.executable, "-m", "caredeck.cli", *args], env=env, stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True,
    )


def _kill(process):
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def test_killed_worker_loses_nothing_and_resends_only_in_flight(tmp_path, smtp):
    inbox, smtp_port = smtp
    env = {
        key: value for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "CAREDECK_TESTING", "DATABASE_URL", "REDIS_URL"}
    }
    env.update(
        CAREDECK_DATA_DIR=str(tmp_path), EMAIL_URL=f"smtp://127.0.0.1:{smtp_port}",
        CAREDECK_OUTBOX_SENDING_LEASE_SECONDS="3", CAREDECK_OUTBOX_PICKUP_GRACE_SECONDS="3",
        CAREDECK_OUTBOX_BATCH_SIZE=str(BATCH), CAREDECK_SCHEDULER_TICK_SECONDS="1",
        CAREDECK_LOG_LEVEL="WARNING",
    )
    db_path = tmp_path / "caredeck.sqlite3"
    subprocess.run([sys.executable, "-m", "caredeck.cli", "manage", "migrate", "-v", "0"],
                   env=env, check=True, timeout=120, capture_output=True)
    queued = subprocess.run(
        [sys.executable, "-m", "caredeck.cli", "manage", "shell", "-c", QUEUE_MAIL],
        env=env, check=True, timeout=120, capture_output=True, text=True,
    )
    assert queued.stdout.strip().splitlines()[-1] == str(MESSAGES)
    assert _statuses(db_path) == {"queued": MESSAGES}
    # The on-commit enqueue wrote the delivery tasks: 6 batches of 50.
    assert _rows(db_path, "SELECT COUNT(*) FROM django_tasks_database_dbtaskresult")[0][0] \
        == MESSAGES // BATCH
    expected = {
        f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@localhost>": to
        for key, to in _rows(db_path, "SELECT dedupe_key, recipient FROM notify_outboundmessage")
    }
    assert len(expected) == MESSAGES

    processes = []
    log = open(tmp_path / "processes.log", "wb")  # noqa: SIM115 - closed in finally
    started = time.monotonic()
    try:
        worker = _start(env, log, "worker")
        processes.append(worker)
        deadline = time.monotonic() + 30
        while len(inbox.received) < KILL_AFTER:
            assert worker.poll() is None, "the worker exited"
            assert time.monotonic() < deadline, f"only {len(inbox.received)} arrived in 30 s"
            time.sleep(0.005)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        time.sleep(0.2)  # let the server finish recording a message that was mid-DATA
        at_kill = len(inbox.received)
        in_flight = {
            key for (key,) in _rows(
                db_path, "SELECT dedupe_key FROM notify_outboundmessage WHERE status='sending'"
            )
        }
        statuses = _statuses(db_path)
        assert KILL_AFTER <= at_kill < MESSAGES
        # Killed mid-batch: part of the claimed batch was left in 'sending'.
        assert 0 < statuses.get("sending", 0) < BATCH
        assert statuses.get("sent", 0) + statuses.get("sending", 0) + statuses.get("queued", 0) \
            == MESSAGES

        processes.append(_start(env, log, "worker"))
        processes.append(_start(env, log, "scheduler"))
        deadline = time.monotonic() + 45
        while _statuses(db_path).get("sent", 0) < MESSAGES:
            for process in processes[1:]:
                assert process.poll() is None, "a worker or the scheduler exited"
            assert time.monotonic() < deadline, f"not all sent after 45 s: {_statuses(db_path)}"
            time.sleep(0.25)
        time.sleep(1.5)  # a straggling resend would show up now
    finally:
        for process in processes:
            _kill(process)
        log.close()
    assert time.monotonic() - started < 60

    assert _statuses(db_path) == {"sent": MESSAGES}
    ids = [message_id for message_id, _ in inbox.received]
    # Every message arrived: the distinct Message-IDs at the server are all 300.
    assert set(ids) == set(expected)
    # Each person got one Message-ID, the one derived from their row's dedupe key.
    by_recipient = defaultdict(set)
    for message_id, to in inbox.received:
        by_recipient[to].add(message_id)
    assert {to: ids_ for to, ids_ in by_recipient.items()} == {
        to: {message_id} for message_id, to in expected.items()
    }
    # Only messages the killed worker had claimed and not recorded as sent came twice.
    duplicates = {message_id for message_id in ids if ids.count(message_id) > 1}
    in_flight_ids = {
        f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@localhost>" for key in in_flight
    }
    assert duplicates <= in_flight_ids
    assert all(ids.count(message_id) == 2 for message_id in duplicates)
    assert len(ids) - MESSAGES == len(duplicates) <= BATCH
    # The rows record the resend: attempts 2 for a re-claimed message, 1 for the others.
    attempts = dict(_rows(db_path, "SELECT dedupe_key, attempts FROM notify_outboundmessage"))
    assert {key for key, n in attempts.items() if n == 2} == in_flight
    assert set(attempts.values()) <= {1, 2}
