"""Public numbers (INC-000042, MNT-000042, PRB-000042, ...).

The number is derived from the primary key, assigned right after the insert in the same
transaction: no counter table to lock, no gaps to explain, unique by construction.
"""

from __future__ import annotations

import re

from django.db import models

NUMBER_RE = re.compile(r"^[A-Z]{2,5}-\d{6,}$")


class PublicNumberMixin(models.Model):
    """Give a model `NUMBER_PREFIX = "INC"`; its rows get `number` on first save."""

    NUMBER_PREFIX = ""

    number = models.CharField(max_length=20, unique=True, null=True, editable=False)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.number} {getattr(self, 'title', '')}".strip()

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        if not self.number:
            self.number = f"{self.NUMBER_PREFIX}-{self.pk:06d}"
            type(self).objects.filter(pk=self.pk).update(number=self.number)


def looks_like_number(value, prefix: str) -> bool:
    """True for "INC-000042" with prefix "INC": anything else is no such object (404)."""
    return (
        isinstance(value, str)
        and bool(NUMBER_RE.match(value))
        and value.startswith(prefix + "-")
    )
