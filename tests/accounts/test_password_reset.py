"""Password reset by e-mail: an outbox row, a delivered mail, a link that works once."""

from __future__ import annotations

import datetime
import re

import time_machine
from django.utils import timezone

from caredeck.notify.models import MessageStatus, OutboundMessage
from tests.accounts.conftest import (
    NEW_PASSWORD,
    choose_password,
    entries,
    link_path,
    sign_in,
    signed_in,
)
from tests.conftest import PASSWORD


def test_it_writes_an_outbox_row_and_delivers_the_mail_on_commit(
    client, member_a, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post("/password-reset/", {"email": member_a.email})
    assert response.status_code == 302
    assert response.url == "/password-reset/sent/"
    assert len(callbacks) == 1
    row = OutboundMessage.objects.get(event="user.password_reset")
    assert row.recipient == member_a.email
    assert row.status == MessageStatus.SENT
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == [member_a.email]
    assert "password" in mail.subject.lower()
    assert "/password-reset/" in mail.body
    html = mail.alternatives[0][0]
    assert link_path(mail) in html


def test_it_queues_but_does_not_send_before_the_transaction_commits(client, member_a, mailoutbox):
    client.post("/password-reset/", {"email": member_a.email})
    assert OutboundMessage.objects.filter(recipient=member_a.email).count() == 1
    assert mailoutbox == []


def test_it_lets_the_user_choose_a_new_password_and_sign_in_with_it(
    client, member_a, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/password-reset/", {"email": member_a.email})
    done = choose_password(client, link_path(mailoutbox[0]))
    assert done.status_code == 302
    assert done.url == "/password-reset/done/"
    assert signed_in(sign_in(client, member_a.email, NEW_PASSWORD))
    client.post("/logout/")
    assert not signed_in(sign_in(client, member_a.email, PASSWORD))


def test_it_records_the_request_and_the_new_password_in_the_audit_log(
    client, member_a, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/password-reset/", {"email": member_a.email})
    choose_password(client, link_path(mailoutbox[0]))
    requested = entries("user", member_a.pk, "password_reset_requested").get()
    reset = entries("user", member_a.pk, "password_reset").get()
    assert requested.actor == member_a and reset.actor == member_a
    # The new password itself never enters the log.
    assert NEW_PASSWORD not in str(reset.changes)


def _without_csrf(response) -> str:
    return re.sub(
        r'(csrfmiddlewaretoken" value|X-CSRFToken": )"[^"]+"', "", response.content.decode()
    )


def test_it_says_the_same_for_an_unknown_email_and_sends_nothing(
    client, member_a, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        known = client.post("/password-reset/", {"email": member_a.email}, follow=True)
        unknown = client.post("/password-reset/", {"email": "nobody@acme.test"}, follow=True)
    assert known.redirect_chain == unknown.redirect_chain
    assert _without_csrf(known) == _without_csrf(unknown)
    assert [m.to for m in mailoutbox] == [[member_a.email]]
    assert not OutboundMessage.objects.filter(recipient="nobody@acme.test").exists()


def test_it_sends_nothing_to_a_deactivated_user(
    client, member_a, mailoutbox, django_capture_on_commit_callbacks
):
    member_a.is_active = False
    member_a.save()
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/password-reset/", {"email": member_a.email})
    assert mailoutbox == []


def test_it_shows_a_field_error_for_a_malformed_address(client, db, mailoutbox):
    response = client.post("/password-reset/", {"email": "not an address"})
    assert response.status_code == 200
    assert response.context["form"].errors["email"]


def test_it_accepts_the_link_only_once(
    client, member_a, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/password-reset/", {"email": member_a.email})
    path = link_path(mailoutbox[0])
    choose_password(client, path)
    again = client.get(path, follow=True)
    assert again.context["validlink"] is False
    assert "no longer valid" in again.content.decode()
    assert signed_in(sign_in(client, member_a.email, NEW_PASSWORD))


def test_it_refuses_a_link_older_than_three_days(
    client, member_a, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/password-reset/", {"email": member_a.email})
    path = link_path(mailoutbox[0])
    with time_machine.travel(timezone.now() + datetime.timedelta(days=3, hours=1)):
        response = client.get(path, follow=True)
    assert response.context["validlink"] is False


def test_it_refuses_a_tampered_link(
    client, member_a, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/password-reset/", {"email": member_a.email})
    path = link_path(mailoutbox[0])
    tampered = path[:-3] + ("x" if path[-3] != "x" else "y") + path[-2:]
    assert client.get(tampered, follow=True).context["validlink"] is False


def test_it_rejects_a_weak_new_password_with_a_field_error(
    client, member_a, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/password-reset/", {"email": member_a.email})
    response = choose_password(client, link_path(mailoutbox[0]), password="123")
    assert response.status_code == 200
    assert response.context["form"].errors["new_password2"]
    assert signed_in(sign_in(client, member_a.email, PASSWORD))
