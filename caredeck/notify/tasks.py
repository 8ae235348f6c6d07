"""Background tasks of the outbox, run by `caredeck worker`."""

from django_tasks import task

from caredeck.notify import services


@task()
def deliver_messages(message_ids: list[int]) -> int:
    return services.messages_deliver(message_ids=message_ids)
