"""Factories for the suite. People get roles through `roles=[...]`."""

from __future__ import annotations

import factory

from caredeck.accounts.models import Contract, Organization, Product, RoleGrant, User
from caredeck.accounts.roles import OrganizationKind


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"product-{n}")
    name = factory.Sequence(lambda n: f"Product {n}")
    vote_threshold = 10


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        django_get_or_create = ("slug",)
        skip_postgeneration_save = True

    slug = factory.Sequence(lambda n: f"tenant-{n}")
    name = factory.Sequence(lambda n: f"Tenant {n}")
    kind = OrganizationKind.CUSTOMER
    contract = factory.RelatedFactory(
        "tests.factories.ContractFactory", factory_related_name="organization"
    )


class ContractFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contract


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    name = factory.Sequence(lambda n: f"Person {n}")
    organization = factory.SubFactory(OrganizationFactory)
    password = factory.django.Password("correct-horse-battery")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        for role in extracted or []:
            RoleGrant.objects.create(user=self, role=role)
        self._roles_cache = None


def ensure_provider():
    """A transactional test flushes the tables afterwards, taking along the provider
    organization that a data migration created; the next test needs it back."""
    provider = Organization.objects.filter(kind=OrganizationKind.PROVIDER).first()
    if provider is None:
        provider = Organization.objects.create(
            kind=OrganizationKind.PROVIDER, name="Provider", slug="provider"
        )
        Contract.objects.create(organization=provider)
    return provider
