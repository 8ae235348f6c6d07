"""A scheduler stopped with SIGTERM hands its lease back, so a standby needs no wait."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest


def _env(tmp_path):
    env = {
        key: value for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "CAREDECK_TESTING", "DATABASE_URL"}
    }
    env.update(CAREDECK_DATA_DIR=str(tmp_path), CAREDECK_SCHEDULER_TICK_SECONDS="1")
    return env


def _lease_holder(env) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "caredeck.cli", "manage", "schedule", "list"],
        env=env, capture_output=True, text=True, check=True, timeout=60,
    ).stdout
    return out.rsplit("\n\n", 1)[-1].strip()


def test_it_releases_the_lease_on_sigterm(tmp_path):
    env = _env(tmp_path)
    subprocess.run(
        [sys.executable, "-m", "caredeck.cli", "manage", "migrate", "-v", "0"],
        env=env, check=True, timeout=120,
    )
    scheduler = subprocess.Popen([sys.executable, "-m", "caredeck.cli", "scheduler"], env=env)
    try:
        deadline = time.monotonic() + 30
        while not _lease_holder(env).startswith("Active scheduler"):
            assert time.monotonic() < deadline, "the scheduler never took the lease"
            time.sleep(0.5)
        scheduler.send_signal(signal.SIGTERM)
        assert scheduler.wait(timeout=20) == 0
        assert _lease_holder(env) == "No scheduler is active."
    finally:
        if scheduler.poll() is None:
            scheduler.kill()
            pytest.fail("the scheduler did not stop on SIGTERM")
