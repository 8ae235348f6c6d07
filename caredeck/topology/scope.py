"""The scope of an incident or a maintenance window: who is affected, and how.

A scope is either a failed element of the topology (a zone, region or PoP, with an
optional failure type), whose affected tenants and per-area texts come from the impact
analysis, or a list of tenants with the functional areas concerned, whose texts are
written by hand. Both end as the same list of `TenantScope`s, which incidents and
maintenance store per tenant and pre-fill their notices from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import slug_re

from caredeck.accounts.models import Organization
from caredeck.accounts.roles import OrganizationKind
from caredeck.topology.impact import impact_of
from caredeck.topology.models import FunctionalArea


@dataclass
class TenantScope:
    organization_id: int
    slug: str
    name: str
    # [{"area", "name", "operational", "agent", "customer", "data_lost", ...}]
    areas: list[dict[str, Any]] = field(default_factory=list)

    @property
    def impact_text(self) -> str:
        """What the tenant's people will feel, one line per area, for its notices."""
        lines = []
        for area in self.areas:
            felt = [
                text for text in (area.get("customer"), area.get("agent"))
                if text and text.strip().lower() != "none"
            ]
            lines.append(f"{area.get('name') or area['area']}: {' '.join(felt) or 'degraded'}")
        return "\n".join(lines)


@dataclass
class Scope:
    failure_target: str = ""
    failure_type: str = ""
    tenants: list[TenantScope] = field(default_factory=list)


def _slugs(value, name: str) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        value = [v.strip() for v in value.replace("\n", ",").split(",") if v.strip()]
    if not isinstance(value, list | tuple) or not all(
        isinstance(v, str) and slug_re.match(v) for v in value
    ):
        raise ValidationError({name: ["Give a list of ids."]})
    return list(dict.fromkeys(value))


def scope_resolve(
    *, failure: dict | None = None, organizations=None, areas=None
) -> Scope:
    """Validate a scope and compute who is affected. Raises ValidationError per field.

    `failure` is {"target": id, "failure": optional type}; otherwise `organizations`
    (slugs) with `areas` (functional-area ids; empty: every area the tenant uses).
    """
    if failure:
        if not isinstance(failure, dict) or not failure.get("target"):
            raise ValidationError({"failure": ["Name the failed element: {\"target\": id}."]})
        try:
            answer = impact_of(
                target=failure["target"], failure=failure.get("failure") or None
            )
        except ValidationError as exc:
            raise ValidationError({"failure": [m for ms in exc.message_dict.values()
                                               for m in ms]}) from exc
        by_slug = dict(
            Organization.objects.filter(
                slug__in=[t["organization"] for t in answer["tenants"]]
            ).values_list("slug", "pk")
        )
        return Scope(
            failure_target=answer["target"],
            failure_type=answer["failure"] or "",
            tenants=[
                TenantScope(
                    organization_id=by_slug[t["organization"]], slug=t["organization"],
                    name=t["name"], areas=t["areas"],
                )
                for t in answer["tenants"]
                if t["organization"] in by_slug
            ],
        )
    slugs = _slugs(organizations, "organizations")
    if not slugs:
        raise ValidationError(
            {"organizations": ["Name the affected tenants, or a failed element as the scope."]}
        )
    orgs = list(
        Organization.objects.filter(
            slug__in=slugs, kind=OrganizationKind.CUSTOMER, is_active=True
        ).select_related("deployment")
    )
    missing = sorted(set(slugs) - {o.slug for o in orgs})
    if missing:
        raise ValidationError(
            {"organizations": [f"No active customer tenant {', '.join(missing)}."]}
        )
    area_ids = _slugs(areas, "areas")
    known = {a.slug: a for a in FunctionalArea.objects.all()}
    unknown = [a for a in area_ids if a not in known]
    if unknown:
        raise ValidationError({"areas": [f"No functional area {', '.join(unknown)}."]})
    tenants = []
    for org in orgs:
        chosen = area_ids
        if not chosen:
            deployment = getattr(org, "deployment", None)
            chosen = (
                list(deployment.areas.values_list("slug", flat=True)) if deployment else []
            )
        tenants.append(
            TenantScope(
                organization_id=org.pk, slug=org.slug, name=org.name,
                areas=[
                    {"area": slug, "name": known[slug].name, "operational": "", "agent": "",
                     "customer": "", "data_lost": False, "service_unavailable": False}
                    for slug in chosen if slug in known
                ],
            )
        )
    return Scope(tenants=sorted(tenants, key=lambda t: t.name.lower()))
