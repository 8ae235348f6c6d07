"""Customer administrators manage their own people and designated contacts, and nobody
else's; partner users do the same for the customers linked to them, with the link's rights."""

from __future__ import annotations

import pytest

from caredeck.accounts.models import PartnerLink, User
from tests.accounts.conftest import entries

NEW_PERSON = {"name": "Road Runner", "email": "road@acme.test", "roles": ["customer_member"]}


def _api_person(organization="acme", **overrides):
    return {**NEW_PERSON, "organization": organization, **overrides}


def test_it_shows_the_team_and_its_designated_contacts(page_as, admin_a, member_a, member_b):
    member_a.role_grants.create(role="designated_contact")
    response = page_as(admin_a).get("/team/")
    assert response.status_code == 200
    assert set(response.context["people"]) == {admin_a, member_a}
    assert response.context["contacts"] == [member_a]
    assert response.context["can_invite"] and response.context["can_name_contacts"]
    assert member_b.email not in response.content.decode()


def test_it_lets_a_customer_admin_invite_to_the_own_tenant(
    page_as, as_user, admin_a, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        page = page_as(admin_a).post("/tenants/acme/invite/", NEW_PERSON)
        api = as_user(admin_a).post(
            "/api/v1/users/", _api_person(email="coyote@acme.test"), format="json"
        )
    assert page.status_code == 302
    assert api.status_code == 201, api.json()
    assert set(User.objects.filter(organization__slug="acme").values_list("email", flat=True)) >= {
        "road@acme.test",
        "coyote@acme.test",
    }
    assert len(mailoutbox) == 2


def test_it_names_and_removes_a_designated_contact_from_the_team_page(page_as, admin_a, member_a):
    client = page_as(admin_a)
    response = client.post(f"/people/{member_a.pk}/designated-contact/", {"next": "/team/"})
    assert response.status_code == 302
    assert response.url == "/team/"
    member_a._roles_cache = None
    assert "designated_contact" in member_a.roles
    named = entries("user", member_a.pk, "updated").get()
    assert named.actor == admin_a
    assert named.changes["roles"] == [
        ["customer_member"],
        ["customer_member", "designated_contact"],
    ]

    client.post(f"/people/{member_a.pk}/designated-contact/")
    member_a._roles_cache = None
    assert member_a.roles == ["customer_member"]
    assert entries("user", member_a.pk, "updated").count() == 2


def test_it_changes_roles_and_deactivates_over_the_api(as_user, admin_a, member_a, client):
    response = as_user(admin_a).patch(
        f"/api/v1/users/{member_a.pk}/",
        {"roles": ["customer_admin"], "is_active": False},
        format="json",
    )
    assert response.status_code == 200, response.json()
    member_a.refresh_from_db()
    member_a._roles_cache = None
    assert member_a.roles == ["customer_admin"]
    assert member_a.is_active is False
    entry = entries("user", member_a.pk, "updated").get()
    assert entry.changes["is_active"] == [True, False]
    assert entry.changes["roles"] == [["customer_member"], ["customer_admin"]]


def test_it_refuses_to_let_an_admin_deactivate_themselves(as_user, admin_a):
    response = as_user(admin_a).patch(
        f"/api/v1/users/{admin_a.pk}/", {"is_active": False}, format="json"
    )
    assert response.status_code == 400
    assert "is_active" in response.json()


def test_it_hides_another_tenants_people_from_a_customer_admin(as_user, page_as, admin_a, member_b):
    api = as_user(admin_a)
    assert api.get(f"/api/v1/users/{member_b.pk}/").status_code == 404
    assert (
        api.patch(
            f"/api/v1/users/{member_b.pk}/", {"roles": ["customer_admin"]}, format="json"
        ).status_code
        == 404
    )
    assert member_b.email not in str(api.get("/api/v1/users/").json())
    client = page_as(admin_a)
    assert client.get(f"/people/{member_b.pk}/").status_code == 404
    assert client.post(f"/people/{member_b.pk}/designated-contact/").status_code == 404
    assert client.post(f"/people/{member_b.pk}/resend-invitation/").status_code == 404
    assert client.get("/tenants/globex/invite/").status_code == 404
    member_b._roles_cache = None
    assert member_b.roles == ["customer_member"]


def test_it_refuses_to_invite_into_another_tenant_over_the_api(as_user, admin_a, tenant_b):
    response = as_user(admin_a).post("/api/v1/users/", _api_person("globex"), format="json")
    unknown = as_user(admin_a).post("/api/v1/users/", _api_person("no-such-org"), format="json")
    assert response.status_code == 400
    # Another tenant reads exactly like one that does not exist.
    assert response.json()["organization"] == [
        unknown.json()["organization"][0].replace("no-such-org", "globex")
    ]
    assert not User.objects.filter(email="road@acme.test").exists()


@pytest.mark.parametrize(
    "role", ["platform_admin", "care_analyst", "tam", "partner_user", "wizard"]
)
def test_it_refuses_provider_or_unknown_roles_from_a_customer_admin(
    as_user, admin_a, member_a, role
):
    client = as_user(admin_a)
    invite = client.post("/api/v1/users/", _api_person(roles=[role]), format="json")
    assert invite.status_code == 400
    assert "roles" in invite.json()
    change = client.patch(f"/api/v1/users/{member_a.pk}/", {"roles": [role]}, format="json")
    assert change.status_code == 400
    assert "roles" in change.json()
    member_a._roles_cache = None
    assert member_a.roles == ["customer_member"]


def test_it_offers_only_customer_roles_on_the_invite_page(page_as, admin_a):
    client = page_as(admin_a)
    response = client.post("/tenants/acme/invite/", {**NEW_PERSON, "roles": ["platform_admin"]})
    assert response.status_code == 200
    assert response.context["form"].errors["roles"]
    offered = {value for value, _ in response.context["form"].fields["roles"].choices}
    assert offered == {"customer_member", "designated_contact", "customer_admin"}
    assert not User.objects.filter(email="road@acme.test").exists()


def test_it_refuses_a_customer_member_who_tries_to_invite(as_user, page_as, member_a):
    assert as_user(member_a).post("/api/v1/users/", _api_person(), format="json").status_code == 403
    client = page_as(member_a)
    assert client.get("/tenants/acme/invite/").status_code == 403
    assert client.post("/tenants/acme/invite/", NEW_PERSON).status_code == 403
    assert not User.objects.filter(email="road@acme.test").exists()


def test_it_refuses_a_customer_member_who_tries_to_change_roles(
    as_user, page_as, member_a, admin_a
):
    response = as_user(member_a).patch(
        f"/api/v1/users/{admin_a.pk}/", {"roles": ["customer_member"]}, format="json"
    )
    assert response.status_code == 403
    assert page_as(member_a).post(f"/people/{admin_a.pk}/designated-contact/").status_code == 403
    admin_a._roles_cache = None
    assert admin_a.roles == ["customer_admin"]


def test_it_refuses_a_member_promoting_themselves(as_user, member_a):
    response = as_user(member_a).patch(
        f"/api/v1/users/{member_a.pk}/", {"roles": ["customer_admin"]}, format="json"
    )
    assert response.status_code == 403
    member_a._roles_cache = None
    assert member_a.roles == ["customer_member"]


def test_it_lets_everyone_edit_their_own_name_and_time_zone(as_user, member_a):
    response = as_user(member_a).patch(
        f"/api/v1/users/{member_a.pk}/",
        {"name": "Mia Member", "timezone": "Europe/Paris"},
        format="json",
    )
    assert response.status_code == 200
    member_a.refresh_from_db()
    assert (member_a.name, member_a.timezone) == ("Mia Member", "Europe/Paris")


def test_it_lets_a_partner_user_invite_to_the_linked_customer(
    page_as, as_user, partner_user, tenant_a, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        api = as_user(partner_user).post("/api/v1/users/", _api_person(), format="json")
    assert api.status_code == 201, api.json()
    assert User.objects.get(email="road@acme.test").organization == tenant_a
    assert len(mailoutbox) == 1
    assert entries("user", api.json()["id"], "invited").get().actor == partner_user
    page = page_as(partner_user).post(
        "/tenants/acme/invite/", {**NEW_PERSON, "email": "coyote@acme.test"}
    )
    assert page.status_code == 302


def test_it_shows_globex_as_missing_to_a_partner_user(
    as_user, page_as, partner_user, tenant_b, member_b
):
    api = as_user(partner_user)
    assert api.get("/api/v1/organizations/globex/").status_code == 404
    assert api.get(f"/api/v1/users/{member_b.pk}/").status_code == 404
    assert api.post("/api/v1/users/", _api_person("globex"), format="json").status_code == 400
    client = page_as(partner_user)
    assert client.get("/tenants/globex/").status_code == 404
    assert client.get("/tenants/globex/invite/").status_code == 404
    assert client.post(f"/people/{member_b.pk}/designated-contact/").status_code == 404


def test_it_limits_a_partner_user_to_the_rights_of_the_link(
    as_user, partner_user, member_a, partner
):
    PartnerLink.objects.filter(partner=partner).update(rights=["view_tenant"])
    client = as_user(partner_user)
    assert client.get("/api/v1/organizations/acme/").status_code == 200
    assert client.post("/api/v1/users/", _api_person(), format="json").status_code == 403
    assert (
        client.patch(
            f"/api/v1/users/{member_a.pk}/", {"roles": ["customer_admin"]}, format="json"
        ).status_code
        == 403
    )


def test_it_lets_a_partner_user_name_a_designated_contact_when_the_link_allows(
    page_as, partner_user, member_a, partner
):
    link = PartnerLink.objects.get(partner=partner)
    link.rights = [*link.rights, "manage_designated_contacts"]
    link.save()
    client = page_as(partner_user)
    client.post("/switch-tenant/", {"tenant": "acme"})
    team = client.get("/team/")
    assert team.context["organization"].slug == "acme"
    assert team.context["can_name_contacts"]
    client.post(f"/people/{member_a.pk}/designated-contact/")
    member_a._roles_cache = None
    assert "designated_contact" in member_a.roles


def test_it_refuses_a_designated_contact_when_the_link_does_not_allow_it(
    page_as, as_user, partner_user, member_a
):
    client = page_as(partner_user)
    client.post("/switch-tenant/", {"tenant": "acme"})
    assert not client.get("/team/").context["can_name_contacts"]
    assert client.post(f"/people/{member_a.pk}/designated-contact/").status_code == 403
    api = as_user(partner_user)
    # Not even carried along with a role change the link does allow.
    both = api.patch(
        f"/api/v1/users/{member_a.pk}/",
        {"roles": ["customer_admin", "designated_contact"]},
        format="json",
    )
    assert both.status_code == 403
    invite = api.post(
        "/api/v1/users/",
        _api_person(roles=["customer_member", "designated_contact"]),
        format="json",
    )
    assert invite.status_code == 403
    member_a._roles_cache = None
    assert member_a.roles == ["customer_member"]
