"""Designed availability: the arithmetic, and each tenant's areas beside its contract."""

from __future__ import annotations

from decimal import Decimal

import pytest

from caredeck.topology.availability import (
    area_availability,
    k_of_n,
    parallel,
    serial,
    tenant_availability,
)
from caredeck.topology.models import Connectivity, FunctionalArea
from tests.factories import OrganizationFactory
from tests.topology.test_impact import ALL_AREAS, deploy


def test_serial_multiplies():
    assert serial(0.9, 0.9) == pytest.approx(0.81)
    assert serial([0.99, 0.5]) == pytest.approx(0.495)
    assert serial() == 1.0


def test_parallel_needs_one_of_them():
    assert parallel(0.9, 0.9) == pytest.approx(0.99)
    assert parallel(0.999, 0.99) == pytest.approx(1 - 0.001 * 0.01)
    assert parallel() == 0.0


def test_k_of_n_with_identical_members():
    assert k_of_n(2, [0.9] * 3) == pytest.approx(3 * 0.9**2 * 0.1 + 0.9**3)
    assert k_of_n(0, [0.5]) == 1.0
    assert k_of_n(4, [0.9] * 3) == 0.0


def test_k_of_n_with_members_that_differ():
    a, b, c = 0.9, 0.8, 0.7
    at_least_two = a * b * (1 - c) + a * (1 - b) * c + (1 - a) * b * c + a * b * c
    assert k_of_n(2, [a, b, c]) == pytest.approx(at_least_two)


def test_k_of_n_is_parallel_or_serial_at_the_ends():
    members = [0.99, 0.95, 0.9]
    assert k_of_n(1, members) == parallel(*members)
    assert k_of_n(3, members) == serial(*members)


@pytest.mark.parametrize("bad", [1.5, -0.1, "x", True, None, float("nan")])
def test_an_availability_is_a_probability(bad):
    with pytest.raises(ValueError):
        serial(bad)


def test_decimals_and_strings_are_availabilities_too():
    assert serial(Decimal("0.5"), "0.5") == 0.25


# --- Areas and tenants ----------------------------------------------------------------


def _area(scope: str, components: list[float], standby: bool = False) -> FunctionalArea:
    area = FunctionalArea(
        slug="x", name="X", scope=scope,
        components=[{"name": f"c{n}", "availability": a} for n, a in enumerate(components)],
    )
    area.standby_region_id = 1 if standby else None
    return area


class _Deployment:
    def __init__(self, secondary: bool):
        self.secondary_region_id = 2 if secondary else None


def test_a_distributed_area_runs_in_both_regions_of_the_tenant():
    area = _area("distributed", [0.999, 0.999])
    chain = 0.999 * 0.999
    assert area_availability(area, _Deployment(secondary=False)) == pytest.approx(chain)
    assert area_availability(area, _Deployment(secondary=True)) == pytest.approx(
        1 - (1 - chain) ** 2
    )


def test_a_centralized_area_runs_in_its_home_region_whatever_the_tenant():
    area = _area("centralized", [0.999])
    assert area_availability(area, _Deployment(secondary=True)) == pytest.approx(0.999)
    with_standby = _area("centralized", [0.999], standby=True)
    assert area_availability(with_standby, _Deployment(secondary=False)) == pytest.approx(
        1 - 0.001**2
    )


def test_components_may_be_redundant_groups():
    area = FunctionalArea(
        slug="x", name="X", scope="centralized",
        components=[{"name": "SBC", "availability": 0.99, "instances": 2, "needed": 1}],
    )
    assert area_availability(area) == pytest.approx(1 - 0.01**2)


def test_an_area_without_figures_has_no_designed_availability():
    assert area_availability(_area("distributed", [])) is None


@pytest.fixture
def tenant(db):
    org = OrganizationFactory(slug="acme", name="Acme")
    deploy(org, "us-east", "us-west", ("pop-ashburn", "pop-san-jose"),
           Connectivity.PRIVATE_LINE, ALL_AREAS)
    return org


def test_it_flags_the_areas_that_cannot_meet_the_contract(tenant):
    rows = {r["area"]: r for r in tenant_availability(tenant)}
    assert sorted(rows) == sorted(ALL_AREAS)
    assert all(r["target"] == pytest.approx(0.9999) for r in rows.values())
    # Call routing runs in two regions: far above 99.99 %.
    assert rows["call_routing"]["meets_target"] is True
    assert rows["call_routing"]["availability"] > 0.99999
    # Provisioning is centralized without a standby: its chain alone, below 99.99 %.
    assert rows["provisioning"]["availability"] == pytest.approx(0.9995 * 0.9999)
    assert rows["provisioning"]["meets_target"] is False
    # The WFM feed has a standby region.
    assert rows["wfm_feed"]["availability"] == pytest.approx(1 - 0.0005**2)
    assert rows["wfm_feed"]["meets_target"] is True


def test_the_target_is_the_contracts(tenant):
    tenant.contract.availability_target = Decimal("99.900")
    tenant.contract.save()
    tenant.refresh_from_db()
    rows = {r["area"]: r for r in tenant_availability(tenant)}
    assert rows["provisioning"]["target"] == pytest.approx(0.999)
    assert rows["provisioning"]["meets_target"] is True


def test_a_tenant_without_a_deployment_has_no_rows(db):
    assert tenant_availability(OrganizationFactory(slug="nowhere")) == []
