"""Fixtures of the Ideas Lab: a product both tenants use, with a low vote threshold."""

from __future__ import annotations

import pytest

from caredeck.accounts.roles import Role
from caredeck.ideas import services
from tests.factories import UserFactory


@pytest.fixture
def lab(product):
    product.vote_threshold = 3
    product.save()
    return product


@pytest.fixture
def pm(provider):
    return UserFactory(email="pm@provider.test", name="Pat Product", organization=provider,
                       roles=[Role.PRODUCT_MANAGER])


@pytest.fixture
def idea(lab, member_a):
    return services.idea_submit(actor=member_a, product=lab, title="Callback scheduling",
                                description="Let callers pick a callback slot.")


@pytest.fixture
def voters(tenant_a, tenant_b):
    """Five customers across both tenants."""
    return [
        UserFactory(email=f"voter{i}@{org.slug}.test", organization=org,
                    roles=[Role.CUSTOMER_MEMBER])
        for i, org in enumerate([tenant_a, tenant_b, tenant_a, tenant_b, tenant_a])
    ]
