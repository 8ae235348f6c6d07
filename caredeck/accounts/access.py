"""Who may see which tenant and do what there.

Every read of tenant-owned data starts from `tenants_for(user)`; every permission is a
capability from the one table in roles.py, checked by `has_capability`.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from caredeck.accounts.models import Organization, PartnerLink
from caredeck.accounts.roles import Capability, OrganizationKind, capabilities_of


def _own_capabilities(user) -> frozenset[Capability]:
    cached = getattr(user, "_caps_cache", None)
    if cached is None:
        cached = capabilities_of(user.roles)
        user._caps_cache = cached
    return cached


def _partner_rights(user) -> dict[int, frozenset[str]]:
    """customer id -> rights of the user's partner organization on that customer."""
    cached = getattr(user, "_partner_rights_cache", None)
    if cached is None:
        cached = {
            link.customer_id: frozenset(link.rights)
            for link in PartnerLink.objects.filter(partner_id=user.organization_id)
        }
        user._partner_rights_cache = cached
    return cached


def tenants_for(user) -> QuerySet[Organization]:
    """The organizations whose data `user` may see (their own included)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Organization.objects.none()
    kind = user.organization.kind
    if kind == OrganizationKind.PROVIDER:
        if Capability.SERVE_ALL_TENANTS in _own_capabilities(user):
            return Organization.objects.all()
        return Organization.objects.filter(Q(pk=user.organization_id) | Q(tam=user))
    if kind == OrganizationKind.PARTNER:
        linked = [
            customer_id
            for customer_id, rights in _partner_rights(user).items()
            if Capability.VIEW_TENANT in rights
        ]
        return Organization.objects.filter(Q(pk=user.organization_id) | Q(pk__in=linked))
    return Organization.objects.filter(pk=user.organization_id)


def capabilities_in(user, organization: Organization | None) -> frozenset[Capability]:
    """What `user` may do in `organization` (None: what the user may do at all)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    own = _own_capabilities(user)
    if organization is None or organization.pk == user.organization_id:
        return own
    kind = user.organization.kind
    if kind == OrganizationKind.PROVIDER:
        if Capability.SERVE_ALL_TENANTS in own or organization.tam_id == user.pk:
            return own
        return frozenset()
    if kind == OrganizationKind.PARTNER:
        rights = _partner_rights(user).get(organization.pk)
        if rights is None:
            return frozenset()
        return frozenset(cap for cap in own if cap in rights)
    return frozenset()


def has_capability(user, capability: Capability, organization: Organization | None = None) -> bool:
    return capability in capabilities_in(user, organization)


def is_provider_staff(user) -> bool:
    return (
        getattr(user, "is_authenticated", False)
        and user.is_active
        and user.organization.kind == OrganizationKind.PROVIDER
    )
