"""Reads of organizations, people, products and tokens, always scoped to the actor."""

from __future__ import annotations

from django.core.validators import slug_re
from django.db.models import Prefetch, QuerySet
from django.http import Http404

from caredeck.accounts.access import has_capability, is_provider_staff, tenants_for
from caredeck.accounts.models import (
    AccessRequest,
    AccessRequestStatus,
    ApiToken,
    Organization,
    PartnerLink,
    Product,
    RoleGrant,
    User,
)
from caredeck.accounts.roles import Capability, OrganizationKind
from caredeck.core.selectors import one_or_404


def provider_organization() -> Organization | None:
    """The provider: owner of provider-level objects (products, catalog, access requests)."""
    return Organization.objects.filter(kind=OrganizationKind.PROVIDER).first()


def organizations_visible(user) -> QuerySet[Organization]:
    return tenants_for(user).select_related("tam", "contract").prefetch_related("platforms")


def _is_slug(value) -> bool:
    # Nothing else names an object; a NUL byte would even make PostgreSQL raise (a 500).
    return isinstance(value, str) and bool(slug_re.match(value))


def organization_get(user, slug: str) -> Organization:
    if not _is_slug(slug):
        raise Http404("No such organization.")
    organization = organizations_visible(user).filter(slug=slug).first()
    if organization is None:
        raise Http404("No such organization.")
    return organization


def users_visible(user) -> QuerySet[User]:
    return (
        User.objects.filter(organization__in=tenants_for(user))
        .select_related("organization")
        .prefetch_related(Prefetch("role_grants", queryset=RoleGrant.objects.order_by("role")))
    )


def user_get(actor, user_id) -> User:
    return one_or_404(users_visible(actor), "user", pk=user_id)


def products_visible(user) -> QuerySet[Product]:
    if is_provider_staff(user):
        return Product.objects.all()
    return Product.objects.filter(organizations__in=tenants_for(user)).distinct()


def product_get(user, slug: str) -> Product:
    if not _is_slug(slug):
        raise Http404("No such product.")
    product = products_visible(user).filter(slug=slug).first()
    if product is None:
        raise Http404("No such product.")
    return product


def access_requests_visible(user) -> QuerySet[AccessRequest]:
    if not has_capability(user, Capability.MANAGE_ACCESS_REQUESTS):
        return AccessRequest.objects.none()
    return AccessRequest.objects.select_related("decided_by", "organization")


def access_request_get(user, request_id) -> AccessRequest:
    return one_or_404(access_requests_visible(user), "access request", pk=request_id)


def access_requests_pending(user) -> QuerySet[AccessRequest]:
    return access_requests_visible(user).filter(status=AccessRequestStatus.PENDING)


def partner_links_of(user, organization: Organization) -> QuerySet[PartnerLink]:
    """The links of a customer or partner that `user` may see."""
    visible = tenants_for(user)
    links = PartnerLink.objects.select_related("partner", "customer")
    if organization.kind == "partner":
        return links.filter(partner=organization, customer__in=visible)
    return links.filter(customer=organization, partner__in=visible)


def partner_link_get(user, link_id) -> PartnerLink:
    links = PartnerLink.objects.select_related("partner", "customer")
    if not has_capability(user, Capability.MANAGE_PARTNER_LINKS):
        links = links.none()
    return one_or_404(links, "link", pk=link_id)


def tokens_of(user) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user)


def token_get(user, token_id) -> ApiToken:
    return one_or_404(tokens_of(user), "token", pk=token_id)


def tams() -> QuerySet[User]:
    return User.objects.filter(role_grants__role="tam", is_active=True).distinct()
