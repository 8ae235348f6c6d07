"""What every page's shell needs: the current tenant, the tenants one may switch to, the
navigation for the person's roles, and the number of unread notifications."""

from __future__ import annotations

from caredeck.web.navigation import navigation_for

SELECT_LIMIT = 200


def shell(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from caredeck.accounts.access import tenants_for
    from caredeck.notify.selectors import unread_count

    tenant = request.tenant
    switchable = list(
        tenants_for(user).only("slug", "name", "kind").order_by("kind", "name")[:SELECT_LIMIT + 1]
    )
    return {
        "current_tenant": tenant,
        # A select with thousands of tenants is useless: past the limit, the header links
        # to the searchable tenant list, whose rows switch.
        "switchable_tenants": switchable if len(switchable) <= SELECT_LIMIT else [],
        "tenant_switch_by_search": len(switchable) > SELECT_LIMIT,
        "navigation": navigation_for(request),
        # The bell in the header: one indexed count per page.
        "unread_notifications": unread_count(user),
    }
