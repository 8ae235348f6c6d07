"""In-app delivery: one inbox item per message, whatever re-deliveries happen, and the
channels each person chose."""

from __future__ import annotations

from caredeck.notify import services
from caredeck.notify.models import (
    Channel,
    InAppNotification,
    MessageStatus,
    OutboundMessage,
    Subscription,
)
from caredeck.notify.services import notify_users
from tests.factories import UserFactory


def _notify(users, dedupe_base="access-requested:1", event="access.requested"):
    return notify_users(
        event=event, users=users, dedupe_base=dedupe_base, template="access_requested",
        context={"access_request": {"name": "Peter", "email": "p@initech.test",
                                    "company": "Initech", "get_kind_display": "Customer"},
                 "link": "http://x/access-requests/1/"},
        url="/access-requests/1/",
    )


def test_delivery_creates_one_inbox_item_per_message(db, django_capture_on_commit_callbacks):
    people = [UserFactory() for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        messages = _notify(people)
    in_app = [m for m in messages if m.channel == Channel.IN_APP]
    assert len(in_app) == 3
    for message in in_app:
        message.refresh_from_db()
        assert message.status == MessageStatus.SENT
        item = InAppNotification.objects.get(message=message)
        assert item.user_id == message.user_id == int(message.recipient)
        assert item.event == "access.requested"
        assert item.title == "New CareDeck access request from Initech"
        assert item.url == "/access-requests/1/"
        assert "Peter <p@initech.test> of Initech" in item.body
        assert item.read_at is None
    assert InAppNotification.objects.count() == 3


def test_redelivery_and_requeueing_keep_one_item(db, django_capture_on_commit_callbacks):
    person = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        _notify([person])
    with django_capture_on_commit_callbacks(execute=True):
        _notify([person])  # the same occurrence again
    message = OutboundMessage.objects.get(channel=Channel.IN_APP)
    assert services.messages_deliver(message_ids=[message.pk]) == 0  # already sent
    # A worker lost its claim after writing the item: the message is delivered again.
    OutboundMessage.objects.filter(pk=message.pk).update(status=MessageStatus.QUEUED)
    assert services.messages_deliver(message_ids=[message.pk]) == 1
    assert InAppNotification.objects.filter(user=person).count() == 1
    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.SENT, 2)


def test_each_person_gets_the_channels_they_chose(db, django_capture_on_commit_callbacks):
    only_inbox, only_mail, defaults = UserFactory(), UserFactory(), UserFactory()
    Subscription.objects.create(user=only_inbox, event="access.requested", channels=["in_app"])
    Subscription.objects.create(user=only_mail, event="access.requested", channels=["email"])
    with django_capture_on_commit_callbacks(execute=True):
        _notify([only_inbox, only_mail, defaults])
    channels = {
        user: set(OutboundMessage.objects.filter(user=user).values_list("channel", flat=True))
        for user in (only_inbox, only_mail, defaults)
    }
    assert channels == {
        only_inbox: {Channel.IN_APP},
        only_mail: {Channel.EMAIL},
        defaults: {Channel.EMAIL, Channel.IN_APP},
    }
    assert set(InAppNotification.objects.values_list("user", flat=True)) == {
        only_inbox.pk, defaults.pk
    }


def test_a_mandatory_notice_switched_off_still_arrives(db, django_capture_on_commit_callbacks):
    person = UserFactory()
    # Stored "off" (e.g. written before the event became mandatory): the defaults apply.
    Subscription.objects.create(user=person, event="incident.notice", channels=[])
    with django_capture_on_commit_callbacks(execute=True):
        _notify([person], dedupe_base="INC-000001:notice:1", event="incident.notice")
    assert set(OutboundMessage.objects.values_list("channel", "mandatory")) == {
        (Channel.EMAIL, True), (Channel.IN_APP, True)
    }
    assert InAppNotification.objects.filter(user=person, event="incident.notice").count() == 1
