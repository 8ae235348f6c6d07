"""What every page's shell needs: the current tenant, the tenants one may switch to, the
navigation for the person's roles, and the number of unread notifications."""

from __future__ import annotations

from caredeck.web.navigation import navigation_for


def shell(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from caredeck.accounts.access import tenants_for
    from caredeck.notify.selectors import unread_count

    tenant = request.tenant
    switchable = tenants_for(user).only("slug", "name", "kind").order_by("kind", "name")
    return {
        "current_tenant": tenant,
        # A select with thousands of tenants is useless; past 200 staff search instead.
        "switchable_tenants": list(switchable[:200]),
        "navigation": navigation_for(request),
        # The bell in the header: one indexed count per page.
        "unread_notifications": unread_count(user),
    }
