"""Who hears about an event: a tenant's designated contacts and subscribers, and provider
staff by role.

Customer notices (outages, maintenance, reports) go to each affected tenant's designated
contacts and to the people there who chose channels for that event in their notification
settings. Built for many tenants at once: two queries whatever their number.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from caredeck.accounts.models import Organization, RoleGrant, User
from caredeck.accounts.roles import Role
from caredeck.notify.models import Subscription, WebhookEndpoint
from caredeck.notify.services import outbox_write, render_email, user_rows, webhook_rows


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


@dataclass
class TenantMessage:
    """One tenant's version of a notice: its own context (its own impact text)."""

    organization: Organization
    context: dict[str, Any]
    webhook_data: dict[str, Any] = field(default_factory=dict)


def notify_tenants(
    *,
    event: str,
    messages: list[TenantMessage],
    dedupe_base: str,
    template: str,
    url: str = "",
    attachments: list[dict] | None = None,
) -> dict[int, int]:
    """Send each tenant its own version of a notice: e-mail / in-app to its designated
    contacts and subscribers, and its webhooks. Everything is rendered per tenant from
    that tenant's context only, so nothing written for one tenant reaches another.

    Returns organization id -> number of messages written. Runs in the caller's
    transaction; a handful of queries for any number of tenants.
    """
    if not messages:
        return {}
    org_ids = [m.organization.pk for m in messages]
    audience = tenant_audience(org_ids, event)
    all_users = [u.pk for users in audience.values() for u in users]
    chosen = dict(
        Subscription.objects.filter(event=event, user__in=all_users)
        .values_list("user_id", "channels")
    )
    endpoints: dict[int, list[WebhookEndpoint]] = defaultdict(list)
    for endpoint in WebhookEndpoint.objects.filter(organization_id__in=org_ids, is_active=True):
        if not endpoint.events or event in endpoint.events:
            endpoints[endpoint.organization_id].append(endpoint)
    rows: list[dict[str, Any]] = []
    counts: dict[int, int] = {}
    for message in messages:
        org = message.organization
        tenant_rows = user_rows(
            event=event, users=audience.get(org.pk, []), dedupe_base=f"{dedupe_base}:{org.pk}",
            template=template, context={**message.context, "organization": org},
            organization=org, url=url, attachments=attachments, chosen=chosen,
        )
        if endpoints.get(org.pk):
            rendered = tenant_rows[0] if tenant_rows else render_email(
                template, {**message.context, "organization": org, "url": url}
            )
            subject, text = rendered["subject"], rendered["body_text"]
            tenant_rows += webhook_rows(
                event=event, organization=org, dedupe_base=f"{dedupe_base}:{org.pk}",
                subject=subject, text=text, url=url, data=message.webhook_data,
                endpoints=endpoints[org.pk],
            )
        counts[org.pk] = len(tenant_rows)
        rows += tenant_rows
    outbox_write(rows)
    return counts
