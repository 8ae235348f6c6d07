"""Shared fixtures: a provider with staff, two customer tenants, a partner linked to one.

Tenant A ("acme") is the owner in most tests; tenant B ("globex") is the outsider. The
partner acts for A only.
"""

from __future__ import annotations

import os

import pytest
from rest_framework.test import APIClient

from caredeck.accounts.models import PartnerLink
from caredeck.accounts.roles import OrganizationKind, Role
from tests.factories import OrganizationFactory, ProductFactory, UserFactory, ensure_provider

PASSWORD = "correct-horse-battery"


def pytest_collection_modifyitems(config, items):
    # The browser tests need Debian's Chromium. Locally they are skipped without it;
    # under CI=true they run anyway and fail, so a missing install never hides.
    if os.path.exists("/usr/bin/chromium") or os.environ.get("CI") == "true":
        return
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(pytest.mark.skip(reason="/usr/bin/chromium is not installed"))


@pytest.fixture
def provider(db):
    # Made by a data migration; a transactional test's flush takes it along: made again.
    return ensure_provider()


@pytest.fixture
def product(db):
    return ProductFactory(slug="cloud-cx", name="Cloud CX")


@pytest.fixture
def tenant_a(db, product):
    org = OrganizationFactory(slug="acme", name="Acme Telecom")
    org.platforms.add(product)
    return org


@pytest.fixture
def tenant_b(db, product):
    org = OrganizationFactory(slug="globex", name="Globex Insurance")
    org.platforms.add(product)
    return org


@pytest.fixture
def partner(db, tenant_a):
    org = OrganizationFactory(slug="bluebridge", name="BlueBridge", kind=OrganizationKind.PARTNER)
    PartnerLink.objects.create(
        partner=org, customer=tenant_a, rights=["view_tenant", "view_audit", "manage_users"]
    )
    return org


@pytest.fixture
def platform_admin(provider):
    return UserFactory(
        email="admin@provider.test", organization=provider, roles=[Role.PLATFORM_ADMIN]
    )


@pytest.fixture
def care_analyst(provider):
    return UserFactory(
        email="analyst@provider.test", organization=provider, roles=[Role.CARE_ANALYST]
    )


@pytest.fixture
def tam(provider):
    return UserFactory(email="tam@provider.test", organization=provider, roles=[Role.TAM])


@pytest.fixture
def admin_a(tenant_a):
    return UserFactory(email="admin@acme.test", organization=tenant_a, roles=[Role.CUSTOMER_ADMIN])


@pytest.fixture
def member_a(tenant_a):
    return UserFactory(
        email="member@acme.test", organization=tenant_a, roles=[Role.CUSTOMER_MEMBER]
    )


@pytest.fixture
def admin_b(tenant_b):
    return UserFactory(
        email="admin@globex.test", organization=tenant_b, roles=[Role.CUSTOMER_ADMIN]
    )


@pytest.fixture
def member_b(tenant_b):
    return UserFactory(
        email="member@globex.test", organization=tenant_b, roles=[Role.CUSTOMER_MEMBER]
    )


@pytest.fixture
def partner_user(partner):
    return UserFactory(email="p@bluebridge.test", organization=partner, roles=[Role.PARTNER_USER])


@pytest.fixture
def api():
    """An API client; `api.force_authenticate(user)` or a bearer header to sign in."""
    return APIClient()


@pytest.fixture
def as_user():
    """as_user(user) -> an API client authenticated as that user (one client each)."""

    def make(user) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def page_as(client):
    """page_as(user) -> the Django test client with that user's session (and only it)."""

    def make(user):
        client.logout()
        client.force_login(user)
        return client

    return make


# --- Incidents, maintenance, problems, status --------------------------------------------


@pytest.fixture
def incident_manager(provider):
    return UserFactory(
        email="im@provider.test", name="Ines Manager", organization=provider,
        roles=[Role.INCIDENT_MANAGER],
    )


@pytest.fixture
def care_manager(provider):
    return UserFactory(
        email="cm@provider.test", name="Carl Caremanager", organization=provider,
        roles=[Role.CARE_MANAGER],
    )


@pytest.fixture
def engineer(provider):
    return UserFactory(
        email="eng@provider.test", name="Eve Engineer", organization=provider,
        roles=[Role.ENGINEER],
    )


@pytest.fixture
def contact_a(tenant_a):
    """A designated contact of A: receives A's outage and maintenance notices."""
    return UserFactory(
        email="contact@acme.test", name="Dana Contact", organization=tenant_a,
        roles=[Role.CUSTOMER_MEMBER, Role.DESIGNATED_CONTACT],
    )


@pytest.fixture
def contact_b(tenant_b):
    return UserFactory(
        email="contact@globex.test", name="Gus Contact", organization=tenant_b,
        roles=[Role.CUSTOMER_MEMBER, Role.DESIGNATED_CONTACT],
    )


@pytest.fixture
def deployed(tenant_a, tenant_b, platform_admin):
    """A runs primarily in us-east (private line), B in us-west (internet): a us-east
    region failure affects A with every area it uses and B only through centralized
    areas homed in us-east (if B uses any)."""
    from caredeck.topology.deployments import deployment_set

    deployment_set(
        actor=platform_admin, organization=tenant_a, primary_region="us-east",
        secondary_region="us-west", pops=["pop-ashburn", "pop-san-jose"],
        connectivity="private_line", areas=["call_routing", "agent_login", "reporting"],
    )
    deployment_set(
        actor=platform_admin, organization=tenant_b, primary_region="us-west",
        secondary_region="us-east", pops=["pop-san-jose", "pop-ashburn"],
        connectivity="internet", areas=["call_routing", "agent_login"],
    )
    return tenant_a, tenant_b
