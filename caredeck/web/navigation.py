"""The navigation, by role: one table, each entry shown to those with its capability.

Later apps add their entries here (Cases, Ideas, Incidents, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse

from caredeck.accounts.access import has_capability, is_provider_staff
from caredeck.accounts.roles import Capability, OrganizationKind


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    capability: Capability | None = None
    staff_only: bool = False
    # Shown to a customer's people (and partners working for a customer), not to staff,
    # who reach the same pages from their own entry.
    tenant_only: bool = False
    # URL prefixes under which this entry counts as the current section.
    section: str = ""


NAVIGATION = [
    NavItem("Home", "home", section="/home"),
    # A tenant's own deployment, designed availability and "what if".
    NavItem("Platform", "platform", Capability.VIEW_TENANT, tenant_only=True,
            section="/topology"),
    NavItem("Cases", "case-list", Capability.VIEW_TENANT, section="/cases"),
    NavItem("Queues", "case-queues", Capability.WORK_CASES, staff_only=True,
            section="/cases/queues"),
    NavItem("Knowledge base", "kb-list", Capability.VIEW_TENANT, section="/kb"),
    NavItem("Ideas", "idea-list", Capability.VIEW_TENANT, section="/ideas"),
    NavItem("Team", "team", Capability.VIEW_TENANT, section="/team"),
    NavItem("Incidents", "incident-list", staff_only=True, section="/incidents"),
    # Problems span tenants: staff who serve every tenant (not a TAM of a few) read them.
    NavItem("Problems", "problem-list", Capability.SERVE_ALL_TENANTS, staff_only=True,
            section="/problems"),
    NavItem("Status", "status", Capability.VIEW_TENANT, section="/status"),
    # Synthetic checks: staff run them; a tenant's people read their own tenant's.
    NavItem("Monitoring", "check-list", Capability.VIEW_TENANT, section="/monitoring"),
    NavItem("Maintenance", "maintenance-list", Capability.VIEW_TENANT, section="/maintenance"),
    NavItem("Reports", "report-promises", staff_only=True, section="/reports"),
    NavItem("Topology", "topology", staff_only=True, section="/topology"),
    NavItem("Tenants", "organization-list", Capability.VIEW_TENANT, staff_only=True,
            section="/tenants"),
    NavItem("Deliveries", "delivery-list", Capability.VIEW_DELIVERIES, staff_only=True,
            section="/notifications/deliveries"),
    NavItem("Admin", "admin-home", Capability.MANAGE_PRODUCTS, staff_only=True,
            section="/admin"),
]


def navigation_for(request) -> list[dict]:
    user = request.user
    tenant = request.tenant
    staff = is_provider_staff(user)
    items = []
    for item in NAVIGATION:
        if item.staff_only and not staff:
            continue
        if item.tenant_only and (staff or tenant.kind != OrganizationKind.CUSTOMER):
            continue
        if item.capability and not has_capability(user, item.capability, tenant):
            continue
        url = reverse(item.url_name)
        current = request.path.startswith(item.section) if item.section else request.path == url
        items.append({"label": item.label, "url": url, "current": current,
                      "section": item.section})
    # Nested sections (/cases and /cases/queues): only the most specific one is current.
    matched = [i for i in items if i["current"]]
    if len(matched) > 1:
        best = max(matched, key=lambda i: len(i["section"]))
        for item in matched:
            item["current"] = item is best
    return items
