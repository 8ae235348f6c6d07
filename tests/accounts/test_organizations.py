"""Platform administrators create customers with platforms, contract terms and a TAM."""

from __future__ import annotations

from decimal import Decimal

import pytest

from caredeck.accounts.models import Contract, Organization
from tests.accounts.conftest import entries

RESPONSE = {"1": 10, "2": 45, "3": 180, "4": 600}
RESOLUTION = {"1": 120, "2": 960, "3": 2880, "4": 7200}


def _form(product, tam, **overrides):
    data = {
        "org-name": "Initech Contact Center",
        "org-slug": "initech",
        "org-kind": "customer",
        "org-platforms": [product.pk],
        "org-tam": tam.pk,
        "contract-notice_minutes": 10,
        "contract-update_minutes": 20,
        "contract-rca_business_days": 3,
        "contract-availability_target": "99.950",
        "contract-support_timezone": "Europe/Berlin",
        "contract-support_country": "DE",
        "contract-support_24x7": "",
        "contract-support_day_start": "07:00",
        "contract-support_day_end": "19:00",
        **{f"contract-response_{k}": v for k, v in RESPONSE.items()},
        **{f"contract-resolution_{k}": v for k, v in RESOLUTION.items()},
    }
    data.update(overrides)
    return data


def _api_body(**overrides):
    body = {
        "name": "Initech Contact Center",
        "slug": "initech",
        "kind": "customer",
        "platforms": ["cloud-cx"],
        "contract": {
            "notice_minutes": 10,
            "update_minutes": 20,
            "rca_business_days": 3,
            "availability_target": "99.950",
            "support_timezone": "Europe/Berlin",
            "support_country": "DE",
            "support_24x7": False,
            "support_day_start": "07:00",
            "support_day_end": "19:00",
            "case_response_minutes": RESPONSE,
            "case_resolution_minutes": RESOLUTION,
        },
    }
    body.update(overrides)
    return body


def _assert_initech(organization: Organization, tam):
    assert organization.kind == "customer"
    assert organization.tam == tam
    assert list(organization.platforms.values_list("slug", flat=True)) == ["cloud-cx"]
    contract = Contract.objects.get(organization=organization)
    assert contract.notice_minutes == 10
    assert contract.update_minutes == 20
    assert contract.rca_business_days == 3
    assert contract.availability_target == Decimal("99.950")
    assert contract.support_timezone == "Europe/Berlin"
    assert contract.support_country == "DE"
    assert contract.support_24x7 is False
    assert contract.case_response_minutes == RESPONSE
    assert contract.case_resolution_minutes == RESOLUTION


def test_it_creates_a_customer_with_contract_and_tam_from_the_page(
    page_as, platform_admin, tam, product
):
    client = page_as(platform_admin)
    assert client.get("/tenants/new/").status_code == 200
    response = client.post("/tenants/new/", _form(product, tam))
    assert response.status_code == 302, response.context and response.context["org_form"].errors
    assert response.url == "/tenants/initech/"
    _assert_initech(Organization.objects.get(slug="initech"), tam)
    page = client.get("/tenants/initech/").content.decode()
    assert "Initech Contact Center" in page


def test_it_creates_a_customer_with_contract_and_tam_over_the_api(
    as_user, platform_admin, tam, product
):
    response = as_user(platform_admin).post(
        "/api/v1/organizations/", _api_body(tam=tam.pk), format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["slug"] == "initech"
    assert body["tam"] == tam.pk
    assert body["contract"]["case_response_minutes"] == RESPONSE
    _assert_initech(Organization.objects.get(slug="initech"), tam)


def test_it_fills_the_default_terms_when_none_are_given(as_user, platform_admin, product):
    response = as_user(platform_admin).post(
        "/api/v1/organizations/", {"name": "Umbrella Health", "kind": "customer"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["slug"] == "umbrella-health"
    contract = Contract.objects.get(organization__slug="umbrella-health")
    assert (contract.notice_minutes, contract.update_minutes, contract.rca_business_days) == (
        15,
        30,
        5,
    )
    assert contract.availability_target == Decimal("99.990")
    assert contract.case_response_minutes == {"1": 15, "2": 60, "3": 240, "4": 480}


def test_it_audits_the_creation_with_every_term(as_user, platform_admin, tam, product):
    as_user(platform_admin).post("/api/v1/organizations/", _api_body(tam=tam.pk), format="json")
    entry = entries("organization", "initech", "created").get()
    assert entry.actor == platform_admin
    assert entry.changes["name"] == [None, "Initech Contact Center"]
    assert entry.changes["platforms"] == [None, ["cloud-cx"]]
    assert entry.changes["contract"][1]["notice_minutes"] == 10
    assert entry.changes["contract"][1]["case_response_minutes"] == RESPONSE


def test_it_changes_contract_terms_and_audits_before_and_after(as_user, platform_admin, tenant_a):
    response = as_user(platform_admin).patch(
        "/api/v1/organizations/acme/",
        {"contract": {"notice_minutes": 5, "case_response_minutes": {"1": 5}}},
        format="json",
    )
    assert response.status_code == 200, response.json()
    tenant_a.contract.refresh_from_db()
    assert tenant_a.contract.notice_minutes == 5
    entry = entries("organization", "acme", "updated").get()
    assert entry.actor == platform_admin
    assert entry.changes["contract.notice_minutes"] == [15, 5]
    # The other criticalities keep their targets.
    assert tenant_a.contract.case_response_minutes == {"1": 5, "2": 60, "3": 240, "4": 480}
    assert entry.changes["contract.case_response_minutes"] == [
        {"1": 15, "2": 60, "3": 240, "4": 480},
        {"1": 5, "2": 60, "3": 240, "4": 480},
    ]


def test_it_edits_an_organization_from_the_page(page_as, platform_admin, tenant_a, tam, product):
    client = page_as(platform_admin)
    data = _form(product, tam, **{"org-name": "Acme Telecom EU", "org-slug": "acme"})
    response = client.post("/tenants/acme/edit/", data)
    assert response.status_code == 302
    tenant_a.refresh_from_db()
    assert tenant_a.name == "Acme Telecom EU"
    assert tenant_a.tam == tam
    entry = entries("organization", "acme", "updated").get()
    assert entry.changes["name"] == ["Acme Telecom", "Acme Telecom EU"]


def test_it_refuses_a_tam_without_the_tam_role(as_user, platform_admin, care_analyst, product):
    response = as_user(platform_admin).post(
        "/api/v1/organizations/", _api_body(tam=care_analyst.pk), format="json"
    )
    assert response.status_code == 400
    assert "tam" in response.json()
    assert not Organization.objects.filter(slug="initech").exists()


def test_it_refuses_a_second_provider(as_user, platform_admin, product):
    response = as_user(platform_admin).post(
        "/api/v1/organizations/", _api_body(kind="provider"), format="json"
    )
    assert response.status_code == 400
    assert "kind" in response.json()


def test_it_refuses_a_taken_slug_as_a_field_error(as_user, platform_admin, tenant_a):
    response = as_user(platform_admin).post(
        "/api/v1/organizations/",
        {"name": "Another Acme", "slug": "acme", "kind": "customer"},
        format="json",
    )
    assert response.status_code == 400
    assert "slug" in response.json()


def test_it_shows_contract_errors_next_to_the_fields(page_as, platform_admin, tam, product):
    client = page_as(platform_admin)
    response = client.post(
        "/tenants/new/",
        _form(product, tam, **{"contract-response_1": 0, "contract-notice_minutes": "x"}),
    )
    assert response.status_code == 200
    errors = response.context["contract_form"].errors
    assert "response_1" in errors and "notice_minutes" in errors
    assert not Organization.objects.filter(slug="initech").exists()


@pytest.mark.parametrize("who", ["admin_a", "care_analyst", "tam"])
def test_it_lets_only_platform_admins_create_organizations(request, who, as_user, page_as, product):
    user = request.getfixturevalue(who)
    api = as_user(user).post("/api/v1/organizations/", _api_body(), format="json")
    assert api.status_code == 403
    assert page_as(user).get("/tenants/new/").status_code == 403
    assert not Organization.objects.filter(slug="initech").exists()


def test_it_lets_a_tam_see_the_accounts_it_manages_only(as_user, tam, tenant_a, tenant_b):
    tenant_a.tam = tam
    tenant_a.save()
    client = as_user(tam)
    assert client.get("/api/v1/organizations/acme/").status_code == 200
    assert client.get("/api/v1/organizations/globex/").status_code == 404
