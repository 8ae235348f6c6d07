#!/usr/bin/env python3
"""The two commands of the README, for a fresh clone with only Python >= 3.11 and pip.

    python3 dev.py demo    install into .venv, then start CareDeck on the demo data set
    python3 dev.py test    install into .venv (with test tools), then run the whole suite:
                           once on SQLite and once on PostgreSQL

The PostgreSQL pass uses CAREDECK_TEST_POSTGRES_URL (e.g. postgres://user@127.0.0.1/db).
Without it the pass is skipped with a notice; under CI=true that is a failure instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")


def run(*cmd: str, env: dict | None = None) -> int:
    print("+", " ".join(cmd), flush=True)
    return subprocess.call(cmd, cwd=ROOT, env={**os.environ, **(env or {})})


def install(extras: str = "") -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may be started by an older python3
        sys.exit("CareDeck needs Python 3.11 or newer.")
    if not (BIN / "python").exists():
        subprocess.check_call([sys.executable, "-m", "venv", str(VENV)])
    target = f".[{extras}]" if extras else "."
    # Exact versions come from the lock file; pyproject.toml holds the ranges.
    code = run(
        str(BIN / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "-c", "requirements.lock", "-e", target,
    )
    if code:
        sys.exit(code)


def demo(args: list[str]) -> int:
    install()
    return run(str(BIN / "caredeck"), "demo", *args)


def test(args: list[str]) -> int:
    install("test")
    started = time.monotonic()
    pytest = [str(BIN / "python"), "-m", "pytest", *args]
    sqlite_env = {"DATABASE_URL": ""}
    print("\n=== Test suite on SQLite ===", flush=True)
    failed = run(*pytest, env=sqlite_env) != 0
    postgres_url = os.environ.get("CAREDECK_TEST_POSTGRES_URL")
    if postgres_url:
        print("\n=== Test suite on PostgreSQL ===", flush=True)
        failed |= run(*pytest, env={"DATABASE_URL": postgres_url}) != 0
    elif os.environ.get("CI") == "true":
        print("CI=true but CAREDECK_TEST_POSTGRES_URL is not set: the PostgreSQL pass cannot run.")
        failed = True
    else:
        print("\nPostgreSQL pass skipped: set CAREDECK_TEST_POSTGRES_URL to run it.")
    print(f"\nAll passes took {time.monotonic() - started:.0f} s.", flush=True)
    return 1 if failed else 0


def main() -> int:
    commands = {"demo": demo, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    return commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
