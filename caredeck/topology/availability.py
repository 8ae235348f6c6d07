"""Designed availability: what the architecture promises before anything is measured.

Pure arithmetic over component availabilities (probabilities in [0, 1]): components a
request needs one after the other run in series, redundant replicas in parallel, and
k-of-n groups need k of their n members. The area and tenant functions apply it to the
catalog: an area's components run in series within one region; a tenant's primary and
secondary regions run in parallel for distributed and per-region areas; a centralized
area runs in its home region, in parallel with its standby region if it has one.

Read by the availability API and page, and by the contract view of a tenant. Measured
availability comes from monitoring (a later issue) and is not computed here.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from fractions import Fraction
from numbers import Real
from typing import Any

from caredeck.topology.models import AreaScope, Deployment, FunctionalArea

DEFAULT_TARGET = 0.9999  # the platform SLA, when a tenant has no contract


def _exact(value: Any) -> Fraction:
    """The probability as an exact fraction; the arithmetic below is exact and only the
    result is rounded once, so rounding can never make redundancy look harmful."""
    if isinstance(value, bool) or not isinstance(value, Real | Decimal | str):
        raise ValueError(f"An availability is a number between 0 and 1, not {value!r}.")
    try:
        exact = Fraction(str(value)) if isinstance(value, str) else Fraction(value)
    except (ValueError, ZeroDivisionError, OverflowError) as exc:
        raise ValueError(f"An availability is a number between 0 and 1, not {value!r}.") from exc
    if not 0 <= exact <= 1:
        raise ValueError(f"An availability is a number between 0 and 1, not {value!r}.")
    return exact


def _flatten(values: tuple) -> list[Fraction]:
    # serial(a, b, c) and serial([a, b, c]) both read naturally; accept both.
    if len(values) == 1 and isinstance(values[0], Iterable) and not isinstance(values[0], str):
        values = tuple(values[0])
    return [_exact(v) for v in values]


def _serial_exact(parts: list[Fraction]) -> Fraction:
    result = Fraction(1)
    for part in parts:
        result *= part
    return result


def _parallel_exact(parts: list[Fraction]) -> Fraction:
    down = Fraction(1)
    for part in parts:
        down *= 1 - part
    return 1 - down


def serial(*availabilities) -> float:
    """All of them are needed: the product. No component at all is always available."""
    return float(_serial_exact(_flatten(availabilities)))


def parallel(*availabilities) -> float:
    """Any one of them is enough: 1 - the product of the unavailabilities. With no
    component at all nothing is available."""
    return float(_parallel_exact(_flatten(availabilities)))


def _k_of_n_exact(k: int, parts: list[Fraction]) -> Fraction:
    if k <= 0:
        return Fraction(1)
    if k > len(parts):
        return Fraction(0)
    # up[j] = probability that exactly j of the members seen so far are up. Exact for
    # members that differ, not only for identical ones (the binomial special case).
    up = [Fraction(1)]
    for part in parts:
        nxt = [Fraction(0)] * (len(up) + 1)
        for j, p in enumerate(up):
            nxt[j] += p * (1 - part)
            nxt[j + 1] += p * part
        up = nxt
    return sum(up[k:], Fraction(0))


def k_of_n(k: int, availabilities: Iterable) -> float:
    """At least `k` of the members must be up (e.g. 2 of 3 SIP servers for capacity)."""
    if isinstance(k, bool) or not isinstance(k, int):
        raise ValueError("k is a whole number of members.")
    return float(_k_of_n_exact(k, [_exact(a) for a in availabilities]))


# --- The catalog ----------------------------------------------------------------------


def _component_exact(component: dict) -> Fraction:
    """One component of an area: {"name", "availability"}, optionally run as a group of
    `instances` of which `needed` must be up (default: a single instance)."""
    availability = _exact(component["availability"])
    instances = int(component.get("instances", 1) or 1)
    needed = int(component.get("needed", 1) or 1)
    if instances == 1 and needed == 1:
        return availability
    return _k_of_n_exact(needed, [availability] * instances)


def region_chain(area: FunctionalArea) -> float | None:
    """The area's components in series, in one region (None: no figures in the catalog)."""
    exact = _region_chain_exact(area)
    return None if exact is None else float(exact)


def _region_chain_exact(area: FunctionalArea) -> Fraction | None:
    components = area.components or []
    if not components:
        return None
    return _serial_exact([_component_exact(c) for c in components])


def area_availability(area: FunctionalArea, deployment: Deployment | None = None) -> float | None:
    """The designed availability of `area` for a tenant deployed as `deployment`.

    Distributed and per-region areas run in the tenant's primary region and, if it has
    one, its secondary region in parallel. A centralized area runs in its home region
    whatever the tenant's regions, in parallel with its standby region if any. Without
    a deployment, one region (or home plus standby) is assumed.
    """
    chain = _region_chain_exact(area)
    if chain is None:
        return None
    if area.scope == AreaScope.CENTRALIZED:
        replicas = 2 if area.standby_region_id else 1
    else:
        has_secondary = deployment is not None and deployment.secondary_region_id is not None
        replicas = 2 if has_secondary else 1
    return float(_parallel_exact([chain] * replicas))


def target_of(organization) -> float:
    """The tenant's contracted availability as a fraction (99.99 % -> 0.9999)."""
    # A missing contract raises RelatedObjectDoesNotExist, an AttributeError: the SLA holds.
    contract = getattr(organization, "contract", None)
    if contract is None or contract.availability_target is None:
        return DEFAULT_TARGET
    percent = contract.availability_target
    return float(Decimal(percent) / 100)


def tenant_availability(organization) -> list[dict[str, Any]]:
    """Per functional area the tenant uses: the designed availability beside the
    contract's target, flagging the areas that cannot meet it by design.

    Rows: {"area", "name", "scope", "availability", "target", "meets_target"}; an area
    with no component figures in the catalog has availability and meets_target None.
    A tenant without a deployment has no rows.
    """
    deployment = (
        Deployment.objects.filter(organization=organization)
        .prefetch_related("areas")
        .first()
    )
    if deployment is None:
        return []
    target = target_of(organization)
    rows = []
    for area in sorted(deployment.areas.all(), key=lambda a: (a.position, a.name)):
        availability = area_availability(area, deployment)
        rows.append(
            {
                "area": area.slug,
                "name": area.name,
                "scope": area.scope,
                "availability": availability,
                "target": target,
                "meets_target": None if availability is None else availability >= target,
            }
        )
    return rows
