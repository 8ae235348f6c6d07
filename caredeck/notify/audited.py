"""Registers outbox messages and webhooks with the audit log."""

from django.urls import reverse

from caredeck.accounts.access import has_capability, tenants_for
from caredeck.accounts.roles import Capability
from caredeck.accounts.selectors import provider_organization
from caredeck.core.audit import AuditedKind, register_audited
from caredeck.notify.models import OutboundMessage, WebhookEndpoint
from caredeck.notify.selectors import messages_visible


def _webhooks_visible(user):
    # A webhook's history is for those who manage it: its URL may carry a token.
    managed = [
        org.pk for org in tenants_for(user)
        if has_capability(user, Capability.MANAGE_WEBHOOKS, org)
    ]
    return WebhookEndpoint.objects.filter(organization__in=managed)


register_audited(
    AuditedKind(
        kind="message", model=OutboundMessage, lookup="pk", visible_to=messages_visible,
        owner_of=lambda m: m.organization or provider_organization(),
        url_of=lambda m: reverse("delivery-detail", args=[m.pk]),
    )
)
register_audited(
    AuditedKind(
        kind="webhook", model=WebhookEndpoint, lookup="pk", visible_to=_webhooks_visible,
        owner_of=lambda w: w.organization,
        url_of=lambda w: reverse("webhook-detail", args=[w.pk]),
    )
)
