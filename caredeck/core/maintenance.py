"""Housekeeping jobs of the schedule."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.utils import timezone


def task_results_prune() -> int:
    """Drop finished task results older than a week (the database task backend keeps
    every result row; the outbox, not the task table, is the record of deliveries)."""
    backend = settings.TASKS["default"]["BACKEND"]
    if backend != "django_tasks_db.DatabaseBackend":
        return 0
    from django_tasks_db.models import DBTaskResult

    cutoff = timezone.now() - datetime.timedelta(days=7)
    deleted, _ = DBTaskResult.objects.filter(
        status__in=["SUCCESSFUL", "FAILED"], finished_at__lt=cutoff
    ).delete()
    return 0  # enqueues nothing: the pruning is done in place
