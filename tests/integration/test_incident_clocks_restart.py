"""Incident clocks survive a restart of every process and fire once.

Real `caredeck worker` and `caredeck scheduler` processes on a SQLite file: a tenant whose
contract promises a first notice within 1 minute is in an incident declared without a
notice. The reminder goes out while the processes run; then every process is killed
(SIGKILL, no goodbye) and stays down past the due time; after the restart the missed
notice is escalated exactly once, and the reminder is not sent again.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

SETUP = """
from caredeck.accounts.models import Organization
from caredeck.accounts.roles import OrganizationKind, Role
from caredeck.accounts import services
from caredeck.incidents.services import incident_declare

root = services.platform_admin_ensure(email="root@provider.test", password="pw-Root-12345")
provider = Organization.objects.get(kind=OrganizationKind.PROVIDER)
manager = services.user_invite(actor=root, organization=provider, email="im@provider.test",
    name="Ines", roles=[Role.INCIDENT_MANAGER], password="pw-Ines-12345")
services.user_invite(actor=root, organization=provider, email="cm@provider.test",
    name="Carl", roles=[Role.CARE_MANAGER], password="pw-Carl-12345")
acme = services.organization_create(actor=root, name="Acme", kind=OrganizationKind.CUSTOMER,
    slug="acme", contract={"notice_minutes": 1})
services.user_invite(actor=root, organization=acme, email="dc@acme.test", name="Dana",
    roles=[Role.CUSTOMER_MEMBER, Role.DESIGNATED_CONTACT], password="pw-Dana-12345")
incident = incident_declare(actor=manager, title="Trunks down", severity="SEV1",
    organizations=["acme"], notify=False)
print(incident.number)
"""


def _env(tmp_path):
    env = {
        key: value for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "CAREDECK_TESTING", "DATABASE_URL", "REDIS_URL"}
    }
    env.update(CAREDECK_DATA_DIR=str(tmp_path), CAREDECK_SCHEDULER_TICK_SECONDS="1")
    return env


def _start(env, log):
    return [
        subprocess.Popen([sys.executable, "-m", "caredeck.cli", part], env=env,
                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        for part in ("worker", "scheduler")
    ]


def _kill(processes) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=20)


def _sent(db, like: str) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        return connection.execute(
            "SELECT recipient, status FROM notify_outboundmessage "
            "WHERE channel = 'email' AND subject LIKE ? ORDER BY recipient", (like,)
        ).fetchall()


def _wait_for(db, like: str, count: int, seconds: float) -> list[tuple]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        rows = _sent(db, like)
        if len(rows) >= count and all(status == "sent" for _, status in rows):
            return rows
        time.sleep(0.5)
    raise AssertionError(f"after {seconds} s: {_sent(db, like)} for {like!r}")


def test_clocks_fire_once_across_a_restart_of_every_process(tmp_path):
    env = _env(tmp_path)
    db = tmp_path / "caredeck.sqlite3"
    manage = [sys.executable, "-m", "caredeck.cli", "manage"]
    subprocess.run([*manage, "migrate", "-v", "0"], env=env, check=True, timeout=180)
    number = subprocess.run(
        [*manage, "shell", "-c", SETUP], env=env, check=True, timeout=120,
        capture_output=True, text=True,
    ).stdout.strip().splitlines()[-1]
    declared = time.monotonic()
    assert number.startswith("INC-")

    log = open(tmp_path / "processes.log", "w")  # noqa: SIM115 - outlives the block
    processes = _start(env, log)
    try:
        # Due in 1 minute, reminded 5 minutes before: the reminder is due at once.
        reminder = _wait_for(db, "%first notice due%", 1, 60)
        assert reminder == [("im@provider.test", "sent")]
        assert _sent(db, "%missed%") == []
    finally:
        _kill(processes)

    # Everything is down when the first notice falls due.
    time.sleep(max(0.0, 62 - (time.monotonic() - declared)))
    assert _sent(db, "%missed%") == []

    processes = _start(env, log)
    try:
        escalations = _wait_for(db, "%first notice missed%", 2, 60)
        time.sleep(4)  # several more ticks: nothing more is sent
        assert _sent(db, "%first notice missed%") == escalations
        assert [r for r, _ in escalations] == ["cm@provider.test", "im@provider.test"]
        assert _sent(db, "%first notice due%") == reminder
        # Clocks remind and escalate; they never send a customer notice by themselves.
        assert all(recipient != "dc@acme.test" for recipient, _ in _sent(db, f"%{number}%"))
    finally:
        _kill(processes)
        log.close()
