"""Reads behind the topology pages: the platform as the map draws it, the failure
matrix, one element or cell by its id, and a tenant's deployment (scoped to the actor).

The platform catalog (geographies, regions, zones, PoPs, areas, the matrix) is the
provider's reference data: every provider staff member reads it, platform administrators
change it. Deployments belong to tenants and are read through `tenants_for`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from django.core.validators import slug_re
from django.db.models import Model, Prefetch, Q, QuerySet
from django.http import Http404

from caredeck.accounts.models import Organization
from caredeck.accounts.selectors import organization_get
from caredeck.topology.deployments import deployments_visible
from caredeck.topology.models import (
    NO_IMPACT,
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

# The kinds of platform element a page can create, edit or delete, with their model.
ELEMENT_MODELS: dict[str, type[Model]] = {
    "geography": Geography,
    "region": Region,
    "zone": Zone,
    "pop": Pop,
}


def is_slug(value) -> bool:
    return isinstance(value, str) and bool(slug_re.match(value))


def _get(queryset: QuerySet, slug, what: str):
    found = queryset.filter(slug=slug).first() if is_slug(slug) else None
    if found is None:
        raise Http404(f"No such {what}.")
    return found


# --- The platform ---------------------------------------------------------------------


@dataclass
class RegionView:
    slug: str
    name: str
    zones: list[tuple[str, str]]  # (slug, name)
    pops: list[tuple[str, str]]  # (slug, name) of the PoPs linked to it
    tenants: int = 0  # tenants whose primary region this is


@dataclass
class PopView:
    slug: str
    name: str
    regions: list[str]  # slugs of the linked regions
    region_names: list[str] = field(default_factory=list)
    tenants: int = 0


@dataclass
class GeographyView:
    slug: str
    name: str
    regions: list[RegionView] = field(default_factory=list)
    pops: list[PopView] = field(default_factory=list)


def platform_layout() -> list[GeographyView]:
    """Geographies with their regions (and zones) and PoPs (and linked regions), plus
    how many tenants run primarily in each region and reach each PoP: what the map and
    its table show. Five queries, whatever the size of the platform."""
    primaries = Counter(Deployment.objects.values_list("primary_region__slug", flat=True))
    pop_tenants = Counter(Deployment.pops.through.objects.values_list("pop__slug", flat=True))
    geographies = {g.pk: GeographyView(g.slug, g.name) for g in Geography.objects.all()}
    zones: dict[int, list[tuple[str, str]]] = {}
    for zone in Zone.objects.order_by("name"):
        zones.setdefault(zone.region_id, []).append((zone.slug, zone.name))
    pops = list(Pop.objects.prefetch_related(Prefetch("regions", Region.objects.order_by())))
    pops_of_region: dict[int, list[tuple[str, str]]] = {}
    for pop in pops:
        for region in pop.regions.all():
            pops_of_region.setdefault(region.pk, []).append((pop.slug, pop.name))
    for region in Region.objects.order_by("name"):
        geographies[region.geography_id].regions.append(
            RegionView(
                region.slug, region.name, zones.get(region.pk, []),
                pops_of_region.get(region.pk, []), primaries.get(region.slug, 0),
            )
        )
    for pop in pops:
        linked = sorted(pop.regions.all(), key=lambda r: r.name)
        geographies[pop.geography_id].pops.append(
            PopView(
                pop.slug, pop.name, [r.slug for r in linked], [r.name for r in linked],
                pop_tenants.get(pop.slug, 0),
            )
        )
    return list(geographies.values())


def platform_counts() -> dict[str, int]:
    return {
        "geographies": Geography.objects.count(),
        "regions": Region.objects.count(),
        "zones": Zone.objects.count(),
        "pops": Pop.objects.count(),
        "areas": FunctionalArea.objects.count(),
        "failure_types": FailureType.objects.count(),
        "deployments": Deployment.objects.count(),
    }


def impact_targets() -> list[tuple[str, list[tuple[str, str]]]]:
    """What can fail, grouped by kind, for the "what if" select: [(group, [(id, label)])]."""
    regions = [(r.slug, r.name) for r in Region.objects.select_related("geography")]
    zones = [
        (z.slug, f"{z.name} ({z.region.name})" if z.region.name not in z.name else z.name)
        for z in Zone.objects.select_related("region").order_by("region__name", "name")
    ]
    pops = [
        (p.slug, f"{p.name} ({p.geography.name})")
        for p in Pop.objects.select_related("geography")
    ]
    return [
        ("Regions", regions),
        ("Availability zones", zones),
        ("PoPs", pops),
    ]


def element_kind_of(slug: str) -> tuple[str, Model] | None:
    """("zone" | "region" | "pop", the element) for a failure target id, or None."""
    if not is_slug(slug):
        return None
    for kind, model in (
        (FailedElement.REGION, Region), (FailedElement.ZONE, Zone), (FailedElement.POP, Pop)
    ):
        found = model.objects.filter(slug=slug).first()
        if found is not None:
            return kind, found
    return None


def element_get(kind: str, slug) -> Model:
    model = ELEMENT_MODELS[kind]
    return _get(model.objects.all(), slug, model._meta.verbose_name)


# --- Functional areas and the failure matrix ------------------------------------------


def areas() -> QuerySet[FunctionalArea]:
    return FunctionalArea.objects.select_related("home_region", "standby_region")


def area_get(slug) -> FunctionalArea:
    return _get(areas(), slug, "functional area")


def failure_types() -> QuerySet[FailureType]:
    return FailureType.objects.all()


def failure_type_get(slug) -> FailureType:
    return _get(failure_types(), slug, "failure type")


@dataclass
class MatrixRow:
    area: FunctionalArea
    cells: list[FailureImpact]  # one per failure type, in column order


def _no_impact_cell(failure_type: FailureType, area: FunctionalArea) -> FailureImpact:
    return FailureImpact(
        failure_type=failure_type, area=area,
        operational=NO_IMPACT, agent=NO_IMPACT, customer=NO_IMPACT,
    )


def failure_matrix(columns: list[FailureType]) -> list[MatrixRow]:
    """Areas × the given failure types. A pair without a row (only direct database edits
    make one) is an unsaved "no impact" cell, as the impact analysis reads it."""
    cells = {
        (c.failure_type_id, c.area_id): c
        for c in FailureImpact.objects.filter(failure_type__in=columns)
    }
    rows = []
    for area in FunctionalArea.objects.all():
        row = []
        for column in columns:
            cell = cells.get((column.pk, area.pk)) or _no_impact_cell(column, area)
            # Both are at hand: no query per cell when the template names them.
            cell.failure_type, cell.area = column, area
            row.append(cell)
        rows.append(MatrixRow(area, row))
    return rows


def cell_get(failure_slug, area_slug) -> FailureImpact:
    """The matrix cell; a pair without a row yet is an unsaved "no impact" cell."""
    failure_type = failure_type_get(failure_slug)
    area = area_get(area_slug)
    cell = FailureImpact.objects.filter(failure_type=failure_type, area=area).first()
    return cell or _no_impact_cell(failure_type, area)


# --- Deployments ----------------------------------------------------------------------


def deployment_of(user, org_slug):
    """(organization, its deployment or None): 404 when the organization is not one the
    user may see, exactly as if it did not exist."""
    organization = organization_get(user, org_slug)
    deployment = deployments_visible(user).filter(organization=organization).first()
    return organization, deployment


def deployments_list(user, *, query: str = "", region: str = "", connectivity: str = ""):
    deployments = deployments_visible(user).order_by("organization__name")
    if query:
        deployments = deployments.filter(
            Q(organization__name__icontains=query) | Q(organization__slug__icontains=query)
        )
    if is_slug(region):
        deployments = deployments.filter(
            Q(primary_region__slug=region) | Q(secondary_region__slug=region)
        )
    if connectivity:
        deployments = deployments.filter(connectivity=connectivity)
    return deployments


def primary_regions_of(organization_slugs) -> Counter:
    """How many of these tenants run primarily in each region (region slug -> count)."""
    return Counter(
        Deployment.objects.filter(organization__slug__in=list(organization_slugs))
        .values_list("primary_region__slug", flat=True)
    )


def pops_of(organization_slugs) -> Counter:
    return Counter(
        Deployment.pops.through.objects.filter(
            deployment__organization__slug__in=list(organization_slugs)
        ).values_list("pop__slug", flat=True)
    )


def organization_names(slugs) -> list[tuple[str, str]]:
    """(slug, name) of these organizations, in the order given."""
    names = dict(Organization.objects.filter(slug__in=list(slugs)).values_list("slug", "name"))
    return [(slug, names.get(slug, slug)) for slug in slugs]


def count_by(values) -> Counter:
    return Counter(v for v in values if v)


# --- How the pages say it -------------------------------------------------------------

ELEMENT_LABELS = {
    "geography": "Geography",
    "region": "Region",
    "zone": "Availability zone",
    "pop": "PoP",
}

MINUTES_PER_MONTH = 30 * 24 * 60

# The summary of an impact answer, as the totals tiles read (key, label, alert when > 0).
IMPACT_TOTALS = (
    ("tenants_affected", "tenants affected", False),
    ("tenants_with_dropped_calls", "with dropped calls", True),
    ("tenants_with_data_loss", "with data loss", True),
    ("tenants_with_service_unavailable", "with a service unavailable", True),
    ("tenants_with_customer_impact", "whose callers notice", False),
    ("tenants_with_delays", "with delayed work", False),
    ("tenants_not_affected", "not affected", False),
)


def impact_totals(summary: dict) -> list[dict]:
    return [
        {"key": key, "label": label, "value": summary.get(key, 0),
         "alert": alert and bool(summary.get(key))}
        for key, label, alert in IMPACT_TOTALS
        if key in summary
    ]


def percent(value: float | None) -> str:
    """0.99995 -> "99.995 %"; enough digits to tell the nines apart, no more."""
    if value is None:
        return "—"
    text = f"{value * 100:.6f}".rstrip("0").rstrip(".")
    return f"{text} %"


def downtime(value: float | None) -> str:
    """The unavailability as time per 30-day month: "4.3 min", "2 h 10 min"."""
    if value is None:
        return "—"
    minutes = (1 - value) * MINUTES_PER_MONTH
    if minutes < 1:
        return f"{minutes * 60:.0f} s"
    if minutes < 60:
        return f"{minutes:.1f} min"
    hours, rest = divmod(round(minutes), 60)
    return f"{hours} h {rest} min"


def availability_rows(rows: list[dict]) -> list[dict]:
    """tenant_availability's rows, with what the page shows."""
    scopes = dict(AreaScope.choices)
    return [
        {
            **row,
            "scope_label": scopes.get(row.get("scope"), row.get("scope") or ""),
            "availability_text": percent(row["availability"]),
            "target_text": percent(row["target"]),
            "downtime_text": downtime(row["availability"]),
            "target_downtime_text": downtime(row["target"]),
            # How far the design is from the target, as a bar: 0 (far) .. 100 (meets it).
            "bar": _bar(row["availability"], row["target"]),
        }
        for row in rows
    ]


def _bar(availability: float | None, target: float) -> int:
    if availability is None:
        return 0
    if availability >= target:
        return 100
    # Compare unavailabilities: twice the allowed downtime draws a half bar.
    allowed, actual = 1 - target, 1 - availability
    return max(2, min(99, round(100 * allowed / actual))) if actual else 100


def import_summary_text(summary: dict) -> str:
    """"Imported: 2 created, 5 changed, 1 deleted (regions: …)" for a catalog import."""
    labels = {
        "geographies": "geographies", "regions": "regions", "zones": "zones", "pops": "PoPs",
        "functional_areas": "functional areas", "failure_types": "failure types",
        "impact": "matrix cells",
    }
    parts = []
    for verb in ("created", "updated", "deleted"):
        counted = [f"{n} {labels.get(kind, kind)}" for kind, n in summary[verb].items() if n]
        if counted:
            parts.append(f"{verb} {', '.join(counted)}")
    prefix = "The check passed; importing would have" if summary.get("dry_run") else "Imported:"
    if not parts:
        return ("The check passed: the file matches the current catalog."
                if summary.get("dry_run") else "Imported: the file matched the catalog; "
                "nothing changed.")
    verbs = "; ".join(parts)
    return f"{prefix} {verbs}."


# Badges of an impact, worst first: (key, css class, label). Text and a symbol, never
# colour alone.
SEVERITY_BADGES = {
    "data_lost": ("sev-data_lost", "✕ Data lost"),
    "service_unavailable": ("sev-service_unavailable", "⊘ Service unavailable"),
    "dropped_calls": ("sev-dropped_calls", "☎ Calls dropped"),
    "customer": ("sev-customer", "Callers affected"),
    "agent": ("sev-agent", "Agents affected"),
    "delayed": ("sev-delayed", "◷ Delayed"),
    "operational": ("sev-operational", "Operations only"),
}


def area_badges(area: dict) -> list[tuple[str, str]]:
    """The badges of one area of an impact answer: its severity, then its other flags."""
    keys = [area.get("severity", "")]
    keys += [flag for flag in ("data_lost", "service_unavailable", "dropped_calls", "delayed")
             if area.get(flag)]
    return [SEVERITY_BADGES[k] for k in dict.fromkeys(keys) if k in SEVERITY_BADGES]


def tenant_impact_view(
    entry: dict, failure_names: dict[str, str], region_names: dict[str, str]
) -> dict:
    """One affected tenant of an impact answer, with what its summary line shows."""
    areas = [{**area, "badges": area_badges(area)} for area in entry["areas"]]
    flags = [key for key in ("data_lost", "service_unavailable", "dropped_calls", "delayed")
             if any(area.get(key) for area in areas)]
    worst = entry.get("severity", "")
    keys = list(dict.fromkeys([worst, *flags]))
    return {
        **entry,
        "areas": areas,
        "badges": [SEVERITY_BADGES[k] for k in keys if k in SEVERITY_BADGES],
        "failure_name": failure_names.get(entry.get("failure", ""), ""),
        "primary_region_name": region_names.get(entry.get("primary_region"), ""),
        "connectivity_label": dict(Connectivity.choices).get(entry.get("connectivity"), ""),
    }
