"""`caredeck run` end to end: web, worker and scheduler as one group, mail through a real
SMTP server on loopback, and Ctrl-C stopping every process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from aiosmtpd.controller import Controller


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    def __init__(self):
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(envelope.content)
        return "250 OK"


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


def _cli(env, *args, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "caredeck.cli", *args], env=env, capture_output=True, text=True,
        check=True, timeout=120, **kwargs,
    )


def _api(base, token, path, body=None):
    request = urllib.request.Request(  # noqa: S310 - loopback only
        base + path, data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST" if body is not None else "GET",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback only
        return json.loads(response.read())


def test_it_serves_sends_invitation_mail_and_stops_on_ctrl_c(tmp_path, smtp):
    inbox, smtp_port = smtp
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        key: value for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "CAREDECK_TESTING", "DATABASE_URL"}
    }
    env.update(
        CAREDECK_DATA_DIR=str(tmp_path), EMAIL_URL=f"smtp://127.0.0.1:{smtp_port}",
        CAREDECK_BASE_URL=base, CAREDECK_WEB_WORKERS="1",
    )
    _cli(env, "manage", "migrate", "-v", "0")
    _cli(env, "createadmin", "--email", "root@provider.test", "--password", "s3cret-Pass-word")
    token = _cli(env, "token", "--email", "root@provider.test").stdout.strip()
    assert token.startswith("cdk_") and "\n" not in token

    group = subprocess.Popen(
        [sys.executable, "-m", "caredeck.cli", "run", "--port", str(port)], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz/", timeout=2) as r:  # noqa: S310
                    assert json.loads(r.read()) == {"status": "ok"}
                break
            except OSError:
                assert group.poll() is None, group.stdout.read().decode()
                assert time.monotonic() < deadline, "web did not come up within 60 s"
                time.sleep(0.3)

        _api(base, token, "/api/v1/organizations/", {"name": "Run Test Co", "kind": "customer"})
        _api(base, token, "/api/v1/users/", {
            "email": "new.person@runtest.test", "name": "New Person",
            "organization": "run-test-co", "roles": ["customer_member"],
        })
        deadline = time.monotonic() + 60
        while not inbox.messages:
            assert time.monotonic() < deadline, "the worker did not deliver the invitation"
            time.sleep(0.3)
        mail = inbox.messages[0].decode()
        assert "new.person@runtest.test" in mail
        assert "invited you to CareDeck" in mail
        assert f"{base}/invitation/" in mail
    finally:
        group.send_signal(signal.SIGINT)
        try:
            group.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(group.pid, signal.SIGKILL)
            pytest.fail("caredeck run did not stop within 30 s of Ctrl-C")
    # Every process of the group is gone, not only the supervisor.
    time.sleep(0.5)
    with pytest.raises(ProcessLookupError):
        os.killpg(group.pid, 0)
