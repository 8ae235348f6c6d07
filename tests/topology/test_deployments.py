"""Setting a tenant's deployment (validated, audited, platform admins only) and reading
the deployments one may see."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from caredeck.core.models import AuditEntry
from caredeck.topology.deployments import deployment_get, deployment_set, deployments_visible
from caredeck.topology.models import Deployment, Region

GOOD = {
    "primary_region": "us-east",
    "secondary_region": "us-west",
    "pops": ["pop-ashburn", "pop-san-jose"],
    "connectivity": "private_line",
    "areas": ["call_routing", "agent_login", "reporting"],
}


def _set(actor, organization, **overrides):
    return deployment_set(actor=actor, organization=organization, **{**GOOD, **overrides})


def test_it_sets_a_deployment_and_audits_it(platform_admin, tenant_a):
    deployment = _set(platform_admin, tenant_a)
    assert deployment.primary_region.slug == "us-east"
    assert sorted(p.slug for p in deployment.pops.all()) == ["pop-ashburn", "pop-san-jose"]
    assert sorted(a.slug for a in deployment.areas.all()) == [
        "agent_login", "call_routing", "reporting"
    ]
    entry = AuditEntry.objects.get(object_kind="organization", object_id="acme")
    assert entry.action == "deployment_created"
    assert entry.actor == platform_admin
    assert entry.changes["deployment.primary_region"] == [None, "us-east"]


def test_setting_it_again_replaces_it_and_audits_the_change(platform_admin, tenant_a):
    _set(platform_admin, tenant_a)
    _set(platform_admin, tenant_a, connectivity="internet", areas=["call_routing"])
    assert Deployment.objects.filter(organization=tenant_a).count() == 1
    deployment = Deployment.objects.get(organization=tenant_a)
    assert deployment.connectivity == "internet"
    assert [a.slug for a in deployment.areas.all()] == ["call_routing"]
    entry = AuditEntry.objects.filter(object_id="acme").latest("pk")
    assert entry.action == "deployment_changed"
    assert entry.changes == {
        "deployment.connectivity": ["private_line", "internet"],
        "deployment.areas": [["agent_login", "call_routing", "reporting"], ["call_routing"]],
    }


def test_setting_the_same_deployment_writes_no_audit_entry(platform_admin, tenant_a):
    _set(platform_admin, tenant_a)
    count = AuditEntry.objects.count()
    _set(platform_admin, tenant_a, pops=["pop-san-jose", "pop-ashburn"])
    assert AuditEntry.objects.count() == count


def test_regions_may_be_given_as_objects(platform_admin, tenant_a):
    deployment = _set(
        platform_admin, tenant_a, primary_region=Region.objects.get(slug="eu-west-1"),
        secondary_region=None, pops=["pop-london", "pop-frankfurt"],
    )
    assert deployment.primary_region.slug == "eu-west-1"
    assert deployment.secondary_region is None


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"pops": ["pop-ashburn"]}, "pops"),
        ({"pops": ["pop-ashburn", "pop-ashburn"]}, "pops"),
        ({"pops": ["pop-ashburn", "pop-san-jose", "pop-london"]}, "pops"),
        ({"pops": ["pop-ashburn", "pop-atlantis"]}, "pops"),
        ({"pops": "pop-ashburn"}, "pops"),
        ({"secondary_region": "us-east"}, "secondary_region"),
        ({"primary_region": "mars"}, "primary_region"),
        ({"primary_region": "bad\x00slug"}, "primary_region"),
        ({"secondary_region": "moon"}, "secondary_region"),
        ({"connectivity": "pigeon"}, "connectivity"),
        ({"areas": ["call_routing", "teleportation"]}, "areas"),
    ],
)
def test_it_refuses_a_bad_deployment(platform_admin, tenant_a, overrides, field):
    with pytest.raises(ValidationError) as caught:
        _set(platform_admin, tenant_a, **overrides)
    assert field in caught.value.message_dict
    assert not Deployment.objects.filter(organization=tenant_a).exists()


def test_it_reports_every_error_at_once(platform_admin, tenant_a):
    with pytest.raises(ValidationError) as caught:
        _set(platform_admin, tenant_a, primary_region="mars", pops=[], connectivity="x")
    assert {"primary_region", "pops", "connectivity"} <= set(caught.value.message_dict)


def test_only_customers_have_a_deployment(platform_admin, provider):
    with pytest.raises(ValidationError) as caught:
        _set(platform_admin, provider)
    assert "organization" in caught.value.message_dict


@pytest.mark.parametrize("who", ["admin_a", "care_analyst", "tam", "partner_user"])
def test_only_platform_admins_set_deployments(request, tenant_a, who):
    actor = request.getfixturevalue(who)
    with pytest.raises(PermissionDenied):
        _set(actor, tenant_a)
    assert not Deployment.objects.exists()


def test_it_checks_ownership(platform_admin, tenant_a, tenant_b, admin_a, care_analyst):
    _set(platform_admin, tenant_a)
    _set(platform_admin, tenant_b, primary_region="us-west", secondary_region="us-east")
    assert [d.organization.slug for d in deployments_visible(admin_a)] == ["acme"]
    assert sorted(d.organization.slug for d in deployments_visible(care_analyst)) == [
        "acme", "globex"
    ]
    assert deployment_get(admin_a, "acme").organization == tenant_a
    with pytest.raises(Http404):
        deployment_get(admin_a, "globex")
    with pytest.raises(Http404):
        deployment_get(admin_a, "no such\x00slug")
