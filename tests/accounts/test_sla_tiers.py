"""SLA credit tiers are a contract term: validated per field, sorted, editable."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from caredeck.accounts import services

pytestmark = pytest.mark.django_db


def test_default_tiers(tenant_a):
    assert tenant_a.contract.sla_credit_tiers == [
        {"below": "99.99", "credit": 5}, {"below": "99.0", "credit": 15},
        {"below": "95.0", "credit": 100},
    ]


def test_tiers_are_sorted_highest_level_first(platform_admin, tenant_a):
    services.organization_update(
        actor=platform_admin, organization=tenant_a,
        contract={"sla_credit_tiers": [{"below": "99", "credit": 10},
                                       {"below": "99.95", "credit": 2.5}]},
    )
    tenant_a.contract.refresh_from_db()
    assert tenant_a.contract.sla_credit_tiers == [
        {"below": "99.95", "credit": 2.5}, {"below": "99", "credit": 10},
    ]


@pytest.mark.parametrize("tiers", [
    "five", [{"below": "101", "credit": 5}], [{"below": "99", "credit": -1}],
    [{"below": "99"}], [{"below": "x", "credit": 5}], [{"below": True, "credit": 5}],
    [{"below": "99", "credit": 5}, {"below": "99.0", "credit": 6}],
])
def test_bad_tiers_are_a_field_error(platform_admin, tenant_a, tiers):
    with pytest.raises(ValidationError) as error:
        services.organization_update(
            actor=platform_admin, organization=tenant_a, contract={"sla_credit_tiers": tiers}
        )
    assert "sla_credit_tiers" in error.value.message_dict


def test_the_api_takes_tiers(api, platform_admin, tenant_a):
    api.force_authenticate(platform_admin)
    response = api.patch("/api/v1/organizations/acme/", {"contract": {
        "sla_credit_tiers": [{"below": "99.9", "credit": 10}]}}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["contract"]["sla_credit_tiers"] == [{"below": "99.9", "credit": 10}]
    response = api.patch("/api/v1/organizations/acme/", {"contract": {
        "sla_credit_tiers": [{"below": "200", "credit": 10}]}}, format="json")
    assert response.status_code == 400 and "sla_credit_tiers" in str(response.json())
