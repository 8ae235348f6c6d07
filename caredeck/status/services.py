"""The one thing the status app changes: each tenant's feed token.

The token is created the first time someone looks at the tenant's status page (feed
readers cannot sign in, so the URL is the secret), and replaced on request by someone who
administers the tenant's users, which kills every copy of the old URL at once. Renewing
is audited on the organization; the token itself never enters the audit log.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from caredeck.accounts.access import has_capability
from caredeck.accounts.models import Organization
from caredeck.accounts.roles import Capability
from caredeck.core.audit import audit_record
from caredeck.status.models import FeedToken, new_feed_token


def feed_token_for(organization: Organization) -> FeedToken:
    """The tenant's feed token, created on first use. Two first views racing each other
    both end up with the one row that won."""
    found = FeedToken.objects.filter(organization=organization).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return FeedToken.objects.create(organization=organization)
    except IntegrityError:
        return FeedToken.objects.get(organization=organization)


def feed_token_rotate(*, actor, organization: Organization) -> FeedToken:
    """Give the tenant a new feed URL; the old one answers 404 from now on."""
    if not has_capability(actor, Capability.MANAGE_USERS, organization):
        raise PermissionDenied("Only someone who manages the tenant's users may renew its feed.")
    with transaction.atomic():
        feed = feed_token_for(organization)
        feed = FeedToken.objects.select_for_update().get(pk=feed.pk)
        feed.token = new_feed_token()
        feed.created_at = timezone.now()
        feed.save(update_fields=["token", "created_at"])
        audit_record(
            actor=actor, obj=organization, action="status_feed_renewed",
            changes={"status feed URL": ["previous URL", "new URL"]},
        )
    return feed
