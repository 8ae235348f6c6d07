"""The audit log: who changed what, before and after; readable by those who may see the
object; never rewritten."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from caredeck.accounts import services
from caredeck.core.models import AppendOnlyError, AuditEntry
from tests.accounts.conftest import entries


@pytest.fixture
def acme_history(platform_admin, tenant_a):
    services.organization_update(
        actor=platform_admin,
        organization=tenant_a,
        name="Acme Telecom Group",
        contract={"notice_minutes": 10},
    )
    return entries("organization", "acme").get()


def test_it_records_actor_and_before_and_after(acme_history, platform_admin, tenant_a):
    assert acme_history.actor == platform_admin
    assert acme_history.actor_label == platform_admin.email
    assert acme_history.organization == tenant_a
    assert acme_history.action == "updated"
    assert acme_history.changes == {
        "name": ["Acme Telecom", "Acme Telecom Group"],
        "contract.notice_minutes": [15, 10],
    }


def test_it_records_nothing_when_nothing_changed(platform_admin, tenant_a):
    services.organization_update(actor=platform_admin, organization=tenant_a, name="Acme Telecom")
    assert not entries("organization", "acme").exists()


def test_it_records_token_creation_and_revocation_without_the_secret(member_a):
    token, raw = services.token_create(actor=member_a, name="nightly export")
    services.token_revoke(actor=member_a, token=token)
    log = entries("user", member_a.pk).order_by("id")
    assert [e.action for e in log] == ["token_created", "token_revoked"]
    assert log[0].changes == {"token": [None, "nightly export"]}
    assert all(e.actor == member_a for e in log)
    assert raw not in str([e.changes for e in log])


@pytest.mark.parametrize(
    "who", ["admin_a", "member_a", "care_analyst", "platform_admin", "partner_user"]
)
def test_it_serves_the_history_to_the_owner_and_staff(request, who, as_user, acme_history):
    response = as_user(request.getfixturevalue(who)).get("/api/v1/audit/?object=organization:acme")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    entry = body["results"][0]
    assert entry["object"] == "organization:acme"
    assert entry["actor"] == "admin@provider.test"
    assert entry["action"] == "updated"
    assert entry["changes"]["contract.notice_minutes"] == [15, 10]


@pytest.mark.parametrize("who", ["admin_b", "member_b"])
def test_it_answers_404_to_another_tenant(request, who, as_user, acme_history):
    response = as_user(request.getfixturevalue(who)).get("/api/v1/audit/?object=organization:acme")
    assert response.status_code == 404
    assert set(response.json()) == {"detail"}


def test_it_answers_404_to_a_partner_without_audit_rights(
    as_user, acme_history, partner_user, partner
):
    partner.customer_links.update(rights=["view_tenant"])
    assert as_user(partner_user).get("/api/v1/audit/?object=organization:acme").status_code == 404


def test_it_answers_the_same_404_for_an_object_that_does_not_exist(as_user, member_b, acme_history):
    hidden = as_user(member_b).get("/api/v1/audit/?object=organization:acme")
    missing = as_user(member_b).get("/api/v1/audit/?object=organization:no-such-org")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()


def test_it_scopes_the_history_of_people_to_their_tenant(as_user, admin_a, member_a, member_b):
    services.user_update(actor=admin_a, user=member_a, roles=["customer_admin"])
    url = f"/api/v1/audit/?object=user:{member_a.pk}"
    assert as_user(member_a).get(url).json()["count"] == 1
    assert as_user(member_b).get(url).status_code == 404


def test_it_shows_product_history_to_provider_staff_only(
    as_user, platform_admin, care_analyst, member_a, product
):
    services.product_update(actor=platform_admin, product=product, vote_threshold=30)
    url = "/api/v1/audit/?object=product:cloud-cx"
    assert as_user(care_analyst).get(url).json()["results"][0]["changes"] == {
        "vote_threshold": [10, 30]
    }
    assert as_user(member_a).get(url).status_code == 404


@pytest.mark.parametrize(
    "target",
    ["", "acme", "organization", "organization:", ":acme", "wizard:acme", "organization:ac\x00me"],
)
def test_it_answers_400_for_a_malformed_object(as_user, care_analyst, target):
    response = as_user(care_analyst).get("/api/v1/audit/", {"object": target})
    assert response.status_code == 400
    assert response.json()["object"]


def test_it_answers_400_without_an_object_parameter(as_user, care_analyst):
    response = as_user(care_analyst).get("/api/v1/audit/")
    assert response.status_code == 400
    assert "object" in response.json()


def test_it_answers_404_for_an_unparsable_id(as_user, care_analyst):
    assert as_user(care_analyst).get("/api/v1/audit/?object=user:abc").status_code == 404


def test_it_refuses_anonymous_readers(api, acme_history):
    assert api.get("/api/v1/audit/?object=organization:acme").status_code == 401


def test_it_refuses_to_change_an_entry(acme_history):
    acme_history.action = "nothing happened"
    with pytest.raises(AppendOnlyError):
        acme_history.save()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.filter(pk=acme_history.pk).update(action="nothing happened")
    assert AuditEntry.objects.get(pk=acme_history.pk).action == "updated"


def test_it_refuses_to_delete_an_entry(acme_history):
    with pytest.raises(AppendOnlyError):
        acme_history.delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.filter(pk=acme_history.pk).exists()


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the trigger exists on PostgreSQL only"
)
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE core_auditentry SET action = 'forged' WHERE id = %s",
        "DELETE FROM core_auditentry WHERE id = %s",
    ],
)
def test_it_refuses_raw_sql_changes_in_the_database(acme_history, sql):
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [acme_history.pk])
    assert AuditEntry.objects.get(pk=acme_history.pk).action == "updated"
