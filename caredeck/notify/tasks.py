"""Background tasks of the outbox, run by `caredeck worker`."""

from django_tasks import task

from caredeck.notify import services


@task()
def deliver_message(message_id: int) -> bool:
    return services.message_deliver(message_id=message_id)
