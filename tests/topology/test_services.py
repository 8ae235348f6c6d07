"""Editing the catalog one element at a time: platform administrators only, validated,
audited before -> after, and never breaking a tenant's deployment."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from caredeck.core.exceptions import Conflict
from caredeck.core.models import AuditEntry
from caredeck.topology import services
from caredeck.topology.catalog import (
    catalog_dump_yaml,
    catalog_export,
    catalog_import,
    catalog_parse,
)
from caredeck.topology.models import (
    AreaScope,
    Connectivity,
    Deployment,
    FailureImpact,
    FunctionalArea,
    Geography,
    Pop,
    Region,
    Zone,
)
from tests.factories import OrganizationFactory


def entries(kind: str, object_id, action: str | None = None):
    found = AuditEntry.objects.filter(object_kind=kind, object_id=str(object_id))
    return found.filter(action=action) if action else found


def cell(failure: str, area: str) -> FailureImpact:
    return FailureImpact.objects.get(failure_type__slug=failure, area__slug=area)


@pytest.fixture
def deployed(db):
    org = OrganizationFactory(slug="eurofin", name="Eurofin")
    deployment = Deployment.objects.create(
        organization=org,
        primary_region=Region.objects.get(slug="eu-west-1"),
        secondary_region=Region.objects.get(slug="eu-west-2"),
        connectivity=Connectivity.PRIVATE_LINE,
    )
    deployment.pops.set(Pop.objects.filter(slug__in=["pop-london", "pop-frankfurt"]))
    deployment.areas.set(FunctionalArea.objects.filter(slug="call_routing"))
    return deployment


# --- The matrix --------------------------------------------------------------------------


def test_it_rewrites_a_cell_and_audits_the_change(platform_admin):
    target = cell("region_failure", "wfm")
    services.impact_cell_update(
        actor=platform_admin,
        cell=target,
        operational=target.operational,
        agent=target.agent,
        customer="Schedules are not published.  ",
        data_lost=False,
        delayed=True,
        service_unavailable=True,
    )
    target.refresh_from_db()
    assert (target.customer, target.delayed) == ("Schedules are not published.", True)
    entry = entries("impact_cell", target.pk, "updated").get()
    assert entry.actor == platform_admin
    assert entry.changes == {
        "customer": ["none", "Schedules are not published."],
        "delayed": [False, True],
    }


def test_a_cell_needs_three_texts_and_true_or_false_flags(platform_admin):
    target = cell("az_failure", "wfm")
    with pytest.raises(ValidationError) as caught:
        services.impact_cell_update(
            actor=platform_admin,
            cell=target,
            operational=" ",
            agent="none",
            customer=None,
            data_lost="yes",
            delayed=False,
            service_unavailable=False,
        )
    assert set(caught.value.message_dict) == {"operational", "customer", "data_lost"}
    target.refresh_from_db()
    assert target.operational == "none"


def test_an_edited_cell_is_in_the_export(platform_admin):
    target = cell("pop_failure_internet", "wfm")
    services.impact_cell_update(
        actor=platform_admin,
        cell=target,
        operational="WFM sessions reconnect.",
        agent="none",
        customer="none",
        data_lost=False,
        delayed=False,
        service_unavailable=False,
    )
    exported = catalog_export()["impact"]["pop_failure_internet"]["wfm"]
    assert exported["operational"] == "WFM sessions reconnect."
    assert catalog_parse(catalog_dump_yaml()) == catalog_export()


# --- Functional areas --------------------------------------------------------------------


def test_it_updates_an_area_and_audits_the_change(platform_admin):
    area = FunctionalArea.objects.get(slug="wfm")
    services.area_update(
        actor=platform_admin,
        area=area,
        standby_region="us-west",
        components=[{"name": "WFM", "availability": 0.9999}],
    )
    area.refresh_from_db()
    assert area.standby_region.slug == "us-west"
    entry = entries("area", "wfm", "updated").get()
    assert entry.changes["standby_region"] == [None, "us-west"]
    assert entry.changes["components"] == [
        [{"name": "WFM", "availability": 0.9995}],
        [{"name": "WFM", "availability": 0.9999}],
    ]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"home_region": None}, "home_region"),  # wfm is centralized
        ({"scope": AreaScope.DISTRIBUTED}, "home_region"),  # ... and homed in us-east
        ({"standby_region": "us-east"}, "standby_region"),  # its home
        ({"components": [{"name": "WFM", "availability": 1.5}]}, "components"),
        ({"components": [{"name": "WFM"}]}, "components"),
        ({"services": "WFM"}, "services"),
        ({"home_region": "atlantis"}, "home_region"),
        ({"scope": "everywhere"}, "scope"),
        ({"slug": "workforce"}, "slug"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_it_refuses_an_invalid_area(platform_admin, fields, field):
    area = FunctionalArea.objects.get(slug="wfm")
    with pytest.raises(ValidationError) as caught:
        services.area_update(actor=platform_admin, area=area, **fields)
    assert field in caught.value.message_dict
    assert not entries("area", "wfm").exists()


# --- Geographies, regions, zones, PoPs ----------------------------------------------------


def test_it_creates_a_region_with_its_zones(platform_admin):
    region = services.region_create(
        actor=platform_admin, slug="us-central", name="US Central", geography="us"
    )
    assert list(region.zones.order_by("slug").values_list("slug", "name")) == [
        ("us-central-a", "US Central A"),
        ("us-central-b", "US Central B"),
        ("us-central-c", "US Central C"),
    ]
    entry = entries("region", "us-central", "created").get()
    assert entry.changes["geography"] == [None, "us"]
    assert entry.changes["zones"] == [None, ["us-central-a", "us-central-b", "us-central-c"]]
    # What the services build, the catalog exports and imports again.
    assert catalog_import(actor=None, text=catalog_dump_yaml())["changed"] is False


def test_ids_of_failure_targets_are_unique_across_kinds(platform_admin):
    with pytest.raises(ValidationError) as caught:
        services.region_create(
            actor=platform_admin, slug="pop-london", name="London", geography="emea"
        )
    assert "PoP" in caught.value.message_dict["slug"][0]
    with pytest.raises(ValidationError):
        services.pop_create(actor=platform_admin, slug="us-east-a", name="X", geography="us")
    with pytest.raises(ValidationError):
        services.region_create(actor=platform_admin, slug="Not a slug", name="X", geography="us")


def test_it_updates_a_region_and_audits_before_and_after(platform_admin):
    region = Region.objects.get(slug="japan")
    services.region_update(
        actor=platform_admin, region=region, name="Japan (Tokyo)", geography="apac"
    )
    entry = entries("region", "japan", "updated").get()
    assert entry.changes == {"name": ["Japan", "Japan (Tokyo)"]}
    with pytest.raises(ValidationError):
        services.region_update(actor=platform_admin, region=region, name="")
    with pytest.raises(ValidationError):
        services.region_update(actor=platform_admin, region=region, slug="tokyo")


def test_it_deletes_a_region_nothing_uses(platform_admin):
    services.region_delete(actor=platform_admin, region=Region.objects.get(slug="japan"))
    assert not Region.objects.filter(slug="japan").exists()
    assert not Zone.objects.filter(region__slug="japan").exists()
    entry = entries("region", "japan", "deleted").get()
    assert entry.changes["zones"] == [["japan-a", "japan-b", "japan-c"], None]


def test_it_refuses_to_delete_a_region_in_use(platform_admin, deployed):
    with pytest.raises(Conflict, match="Eurofin"):
        services.region_delete(actor=platform_admin, region=Region.objects.get(slug="eu-west-2"))
    with pytest.raises(Conflict, match="home or standby"):
        services.region_delete(actor=platform_admin, region=Region.objects.get(slug="us-west"))
    assert Region.objects.filter(slug__in=["eu-west-2", "us-west"]).count() == 2
    assert not AuditEntry.objects.filter(object_kind="region").exists()


def test_it_keeps_zones_and_refuses_to_delete_the_last(platform_admin):
    zone = services.zone_create(
        actor=platform_admin, slug="india-d", name="India D", region="india"
    )
    services.zone_update(actor=platform_admin, zone=zone, name="India Delta")
    assert entries("zone", "india-d", "updated").get().changes == {
        "name": ["India D", "India Delta"]
    }
    services.zone_delete(actor=platform_admin, zone=zone)
    assert entries("zone", "india-d", "deleted").exists()
    for slug in ("india-a", "india-b"):
        services.zone_delete(actor=platform_admin, zone=Zone.objects.get(slug=slug))
    with pytest.raises(Conflict, match="last zone"):
        services.zone_delete(actor=platform_admin, zone=Zone.objects.get(slug="india-c"))


def test_it_keeps_pops(platform_admin):
    pop = services.pop_create(
        actor=platform_admin,
        slug="pop-dallas",
        name="Dallas",
        geography="us",
        regions=["us-east", Region.objects.get(slug="us-west")],
    )
    assert sorted(pop.regions.values_list("slug", flat=True)) == ["us-east", "us-west"]
    services.pop_update(actor=platform_admin, pop=pop, regions=["us-west"])
    assert entries("pop", "pop-dallas", "updated").get().changes == {
        "regions": [["us-east", "us-west"], ["us-west"]]
    }
    with pytest.raises(ValidationError) as caught:
        services.pop_update(actor=platform_admin, pop=pop, regions=["us-north"])
    assert "regions" in caught.value.message_dict
    services.pop_delete(actor=platform_admin, pop=pop)
    assert not Pop.objects.filter(slug="pop-dallas").exists()


def test_it_refuses_to_delete_a_pop_in_use(platform_admin, deployed):
    with pytest.raises(Conflict, match="Eurofin"):
        services.pop_delete(actor=platform_admin, pop=Pop.objects.get(slug="pop-london"))
    assert Pop.objects.filter(slug="pop-london").exists()


def test_it_keeps_geographies(platform_admin):
    geography = services.geography_create(actor=platform_admin, slug="latam", name="Latin America")
    services.geography_update(actor=platform_admin, geography=geography, name="LATAM")
    assert entries("geography", "latam", "updated").get().changes == {
        "name": ["Latin America", "LATAM"]
    }
    with pytest.raises(Conflict, match="holds"):
        services.geography_delete(actor=platform_admin, geography=Geography.objects.get(slug="us"))
    services.geography_delete(actor=platform_admin, geography=geography)
    assert entries("geography", "latam", "deleted").exists()
    with pytest.raises(ValidationError):
        services.geography_create(actor=platform_admin, slug="us", name="Again")


# --- Only platform administrators --------------------------------------------------------

EDITS = {
    "impact_cell_update": lambda: {
        "cell": cell("az_failure", "wfm"),
        "operational": "x",
        "agent": "x",
        "customer": "x",
        "data_lost": False,
        "delayed": False,
        "service_unavailable": False,
    },
    "area_update": lambda: {"area": FunctionalArea.objects.get(slug="wfm"), "name": "x"},
    "geography_create": lambda: {"slug": "latam", "name": "LATAM"},
    "geography_update": lambda: {"geography": Geography.objects.get(slug="us"), "name": "x"},
    "geography_delete": lambda: {"geography": Geography.objects.get(slug="us")},
    "region_create": lambda: {"slug": "us-central", "name": "x", "geography": "us"},
    "region_update": lambda: {"region": Region.objects.get(slug="japan"), "name": "x"},
    "region_delete": lambda: {"region": Region.objects.get(slug="japan")},
    "zone_create": lambda: {"slug": "japan-d", "name": "x", "region": "japan"},
    "zone_update": lambda: {"zone": Zone.objects.get(slug="japan-a"), "name": "x"},
    "zone_delete": lambda: {"zone": Zone.objects.get(slug="japan-a")},
    "pop_create": lambda: {"slug": "pop-dallas", "name": "x", "geography": "us"},
    "pop_update": lambda: {"pop": Pop.objects.get(slug="pop-london"), "name": "x"},
    "pop_delete": lambda: {"pop": Pop.objects.get(slug="pop-london")},
}


@pytest.mark.parametrize("name", sorted(EDITS))
def test_it_checks_the_role(name, care_analyst, admin_a, partner_user):
    before = catalog_export()
    for user in (care_analyst, admin_a, partner_user):
        with pytest.raises(PermissionDenied):
            getattr(services, name)(actor=user, **EDITS[name]())
    assert catalog_export() == before
    assert not AuditEntry.objects.filter(
        object_kind__in=["geography", "region", "zone", "pop", "area", "impact_cell"]
    ).exists()


def test_the_history_of_an_element_is_for_provider_staff(platform_admin, care_analyst, admin_a):
    from caredeck.core.audit import audited_object_for

    services.region_update(actor=platform_admin, region=Region.objects.get(slug="japan"), name="JP")
    assert audited_object_for(care_analyst, "region", "japan") is not None
    assert audited_object_for(admin_a, "region", "japan") is None
