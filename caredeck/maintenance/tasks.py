"""Background tasks of maintenance windows, run by `caredeck worker`; the scheduler
enqueues them through clocks.enqueue_due."""

from django_tasks import task

from caredeck.maintenance import clocks


@task()
def maintenance_clock_fire(clock_id: int) -> str:
    """Act on one due clock of a window (once, however often it is enqueued)."""
    return clocks.clock_fire(clock_id=clock_id)
