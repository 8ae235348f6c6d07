"""Platform administrators link partners to customers, with the rights the link grants."""

from __future__ import annotations

from caredeck.accounts.models import PartnerLink, User
from tests.accounts.conftest import entries
from tests.factories import OrganizationFactory


def _other_partner():
    return OrganizationFactory(slug="northwind", name="Northwind Partners", kind="partner")


def test_it_links_a_partner_over_the_api_and_audits_it(as_user, platform_admin, tenant_a):
    _other_partner()
    response = as_user(platform_admin).post(
        "/api/v1/partner-links/",
        {"partner": "northwind", "customer": "acme", "rights": ["view_audit"]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    # Seeing the tenant comes with every link.
    assert sorted(response.json()["rights"]) == ["view_audit", "view_tenant"]
    entry = entries("organization", "acme", "partner_linked").get()
    assert entry.actor == platform_admin
    assert entry.changes == {"partner:northwind": [None, ["view_audit", "view_tenant"]]}


def test_it_unlinks_a_partner_over_the_api_and_audits_it(as_user, platform_admin, partner):
    link = PartnerLink.objects.get(partner=partner)
    response = as_user(platform_admin).delete(f"/api/v1/partner-links/{link.pk}/")
    assert response.status_code == 204
    assert not PartnerLink.objects.filter(pk=link.pk).exists()
    entry = entries("organization", "acme", "partner_unlinked").get()
    assert entry.changes["partner:bluebridge"][1] is None


def test_it_ends_the_partners_access_with_the_link(as_user, platform_admin, partner, partner_user):
    assert as_user(partner_user).get("/api/v1/organizations/acme/").status_code == 200
    link = PartnerLink.objects.get(partner=partner)
    as_user(platform_admin).delete(f"/api/v1/partner-links/{link.pk}/")
    # A new request loads the person afresh, as the next API call would.
    fresh = User.objects.get(pk=partner_user.pk)
    assert as_user(fresh).get("/api/v1/organizations/acme/").status_code == 404


def test_it_links_a_partner_from_the_customer_page(page_as, platform_admin, tenant_a):
    northwind = _other_partner()
    client = page_as(platform_admin)
    response = client.post(
        "/tenants/acme/partners/", {"partner": northwind.pk, "rights": ["manage_users"]}
    )
    assert response.status_code == 302
    link = PartnerLink.objects.get(partner=northwind, customer=tenant_a)
    assert sorted(link.rights) == ["manage_users", "view_tenant"]
    removed = client.post(f"/partner-links/{link.pk}/remove/")
    assert removed.status_code == 302
    assert not PartnerLink.objects.filter(pk=link.pk).exists()


def test_it_refuses_partner_links_to_a_customer_admin(as_user, page_as, admin_a, partner):
    _other_partner()
    api = as_user(admin_a)
    assert (
        api.post(
            "/api/v1/partner-links/",
            {"partner": "northwind", "customer": "acme", "rights": []},
            format="json",
        ).status_code
        == 403
    )
    link = PartnerLink.objects.get(partner=partner)
    assert api.delete(f"/api/v1/partner-links/{link.pk}/").status_code == 404
    assert page_as(admin_a).post(f"/partner-links/{link.pk}/remove/").status_code == 404
    assert PartnerLink.objects.filter(pk=link.pk).exists()
