"""Read helpers shared by every app's selectors."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404


def one_or_404(queryset: QuerySet, what: str, **lookup):
    """The object of `queryset` (already scoped to the actor) matching `lookup`, or 404.

    A malformed id ("abc" for a number) is "no such object" too, never a 500.
    """
    try:
        found = queryset.filter(**lookup).first()
    except (ValueError, TypeError, ValidationError):
        found = None
    if found is None:
        raise Http404(f"No such {what}.")
    return found
