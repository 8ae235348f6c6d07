"""The `caredeck` command (see ../shared/API.md, "Command line").

`run` and `demo` supervise four processes (web, worker, scheduler, the built-in probe) as
one group (`demo` a fifth: the simulated tenant endpoints): if one dies the others are
stopped, and Ctrl-C stops all of them.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "caredeck.settings")


def _django():
    import django

    django.setup()


def _manage(*args: str) -> None:
    from django.core.management import execute_from_command_line

    execute_from_command_line(["caredeck manage", *args])


def _python(*args: str) -> list[str]:
    return [sys.executable, "-m", "caredeck.cli", *args]


def _web_command(host: str, port: int) -> list[str]:
    workers = os.environ.get("CAREDECK_WEB_WORKERS", "2")
    return [
        sys.executable, "-m", "gunicorn", "caredeck.wsgi:application",
        "--bind", f"{host}:{port}", "--workers", workers, "--threads", "4",
        "--worker-class", "gthread", "--access-logfile", "-", "--graceful-timeout", "10",
    ]


def _worker_command() -> list[str]:
    if os.environ.get("REDIS_URL"):
        return _python(
            "manage", "rqworker", "default", "--job-class", "django_tasks_rq.Job",
            "--worker-class", "caredeck.core.rqworker.Worker",
        )
    return _python("manage", "db_worker", "--queue-name", "default")


def supervise(commands: dict[str, list[str]]) -> int:
    processes = {name: subprocess.Popen(cmd) for name, cmd in commands.items()}
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    try:
        while not stopping:
            for name, process in processes.items():
                code = process.poll()
                if code is not None:
                    print(f"caredeck: {name} exited with {code}; stopping the others.", flush=True)
                    exit_code = code or 1
                    stopping = True
                    break
            time.sleep(0.5)
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 15
        for process in processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
    return exit_code


def cmd_run(args) -> int:
    _django()
    _manage("migrate", "--noinput", "-v", "0")
    return supervise(
        {
            "web": _web_command(args.host, args.port),
            "worker": _worker_command(),
            "scheduler": _python("scheduler"),
            "probe": _python("probe"),
        }
    )


def cmd_demo(args) -> int:
    os.environ.setdefault("CAREDECK_BASE_URL", f"http://{args.host}:{args.port}")
    # The simulated tenant endpoints (loopback): the demo's checks are built on this port.
    os.environ.setdefault("CAREDECK_SIMULATOR_PORT", "8790")
    _django()
    _manage("migrate", "--noinput", "-v", "0")
    _manage("load_demo", "--base-url", os.environ["CAREDECK_BASE_URL"])
    return supervise(
        {
            "web": _web_command(args.host, args.port),
            "worker": _worker_command(),
            "scheduler": _python("scheduler"),
            "probe": _python("probe"),
            "simulator": _python("simulator"),
        }
    )


def cmd_simulator(args) -> int:
    """The demo's simulated tenant endpoints (web, chat, SIP per region), on loopback."""
    _django()
    import logging

    from caredeck.monitoring.simulator import serve

    logging.basicConfig(level=logging.INFO, format="simulator: %(message)s")
    serve(port=args.port or None)
    return 0


def cmd_web(args) -> int:
    _django()
    # Replace this process, so signals reach gunicorn directly (fixed argument list).
    os.execv(sys.executable, _web_command(args.host, args.port))  # noqa: S606
    return 0  # pragma: no cover - execv does not return


def cmd_worker(args) -> int:
    _django()
    command = _worker_command()
    os.execv(command[0], command)  # noqa: S606 - fixed argument list, as for web
    return 0  # pragma: no cover


def cmd_scheduler(args) -> int:
    _django()
    _manage("run_scheduler")
    return 0


def cmd_probe(args) -> int:
    """The built-in probe (every location in builtin mode), or with --url and --token a
    remote agent for one location that talks to CareDeck over the API."""
    if args.url or args.token:
        if not (args.url and args.token):
            print("A remote agent needs both --url and --token.", file=sys.stderr)
            return 2
        from caredeck.monitoring.runner import AgentSource, run_forever

        run_forever(AgentSource(args.url, args.token), concurrency=args.concurrency or 200)
        return 0
    _django()
    from django.conf import settings

    from caredeck.monitoring.models import ProbeLocation
    from caredeck.monitoring.runner import DatabaseSource, run_forever

    ids = None
    if args.location:
        ids = list(ProbeLocation.objects.filter(slug=args.location).values_list("pk", flat=True))
        if not ids:
            print(f"No probe location {args.location!r}.", file=sys.stderr)
            return 2
    run_forever(DatabaseSource(ids),
                concurrency=args.concurrency or settings.MONITORING_CONCURRENCY)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "manage":
        _django()
        _manage(*argv[1:])
        return 0
    parser = argparse.ArgumentParser(prog="caredeck", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (("run", "migrate, then web + worker + scheduler + probe"),
                            ("demo", "as run, on the demo data set")):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=8000)
    p = sub.add_parser("web", help="the web server alone")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    sub.add_parser("worker", help="the task worker alone")
    sub.add_parser("scheduler", help="the scheduler alone")
    p = sub.add_parser("probe", help="the built-in probe, or a remote probe agent")
    p.add_argument("--location", help="a PoP or region id (the agent's location)")
    p.add_argument("--url", help="CareDeck's base URL (remote agent)")
    p.add_argument("--token", help="the location's agent token (remote agent)")
    p.add_argument("--concurrency", type=int, default=0, help="probes at once")
    p = sub.add_parser("simulator", help=argparse.SUPPRESS)  # run by `demo`
    p.add_argument("--port", type=int, default=0)
    sub.add_parser("manage", help="Django's manage.py")
    p = sub.add_parser("createadmin", help="create a provider platform administrator")
    p.add_argument("--email", required=True)
    p.add_argument("--password")
    p = sub.add_parser("token", help="print a new API token for a user")
    p.add_argument("--email", required=True)
    p = sub.add_parser("impact", help="what if a zone, region or PoP fails")
    p.add_argument("--target", required=True, help="zone, region or PoP id, e.g. us-east")
    p.add_argument("--failure", help="failure type id (default: from the element)")
    p.add_argument("--format", choices=["table", "json"], default="table")
    args = parser.parse_args(argv)

    if args.command == "createadmin":
        _django()
        extra = ["--password", args.password] if args.password else []
        _manage("createadmin", "--email", args.email, *extra)
        return 0
    if args.command == "token":
        _django()
        _manage("token", "--email", args.email)
        return 0
    if args.command == "impact":
        _django()
        extra = ["--failure", args.failure] if args.failure else []
        _manage("impact", "--target", args.target, "--format", args.format, *extra)
        return 0
    handlers = {
        "run": cmd_run, "demo": cmd_demo, "web": cmd_web, "worker": cmd_worker,
        "scheduler": cmd_scheduler, "probe": cmd_probe,
        "simulator": cmd_simulator,
    }
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
