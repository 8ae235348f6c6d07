"""Who hears about an event: a tenant's designated contacts and subscribers, and provider
staff by role.

Customer notices (outages, maintenance, reports) go to each affected tenant's designated
contacts and to the people there who chose channels for that event in their notification
settings. Built for many tenants at once: two queries whatever their number.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from caredeck.accounts.models import RoleGrant, User
from caredeck.accounts.roles import Role
from caredeck.notify.models import Subscription


def tenant_audience(organization_ids: Iterable[int], event: str) -> dict[int, list[User]]:
    """organization id -> its active designated contacts and subscribers of `event`."""
    ids = list(organization_ids)
    if not ids:
        return {}
    contacts = set(
        RoleGrant.objects.filter(
            role=Role.DESIGNATED_CONTACT, user__organization_id__in=ids, user__is_active=True
        ).values_list("user_id", flat=True)
    )
    subscribers = set(
        Subscription.objects.filter(
            event=event, user__organization_id__in=ids, user__is_active=True
        )
        .exclude(channels=[])
        .values_list("user_id", flat=True)
    )
    audience: dict[int, list[User]] = defaultdict(list)
    for user in User.objects.filter(pk__in=contacts | subscribers).order_by("pk"):
        audience[user.organization_id].append(user)
    return dict(audience)


def staff_with_roles(*roles: str) -> list[User]:
    """Active provider people holding any of `roles` (e.g. the care managers)."""
    return list(
        User.objects.filter(
            role_grants__role__in=roles, is_active=True, organization__kind="provider"
        ).distinct().order_by("pk")
    )
