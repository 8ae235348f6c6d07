"""Background tasks of the Ideas Lab, run by `caredeck worker`; the scheduler enqueues
them when an idea's stored reminder, escalation or update instant comes (ideas/clocks.py)."""

from django_tasks import task

from caredeck.ideas import clocks


@task()
def fire_idea_clocks(idea_id: int) -> dict:
    return clocks.fire(idea_id)
