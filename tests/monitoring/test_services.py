"""Defining checks and probe locations: validation per field, who may, default
locations from the tenant's deployment, first runs spread over the interval, the audit
trail, agent tokens."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from caredeck.core.audit import AuditEntry
from caredeck.monitoring import services
from caredeck.monitoring.models import Check, CheckAssignment, ProbeLocation
from tests.factories import OrganizationFactory
from tests.monitoring.conftest import T0

pytestmark = pytest.mark.django_db


def errors_of(call, **fields) -> dict:
    with pytest.raises(ValidationError) as caught:
        call(**fields)
    return caught.value.message_dict


@pytest.fixture
def create(platform_admin, deployed, locations, http_target):
    def make(**fields):
        values = {"name": "Agent desktop", "area": "agent_login", "kind": "http",
                  "target": http_target.url, "interval": 60, "timeout": 5}
        values.update(fields)
        return services.check_create(actor=platform_admin, organization=deployed[0], **values)

    return make


@pytest.mark.parametrize("fields, field", [
    ({"interval": 29}, "interval"),
    ({"interval": "often"}, "interval"),
    ({"interval": True}, "interval"),
    ({"timeout": 60}, "timeout"),  # not shorter than the interval (60)
    ({"timeout": 0}, "timeout"),
    ({"area": "reporting"}, None),  # acme uses it: fine (control)
    ({"area": "no-such-area"}, "area"),
    ({"kind": "ftp"}, "kind"),
    ({"target": ""}, "target"),
    ({"target": "not a url"}, "target"),
    ({"assertions": {"type": "status", "value": 200}}, "assertions"),
    ({"config": ["x"]}, "config"),
    ({"locations": ["pop-nowhere"]}, "locations"),
    ({"locations": "pop-ashburn"}, "locations"),
    ({"quorum": 21}, "quorum"),
    ({"failures_to_alert": 0}, "failures_to_alert"),
    ({"name": ""}, "name"),
])
def test_validation_errors_name_their_field(create, fields, field):
    if field is None:
        assert create(**fields).pk
        return
    errors = errors_of(create, **fields)
    assert field in errors, errors
    assert not Check.objects.exists()


def test_an_area_the_tenant_does_not_use_is_refused(platform_admin, deployed, locations,
                                                    http_target):
    errors = errors_of(services.check_create, actor=platform_admin, organization=deployed[1],
                       name="Reports", area="reporting", kind="http", target=http_target.url)
    assert errors["area"] == ["Globex Insurance does not use this functional area."]


def test_a_tenant_without_deployment_or_probe_has_no_default_location(
    platform_admin, locations, http_target
):
    bare = OrganizationFactory(slug="bare", name="Bare Co")
    errors = errors_of(services.check_create, actor=platform_admin, organization=bare,
                       name="X", area="agent_login", kind="http", target=http_target.url)
    assert "area" in errors


def test_only_monitoring_staff_may_define_checks(deployed, locations, admin_a, member_a,
                                                 http_target, create):
    for person in (admin_a, member_a):
        with pytest.raises(PermissionDenied):
            services.check_create(actor=person, organization=deployed[0], name="X",
                                  area="agent_login", kind="http", target=http_target.url)
    check = create()
    with pytest.raises(PermissionDenied):
        services.check_update(actor=admin_a, check=check, interval=120)
    with pytest.raises(PermissionDenied):
        services.check_delete(actor=admin_a, check=check)
    with pytest.raises(PermissionDenied):
        services.location_create(actor=admin_a, slug="agent-x", name="X")


def test_default_locations_are_the_probes_at_the_tenants_pops(create, locations):
    from caredeck.topology.models import Pop

    elsewhere = Pop.objects.exclude(slug__in=["pop-ashburn", "pop-san-jose"]).first()
    if elsewhere is not None:
        ProbeLocation.objects.create(slug=elsewhere.slug, name=elsewhere.name, pop=elsewhere)
    ProbeLocation.objects.create(slug="agent-free", name="Unplaced agent",
                                 mode=ProbeLocation.Mode.AGENT)
    check = create()
    assert sorted(check.assignments.values_list("location__slug", flat=True)) == [
        "pop-ashburn", "pop-san-jose"]
    # Named locations replace the default.
    named = create(name="Named", locations=["pop-ashburn"])
    assert list(named.assignments.values_list("location__slug", flat=True)) == ["pop-ashburn"]


def test_defaults_and_first_runs_spread_over_the_interval(create):
    with __import__("time_machine").travel(T0, tick=False):
        checks = [create(name=f"Check {i}", interval=300, timeout=10) for i in range(20)]
    check = checks[0]
    assert (check.failures_to_alert, check.successes_to_recover, check.quorum,
            check.retries) == (2, 2, 2, 0)
    starts = list(CheckAssignment.objects.values_list("next_run_at", flat=True))
    assert len(starts) == 40
    assert all(T0 <= s < T0 + datetime.timedelta(seconds=300) for s in starts)
    assert len(set(starts)) > 20  # spread, not all at one instant


def test_changes_are_audited(create, platform_admin):
    check = create()
    created = AuditEntry.objects.get(action="created", object_id=str(check.pk))
    assert created.changes["locations"] == [None, ["pop-ashburn", "pop-san-jose"]]
    assert created.changes["interval"] == [None, 60]

    services.check_update(actor=platform_admin, check=check, interval=120,
                          locations=["pop-ashburn"])
    updated = AuditEntry.objects.get(action="updated", object_id=str(check.pk))
    assert updated.changes["interval"] == [60, 120]
    assert updated.changes["locations"] == [["pop-ashburn", "pop-san-jose"], ["pop-ashburn"]]
    assert list(check.assignments.values_list("location__slug", flat=True)) == ["pop-ashburn"]

    pk = check.pk
    services.check_delete(actor=platform_admin, check=check)
    assert AuditEntry.objects.filter(action="deleted", object_id=str(pk)).exists()
    assert not Check.objects.exists()


def test_an_update_checks_the_timeout_against_the_current_interval(create, platform_admin):
    check = create(interval=60, timeout=5)
    errors = errors_of(services.check_update, actor=platform_admin, check=check, timeout=90)
    assert errors["timeout"] == ["The timeout must be shorter than the interval."]
    errors = errors_of(services.check_update, actor=platform_admin, check=check, interval=30,
                       timeout=30)
    assert "timeout" in errors
    check = services.check_update(actor=platform_admin, check=check, interval=300,
                                  timeout=90)
    assert (check.interval, check.timeout) == (300, 90)


def test_location_create_gives_a_token_only_to_agents(platform_admin, db):
    builtin, token = services.location_create(actor=platform_admin, slug="pop-ashburn",
                                              name="Ashburn", pop="pop-ashburn")
    assert token == "" and builtin.token_digest == ""
    assert builtin.pop.slug == "pop-ashburn"

    agent, token = services.location_create(actor=platform_admin, slug="agent-chicago",
                                            name="Chicago", mode=ProbeLocation.Mode.AGENT,
                                            region="us-east")
    assert token.startswith("cdp_") and token not in agent.token_digest
    assert services.location_for_token(token) == agent
    assert services.location_for_token(token + "x") is None
    assert services.location_for_token("") is None
    assert AuditEntry.objects.filter(action="created",
                                     object_id__in=[str(agent.pk), agent.slug]).exists()

    new = services.location_rotate_token(actor=platform_admin, location=agent)
    assert services.location_for_token(token) is None
    assert services.location_for_token(new) == agent
    with pytest.raises(ValidationError):
        services.location_rotate_token(actor=platform_admin, location=builtin)


def test_location_create_validates(platform_admin, db):
    services.location_create(actor=platform_admin, slug="agent-a", name="A",
                             mode=ProbeLocation.Mode.AGENT)
    errors = errors_of(services.location_create, actor=platform_admin, slug="agent-a",
                       name="", mode="robot", pop="pop-nowhere", region="mars")
    assert set(errors) == {"slug", "name", "mode", "pop", "region"}
    assert "slug" in errors_of(services.location_create, actor=platform_admin,
                               slug="not a slug", name="B")
