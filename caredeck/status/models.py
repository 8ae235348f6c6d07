"""Status pages keep no state of their own beyond each tenant's feed token: what a
tenant sees is read from incidents and maintenance windows."""

from __future__ import annotations

import secrets

from django.db import models
from django.utils import timezone


def new_feed_token() -> str:
    return secrets.token_urlsafe(24)


class FeedToken(models.Model):
    """The secret in a tenant's Atom feed URL (feed readers cannot sign in)."""

    organization = models.OneToOneField(
        "accounts.Organization", on_delete=models.CASCADE, related_name="status_feed"
    )
    token = models.CharField(max_length=64, unique=True, default=new_feed_token)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Feed of {self.organization}"
