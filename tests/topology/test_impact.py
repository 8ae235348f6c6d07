"""Impact analysis against the reference catalog: for each failure type, tenants in each
situation get exactly the cells of the source document's failure-mode matrix
(spec_failure_modes.yaml beside this file is a verbatim copy of
../shared/spec/failure-modes.yaml)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from django.core.exceptions import ValidationError

from caredeck.accounts.models import Organization
from caredeck.core.models import AuditEntry
from caredeck.topology.impact import SEVERITIES, impact_of
from caredeck.topology.models import (
    AreaScope,
    Connectivity,
    Deployment,
    FunctionalArea,
    Pop,
    Region,
)
from tests.factories import OrganizationFactory

SPEC = yaml.safe_load((Path(__file__).parent / "spec_failure_modes.yaml").read_text())
ALL_AREAS = list(SPEC["functional_areas"])
CENTRALIZED_IN_US_EAST = [
    slug for slug, area in SPEC["functional_areas"].items() if area.get("home") == "US East"
]
NOT_CENTRALIZED = [slug for slug in ALL_AREAS if slug not in CENTRALIZED_IN_US_EAST]


def deploy(
    organization: Organization,
    primary: str,
    secondary: str | None,
    pops: tuple[str, str],
    connectivity: str,
    areas: list[str],
) -> Deployment:
    """A deployment written directly (the service and its audit are tested elsewhere)."""
    deployment = Deployment.objects.create(
        organization=organization,
        primary_region=Region.objects.get(slug=primary),
        secondary_region=Region.objects.get(slug=secondary) if secondary else None,
        connectivity=connectivity,
    )
    deployment.pops.set(Pop.objects.filter(slug__in=pops))
    deployment.areas.set(FunctionalArea.objects.filter(slug__in=areas))
    return deployment


def expected_cells(failure: str, areas: list[str]) -> dict[str, dict]:
    """The spec's cells of `failure` for `areas`, leaving out "none" in all three texts."""
    cells = {}
    for area in areas:
        cell = SPEC["impact"][failure][area]
        texts = {k: cell[k] for k in ("operational", "agent", "customer")}
        if all(t == "none" for t in texts.values()):
            continue
        cells[area] = {**texts, "data_lost": cell.get("data_lost", False)}
    return cells


def cells_of(result: dict, slug: str) -> dict[str, dict] | None:
    for tenant in result["tenants"]:
        if tenant["organization"] == slug:
            return {
                a["area"]: {
                    k: a[k] for k in ("operational", "agent", "customer", "data_lost")
                }
                for a in tenant["areas"]
            }
    return None


@pytest.fixture
def world(db):
    """Tenants in each situation, all on the reference catalog."""
    specs = {
        # name: (primary, secondary, pops, connectivity, areas)
        "east-line": ("us-east", "us-west", ("pop-ashburn", "pop-san-jose"),
                      Connectivity.PRIVATE_LINE, ALL_AREAS),
        "east-net": ("us-east", "us-west", ("pop-ashburn", "pop-san-jose"),
                     Connectivity.INTERNET, ALL_AREAS),
        "west-line": ("us-west", "us-east", ("pop-ashburn", "pop-san-jose"),
                      Connectivity.PRIVATE_LINE, ALL_AREAS),
        "eu-net": ("eu-west-1", "eu-west-2", ("pop-london", "pop-frankfurt"),
                   Connectivity.INTERNET, ALL_AREAS),
        "eu-voice-only": ("eu-west-1", "eu-west-2", ("pop-london", "pop-frankfurt"),
                          Connectivity.PRIVATE_LINE, NOT_CENTRALIZED),
    }
    tenants = {}
    for slug, (primary, secondary, pops, connectivity, areas) in specs.items():
        org = OrganizationFactory(slug=slug, name=f"Tenant {slug}")
        deploy(org, primary, secondary, pops, connectivity, areas)
        tenants[slug] = org
    return tenants


def test_the_reference_catalog_is_there(db):
    assert FunctionalArea.objects.count() == 13
    centralized = FunctionalArea.objects.filter(
        scope=AreaScope.CENTRALIZED, home_region__slug="us-east"
    )
    assert sorted(centralized.values_list("slug", flat=True)) == sorted(CENTRALIZED_IN_US_EAST)


# --- Region failure ---------------------------------------------------------------------


def test_region_failure_hits_every_area_of_tenants_with_that_primary(world):
    result = impact_of(target="us-east")
    assert result["failure"] == "region_failure"
    expected = expected_cells("region_failure", ALL_AREAS)
    assert len(expected) == 13  # every area has something to say when the region fails
    assert cells_of(result, "east-line") == expected
    assert cells_of(result, "east-net") == expected


def test_region_failure_hits_centralized_areas_homed_there_for_everyone(world):
    result = impact_of(target="us-east")
    expected = expected_cells("region_failure", CENTRALIZED_IN_US_EAST)
    # wfm_feed has a standby in US West: it still switches over, as its cell says.
    assert "wfm_feed" in expected
    assert cells_of(result, "west-line") == expected
    assert cells_of(result, "eu-net") == expected


def test_region_failure_spares_tenants_using_nothing_there(world):
    result = impact_of(target="us-east")
    assert cells_of(result, "eu-voice-only") is None
    assert result["not_affected"] == ["eu-voice-only"]
    assert result["summary"]["tenants_affected"] == 4
    assert result["summary"]["tenants_not_affected"] == 1


def test_a_secondary_or_standby_region_failing_affects_nobody_else(world):
    result = impact_of(target="us-west")
    assert [t["organization"] for t in result["tenants"]] == ["west-line"]
    assert cells_of(result, "west-line") == expected_cells("region_failure", ALL_AREAS)
    assert sorted(result["not_affected"]) == ["east-line", "east-net", "eu-net", "eu-voice-only"]


def test_region_failure_outside_the_us_hits_its_tenants_only(world):
    result = impact_of(target="eu-west-1")
    assert cells_of(result, "eu-net") == expected_cells("region_failure", ALL_AREAS)
    assert cells_of(result, "eu-voice-only") == expected_cells("region_failure", NOT_CENTRALIZED)
    assert sorted(result["not_affected"]) == ["east-line", "east-net", "west-line"]


# --- Zone failure ---------------------------------------------------------------------


def test_zone_failure_hits_what_runs_in_the_zone(world):
    result = impact_of(target="us-east-b")
    assert result["failure"] == "az_failure"
    assert result["element"] == "zone"
    every = expected_cells("az_failure", ALL_AREAS)
    assert sorted(every) == ["historical_feed", "provisioning", "reporting", "wfm_feed"]
    assert cells_of(result, "east-line") == every
    # Centralized areas homed in the zone's region run in the zone too.
    assert cells_of(result, "eu-net") == expected_cells("az_failure", CENTRALIZED_IN_US_EAST)
    assert cells_of(result, "west-line") == expected_cells("az_failure", CENTRALIZED_IN_US_EAST)
    # Only "none" cells for what a voice-only tenant uses: not affected.
    assert cells_of(result, "eu-voice-only") is None


def test_zone_failure_in_another_region_spares_the_us_tenants(world):
    result = impact_of(target="eu-west-1-a")
    assert cells_of(result, "eu-net") == expected_cells("az_failure", ALL_AREAS)
    assert cells_of(result, "east-line") is None
    assert "east-line" in result["not_affected"]


# --- PoP failures ---------------------------------------------------------------------


def test_pop_failure_gives_each_tenant_the_cells_of_its_connectivity(world):
    result = impact_of(target="pop-ashburn")
    assert result["failure"] is None  # it depends on the tenant
    assert {t["id"] for t in result["failure_types"]} == {
        "pop_failure_private_line", "pop_failure_internet"
    }
    assert cells_of(result, "east-line") == expected_cells("pop_failure_private_line", ALL_AREAS)
    assert cells_of(result, "west-line") == expected_cells("pop_failure_private_line", ALL_AREAS)
    assert cells_of(result, "east-net") == expected_cells("pop_failure_internet", ALL_AREAS)
    by_slug = {t["organization"]: t for t in result["tenants"]}
    assert by_slug["east-line"]["failure"] == "pop_failure_private_line"
    assert by_slug["east-net"]["failure"] == "pop_failure_internet"
    # Workforce management has no impact over the internet.
    assert "wfm" not in cells_of(result, "east-net")
    assert sorted(result["not_affected"]) == ["eu-net", "eu-voice-only"]


def test_pop_failure_in_europe(world):
    result = impact_of(target="pop-frankfurt")
    assert cells_of(result, "eu-net") == expected_cells("pop_failure_internet", ALL_AREAS)
    assert cells_of(result, "eu-voice-only") == expected_cells(
        "pop_failure_private_line", NOT_CENTRALIZED
    )
    assert sorted(result["not_affected"]) == ["east-line", "east-net", "west-line"]


def test_an_explicit_failure_type_applies_to_everyone_hit(world):
    result = impact_of(target="pop-ashburn", failure="pop_failure_internet")
    assert result["failure"] == "pop_failure_internet"
    assert cells_of(result, "east-line") == expected_cells("pop_failure_internet", ALL_AREAS)


def test_a_pop_nobody_reaches_affects_nobody(world):
    result = impact_of(target="pop-mumbai")
    assert result["tenants"] == []
    assert len(result["not_affected"]) == 5


# --- Order, totals, scope -------------------------------------------------------------


def test_areas_and_tenants_are_sorted_by_severity(world):
    result = impact_of(target="pop-ashburn")
    order = {label: n for n, label in enumerate(SEVERITIES)}
    for tenant in result["tenants"]:
        ranks = [order[a["severity"]] for a in tenant["areas"]]
        assert ranks == sorted(ranks)
        assert tenant["severity"] == tenant["areas"][0]["severity"]
    # Voicemail being recorded through the PoP is lost: that comes first.
    first = result["tenants"][0]["areas"][0]
    assert first["area"] == "voicemail"
    assert first["data_lost"] is True
    worst = [order[t["severity"]] for t in result["tenants"]]
    assert worst == sorted(worst)


def test_tenants_with_the_same_severity_are_sorted_by_name(world):
    result = impact_of(target="us-east")
    east = [t["organization"] for t in result["tenants"] if t["organization"].startswith("east")]
    assert east == ["east-line", "east-net"]


def test_the_summary_counts_tenants(world):
    result = impact_of(target="us-east")
    summary = result["summary"]
    # Callers' active calls drop: call routing (primary) and outbound (centralized).
    assert summary["tenants_with_dropped_calls"] == 4
    assert summary["tenants_with_data_loss"] == 0
    assert summary["tenants_with_service_unavailable"] == 4  # chat, WFM, ... are down
    assert summary["areas"]["outbound"] == 4
    assert summary["areas"]["call_routing"] == 2

    pop = impact_of(target="pop-ashburn")["summary"]
    assert pop["tenants_with_data_loss"] == 3
    assert pop["tenants_with_dropped_calls"] == 3


def test_organizations_restrict_the_answer(world):
    result = impact_of(
        target="us-east", organizations=Organization.objects.filter(slug="east-net")
    )
    assert [t["organization"] for t in result["tenants"]] == ["east-net"]
    assert result["not_affected"] == []
    assert result["summary"]["tenants_affected"] == 1


def test_deactivated_tenants_are_left_out(world):
    Organization.objects.filter(slug="east-line").update(is_active=False)
    result = impact_of(target="us-east")
    assert "east-line" not in [t["organization"] for t in result["tenants"]]
    assert "east-line" not in result["not_affected"]


def test_it_writes_nothing_and_needs_few_queries(world, django_assert_max_num_queries):
    before = (AuditEntry.objects.count(), Deployment.objects.count())
    with django_assert_max_num_queries(10):
        impact_of(target="us-east-a")
    with django_assert_max_num_queries(10):
        impact_of(target="pop-ashburn")
    assert (AuditEntry.objects.count(), Deployment.objects.count()) == before


def test_the_cells_follow_the_catalog_not_a_copy(world):
    from caredeck.topology.models import FailureImpact

    FailureImpact.objects.filter(
        failure_type__slug="region_failure", area__slug="voicemail"
    ).update(operational="none", agent="none", customer="none")
    result = impact_of(target="us-east")
    assert "voicemail" not in cells_of(result, "east-line")


# --- Bad questions --------------------------------------------------------------------


@pytest.mark.parametrize("target", ["mars-north", "", "US East", "us-east\x00", None, 42])
def test_an_unknown_target_is_a_field_error(db, target):
    with pytest.raises(ValidationError) as caught:
        impact_of(target=target)
    assert "target" in caught.value.message_dict


def test_an_unknown_failure_type_is_a_field_error(db):
    with pytest.raises(ValidationError) as caught:
        impact_of(target="us-east", failure="meteor_strike")
    assert "failure" in caught.value.message_dict


def test_a_failure_type_of_another_element_is_refused(db):
    with pytest.raises(ValidationError) as caught:
        impact_of(target="us-east", failure="az_failure")
    assert "failure" in caught.value.message_dict
