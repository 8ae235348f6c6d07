"""Edits of the platform catalog, one element at a time, by platform administrators.

Each function checks MANAGE_TOPOLOGY, validates (a ValidationError with field errors),
writes in one transaction with its audit entry (before -> after) and returns the object.
A delete that would break a tenant's deployment, or leave the catalog inconsistent, is
refused with Conflict (409) and the reason. The whole catalog is replaced at once through
catalog.catalog_import.

Related elements may be given as objects or by their id (slug).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import slug_re
from django.db import models, transaction
from django.db.models import Q

from caredeck.accounts.access import has_capability
from caredeck.accounts.roles import Capability
from caredeck.core.audit import audit_record, changes_between
from caredeck.core.exceptions import Conflict
from caredeck.topology.catalog import FLAG_FIELDS, SLUG_MAX_LENGTH, TEXT_FIELDS, _is_availability
from caredeck.topology.models import (
    AreaScope,
    Deployment,
    FailureImpact,
    FunctionalArea,
    Geography,
    Pop,
    Region,
    Zone,
)

GEOGRAPHY_FIELDS = ("name",)
REGION_FIELDS = ("name", "geography")
ZONE_FIELDS = ("name", "region")
POP_FIELDS = ("name", "geography", "regions")
AREA_FIELDS = (
    "name",
    "services",
    "scope",
    "home_region",
    "standby_region",
    "note",
    "components",
    "position",
)
CELL_FIELDS = (*TEXT_FIELDS, *FLAG_FIELDS)
DEFAULT_ZONES = 3


def _require(actor) -> None:
    if not has_capability(actor, Capability.MANAGE_TOPOLOGY):
        raise PermissionDenied("Your roles do not allow this (model the platform).")


def _refuse_unknown(fields: dict[str, Any], allowed: Iterable[str]) -> None:
    unknown = sorted(set(fields) - set(allowed) - {"slug"})
    if unknown:
        raise ValidationError({name: ["This field cannot be changed here."] for name in unknown})


def _refuse_slug_change(obj, fields: dict[str, Any]) -> None:
    # The id is public: the impact API, deployments and imported files address the
    # element by it, and its history is keyed by it.
    if "slug" in fields and fields["slug"] != obj.slug:
        raise ValidationError({"slug": ["The id cannot change once created."]})


def _check_slug(slug: Any) -> str:
    if not isinstance(slug, str) or not slug_re.match(slug):
        raise ValidationError({"slug": ["Use only letters, digits, - and _."]})
    if len(slug) > SLUG_MAX_LENGTH:
        raise ValidationError({"slug": [f"Use at most {SLUG_MAX_LENGTH} characters."]})
    return slug


def _check_target_slug_free(slug: str) -> None:
    # Zones, regions and PoPs are failure targets named by id alone (POST /impact/).
    for model, what in ((Zone, "zone"), (Region, "region"), (Pop, "PoP")):
        if model.objects.filter(slug=slug).exists():
            raise ValidationError({"slug": [f"The id {slug!r} is already used by a {what}."]})


def _resolve(model: type[models.Model], value: Any, field: str, *, nullable: bool = False):
    if value is None or value == "":
        if nullable:
            return None
        raise ValidationError({field: ["This field is required."]})
    if isinstance(value, model):
        return value
    found = model.objects.filter(slug=value).first() if isinstance(value, str) else None
    if found is None:
        raise ValidationError(
            {field: [f"No {model._meta.verbose_name} with id {str(value)[:60]!r}."]}
        )
    return found


def _slug(obj) -> str | None:
    return obj.slug if obj is not None else None


def _snapshot(obj) -> dict[str, Any]:
    """The audited fields, related elements by id."""
    if isinstance(obj, Geography):
        return {"name": obj.name}
    if isinstance(obj, Region):
        return {"name": obj.name, "geography": _slug(obj.geography)}
    if isinstance(obj, Zone):
        return {"name": obj.name, "region": _slug(obj.region)}
    if isinstance(obj, Pop):
        regions = sorted(obj.regions.values_list("slug", flat=True)) if obj.pk else []
        return {"name": obj.name, "geography": _slug(obj.geography), "regions": regions}
    if isinstance(obj, FunctionalArea):
        return {
            "name": obj.name,
            "services": list(obj.services),
            "scope": obj.scope,
            "home_region": _slug(obj.home_region),
            "standby_region": _slug(obj.standby_region),
            "note": obj.note,
            "components": list(obj.components),
            "position": obj.position,
        }
    if isinstance(obj, FailureImpact):
        return {name: getattr(obj, name) for name in CELL_FIELDS}
    raise TypeError(f"{type(obj).__name__} is not a catalog element")


def _save_created(*, actor, obj, extra: dict[str, Any] | None = None) -> None:
    audit_record(
        actor=actor,
        obj=obj,
        action="created",
        changes=changes_between({}, {"slug": obj.slug, **_snapshot(obj), **(extra or {})}),
    )


def _save_updated(*, actor, obj, before: dict[str, Any]) -> None:
    changes = changes_between(before, _snapshot(obj))
    if changes:
        audit_record(actor=actor, obj=obj, action="updated", changes=changes)


def _audit_deleted(*, actor, obj, extra: dict[str, Any] | None = None) -> None:
    audit_record(
        actor=actor,
        obj=obj,
        action="deleted",
        changes=changes_between({**_snapshot(obj), **(extra or {})}, {}),
    )


def _tenants(deployments: models.QuerySet) -> str:
    names = list(
        deployments.distinct()
        .order_by("organization__name")
        .values_list("organization__name", flat=True)
    )
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return f"{len(names)} tenant deployment(s) ({shown})"


# --- Geographies -------------------------------------------------------------------------


def geography_create(*, actor, slug: str, name: str) -> Geography:
    _require(actor)
    geography = Geography(slug=_check_slug(slug), name=(name or "").strip())
    geography.full_clean()
    with transaction.atomic():
        geography.save()
        _save_created(actor=actor, obj=geography)
    return geography


def geography_update(*, actor, geography: Geography, **fields: Any) -> Geography:
    _require(actor)
    _refuse_slug_change(geography, fields)
    _refuse_unknown(fields, GEOGRAPHY_FIELDS)
    before = _snapshot(geography)
    if "name" in fields:
        geography.name = (fields["name"] or "").strip()
    geography.full_clean()
    with transaction.atomic():
        geography.save()
        _save_updated(actor=actor, obj=geography, before=before)
    return geography


def geography_delete(*, actor, geography: Geography) -> None:
    _require(actor)
    regions = list(geography.regions.values_list("slug", flat=True))
    pops = list(geography.pops.values_list("slug", flat=True))
    if regions or pops:
        held = ", ".join(regions + pops)
        raise Conflict(f"{geography.name} still holds {held}; move or delete them first.")
    with transaction.atomic():
        _audit_deleted(actor=actor, obj=geography)
        geography.delete()


# --- Regions and zones -------------------------------------------------------------------


def region_create(
    *, actor, slug: str, name: str, geography: Geography | str, zones: int = DEFAULT_ZONES
) -> Region:
    """A region with `zones` availability zones named <slug>-a, <slug>-b, ..."""
    _require(actor)
    _check_slug(slug)
    if not isinstance(zones, int) or isinstance(zones, bool) or not 1 <= zones <= 26:
        raise ValidationError({"zones": ["A region has from 1 to 26 availability zones."]})
    region = Region(
        slug=slug, name=(name or "").strip(), geography=_resolve(Geography, geography, "geography")
    )
    region.full_clean()
    _check_target_slug_free(slug)
    zone_slugs = [f"{slug}-{chr(ord('a') + n)}" for n in range(zones)]
    for zone_slug in zone_slugs:
        if len(zone_slug) > SLUG_MAX_LENGTH:
            raise ValidationError({"slug": ["Too long to name its zones; use a shorter id."]})
        _check_target_slug_free(zone_slug)
    with transaction.atomic():
        region.save()
        for zone_slug in zone_slugs:
            Zone.objects.create(
                slug=zone_slug, name=f"{region.name} {zone_slug[-1].upper()}", region=region
            )
        _save_created(actor=actor, obj=region, extra={"zones": zone_slugs})
    return region


def region_update(*, actor, region: Region, **fields: Any) -> Region:
    _require(actor)
    _refuse_slug_change(region, fields)
    _refuse_unknown(fields, REGION_FIELDS)
    before = _snapshot(region)
    if "name" in fields:
        region.name = (fields["name"] or "").strip()
    if "geography" in fields:
        region.geography = _resolve(Geography, fields["geography"], "geography")
    region.full_clean()
    with transaction.atomic():
        region.save()
        _save_updated(actor=actor, obj=region, before=before)
    return region


def region_delete(*, actor, region: Region) -> None:
    _require(actor)
    deployments = Deployment.objects.filter(Q(primary_region=region) | Q(secondary_region=region))
    if deployments.exists():
        raise Conflict(f"{region.name} is used by {_tenants(deployments)}; move them first.")
    areas = FunctionalArea.objects.filter(Q(home_region=region) | Q(standby_region=region))
    if areas.exists():
        names = ", ".join(areas.values_list("name", flat=True))
        raise Conflict(
            f"{region.name} is the home or standby region of {names}; move those areas first."
        )
    with transaction.atomic():
        zones = sorted(region.zones.values_list("slug", flat=True))
        _audit_deleted(actor=actor, obj=region, extra={"zones": zones})
        region.delete()


def zone_create(*, actor, slug: str, name: str, region: Region | str) -> Zone:
    _require(actor)
    zone = Zone(
        slug=_check_slug(slug), name=(name or "").strip(), region=_resolve(Region, region, "region")
    )
    zone.full_clean()
    _check_target_slug_free(slug)
    with transaction.atomic():
        zone.save()
        _save_created(actor=actor, obj=zone)
    return zone


def zone_update(*, actor, zone: Zone, **fields: Any) -> Zone:
    _require(actor)
    _refuse_slug_change(zone, fields)
    _refuse_unknown(fields, ZONE_FIELDS)
    before = _snapshot(zone)
    old_region = zone.region
    if "name" in fields:
        zone.name = (fields["name"] or "").strip()
    if "region" in fields:
        zone.region = _resolve(Region, fields["region"], "region")
        if zone.region.pk != old_region.pk and old_region.zones.count() == 1:
            raise ValidationError(
                {"region": [f"{zone.name} is the last zone of {old_region.name}."]}
            )
    zone.full_clean()
    with transaction.atomic():
        zone.save()
        _save_updated(actor=actor, obj=zone, before=before)
    return zone


def zone_delete(*, actor, zone: Zone) -> None:
    _require(actor)
    # A region is a group of zones; without one it could not run anything.
    if zone.region.zones.count() == 1:
        raise Conflict(
            f"{zone.name} is the last zone of {zone.region.name}; delete the region instead."
        )
    with transaction.atomic():
        _audit_deleted(actor=actor, obj=zone)
        zone.delete()


# --- PoPs --------------------------------------------------------------------------------


def _resolve_regions(values: Iterable[Any]) -> list[Region]:
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise ValidationError({"regions": ["Give a list of regions."]})
    regions: list[Region] = []
    for value in values:
        region = _resolve(Region, value, "regions")
        if region not in regions:
            regions.append(region)
    return regions


def pop_create(
    *, actor, slug: str, name: str, geography: Geography | str, regions: Iterable[Any] = ()
) -> Pop:
    _require(actor)
    pop = Pop(
        slug=_check_slug(slug),
        name=(name or "").strip(),
        geography=_resolve(Geography, geography, "geography"),
    )
    pop.full_clean()
    _check_target_slug_free(slug)
    linked = _resolve_regions(regions)
    with transaction.atomic():
        pop.save()
        pop.regions.set(linked)
        _save_created(actor=actor, obj=pop)
    return pop


def pop_update(*, actor, pop: Pop, **fields: Any) -> Pop:
    _require(actor)
    _refuse_slug_change(pop, fields)
    _refuse_unknown(fields, POP_FIELDS)
    before = _snapshot(pop)
    if "name" in fields:
        pop.name = (fields["name"] or "").strip()
    if "geography" in fields:
        pop.geography = _resolve(Geography, fields["geography"], "geography")
    linked = _resolve_regions(fields["regions"]) if "regions" in fields else None
    pop.full_clean()
    with transaction.atomic():
        pop.save()
        if linked is not None:
            pop.regions.set(linked)
        _save_updated(actor=actor, obj=pop, before=before)
    return pop


def pop_delete(*, actor, pop: Pop) -> None:
    _require(actor)
    deployments = Deployment.objects.filter(pops=pop)
    if deployments.exists():
        raise Conflict(f"{pop.name} is used by {_tenants(deployments)}; move them first.")
    with transaction.atomic():
        _audit_deleted(actor=actor, obj=pop)
        pop.delete()


# --- Functional areas and the matrix -----------------------------------------------------


def _clean_services(value: Any) -> list[str]:
    if not isinstance(value, list | tuple) or not all(
        isinstance(s, str) and s.strip() for s in value
    ):
        raise ValidationError({"services": ["Give a list of service names."]})
    return [s.strip() for s in value]


def _clean_components(value: Any) -> list[dict[str, Any]]:
    message = "Give a list of components, each {name, availability} with availability from 0 to 1."
    if not isinstance(value, list | tuple):
        raise ValidationError({"components": [message]})
    components = []
    for item in value:
        if (
            not isinstance(item, dict)
            or set(item) != {"name", "availability"}
            or not isinstance(item["name"], str)
            or not item["name"].strip()
            or not _is_availability(item["availability"])
        ):
            raise ValidationError({"components": [message]})
        components.append(
            {"name": item["name"].strip(), "availability": float(item["availability"])}
        )
    return components


def area_update(*, actor, area: FunctionalArea, **fields: Any) -> FunctionalArea:
    _require(actor)
    _refuse_slug_change(area, fields)
    _refuse_unknown(fields, AREA_FIELDS)
    before = _snapshot(area)
    for name in ("name", "note"):
        if name in fields:
            if not isinstance(fields[name], str | None):
                raise ValidationError({name: ["Expected text."]})
            setattr(area, name, (fields[name] or "").strip())
    if "scope" in fields:
        area.scope = fields["scope"]
    if "position" in fields:
        area.position = fields["position"]
    if "services" in fields:
        area.services = _clean_services(fields["services"])
    if "components" in fields:
        area.components = _clean_components(fields["components"])
    if "home_region" in fields:
        area.home_region = _resolve(Region, fields["home_region"], "home_region", nullable=True)
    if "standby_region" in fields:
        area.standby_region = _resolve(
            Region, fields["standby_region"], "standby_region", nullable=True
        )
    area.full_clean()
    errors: dict[str, list[str]] = {}
    if area.scope == AreaScope.CENTRALIZED and area.home_region is None:
        errors["home_region"] = ["A centralized area needs a home region."]
    if area.scope != AreaScope.CENTRALIZED:
        for name in ("home_region", "standby_region"):
            if getattr(area, name) is not None:
                errors[name] = ["Only a centralized area has one."]
    if area.standby_region is not None and area.standby_region == area.home_region:
        errors.setdefault("standby_region", []).append("It must differ from the home region.")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        area.save()
        _save_updated(actor=actor, obj=area, before=before)
    return area


def impact_cell_update(
    *,
    actor,
    cell: FailureImpact,
    operational: str,
    agent: str,
    customer: str,
    data_lost: bool,
    delayed: bool,
    service_unavailable: bool,
) -> FailureImpact:
    """Rewrite one cell of the matrix: its three texts ("none" for no impact) and flags."""
    _require(actor)
    errors: dict[str, list[str]] = {}
    texts = {"operational": operational, "agent": agent, "customer": customer}
    for name, value in texts.items():
        if not isinstance(value, str) or not value.strip():
            errors[name] = ['Describe the impact, or write "none" for no impact.']
    flags = {"data_lost": data_lost, "delayed": delayed, "service_unavailable": service_unavailable}
    for name, value in flags.items():
        if not isinstance(value, bool):
            errors[name] = ["Expected true or false."]
    if errors:
        raise ValidationError(errors)
    before = _snapshot(cell)
    for name, value in texts.items():
        setattr(cell, name, value.strip())
    for name, value in flags.items():
        setattr(cell, name, value)
    with transaction.atomic():
        cell.save()
        _save_updated(actor=actor, obj=cell, before=before)
    return cell
