"""The production settings pass Django's deployment checklist, warnings included."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys


def _production_env(tmp_path, **extra) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CAREDECK_", "DJANGO_", "DATABASE_URL", "REDIS_URL", "EMAIL_URL"))
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "caredeck.settings",
            "CAREDECK_HTTPS": "1",
            "SECRET_KEY": secrets.token_urlsafe(60)[:60],
            "ALLOWED_HOSTS": "caredeck.example.com",
            "CAREDECK_DATA_DIR": str(tmp_path),
            **extra,
        }
    )
    return env


def _check(env):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "caredeck.cli",
            "manage",
            "check",
            "--deploy",
            "--fail-level",
            "WARNING",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_it_passes_the_deployment_checklist_with_production_settings(tmp_path):
    result = _check(_production_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_it_fails_the_checklist_without_https(tmp_path):
    # The check above can fail: the same run over plain HTTP is refused.
    result = _check(_production_env(tmp_path, CAREDECK_HTTPS="0"))
    assert result.returncode != 0
    assert "security.W" in result.stdout + result.stderr
