"""Registers the topology's elements with the audit log.

The catalog is the provider's: only provider staff read the history of its elements. An
import of the whole catalog is one entry in the provider organization's history
(catalog.py); each element edited on its own (services.py) has its own history here.
"""

from django.urls import NoReverseMatch, reverse

from caredeck.accounts.access import is_provider_staff
from caredeck.accounts.selectors import provider_organization
from caredeck.core.audit import AuditedKind, register_audited
from caredeck.topology.models import (
    FailureImpact,
    FailureType,
    FunctionalArea,
    Geography,
    Pop,
    Region,
    Zone,
)


def _visible(model):
    def visible_to(user):
        return model.objects.all() if is_provider_staff(user) else model.objects.none()

    return visible_to


def _url(name: str, *args) -> str:
    # The topology pages name their routes; until a page exists for an element, its
    # history links to the topology overview.
    for candidate, candidate_args in ((name, args), ("topology", ())):
        try:
            return reverse(candidate, args=candidate_args)
        except NoReverseMatch:
            continue
    return "/topology/"


for kind, model, lookup, page in (
    ("geography", Geography, "slug", "topology"),
    ("region", Region, "slug", "topology-region"),
    ("zone", Zone, "slug", "topology"),
    ("pop", Pop, "slug", "topology"),
    ("area", FunctionalArea, "slug", "topology-area"),
    ("failure_type", FailureType, "slug", "topology-matrix"),
    ("impact_cell", FailureImpact, "pk", "topology-matrix"),
):
    register_audited(
        AuditedKind(
            kind=kind,
            model=model,
            lookup=lookup,
            visible_to=_visible(model),
            owner_of=lambda obj: provider_organization(),
            url_of=(
                (lambda obj, page=page: _url(page, obj.slug))
                if lookup == "slug"
                else (lambda obj, page=page: _url(page))
            ),
        )
    )
