"""Sets `request.tenant`: the organization the signed-in person is working for now, and
activates the person's time zone for the request.

Customers always work for their own organization. Partner users and provider staff pick
one of the tenants they may serve in the page header; the choice lives in the session.
"""

from __future__ import annotations

import zoneinfo

from django.utils import timezone
from django.utils.functional import SimpleLazyObject

SESSION_KEY = "caredeck_tenant"


def current_tenant(request):
    user = request.user
    if not user.is_authenticated:
        return None
    chosen = request.session.get(SESSION_KEY)
    if chosen and chosen != user.organization.slug:
        from caredeck.accounts.access import tenants_for

        found = tenants_for(user).filter(slug=chosen).first()
        if found is not None:
            return found
    return user.organization


def _viewer_zone(request):
    """Times on pages are shown in the signed-in person's own time zone."""
    name = getattr(request.user, "timezone", None) if request.user.is_authenticated else None
    try:
        return zoneinfo.ZoneInfo(name) if name else None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


class CurrentTenantMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.tenant = SimpleLazyObject(lambda: current_tenant(request))
        zone = _viewer_zone(request)
        if zone is None:
            return self.get_response(request)
        with timezone.override(zone):
            return self.get_response(request)
