"""Signing in and out, and the lock-out after repeated wrong passwords (django-axes)."""

from __future__ import annotations

import datetime

import time_machine
from django.utils import timezone

from tests.accounts.conftest import sign_in, signed_in
from tests.conftest import PASSWORD


def test_it_signs_in_with_email_and_password(client, member_a):
    response = sign_in(client, member_a.email)
    assert signed_in(response)
    home = client.get("/home/")
    assert home.status_code == 200
    assert home.context["user"] == member_a
    assert "Acme Telecom" in home.content.decode()


def test_it_accepts_the_email_in_another_case(client, member_a):
    assert signed_in(sign_in(client, member_a.email.upper()))


def test_it_refuses_a_wrong_password_with_a_message(client, member_a):
    response = sign_in(client, member_a.email, "not-the-password")
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert client.get("/home/").status_code == 302


def test_it_refuses_a_deactivated_user(client, member_a):
    member_a.is_active = False
    member_a.save()
    assert not signed_in(sign_in(client, member_a.email))


def test_it_sends_anonymous_visitors_to_the_sign_in_page(client, db):
    response = client.get("/home/")
    assert response.status_code == 302
    assert response.url.startswith("/login/?next=/home/")


def test_it_signs_out_with_a_post(client, member_a):
    sign_in(client, member_a.email)
    response = client.post("/logout/")
    assert response.status_code == 302
    assert response.url == "/login/"
    assert client.get("/home/").status_code == 302


def test_it_does_not_sign_out_on_a_get(client, member_a):
    sign_in(client, member_a.email)
    assert client.get("/logout/").status_code == 405
    assert client.get("/home/").status_code == 200


def test_it_locks_out_after_five_wrong_passwords_even_with_the_right_one(client, member_a):
    for _ in range(5):
        assert not signed_in(sign_in(client, member_a.email, "wrong-guess"))
    sixth = sign_in(client, member_a.email, PASSWORD)
    assert not signed_in(sixth)
    assert sixth.status_code == 429
    assert "Signing in is paused" in sixth.content.decode()
    assert client.get("/home/").status_code == 302


def test_it_does_not_lock_out_after_four_wrong_passwords(client, member_a):
    for _ in range(4):
        sign_in(client, member_a.email, "wrong-guess")
    assert signed_in(sign_in(client, member_a.email))


def _lock_out(client, user, at):
    with time_machine.travel(at, tick=False):
        for _ in range(5):
            sign_in(client, user.email, "wrong-guess")


def test_it_keeps_the_lock_during_the_cool_off(client, member_a):
    start = timezone.now()
    _lock_out(client, member_a, start)
    with time_machine.travel(start + datetime.timedelta(minutes=14), tick=False):
        assert not signed_in(sign_in(client, member_a.email))


def test_it_lets_the_user_in_again_after_the_cool_off(client, member_a):
    start = timezone.now()
    _lock_out(client, member_a, start)
    with time_machine.travel(start + datetime.timedelta(minutes=16), tick=False):
        assert signed_in(sign_in(client, member_a.email))


def test_it_locks_out_one_account_without_locking_out_a_colleague(client, member_a, admin_a):
    for _ in range(5):
        sign_in(client, member_a.email, "wrong-guess")
    assert signed_in(sign_in(client, admin_a.email))


def test_it_counts_wrong_passwords_in_any_letter_case_against_one_account(client, member_a):
    for email in (
        "member@acme.test",
        "MEMBER@acme.test",
        "Member@Acme.test",
        "member@ACME.test",
        "MEMBER@ACME.TEST",
    ):
        sign_in(client, email, "wrong-guess")
    assert not signed_in(sign_in(client, member_a.email))
