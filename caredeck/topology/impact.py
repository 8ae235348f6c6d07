"""Impact analysis: for one failed element, which tenants feel what.

`impact_of` is a pure function of the catalog (topology and failure-mode matrix) and the
tenants' deployments: it reads, never writes. The impact API, the `caredeck impact`
command, the what-if page and (later) incidents call it.

How a failure reaches a tenant:
- a region fails: every area of the tenants whose primary region it is, and, for every
  other tenant, the centralized areas homed in that region that it uses (a standby
  region does not spare them: the matrix cell says what the switch-over costs);
- a zone fails: what runs in the zone, i.e. as for its region, with the zone-failure
  cells (tenants whose primary region holds the zone; centralized areas homed there);
- a PoP fails: every area of the tenants whose PoP pair includes it, with the
  private-line or internet cells as each tenant connects.
A cell with "none" in all three texts is no impact, and so is a missing cell; a tenant is
affected when at least one of its areas is. A tenant's secondary region failing, or an
area's standby region, affects nobody. Deactivated tenants are left out.

Built for the whole customer base at once: a handful of `values_list` queries and dicts,
no model instances per tenant (bench/impact.py: 10,000 tenants well under a second).
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import slug_re
from django.db.models import Q

from caredeck.topology.models import (
    NO_IMPACT,
    AreaScope,
    Deployment,
    FailedElement,
    FailureImpact,
    FailureType,
    FunctionalArea,
    Pop,
    Region,
    Zone,
)

# Highest first: how an area's impact ranks, and the label of its worst aspect.
SEVERITIES = ("data_lost", "service_unavailable", "customer", "agent", "operational")

# The matrix has no flag for it; its customer texts say "Active calls ... dropped."
_DROPPED_CALLS = re.compile(r"\bdropped\b", re.IGNORECASE)


def _is_none(text: str) -> bool:
    return text.strip().lower() == NO_IMPACT


def _rank(cell: dict[str, Any]) -> int:
    """A number that orders cells as SEVERITIES does (data lost first)."""
    flags = (
        cell["data_lost"],
        cell["service_unavailable"],
        not _is_none(cell["customer"]),
        not _is_none(cell["agent"]),
        not _is_none(cell["operational"]),
    )
    rank = 0
    for flag in flags:
        rank = rank * 2 + int(bool(flag))
    return rank


def _severity_label(rank: int) -> str:
    for position, label in enumerate(SEVERITIES):
        if rank & (1 << (len(SEVERITIES) - 1 - position)):
            return label
    return "none"


def _resolve_target(target: Any) -> tuple[str, dict[str, Any]]:
    """(element, {"id", "slug", "name", "region_id"}) of the failed element."""
    if isinstance(target, str):
        target = target.strip()
    if isinstance(target, str) and slug_re.match(target):
        for element, queryset, region_field in (
            (FailedElement.REGION, Region.objects, "id"),
            (FailedElement.ZONE, Zone.objects, "region_id"),
            (FailedElement.POP, Pop.objects, None),
        ):
            fields = ["id", "slug", "name"] + ([region_field] if region_field else [])
            row = queryset.filter(slug=target).values(*fields).first()
            if row is not None:
                if region_field:
                    row["region_id"] = row[region_field]
                return element, row
    shown = str(target)[:60]
    raise ValidationError({"target": [f"No zone, region or PoP with id {shown!r}."]})


def _failure_types(element: str, failure: str | None) -> tuple[dict | None, dict[str, dict]]:
    """(the failure type for everyone, or None) and, for PoPs, the type per connectivity."""
    types = list(
        FailureType.objects.values("id", "slug", "name", "element", "connectivity")
    )
    if failure not in (None, ""):
        chosen = next((t for t in types if t["slug"] == failure), None)
        if chosen is None:
            known = ", ".join(t["slug"] for t in types)
            raise ValidationError(
                {"failure": [f"No failure type {str(failure)[:60]!r}. Use one of: {known}."]}
            )
        if chosen["element"] != element:
            raise ValidationError(
                {"failure": [
                    f"{chosen['slug']} is the failure of a {FailedElement(chosen['element']).label}"
                    f", and the target is a {FailedElement(element).label}."
                ]}
            )
        return chosen, {}
    of_element = [t for t in types if t["element"] == element]
    if not of_element:
        raise ValidationError(
            {"target": [f"The catalog has no failure type for a {FailedElement(element).label}."]}
        )
    if element != FailedElement.POP:
        return of_element[0], {}
    generic = next((t for t in of_element if not t["connectivity"]), of_element[0])
    by_connectivity = {t["connectivity"]: t for t in reversed(of_element) if t["connectivity"]}
    if len({t["id"] for t in by_connectivity.values()} | {generic["id"]}) == 1:
        return generic, {}
    return None, {"": generic, **by_connectivity}


# Bits of a cell's (and a tenant's) flags, for counting tenants in the summary.
_DROPPED, _LOST, _UNAVAILABLE, _DELAYED, _CUSTOMER = (1, 2, 4, 8, 16)


def _ordered_cells(type_ids: list[int]) -> tuple[dict[int, int], dict[int, list[tuple]]]:
    """(area id -> its bit, and per failure type the affecting cells, worst first, as
    (area bit, rank, flag bits, cell))."""
    areas = list(FunctionalArea.objects.values_list("id", "slug", "name", "position"))
    bits = {pk: 1 << n for n, (pk, *_) in enumerate(areas)}
    about = {pk: (slug, name, position) for pk, slug, name, position in areas}
    cells: dict[int, list[tuple]] = {pk: [] for pk in type_ids}
    rows = FailureImpact.objects.filter(failure_type_id__in=type_ids).values_list(
        "failure_type_id", "area_id", "operational", "agent", "customer",
        "data_lost", "delayed", "service_unavailable",
    )
    for type_id, area_id, operational, agent, customer, lost, delayed, unavailable in rows:
        if _is_none(operational) and _is_none(agent) and _is_none(customer):
            continue
        slug, name, _ = about[area_id]
        cell = {
            "area": slug,
            "name": name,
            "operational": operational,
            "agent": agent,
            "customer": customer,
            "data_lost": lost,
            "delayed": delayed,
            "service_unavailable": unavailable,
            "dropped_calls": bool(_DROPPED_CALLS.search(customer)),
        }
        rank = _rank(cell)
        cell["severity"] = _severity_label(rank)
        flags = (
            (_DROPPED if cell["dropped_calls"] else 0) | (_LOST if lost else 0)
            | (_UNAVAILABLE if unavailable else 0) | (_DELAYED if delayed else 0)
            | (_CUSTOMER if not _is_none(customer) else 0)
        )
        cells[type_id].append((bits[area_id], rank, flags, cell, about[area_id][2]))
    for type_id, entries in cells.items():
        entries.sort(key=lambda e: (-e[1], e[4], e[3]["area"]))
        cells[type_id] = [entry[:4] for entry in entries]
    return bits, cells


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """The answer is tens of thousands of small dicts without cycles; while they are
    built, the cyclic collector would walk them again and again (at 10,000 tenants, more
    than half the time). Reference counting still frees everything as usual."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _tenant_order(item: tuple) -> tuple:
    # Worst first, then by name; the slug settles equal names (the entry never compares).
    return item[:3]


def _failure_info(failure_type: dict) -> dict:
    return {"id": failure_type["slug"], "name": failure_type["name"]}


def impact_of(*, target: str, failure: str | None = None, organizations=None) -> dict[str, Any]:
    """Which tenants feel what when `target` (a zone, region or PoP id) fails.

    `failure` names the failure type explicitly (it must be one for that kind of
    element); by default it follows from the element, and for a PoP from each tenant's
    connectivity. `organizations` (a queryset) restricts the answer to those tenants.

    Raises ValidationError ({"target": ...} or {"failure": ...}) for an unknown element
    or type. Shape: see API.md, "Topology and impact".
    """
    with _cyclic_gc_paused():
        return _impact(target=target, failure=failure, organizations=organizations)


def _impact(*, target: Any, failure: str | None, organizations) -> dict[str, Any]:
    element, failed = _resolve_target(target)
    common, by_connectivity = _failure_types(element, failure)
    used_types = [common] if common is not None else list(by_connectivity.values())
    used_types = list({t["id"]: t for t in used_types}.values())
    type_ids = [t["id"] for t in used_types]
    bits, cells = _ordered_cells(type_ids)
    region_slugs = dict(Region.objects.values_list("id", "slug"))

    deployments = Deployment.objects.filter(organization__is_active=True)
    if organizations is not None:
        deployments = deployments.filter(organization__in=organizations)
    tenants = list(
        deployments.values_list(
            "id", "organization__slug", "organization__name", "primary_region_id",
            "connectivity",
        )
    )

    links = Deployment.areas.through.objects.all()
    if organizations is not None:
        # A narrow question (one tenant's users) reads only those tenants' rows.
        links = links.filter(deployment__in=deployments)
    if element == FailedElement.POP:
        # Every area of the tenants reaching the PoP.
        links = links.filter(deployment__pops__id=failed["id"])
    else:
        # All areas of the tenants whose primary region failed (or holds the failed
        # zone); only the centralized areas homed there for everyone else.
        region_id = failed["region_id"]
        homed = list(
            FunctionalArea.objects.filter(
                scope=AreaScope.CENTRALIZED, home_region_id=region_id
            ).values_list("id", flat=True)
        )
        links = links.filter(
            Q(deployment__primary_region_id=region_id) | Q(functionalarea_id__in=homed)
        )
    # The areas each tenant has hit, as a bit set.
    hit: dict[int, int] = {}
    for dep_id, area_id in links.values_list("deployment_id", "functionalarea_id"):
        hit[dep_id] = hit.get(dep_id, 0) | bits[area_id]

    # Tenants with the same failure type and the same areas hit feel the same thing:
    # their answer is worked out once. {(type id, bits): (cells, rank, flags)}
    outcomes: dict[tuple[int, int], tuple[list[dict], int, int]] = {}
    tally: dict[tuple[int, int], int] = {}
    affected: list[tuple[int, str, str, dict]] = []
    not_affected: list[str] = []
    for dep_id, slug, name, primary_id, connectivity in tenants:
        mask = hit.get(dep_id, 0)
        if not mask:
            not_affected.append(slug)
            continue
        failure_type = common or by_connectivity.get(connectivity) or by_connectivity[""]
        key = (failure_type["id"], mask)
        outcome = outcomes.get(key)
        if outcome is None:
            chosen = [entry for entry in cells[failure_type["id"]] if entry[0] & mask]
            flags = 0
            for entry in chosen:
                flags |= entry[2]
            outcome = ([entry[3] for entry in chosen], chosen[0][1] if chosen else 0, flags)
            outcomes[key] = outcome
        areas, rank, _ = outcome
        if not areas:
            not_affected.append(slug)
            continue
        tally[key] = tally.get(key, 0) + 1
        entry = {
            "organization": slug,
            "name": name,
            "failure": failure_type["slug"],
            "connectivity": connectivity,
            "primary_region": region_slugs.get(primary_id),
            "severity": areas[0]["severity"],
            "areas": [dict(cell) for cell in areas],
        }
        affected.append((-rank, name.casefold(), slug, entry))
    affected.sort(key=_tenant_order)
    not_affected.sort()

    counts = dict.fromkeys((_DROPPED, _LOST, _UNAVAILABLE, _DELAYED, _CUSTOMER), 0)
    per_area: dict[str, int] = {}
    for key, number in tally.items():
        areas, _, flags = outcomes[key]
        for flag in counts:
            if flags & flag:
                counts[flag] += number
        for cell in areas:
            per_area[cell["area"]] = per_area.get(cell["area"], 0) + number

    return {
        "target": failed["slug"],
        "target_name": failed["name"],
        "element": str(element),
        "failure": common["slug"] if common is not None else None,
        "failure_types": [_failure_info(t) for t in used_types],
        "tenants": [t[3] for t in affected],
        "not_affected": not_affected,
        "summary": {
            "tenants_affected": len(affected),
            "tenants_not_affected": len(not_affected),
            "tenants_with_dropped_calls": counts[_DROPPED],
            "tenants_with_data_loss": counts[_LOST],
            "tenants_with_service_unavailable": counts[_UNAVAILABLE],
            "tenants_with_delays": counts[_DELAYED],
            "tenants_with_customer_impact": counts[_CUSTOMER],
            "areas": dict(sorted(per_area.items(), key=lambda kv: (-kv[1], kv[0]))),
        },
    }
