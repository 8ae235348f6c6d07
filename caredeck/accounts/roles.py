"""Roles and what they may do: the one table CareDeck asks for every permission.

Views, the API and services ask `has_capability(user, Capability.X, organization)`
(accounts/access.py); nothing else in the code base tests a role by name.
"""

from __future__ import annotations

from django.db import models


class OrganizationKind(models.TextChoices):
    PROVIDER = "provider", "Provider"
    CUSTOMER = "customer", "Customer"
    PARTNER = "partner", "Partner"


class Role(models.TextChoices):
    CUSTOMER_MEMBER = "customer_member", "Customer member"
    DESIGNATED_CONTACT = "designated_contact", "Designated contact"
    CUSTOMER_ADMIN = "customer_admin", "Customer administrator"
    PARTNER_USER = "partner_user", "Partner user"
    CARE_ANALYST = "care_analyst", "Care analyst"
    CARE_MANAGER = "care_manager", "Care manager"
    TAM = "tam", "Technical account manager"
    PRODUCT_MANAGER = "product_manager", "Product manager"
    INCIDENT_MANAGER = "incident_manager", "Incident manager"
    CHANGE_MANAGER = "change_manager", "Change manager"
    CAB_MEMBER = "cab_member", "CAB member"
    ENGINEER = "engineer", "Engineer"
    PLATFORM_ADMIN = "platform_admin", "Platform administrator"


class Capability(models.TextChoices):
    VIEW_TENANT = "view_tenant", "See the tenant's overview and team"
    VIEW_AUDIT = "view_audit", "Read the history of the tenant's objects"
    MANAGE_USERS = "manage_users", "Invite users and change their roles"
    MANAGE_DESIGNATED_CONTACTS = "manage_designated_contacts", "Name designated contacts"
    SERVE_ALL_TENANTS = "serve_all_tenants", "Serve every tenant (provider staff)"
    MANAGE_ORGANIZATIONS = "manage_organizations", "Create tenants, contracts and TAMs"
    MANAGE_PRODUCTS = "manage_products", "Keep the provider's products"
    MANAGE_ACCESS_REQUESTS = "manage_access_requests", "Approve or decline access requests"
    MANAGE_PARTNER_LINKS = "manage_partner_links", "Link partners to customers"
    MANAGE_WEBHOOKS = "manage_webhooks", "Manage the organization's webhooks"
    VIEW_DELIVERIES = "view_deliveries", "See and retry notification deliveries"
    MANAGE_TOPOLOGY = "manage_topology", "Model the platform, the failure matrix, deployments"
    MANAGE_INCIDENTS = "manage_incidents", "Declare and run incidents, post updates"
    MANAGE_MAINTENANCE = "manage_maintenance", "Schedule and run maintenance windows"
    MANAGE_PROBLEMS = "manage_problems", "Hold post-incident reviews, keep problem records"
    MANAGE_IDEAS = "manage_ideas", "Answer, move and merge ideas; moderate comments"
    GRANT_VOTES = "grant_votes", "Grant extra votes in the ideas lab"
    OPEN_CASES = "open_cases", "Open support cases, answer them and escalate them"
    VIEW_ORG_CASES = "view_org_cases", "See every support case of the organization"
    WORK_CASES = "work_cases", "Work support cases: route, answer, solve, close; write the KB"
    MANAGE_CARE = "manage_care", "Run Customer Care: groups, experts, escalations, reports"
    MANAGE_MONITORING = "manage_monitoring", "Define synthetic checks and probe locations"


C = Capability

# Everyone signed in can see their own tenant and its history.
_BASE = {C.VIEW_TENANT, C.VIEW_AUDIT}
# Provider staff who work across the whole customer base (tier-less, follow-the-sun).
_STAFF = _BASE | {C.SERVE_ALL_TENANTS, C.VIEW_DELIVERIES}

ROLE_CAPABILITIES: dict[Role, frozenset[Capability]] = {
    Role.CUSTOMER_MEMBER: frozenset(_BASE),
    # The designated contact opens the organization's cases and sees all of them.
    Role.DESIGNATED_CONTACT: frozenset(_BASE | {C.OPEN_CASES, C.VIEW_ORG_CASES}),
    Role.CUSTOMER_ADMIN: frozenset(
        _BASE | {C.MANAGE_USERS, C.MANAGE_DESIGNATED_CONTACTS, C.MANAGE_WEBHOOKS,
                 C.VIEW_ORG_CASES}
    ),
    # A partner acts for its customers as far as each partner link allows.
    Role.PARTNER_USER: frozenset(
        _BASE | {C.MANAGE_USERS, C.MANAGE_DESIGNATED_CONTACTS, C.MANAGE_WEBHOOKS,
                 C.OPEN_CASES, C.VIEW_ORG_CASES}
    ),
    Role.CARE_ANALYST: frozenset(_STAFF | {C.WORK_CASES}),
    Role.CARE_MANAGER: frozenset(_STAFF | {C.WORK_CASES, C.MANAGE_CARE}),
    # A TAM serves the accounts it is TAM of, not the whole base.
    Role.TAM: frozenset(_BASE | {C.VIEW_DELIVERIES, C.WORK_CASES}),
    Role.PRODUCT_MANAGER: frozenset(_STAFF | {C.MANAGE_IDEAS}),
    Role.INCIDENT_MANAGER: frozenset(
        _STAFF | {C.MANAGE_INCIDENTS, C.MANAGE_MAINTENANCE, C.MANAGE_PROBLEMS,
                  C.MANAGE_MONITORING}
    ),
    Role.CHANGE_MANAGER: frozenset(_STAFF | {C.MANAGE_MAINTENANCE}),
    Role.CAB_MEMBER: frozenset(_STAFF),
    # Engineers declare incidents they detect and run the technical side with the manager.
    Role.ENGINEER: frozenset(
        _STAFF | {C.MANAGE_INCIDENTS, C.MANAGE_MAINTENANCE, C.MANAGE_PROBLEMS,
                  C.MANAGE_MONITORING}
    ),
    Role.PLATFORM_ADMIN: frozenset(
        _STAFF
        | {
            C.MANAGE_USERS,
            C.MANAGE_DESIGNATED_CONTACTS,
            C.MANAGE_ORGANIZATIONS,
            C.MANAGE_PRODUCTS,
            C.MANAGE_ACCESS_REQUESTS,
            C.MANAGE_PARTNER_LINKS,
            C.MANAGE_WEBHOOKS,
            C.MANAGE_TOPOLOGY,
            C.MANAGE_INCIDENTS,
            C.MANAGE_MAINTENANCE,
            C.MANAGE_PROBLEMS,
            C.MANAGE_IDEAS,
            C.GRANT_VOTES,
            C.WORK_CASES,
            C.MANAGE_CARE,
            C.MANAGE_MONITORING,
        }
    ),
}

# Which roles a user of each kind of organization may hold.
ROLES_BY_KIND: dict[str, frozenset[Role]] = {
    OrganizationKind.CUSTOMER: frozenset(
        {Role.CUSTOMER_MEMBER, Role.DESIGNATED_CONTACT, Role.CUSTOMER_ADMIN}
    ),
    OrganizationKind.PARTNER: frozenset({Role.PARTNER_USER}),
    OrganizationKind.PROVIDER: frozenset(
        {
            Role.CARE_ANALYST,
            Role.CARE_MANAGER,
            Role.TAM,
            Role.PRODUCT_MANAGER,
            Role.INCIDENT_MANAGER,
            Role.CHANGE_MANAGER,
            Role.CAB_MEMBER,
            Role.ENGINEER,
            Role.PLATFORM_ADMIN,
        }
    ),
}

# What a partner link may grant on a customer (a partner user's rights there are its
# role's capabilities intersected with the link's rights).
DELEGABLE_CAPABILITIES = (
    C.VIEW_TENANT,
    C.VIEW_AUDIT,
    C.MANAGE_USERS,
    C.MANAGE_DESIGNATED_CONTACTS,
    C.MANAGE_WEBHOOKS,
    C.OPEN_CASES,
    C.VIEW_ORG_CASES,
)


def capabilities_of(roles) -> frozenset[Capability]:
    caps: set[Capability] = set()
    for role in roles:
        caps |= ROLE_CAPABILITIES.get(Role(role), frozenset())
    return frozenset(caps)
