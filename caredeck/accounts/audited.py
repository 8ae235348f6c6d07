"""Registers this app's objects with the audit log: how each is found and who sees it."""

from django.urls import reverse

from caredeck.accounts import selectors
from caredeck.accounts.models import AccessRequest, Organization, Product, User
from caredeck.core.audit import AuditedKind, register_audited


def _products_for_audit(user):
    # Customers may see a product's name, but only provider staff read its history.
    from caredeck.accounts.access import is_provider_staff

    return selectors.products_visible(user) if is_provider_staff(user) else Product.objects.none()


register_audited(
    AuditedKind(
        kind="organization",
        model=Organization,
        lookup="slug",
        visible_to=selectors.organizations_visible,
        owner_of=lambda o: o,
        url_of=lambda o: reverse("organization-detail", args=[o.slug]),
    )
)
register_audited(
    AuditedKind(
        kind="user",
        model=User,
        lookup="pk",
        visible_to=selectors.users_visible,
        owner_of=lambda u: u.organization,
        url_of=lambda u: reverse("user-detail", args=[u.pk]),
    )
)
register_audited(
    AuditedKind(
        kind="product",
        model=Product,
        lookup="slug",
        visible_to=_products_for_audit,
        owner_of=lambda p: selectors.provider_organization(),
        url_of=lambda p: reverse("product-edit", args=[p.slug]),
    )
)
register_audited(
    AuditedKind(
        kind="access_request",
        model=AccessRequest,
        lookup="pk",
        visible_to=selectors.access_requests_visible,
        owner_of=lambda r: selectors.provider_organization(),
        url_of=lambda r: reverse("access-request-detail", args=[r.pk]),
    )
)
