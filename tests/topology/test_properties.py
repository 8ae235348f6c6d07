"""Properties (hypothesis): availability arithmetic behaves as redundancy should, and a
failure never reaches a tenant that uses none of the failed elements."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from caredeck.topology.availability import area_availability, k_of_n, parallel, serial
from caredeck.topology.impact import impact_of
from caredeck.topology.models import (
    AreaScope,
    Connectivity,
    Deployment,
    FunctionalArea,
    Pop,
    Region,
    Zone,
)
from tests.factories import OrganizationFactory

availability = st.one_of(
    st.floats(min_value=0, max_value=1, allow_nan=False),
    st.sampled_from([0.0, 0.5, 0.9, 0.99, 0.999, 0.9995, 0.9999, 0.99999, 1.0]),
)
availabilities = st.lists(availability, min_size=1, max_size=8)

SETTINGS = settings(max_examples=200, deadline=None, database=None)


@SETTINGS
@given(availabilities)
def test_serial_is_at_most_the_weakest_member(members):
    assert serial(*members) <= min(members)


@SETTINGS
@given(availabilities)
def test_parallel_is_at_least_the_strongest_member(members):
    assert parallel(*members) >= max(members)


@SETTINGS
@given(availabilities, availability)
def test_a_parallel_member_more_never_lowers_availability(members, extra):
    assert parallel(*members, extra) >= parallel(*members)


@SETTINGS
@given(availabilities, availability)
def test_a_serial_member_more_never_raises_availability(members, extra):
    assert serial(*members, extra) <= serial(*members)


@SETTINGS
@given(availabilities, availability, st.integers(min_value=0, max_value=9))
def test_a_k_of_n_member_more_never_lowers_availability(members, extra, k):
    assert k_of_n(k, [*members, extra]) >= k_of_n(k, members)


@SETTINGS
@given(availabilities, st.integers(min_value=0, max_value=8))
def test_needing_more_members_never_raises_availability(members, k):
    assert k_of_n(k + 1, members) <= k_of_n(k, members)


@SETTINGS
@given(availabilities)
def test_k_of_n_spans_serial_to_parallel(members):
    assert k_of_n(1, members) == parallel(*members)
    assert k_of_n(len(members), members) == serial(*members)


class _Deployment:
    def __init__(self, secondary: bool):
        self.secondary_region_id = 2 if secondary else None


@SETTINGS
@given(availabilities, st.sampled_from(list(AreaScope)))
def test_a_secondary_region_or_a_standby_never_lowers_an_areas_availability(members, scope):
    area = FunctionalArea(
        slug="x", name="X", scope=scope,
        components=[{"name": f"c{n}", "availability": a} for n, a in enumerate(members)],
    )
    single = area_availability(area, _Deployment(secondary=False))
    assert area_availability(area, _Deployment(secondary=True)) >= single
    area.standby_region_id = 1
    assert area_availability(area, _Deployment(secondary=False)) >= single


# --- Impact ---------------------------------------------------------------------------


@pytest.fixture
def catalog(db):
    """The reference catalog as plain data, and a pool of tenants to deploy."""
    regions = list(Region.objects.values_list("slug", flat=True))
    pops = list(Pop.objects.values_list("slug", flat=True))
    targets = regions + pops + list(Zone.objects.values_list("slug", flat=True))
    areas = list(FunctionalArea.objects.values_list("slug", flat=True))
    tenants = [OrganizationFactory(slug=f"prop-{n}") for n in range(6)]
    return {"regions": regions, "pops": pops, "targets": targets, "areas": areas,
            "tenants": tenants}


@st.composite
def deployments_and_target(draw, catalog):
    specs = []
    for organization in draw(
        st.lists(st.sampled_from(catalog["tenants"]), min_size=1, max_size=6, unique=True)
    ):
        primary, secondary = draw(
            st.lists(st.sampled_from(catalog["regions"]), min_size=2, max_size=2, unique=True)
        )
        specs.append({
            "organization": organization,
            "primary": primary,
            "secondary": secondary if draw(st.booleans()) else None,
            "pops": draw(
                st.lists(st.sampled_from(catalog["pops"]), min_size=2, max_size=2, unique=True)
            ),
            "connectivity": draw(st.sampled_from(Connectivity.values)),
            "areas": draw(st.lists(st.sampled_from(catalog["areas"]), unique=True)),
        })
    return specs, draw(st.sampled_from(catalog["targets"]))


def _uses_failed_element(spec: dict, target: str) -> bool:
    """Does the tenant use the failed element at all: run primarily in the region (or
    the zone's region), use a centralized area homed there, or reach the PoP?"""
    if Pop.objects.filter(slug=target).exists():
        return target in spec["pops"]
    zone = Zone.objects.filter(slug=target).select_related("region").first()
    region = zone.region.slug if zone else target
    homed = set(
        FunctionalArea.objects.filter(
            scope=AreaScope.CENTRALIZED, home_region__slug=region
        ).values_list("slug", flat=True)
    )
    return spec["primary"] == region or bool(homed & set(spec["areas"]))


@settings(
    max_examples=60, deadline=None, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_a_failure_never_affects_a_tenant_that_uses_none_of_the_failed_elements(catalog, data):
    specs, target = data.draw(deployments_and_target(catalog))
    Deployment.objects.all().delete()  # each example starts from its own deployments
    regions = {r.slug: r for r in Region.objects.all()}
    for spec in specs:
        deployment = Deployment.objects.create(
            organization=spec["organization"], primary_region=regions[spec["primary"]],
            secondary_region=regions.get(spec["secondary"]), connectivity=spec["connectivity"],
        )
        deployment.pops.set(Pop.objects.filter(slug__in=spec["pops"]))
        deployment.areas.set(FunctionalArea.objects.filter(slug__in=spec["areas"]))

    result = impact_of(target=target)

    by_slug = {spec["organization"].slug: spec for spec in specs}
    affected = {t["organization"]: t for t in result["tenants"]}
    assert set(affected) | set(result["not_affected"]) == set(by_slug)
    assert not set(affected) & set(result["not_affected"])
    for slug, tenant in affected.items():
        spec = by_slug[slug]
        assert _uses_failed_element(spec, target), (target, spec)
        # ... and only in areas it uses.
        assert {a["area"] for a in tenant["areas"]} <= set(spec["areas"])
    for slug in result["not_affected"]:
        if not by_slug[slug]["areas"]:
            continue
        # In the reference matrix every PoP cell has a text but one (workforce
        # management over the internet): with two areas, reaching the PoP costs something.
        if target in by_slug[slug]["pops"] and len(by_slug[slug]["areas"]) > 1:
            pytest.fail(f"{slug} reaches {target} but is not affected")
