"""Inviting people: an e-mailed one-time link that sets the password, or (API only) a
password given up front that makes the account active at once."""

from __future__ import annotations

import datetime

import time_machine
from django.utils import timezone

from caredeck.accounts.models import User
from caredeck.notify.models import OutboundMessage
from tests.accounts.conftest import (
    NEW_PASSWORD,
    choose_password,
    entries,
    link_path,
    sign_in,
    signed_in,
)


def test_it_invites_a_user_with_roles_from_the_page(
    page_as, platform_admin, tenant_a, mailoutbox, django_capture_on_commit_callbacks
):
    client = page_as(platform_admin)
    assert client.get("/tenants/acme/invite/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/tenants/acme/invite/",
            {
                "name": "Wile E. Coyote",
                "email": "Wile@Acme.test",
                "roles": ["customer_admin", "designated_contact"],
            },
        )
    user = User.objects.get(email="wile@acme.test")
    assert response.status_code == 302
    assert response.url == f"/people/{user.pk}/"
    assert user.organization == tenant_a
    assert user.roles == ["customer_admin", "designated_contact"]
    assert user.invitation_pending
    assert not user.has_usable_password()
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["wile@acme.test"]
    assert "Acme Telecom" in mail.body
    assert link_path(mail).startswith("/invitation/")


def test_it_invites_a_user_over_the_api_and_the_link_sets_the_password(
    client, as_user, platform_admin, tenant_a, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_user(platform_admin).post(
            "/api/v1/users/",
            {
                "email": "road@acme.test",
                "name": "Road Runner",
                "organization": "acme",
                "roles": ["customer_member"],
            },
            format="json",
        )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["invitation_pending"] is True
    assert body["roles"] == ["customer_member"]
    assert "password" not in body
    assert not signed_in(sign_in(client, "road@acme.test", NEW_PASSWORD))

    done = choose_password(client, link_path(mailoutbox[0]))
    assert done.status_code == 302
    assert signed_in(sign_in(client, "road@acme.test", NEW_PASSWORD))
    user = User.objects.get(email="road@acme.test")
    assert not user.invitation_pending
    assert entries("user", user.pk, "invitation_accepted").get().actor == user


def test_it_accepts_an_invitation_link_only_once(
    client, as_user, platform_admin, tenant_a, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        as_user(platform_admin).post(
            "/api/v1/users/",
            {
                "email": "road@acme.test",
                "name": "Road Runner",
                "organization": "acme",
                "roles": ["customer_member"],
            },
            format="json",
        )
    path = link_path(mailoutbox[0])
    choose_password(client, path)
    assert client.get(path, follow=True).context["validlink"] is False


def test_it_expires_an_invitation_after_three_days(
    client, as_user, platform_admin, tenant_a, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        as_user(platform_admin).post(
            "/api/v1/users/",
            {
                "email": "road@acme.test",
                "name": "Road Runner",
                "organization": "acme",
                "roles": ["customer_member"],
            },
            format="json",
        )
    with time_machine.travel(timezone.now() + datetime.timedelta(days=4)):
        assert client.get(link_path(mailoutbox[0]), follow=True).context["validlink"] is False


def test_it_creates_an_active_user_directly_when_the_api_gives_a_password(
    client, as_user, platform_admin, tenant_a, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_user(platform_admin).post(
            "/api/v1/users/",
            {
                "email": "bot@acme.test",
                "name": "Import bot",
                "organization": "acme",
                "roles": ["customer_member"],
                "password": "imported-Pass-2024!",
            },
            format="json",
        )
    assert response.status_code == 201, response.json()
    assert response.json()["invitation_pending"] is False
    assert "password" not in response.json()
    assert mailoutbox == []
    assert not OutboundMessage.objects.exists()
    assert signed_in(sign_in(client, "bot@acme.test", "imported-Pass-2024!"))
    user = User.objects.get(email="bot@acme.test")
    entry = entries("user", user.pk, "created").get()
    assert entry.actor == platform_admin
    assert "imported-Pass-2024!" not in str(entry.changes)


def test_it_refuses_a_weak_password_given_over_the_api(as_user, platform_admin, tenant_a):
    response = as_user(platform_admin).post(
        "/api/v1/users/",
        {
            "email": "bot@acme.test",
            "name": "Import bot",
            "organization": "acme",
            "roles": ["customer_member"],
            "password": "12345678",
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["password"]
    assert not User.objects.filter(email="bot@acme.test").exists()


def test_it_audits_the_invitation_with_roles(as_user, platform_admin, tenant_a):
    as_user(platform_admin).post(
        "/api/v1/users/",
        {
            "email": "road@acme.test",
            "name": "Road Runner",
            "organization": "acme",
            "roles": ["customer_member"],
        },
        format="json",
    )
    user = User.objects.get(email="road@acme.test")
    entry = entries("user", user.pk, "invited").get()
    assert entry.actor == platform_admin
    assert entry.organization == tenant_a
    assert entry.changes["email"] == [None, "road@acme.test"]
    assert entry.changes["roles"] == [None, ["customer_member"]]


def test_it_refuses_a_second_user_with_the_same_email_in_any_case(
    as_user, platform_admin, member_a
):
    response = as_user(platform_admin).post(
        "/api/v1/users/",
        {
            "email": member_a.email.upper(),
            "name": "Twin",
            "organization": "acme",
            "roles": ["customer_member"],
        },
        format="json",
    )
    assert response.status_code == 400
    assert "email" in response.json()


def test_it_invites_provider_staff_with_provider_roles(
    as_user, platform_admin, provider, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_user(platform_admin).post(
            "/api/v1/users/",
            {
                "email": "newtam@provider.test",
                "name": "New TAM",
                "organization": provider.slug,
                "roles": ["tam", "care_analyst"],
            },
            format="json",
        )
    assert response.status_code == 201, response.json()
    assert User.objects.get(email="newtam@provider.test").roles == ["care_analyst", "tam"]
    assert len(mailoutbox) == 1


def test_it_sends_the_invitation_again_with_a_fresh_link(
    page_as, platform_admin, tenant_a, mailoutbox, django_capture_on_commit_callbacks
):
    client = page_as(platform_admin)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/tenants/acme/invite/",
            {"name": "Road Runner", "email": "road@acme.test", "roles": ["customer_member"]},
        )
    user = User.objects.get(email="road@acme.test")
    with (
        time_machine.travel(timezone.now() + datetime.timedelta(days=2)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(f"/people/{user.pk}/resend-invitation/")
    assert response.status_code == 302
    assert len(mailoutbox) == 2
    assert entries("user", user.pk, "invitation_resent").get().actor == platform_admin


def test_a_resent_invitation_makes_the_first_link_invalid(
    client, page_as, platform_admin, tenant_a, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        page_as(platform_admin).post(
            "/tenants/acme/invite/",
            {"name": "Wile Coyote", "email": "wile@acme.test", "roles": ["customer_member"]},
        )
    user = User.objects.get(email="wile@acme.test")
    with django_capture_on_commit_callbacks(execute=True):
        page_as(platform_admin).post(f"/people/{user.pk}/resend-invitation/")
    first, second = (link_path(m) for m in mailoutbox)
    assert first != second
    old = client.get(first, follow=True)
    assert b"no longer valid" in old.content
    fresh = client.get(second, follow=True)
    assert b"new_password1" in fresh.content


def test_it_refuses_to_resend_an_accepted_invitation(page_as, platform_admin, member_a):
    client = page_as(platform_admin)
    response = client.post(f"/people/{member_a.pk}/resend-invitation/", follow=True)
    assert "already accepted" in response.content.decode()
