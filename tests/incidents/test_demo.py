"""On the demo data set, a region failure notifies exactly the tenants the impact
analysis names, each with its own texts."""

from __future__ import annotations

import pytest

from caredeck.accounts.models import User
from caredeck.incidents import services
from caredeck.incidents.models import Incident, Notice
from caredeck.notify.models import OutboundMessage
from caredeck.topology.impact import impact_of
from caredeck.web.demo import load_demo

pytestmark = pytest.mark.django_db


def test_a_region_failure_on_the_demo_notifies_exactly_the_impact_analysis_tenants():
    load_demo()
    assert Incident.objects.filter(status="closed").exists()  # history for status pages
    manager = User.objects.get(email="incident@provider.example")
    expected = {t["organization"]: t for t in impact_of(target="eu-west-1")["tenants"]}
    assert expected

    incident = services.incident_declare(
        actor=manager, title="eu-west-1 down", severity="SEV1",
        failure={"target": "eu-west-1"},
    )

    notified = set(
        Notice.objects.filter(incident=incident).values_list("organization__slug", flat=True)
    )
    assert notified == set(expected)
    for row in incident.affected.select_related("organization"):
        areas = {a["area"] for a in expected[row.organization.slug]["areas"]}
        assert {a["area"] for a in row.areas} == areas
    # Every e-mail carries only its own tenant's name.
    names = dict(incident.affected.values_list("organization_id", "organization__name"))
    for message in OutboundMessage.objects.filter(
        event="incident.notice", dedupe_key__startswith=incident.number, channel="email"
    ):
        own = names[message.organization_id]
        assert message.subject.endswith(f"— {own}")
        assert message.body_text.splitlines()[0] == f"First notice for {own}"
        assert message.user.organization_id == message.organization_id
