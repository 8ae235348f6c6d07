"""The RQ worker class of `caredeck worker` when REDIS_URL is set (see cli.py)."""

from __future__ import annotations

from django.db import close_old_connections, connections
from rq.worker import SimpleWorker


def _fresh_connections() -> None:
    """What Django does around a request, plus a health check: a connection that broke
    (a database restart) or outlived CONN_MAX_AGE is closed; the next query reopens it."""
    close_old_connections()
    for connection in connections.all(initialized_only=True):
        if connection.connection is not None and not connection.is_usable():
            connection.close()


class Worker(SimpleWorker):
    """Runs each job in the worker process itself rather than in a forked child: the fork
    cost about 25 ms of CPU per job, 40 % of the fan-out's throughput (bench/README.md).

    A forked child started with fresh database connections; this worker keeps them open
    between jobs, so it checks them before each job (one `SELECT 1`) and tidies up after
    it. Without that it would fail every job on a dead connection until restarted."""

    def execute_job(self, job, queue):
        _fresh_connections()
        try:
            return super().execute_job(job, queue)
        finally:
            close_old_connections()
