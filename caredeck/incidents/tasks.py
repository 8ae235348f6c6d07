"""Background tasks of incidents, run by `caredeck worker`."""

from django_tasks import task

from caredeck.incidents import clocks


@task()
def fire_incident_clocks(incident_id: int) -> dict:
    return clocks.fire(incident_id)
