"""Sets `request.tenant`: the organization the signed-in person is working for now.

Customers always work for their own organization. Partner users and provider staff pick
one of the tenants they may serve in the page header; the choice lives in the session.
"""

from __future__ import annotations

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


class CurrentTenantMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.tenant = SimpleLazyObject(lambda: current_tenant(request))
        return self.get_response(request)
