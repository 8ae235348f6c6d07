"""`caredeck token` and `caredeck createadmin`."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from caredeck.accounts.models import ApiToken, User
from caredeck.core.models import AuditEntry
from tests.accounts.conftest import sign_in, signed_in


def test_it_prints_only_a_new_token(capsys, member_a, api):
    call_command("token", email=member_a.email)
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 1
    raw = lines[0]
    assert raw.startswith("cdk_") and " " not in raw
    assert ApiToken.objects.get(user=member_a).digest == ApiToken.digest_of(raw)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/me/").status_code == 200


def test_it_prints_a_different_token_each_time(capsys, member_a):
    call_command("token", email=member_a.email)
    call_command("token", email=member_a.email)
    first, second = capsys.readouterr().out.split()
    assert first != second
    assert ApiToken.objects.filter(user=member_a).count() == 2


def test_it_finds_the_user_in_any_letter_case(capsys, member_a):
    call_command("token", email=member_a.email.upper())
    assert capsys.readouterr().out.startswith("cdk_")


def test_it_refuses_a_token_for_an_unknown_user(capsys, db):
    with pytest.raises(CommandError):
        call_command("token", email="nobody@acme.test")
    assert capsys.readouterr().out == ""
    assert not ApiToken.objects.exists()


def test_it_creates_a_platform_admin_idempotently(client, db, capsys):
    call_command("createadmin", email="Root@Provider.test", password="first-Pass-2024!")
    call_command("createadmin", email="root@provider.test", password="second-Pass-2024!")
    admins = User.objects.filter(email__iexact="root@provider.test")
    assert admins.count() == 1
    admin = admins.get()
    assert admin.roles == ["platform_admin"]
    assert admin.organization.kind == "provider"
    assert admin.role_grants.count() == 1
    assert signed_in(sign_in(client, "root@provider.test", "second-Pass-2024!"))
    assert AuditEntry.objects.filter(object_kind="user", object_id=str(admin.pk)).count() == 2


def test_it_keeps_the_password_when_run_again_without_one(client, db):
    call_command("createadmin", email="root@provider.test", password="first-Pass-2024!")
    call_command("createadmin", email="root@provider.test")
    assert signed_in(sign_in(client, "root@provider.test", "first-Pass-2024!"))


def test_it_refuses_to_make_a_customer_a_platform_admin(member_a):
    with pytest.raises(CommandError):
        call_command("createadmin", email=member_a.email, password="first-Pass-2024!")
    member_a._roles_cache = None
    assert member_a.roles == ["customer_member"]
