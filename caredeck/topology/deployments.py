"""Where each tenant runs: setting a deployment, and reading the deployments one may see.

`deployment_set` is the one write (the API's POST /api/v1/deployments/, the pages' form);
it is audited on the organization. Reads are scoped by `tenants_for`, so a tenant sees
its own deployment and provider staff every one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import slug_re
from django.db import models, transaction
from django.db.models import QuerySet
from django.http import Http404

from caredeck.accounts.access import has_capability, tenants_for
from caredeck.accounts.models import Organization
from caredeck.accounts.roles import Capability, OrganizationKind
from caredeck.core.audit import audit_record, changes_between
from caredeck.topology.models import Connectivity, Deployment, FunctionalArea, Pop, Region

POPS_PER_DEPLOYMENT = 2


def _slug_of(value: Any) -> str | None:
    if isinstance(value, models.Model):
        return value.slug
    return value if isinstance(value, str) or value is None else repr(value)


def _lookup(model: type[models.Model], value: Any, field: str, what: str):
    slug = _slug_of(value)
    if isinstance(slug, str) and slug_re.match(slug):
        found = model.objects.filter(slug=slug).first()
        if found is not None:
            return found
    raise ValidationError({field: [f"No {what} with id {str(slug)[:60]!r}."]})


def _lookup_many(
    model: type[models.Model], values: Iterable, field: str, what: str
) -> list[models.Model]:
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise ValidationError({field: [f"Give a list of {what} ids."]})
    slugs = list(dict.fromkeys(_slug_of(v) for v in values))
    valid = [s for s in slugs if isinstance(s, str) and slug_re.match(s)]
    found = {obj.slug: obj for obj in model.objects.filter(slug__in=valid)}
    unknown = [str(s)[:60] for s in slugs if s not in found]
    if unknown:
        raise ValidationError({field: [f"No {what} with id {s!r}." for s in unknown]})
    return [found[s] for s in slugs]


def _summary(deployment: Deployment | None, pops=None, areas=None) -> dict[str, Any]:
    if deployment is None:
        return {}
    if pops is None:
        pops = deployment.pops.all()
    if areas is None:
        areas = deployment.areas.all()
    return {
        "primary_region": deployment.primary_region.slug,
        "secondary_region": getattr(deployment.secondary_region, "slug", None),
        "pops": sorted(p.slug for p in pops),
        "connectivity": deployment.connectivity,
        "areas": sorted(a.slug for a in areas),
    }


def deployment_set(
    *,
    actor,
    organization: Organization,
    primary_region: Region | str,
    secondary_region: Region | str | None,
    pops: Iterable[Pop | str],
    connectivity: str,
    areas: Iterable[FunctionalArea | str],
) -> Deployment:
    """Create or replace the deployment of `organization` (a customer tenant).

    Regions, PoPs and areas are given as objects or by their ids. The tenant reaches
    exactly two PoPs; its secondary region, if any, differs from its primary.
    """
    if not has_capability(actor, Capability.MANAGE_TOPOLOGY, organization):
        raise PermissionDenied("Your roles do not allow this (model the platform).")
    errors: dict[str, list[str]] = {}

    def collect(fn):
        try:
            return fn()
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                errors.setdefault(field, []).extend(messages)
            return None

    if organization.kind != OrganizationKind.CUSTOMER:
        errors["organization"] = ["Only a customer tenant has a deployment."]
    primary = collect(lambda: _lookup(Region, primary_region, "primary_region", "region"))
    secondary = None
    if secondary_region not in (None, ""):
        secondary = collect(
            lambda: _lookup(Region, secondary_region, "secondary_region", "region")
        )
        if primary is not None and secondary is not None and primary.pk == secondary.pk:
            errors.setdefault("secondary_region", []).append(
                "The secondary region must differ from the primary region."
            )
    pop_objects = collect(lambda: _lookup_many(Pop, pops, "pops", "PoP"))
    if pop_objects is not None and len(pop_objects) != POPS_PER_DEPLOYMENT:
        errors.setdefault("pops", []).append(
            f"A tenant reaches exactly {POPS_PER_DEPLOYMENT} different PoPs "
            f"(got {len(pop_objects)})."
        )
    if connectivity not in Connectivity.values:
        errors["connectivity"] = [f"Use one of: {', '.join(Connectivity.values)}."]
    area_objects = collect(
        lambda: _lookup_many(FunctionalArea, areas, "areas", "functional area")
    )
    if errors:
        raise ValidationError(errors)

    with transaction.atomic():
        existing = (
            # Lock only the deployment row: PostgreSQL refuses FOR UPDATE on the nullable
            # side of the outer join that select_related makes for the secondary region.
            Deployment.objects.select_for_update(of=("self",))
            .select_related("primary_region", "secondary_region")
            .filter(organization=organization)
            .first()
        )
        before = _summary(existing)
        deployment = existing or Deployment(organization=organization)
        deployment.primary_region = primary
        deployment.secondary_region = secondary
        deployment.connectivity = connectivity
        deployment.save()
        deployment.pops.set(pop_objects)
        deployment.areas.set(area_objects)
        after = _summary(deployment, pop_objects, area_objects)
        changes = changes_between(before, after)
        if changes:
            audit_record(
                actor=actor, obj=organization,
                action="deployment_created" if existing is None else "deployment_changed",
                changes={f"deployment.{k}": v for k, v in changes.items()},
            )
    return deployment


# --- Reads ----------------------------------------------------------------------------


def deployments_visible(user) -> QuerySet[Deployment]:
    return (
        Deployment.objects.filter(organization__in=tenants_for(user))
        .select_related("organization", "primary_region", "secondary_region")
        .prefetch_related("pops", "areas")
    )


def deployment_get(user, slug: str) -> Deployment:
    """The deployment of the organization `slug`; 404 for another tenant's or none."""
    if not isinstance(slug, str) or not slug_re.match(slug):
        raise Http404("No such deployment.")
    deployment = deployments_visible(user).filter(organization__slug=slug).first()
    if deployment is None:
        raise Http404("No such deployment.")
    return deployment
