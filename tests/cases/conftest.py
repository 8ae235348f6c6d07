"""Customer Care fixtures: support groups with experts around the world, one product
with a required fact, escalation contacts."""

from __future__ import annotations

import datetime

import pytest

from caredeck.accounts.roles import Role
from caredeck.cases import services
from caredeck.cases.models import (
    CaseRequirement,
    EscalationContact,
    Expert,
    Skill,
    SupportGroup,
)
from tests.factories import UserFactory


@pytest.fixture
def telephony(product):
    """The conftest product's support group, office hours in New York."""
    group = SupportGroup.objects.create(
        slug="telephony", name="Telephony", timezone="America/New_York", country="US",
        day_start=datetime.time(8), day_end=datetime.time(18),
    )
    group.products.add(product)
    return group


@pytest.fixture
def care_desk(db):
    return SupportGroup.objects.create(slug="customer-care", name="Customer Care",
                                       is_default=True)


def make_expert(email, group, product, *, tz, start=8, end=17, level=2, country="US",
                roles=(Role.CARE_ANALYST,), organization=None):
    from caredeck.accounts.models import Organization

    user = UserFactory(email=email, name=email.split("@")[0].title(),
                       organization=organization or Organization.objects.get(kind="provider"),
                       roles=list(roles), timezone=tz)
    expert = Expert.objects.create(user=user, group=group, timezone=tz, country=country,
                                   shift_start=datetime.time(start), shift_end=datetime.time(end))
    if level:
        Skill.objects.create(expert=expert, product=product, level=level)
    return expert


@pytest.fixture
def experts(provider, telephony, product):
    """Follow-the-sun: New York, London, Sydney (each 08:00-17:00 local)."""
    return {
        "new_york": make_expert("ny@provider.test", telephony, product, tz="America/New_York"),
        "london": make_expert("ldn@provider.test", telephony, product, tz="Europe/London",
                              country="GB"),
        "sydney": make_expert("syd@provider.test", telephony, product, tz="Australia/Sydney",
                              country="AU"),
    }


@pytest.fixture
def requirement(product):
    return CaseRequirement.objects.create(product=product, name="phone_number",
                                          label="Affected phone number")


@pytest.fixture
def escalation_contacts(care_manager):
    EscalationContact.objects.create(deployment="cloud", manager=care_manager,
                                     phone="+1 555 0100")
    EscalationContact.objects.create(deployment="premise", manager=care_manager,
                                     phone="+1 555 0199")


@pytest.fixture
def open_case(contact_a, tenant_a, product):
    def make(**overrides):
        fields = {
            "actor": contact_a, "organization": tenant_a, "product": product,
            "deployment": "cloud", "criticality": 3, "summary": "Agents cannot log in",
            "description": "Since 9:00 agents get **error 503** at login.",
        }
        fields.update(overrides)
        return services.case_open(**fields)

    return make
