"""Background tasks of Customer Care, run by `caredeck worker`; the scheduler enqueues
them when a case's stored SLA, reminder or escalation instant comes (cases/clocks.py)."""

from django_tasks import task

from caredeck.cases import clocks


@task()
def fire_case_clocks(case_id: int) -> dict:
    return clocks.fire(case_id)
