"""Background tasks of problem management, run by `caredeck worker`; the scheduler
enqueues them when a stored reminder time comes (problems/clocks.py)."""

from django_tasks import task

from caredeck.problems import clocks


@task()
def rca_reminder_send(problem_id: int) -> int:
    return clocks.rca_reminder_send(problem_id=problem_id)


@task()
def action_item_reminder_send(item_id: int) -> int:
    return clocks.action_item_reminder_send(item_id=item_id)
