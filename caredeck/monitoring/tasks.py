"""Background tasks of synthetic monitoring (run by `caredeck worker`)."""

from django_tasks import task

from caredeck.monitoring import alerts


@task()
def fire_alerts() -> list[int]:
    return alerts.fire()
