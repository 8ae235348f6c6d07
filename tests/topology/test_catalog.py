"""The catalog as one document: the reference catalog after migrate, export and import,
validation with lines, and the refusal to break a tenant's deployment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from django.core.exceptions import PermissionDenied, ValidationError

from caredeck.accounts.roles import OrganizationKind
from caredeck.core.models import AuditEntry
from caredeck.topology.catalog import (
    CatalogError,
    catalog_dump_json,
    catalog_dump_yaml,
    catalog_export,
    catalog_import,
    catalog_parse,
    load_reference_catalog_if_empty,
    reference_catalog_text,
)
from caredeck.topology.models import (
    AreaScope,
    Connectivity,
    Deployment,
    FailedElement,
    FailureImpact,
    FailureType,
    FunctionalArea,
    Geography,
    Pop,
    Region,
    Zone,
)
from tests.factories import OrganizationFactory

# A verbatim copy of ../shared/spec/failure-modes.yaml, kept beside the impact tests.
SPEC = yaml.safe_load((Path(__file__).parent / "spec_failure_modes.yaml").read_text())

MINIMAL = """\
version: 1
geographies:
  us: {name: United States}
regions:
  us-east:
    name: US East
    geography: us
    zones:
      us-east-a: {name: US East A}
pops:
  pop-ashburn: {name: Ashburn, geography: us, regions: [us-east]}
functional_areas:
  call_routing:
    name: Call routing
    scope: distributed
    components:
      - {name: SIP server, availability: 0.9999}
failure_types:
  region_failure: {name: Region failure, element: region}
impact:
  region_failure:
    call_routing: {operational: "Calls lost.", agent: none, customer: "Active calls dropped."}
"""


def deploy(org, primary, secondary=None, pops=(), areas=(), connectivity=Connectivity.INTERNET):
    deployment = Deployment.objects.create(
        organization=org,
        primary_region=Region.objects.get(slug=primary),
        secondary_region=Region.objects.get(slug=secondary) if secondary else None,
        connectivity=connectivity,
    )
    deployment.pops.set(Pop.objects.filter(slug__in=pops))
    deployment.areas.set(FunctionalArea.objects.filter(slug__in=areas))
    return deployment


def catalog_entries():
    return AuditEntry.objects.filter(object_kind="organization", action__startswith="catalog_")


def line_marked(text: str, marker: str) -> int:
    """The 1-based line of `text` that carries `# marker`."""
    found = [n for n, line in enumerate(text.splitlines(), 1) if line.endswith(f"# {marker}")]
    assert len(found) == 1, marker
    return found[0]


# --- The reference catalog ----------------------------------------------------------------


def test_the_reference_catalog_is_there_after_migrate(db):
    assert FunctionalArea.objects.count() == 13
    assert FailureType.objects.count() == 4
    assert FailureImpact.objects.count() == 52
    assert Region.objects.count() >= 10
    for region in Region.objects.all():
        assert region.zones.count() == 3, region.slug
        assert sorted(region.zones.values_list("slug", flat=True)) == [
            f"{region.slug}-a",
            f"{region.slug}-b",
            f"{region.slug}-c",
        ]
    assert sorted(Geography.objects.values_list("slug", flat=True)) == [
        "apac",
        "canada",
        "emea",
        "india",
        "us",
    ]
    for geography in Geography.objects.all():
        pops = list(geography.pops.all())
        assert len(pops) == 2, geography.slug
        for pop in pops:
            # Each PoP reaches the regions of its geography.
            assert set(pop.regions.all()) == set(geography.regions.all()), pop.slug
    assert set(Pop.objects.filter(geography__slug="us").values_list("slug", flat=True)) == {
        "pop-ashburn",
        "pop-san-jose",
    }


def test_the_reference_areas_follow_the_source_document(db):
    for slug, source in SPEC["functional_areas"].items():
        area = FunctionalArea.objects.get(slug=slug)
        assert (area.name, area.services, area.scope) == (
            source["name"],
            source["services"],
            source["scope"],
        )
        if source["scope"] == AreaScope.CENTRALIZED:
            assert area.home_region.slug == "us-east", slug
        else:
            assert area.home_region is None, slug
        assert area.components, slug
        assert all(0.999 <= c["availability"] <= 1 for c in area.components), slug
    assert FunctionalArea.objects.get(slug="wfm_feed").standby_region.slug == "us-west"
    assert list(FunctionalArea.objects.values_list("slug", flat=True)) == list(
        SPEC["functional_areas"]
    )


def test_the_reference_failure_types_name_the_element_that_fails(db):
    rows = {f.slug: (f.name, f.element, f.connectivity) for f in FailureType.objects.all()}
    assert rows == {
        "az_failure": (SPEC["failure_types"]["az_failure"]["name"], FailedElement.ZONE, ""),
        "region_failure": (
            SPEC["failure_types"]["region_failure"]["name"],
            FailedElement.REGION,
            "",
        ),
        "pop_failure_private_line": (
            SPEC["failure_types"]["pop_failure_private_line"]["name"],
            FailedElement.POP,
            Connectivity.PRIVATE_LINE,
        ),
        "pop_failure_internet": (
            SPEC["failure_types"]["pop_failure_internet"]["name"],
            FailedElement.POP,
            Connectivity.INTERNET,
        ),
    }


def test_the_reference_cells_are_the_source_texts_in_force(db):
    cells = {
        (c.failure_type.slug, c.area.slug): c
        for c in FailureImpact.objects.select_related("failure_type", "area")
    }
    assert len(cells) == 52
    for failure, row in SPEC["impact"].items():
        for area, source in row.items():
            cell = cells[(failure, area)]
            # The later revision is in force, never the "earlier:" one.
            assert (cell.operational, cell.agent, cell.customer) == (
                source["operational"],
                source["agent"],
                source["customer"],
            ), (failure, area)
            assert cell.data_lost is source.get("data_lost", False), (failure, area)


def test_the_reference_flags_follow_the_stated_rule(db):
    def flagged(flag):
        return {
            (c.failure_type.slug, c.area.slug)
            for c in FailureImpact.objects.filter(**{flag: True}).select_related(
                "failure_type", "area"
            )
        }

    assert flagged("data_lost") == {
        ("pop_failure_private_line", "voicemail"),
        ("pop_failure_internet", "voicemail"),
    }
    for failure, area in flagged("delayed"):
        cell = FailureImpact.objects.get(failure_type__slug=failure, area__slug=area)
        texts = f"{cell.operational} {cell.customer}"
        assert "Delayed" in texts or "retroactively" in texts or "not executed until" in texts
    assert ("az_failure", "reporting") in flagged("delayed")
    assert ("region_failure", "callback") in flagged("delayed")
    unavailable = flagged("service_unavailable")
    assert ("region_failure", "chat_email") in unavailable
    assert ("region_failure", "wfm") in unavailable
    assert not any(failure == "az_failure" for failure, _ in unavailable)
    # Agents reconnect and calls go to the secondary: call routing goes on.
    assert ("region_failure", "call_routing") not in unavailable
    for failure, area in unavailable:
        cell = FailureImpact.objects.get(failure_type__slug=failure, area__slug=area)
        assert "until" in cell.operational or "unavailable" in cell.customer, (failure, area)


def test_the_export_is_the_reference_file(db):
    assert catalog_export() == catalog_parse(reference_catalog_text())


# --- Export and import round trips -------------------------------------------------------


def test_an_export_imported_again_changes_nothing(db):
    before = catalog_export()
    summary = catalog_import(actor=None, text=catalog_dump_yaml())
    assert summary["changed"] is False
    assert summary["totals"]["impact"] == 52
    assert catalog_export() == before


def test_the_json_export_round_trips_too(db):
    text = catalog_dump_json()
    assert json.loads(text) == catalog_export()
    summary = catalog_import(actor=None, text=text, fmt="json")
    assert summary["changed"] is False
    assert catalog_import(actor=None, data=json.loads(text))["changed"] is False


def test_an_edited_export_comes_back_as_edited(db, platform_admin):
    data = catalog_export()
    data["regions"]["us-east"]["name"] = "US East (Virginia)"
    data["regions"]["us-east"]["zones"]["us-east-d"] = {"name": "US East D"}
    data["functional_areas"]["wfm"]["components"][0]["availability"] = 0.99999
    data["impact"]["region_failure"]["wfm"]["customer"] = "Schedules are not published."
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    catalog_import(actor=platform_admin, text=text)
    assert catalog_export() == data
    assert catalog_parse(catalog_dump_yaml()) == data


def test_an_import_replaces_the_catalog_and_is_audited_once(db, platform_admin, provider):
    before = catalog_entries().count()
    summary = catalog_import(actor=platform_admin, text=MINIMAL)
    assert summary["totals"] == {
        "geographies": 1,
        "regions": 1,
        "zones": 1,
        "pops": 1,
        "functional_areas": 1,
        "failure_types": 1,
        "impact": 1,
    }
    assert summary["deleted"]["regions"] == 9
    assert summary["updated"]["zones"] == 0  # us-east-a is as it was
    assert summary["updated"]["pops"] == 1  # pop-ashburn now reaches us-east only
    assert summary["updated"]["functional_areas"] == 1
    assert list(Region.objects.values_list("slug", flat=True)) == ["us-east"]
    assert Pop.objects.get().regions.get().slug == "us-east"
    cell = FailureImpact.objects.get()
    assert (cell.failure_type.slug, cell.area.slug, cell.operational) == (
        "region_failure",
        "call_routing",
        "Calls lost.",
    )
    assert catalog_entries().count() == before + 1
    entry = catalog_entries().latest("id")
    assert (entry.action, entry.actor, entry.organization) == (
        "catalog_imported",
        platform_admin,
        provider,
    )
    assert entry.changes["regions"] == [10, 1]
    assert "regions:us-west" in entry.changes["deleted"][0]


def test_an_import_keeps_the_order_of_areas_and_failure_types(db):
    data = catalog_export()
    order = list(reversed(data["functional_areas"]))
    data["functional_areas"] = {slug: data["functional_areas"][slug] for slug in order}
    catalog_import(actor=None, data=data)
    assert list(FunctionalArea.objects.values_list("slug", flat=True)) == order
    assert list(catalog_export()["functional_areas"]) == order


def test_a_dry_run_changes_nothing_but_says_what_it_would_do(db):
    before = catalog_export()
    entries = AuditEntry.objects.count()
    summary = catalog_import(actor=None, text=MINIMAL, dry_run=True)
    assert summary["dry_run"] is True
    assert summary["deleted"]["regions"] == 9
    assert catalog_export() == before
    assert AuditEntry.objects.count() == entries


def test_only_platform_admins_import(db, care_analyst, admin_a):
    before = catalog_export()
    for user in (care_analyst, admin_a):
        with pytest.raises(PermissionDenied):
            catalog_import(actor=user, text=MINIMAL)
    assert catalog_export() == before


# --- Validation --------------------------------------------------------------------------

BROKEN = """\
version: 1
geographies:
  us: {name: United States}
  us: {name: USA}  # duplicate
regions:
  us-east:
    name: US East
    geography: mars  # unknown-geography
    colour: red  # unknown-field
    zones:
      us-east-a: {name: US East A}
pops:
  pop-ashburn: {name: Ashburn, geography: us, regions: [us-east, us-west]}  # unknown-region
functional_areas:
  call_routing:
    name: Call routing
    scope: everywhere  # bad-scope
    components:
      - {name: SIP server, availability: 1.5}  # bad-availability
failure_types:
  region_failure: {name: Region failure, element: region}
impact:
  region_failure:
    call_routing: {operational: "Lost.", agent: none, customer: none, data_lost: maybe}  # bad-flag
  meteor_strike:  # unknown-failure
    call_routing: {operational: none, agent: none, customer: none}
"""


def test_a_file_with_several_errors_reports_each_with_its_line_and_changes_nothing(db):
    before = catalog_export()
    entries = AuditEntry.objects.count()
    with pytest.raises(CatalogError) as caught:
        catalog_import(actor=None, text=BROKEN)
    found = {(e["line"], e["path"]) for e in caught.value.errors}
    assert found == {
        (line_marked(BROKEN, "duplicate"), "geographies.us"),
        (line_marked(BROKEN, "unknown-geography"), "regions.us-east.geography"),
        (line_marked(BROKEN, "unknown-field"), "regions.us-east.colour"),
        (line_marked(BROKEN, "unknown-region"), "pops.pop-ashburn.regions[1]"),
        (line_marked(BROKEN, "bad-scope"), "functional_areas.call_routing.scope"),
        (
            line_marked(BROKEN, "bad-availability"),
            "functional_areas.call_routing.components[0].availability",
        ),
        (line_marked(BROKEN, "bad-flag"), "impact.region_failure.call_routing.data_lost"),
        (line_marked(BROKEN, "unknown-failure"), "impact.meteor_strike"),
    }
    # In the order of the file, each saying what is wrong.
    lines = [e["line"] for e in caught.value.errors]
    assert lines == sorted(lines)
    messages = {e["path"]: e["message"] for e in caught.value.errors}
    assert "mars" in messages["regions.us-east.geography"]
    assert "us-west" in messages["pops.pop-ashburn.regions[1]"]
    assert "also on line 3" in messages["geographies.us"]
    assert catalog_export() == before
    assert AuditEntry.objects.count() == entries


def test_the_errors_read_as_a_validation_error(db):
    with pytest.raises(ValidationError) as caught:
        catalog_import(actor=None, text=BROKEN)
    messages = caught.value.message_dict["catalog"]
    line = line_marked(BROKEN, "unknown-geography")
    assert any(m.startswith(f"line {line}: regions.us-east.geography: ") for m in messages)


def test_a_syntax_error_is_reported_with_its_line(db):
    text = MINIMAL.replace("regions: [us-east]}", "regions: [us-east}")
    with pytest.raises(CatalogError) as caught:
        catalog_parse(text)
    [error] = caught.value.errors
    assert error["line"] == 11
    assert error["message"].startswith("Not valid YAML")


def test_missing_sections_cells_and_fields_are_reported(db):
    text = MINIMAL.replace(
        "  region_failure: {name: Region failure, element: region}",
        "  region_failure: {name: Region failure, element: region}\n"
        "  pop_failure: {name: PoP failure, element: pop}",
    ).replace("    name: US East\n", "")
    with pytest.raises(CatalogError) as caught:
        catalog_parse(text)
    messages = [(e["path"], e["message"]) for e in caught.value.errors]
    assert ("regions.us-east", "Missing field 'name'.") in messages
    assert any(
        p == "failure_types.pop_failure" and "private_line or internet" in m for p, m in messages
    )
    assert any(p == "impact" and "pop_failure" in m for p, m in messages)
    with pytest.raises(CatalogError) as caught:
        catalog_parse("geographies: {}\n")
    assert {e["message"] for e in caught.value.errors} >= {"Missing section 'impact'."}


def test_a_missing_cell_is_an_error_not_no_impact(db):
    data = catalog_export()
    del data["impact"]["az_failure"]["wfm"]
    with pytest.raises(CatalogError) as caught:
        catalog_import(actor=None, data=data)
    [error] = caught.value.errors
    assert error["path"] == "impact.az_failure"
    assert "wfm" in error["message"]
    assert error["line"] is None  # data has no lines


def test_ids_must_be_distinct_across_zones_regions_and_pops(db):
    text = MINIMAL.replace("us-east-a: {name: US East A}", "pop-ashburn: {name: Oops}")
    with pytest.raises(CatalogError) as caught:
        catalog_parse(text)
    [error] = caught.value.errors
    assert error["path"] == "pops.pop-ashburn"
    assert "zone pop-ashburn" in error["message"]


def test_json_errors_carry_lines_too(db):
    data = catalog_export()
    data["regions"]["japan"]["geography"] = "atlantis"
    text = json.dumps(data, indent=2)
    with pytest.raises(CatalogError) as caught:
        catalog_import(actor=None, text=text, fmt="json")
    [error] = caught.value.errors
    expected = [n for n, line in enumerate(text.splitlines(), 1) if '"atlantis"' in line]
    assert error["line"] == expected[0]
    assert error["path"] == "regions.japan.geography"


def test_aliases_are_refused(db):
    text = MINIMAL.replace("{name: US East A}", "&zone {name: US East A}") + "extra: *zone\n"
    with pytest.raises(CatalogError) as caught:
        catalog_parse(text)
    assert "aliases" in caught.value.errors[0]["message"]


# --- Deployments keep what they use ------------------------------------------------------


@pytest.fixture
def eu_tenant(db):
    org = OrganizationFactory(slug="eurofin", name="Eurofin")
    deploy(org, "eu-west-1", "eu-west-2", ("pop-london", "pop-frankfurt"), ("call_routing",))
    return org


def without_region(data: dict, slug: str) -> dict:
    del data["regions"][slug]
    for pop in data["pops"].values():
        pop["regions"] = [r for r in pop["regions"] if r != slug]
    return data


def test_removing_a_region_a_deployment_uses_is_refused(eu_tenant):
    before = catalog_export()
    text = yaml.safe_dump(without_region(catalog_export(), "eu-west-2"), sort_keys=False)
    with pytest.raises(CatalogError) as caught:
        catalog_import(actor=None, text=text)
    [error] = caught.value.errors
    assert error["path"] == "regions.eu-west-2"
    assert error["line"] == text.splitlines().index("regions:") + 1
    assert "Eurofin" in error["message"]
    assert catalog_export() == before


def test_removing_a_pop_or_area_a_deployment_uses_is_refused(eu_tenant):
    data = catalog_export()
    del data["pops"]["pop-london"]
    del data["functional_areas"]["call_routing"]
    for row in data["impact"].values():
        del row["call_routing"]
    with pytest.raises(CatalogError) as caught:
        catalog_import(actor=None, data=data)
    assert {e["path"] for e in caught.value.errors} == {
        "pops.pop-london",
        "functional_areas.call_routing",
    }
    assert Pop.objects.filter(slug="pop-london").exists()


def test_removing_what_no_deployment_uses_is_allowed(eu_tenant):
    summary = catalog_import(actor=None, data=without_region(catalog_export(), "japan"))
    assert summary["deleted"]["regions"] == 1
    assert summary["deleted"]["zones"] == 3
    assert not Region.objects.filter(slug="japan").exists()
    assert not Zone.objects.filter(slug__startswith="japan-").exists()
    assert Deployment.objects.get(organization=eu_tenant).primary_region.slug == "eu-west-1"


# --- Loading after migrate ---------------------------------------------------------------


def test_the_reference_is_loaded_only_into_an_empty_catalog(db):
    area = FunctionalArea.objects.get(slug="wfm")
    area.name = "Workforce management (ours)"
    area.save()
    load_reference_catalog_if_empty()
    assert FunctionalArea.objects.get(slug="wfm").name == "Workforce management (ours)"

    for model in (FailureImpact, FailureType, FunctionalArea, Pop, Zone, Region, Geography):
        model.objects.all().delete()
    load_reference_catalog_if_empty()
    assert FunctionalArea.objects.get(slug="wfm").name == "Workforce management"
    assert FailureImpact.objects.count() == 52
    entry = AuditEntry.objects.filter(action="catalog_loaded").latest("id")
    assert entry.actor is None
    assert entry.organization.kind == OrganizationKind.PROVIDER


def test_an_element_with_a_mistake_is_reported_once_not_at_each_reference(db):
    text = MINIMAL.replace(
        "  us-east:\n    name: US East\n    geography: us\n"
        "    zones:\n      us-east-a: {name: US East A}\n",
        "  us-east: [US East]\n",
    )
    with pytest.raises(CatalogError) as caught:
        catalog_parse(text)
    assert [(e["line"], e["path"]) for e in caught.value.errors] == [(5, "regions.us-east")]


def test_an_unknown_format_is_an_error(db):
    with pytest.raises(CatalogError, match="Unknown format"):
        catalog_parse(MINIMAL, fmt="toml")


def test_it_reports_nul_characters_with_their_line_and_changes_nothing(db):
    from caredeck.topology.catalog import CatalogError, catalog_parse

    with pytest.raises(CatalogError) as caught:
        catalog_parse('{"geographies": {"us": {"name": "U\\u0000S"}}}', "json")
    assert caught.value.errors[0]["path"] == "geographies.us.name"
    assert caught.value.errors[0]["line"] == 1
    assert "NUL" in caught.value.errors[0]["message"]
