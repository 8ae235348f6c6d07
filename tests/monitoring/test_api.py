"""The monitoring API (API.md, "Synthetic checks"): checks scoped by tenant, defined by
staff who run monitoring, their results; probe locations; and the two routes a remote
probe agent uses with its location's token (it leases and reports only its own runs)."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from caredeck.monitoring import services
from caredeck.monitoring.models import (
    Check,
    CheckAssignment,
    CheckResult,
    CheckState,
    ProbeLocation,
)

pytestmark = pytest.mark.django_db

LIST = reverse("api:check-list")


def detail(check) -> str:
    return reverse("api:check-detail", args=[check.pk])


def results(check) -> str:
    return reverse("api:check-results", args=[check.pk])


def payload(**overrides) -> dict:
    data = {"organization": "acme", "area": "agent_login", "kind": "http",
            "target": "https://acme.example/desktop", "interval": 300, "timeout": 10,
            "assertions": [{"type": "status", "value": 200}], "failures_to_alert": 2}
    data.update(overrides)
    return data


# --- Checks -----------------------------------------------------------------------------


def test_create_with_defaults(as_user, engineer, deployed, locations):
    response = as_user(engineer).post(LIST, payload(), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["state"] == "pending" and body["organization"] == "acme"
    assert body["name"] == "Web (HTTP): https://acme.example/desktop"
    assert body["locations"] == ["pop-ashburn", "pop-san-jose"]  # the tenant's PoPs
    assert body["availability_30d"] == 100.0
    assert {row["location"] for row in body["location_states"]} == set(body["locations"])
    assert Check.objects.get().quorum == 2


def test_create_with_named_locations(as_user, platform_admin, deployed, locations):
    response = as_user(platform_admin).post(
        LIST, payload(locations=["pop-san-jose"], quorum=1, name="Desktop"), format="json")
    assert response.status_code == 201
    assert response.json()["locations"] == ["pop-san-jose"]


@pytest.mark.parametrize(("change", "field"), [
    ({"organization": "nope"}, "organization"),
    ({"organization": "provider"}, "organization"),
    ({"organization": "a b"}, "organization"),
    ({"area": "reporting", "organization": "globex"}, "area"),
    ({"kind": "ftp"}, "kind"),
    ({"interval": 5}, "interval"),
    ({"interval": 60, "timeout": 90}, "timeout"),
    ({"assertions": {"type": "status"}}, "assertions"),
    ({"assertions": [{"type": "body_contains", "value": "a\u0000b"}]}, "assertions"),
    ({"locations": ["nowhere"]}, "locations"),
    ({"locations": []}, "locations"),
    ({"target": "ftp://x"}, "target"),
])
def test_create_answers_400_on_the_field(as_user, engineer, deployed, locations, change, field):
    response = as_user(engineer).post(LIST, payload(**change), format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not Check.objects.exists()


@pytest.mark.parametrize("role", ["member_a", "admin_a", "contact_a", "tam", "care_analyst"])
def test_create_needs_manage_monitoring(request, as_user, role, deployed, locations):
    response = as_user(request.getfixturevalue(role)).post(LIST, payload(), format="json")
    assert response.status_code == 403
    assert not Check.objects.exists()


def test_list_is_scoped_and_filtered(as_user, platform_admin, member_a, member_b, make_check,
                                     deployed):
    a = make_check(name="Acme desktop")
    b = make_check(organization=deployed[1], name="Globex desktop", kind="http")
    Check.objects.filter(pk=b.pk).update(state=CheckState.DOWN)
    names = [c["name"] for c in as_user(platform_admin).get(LIST).json()["results"]]
    assert names == ["Acme desktop", "Globex desktop"]
    assert [c["id"] for c in as_user(member_a).get(LIST).json()["results"]] == [a.pk]
    assert [c["id"] for c in as_user(member_b).get(LIST).json()["results"]] == [b.pk]
    staff = as_user(platform_admin)
    assert [c["id"] for c in staff.get(LIST, {"state": "down"}).json()["results"]] == [b.pk]
    assert [c["id"] for c in staff.get(LIST, {"organization": "acme"}).json()["results"]] \
        == [a.pk]
    assert staff.get(LIST, {"kind": "sip_call"}).json()["count"] == 0
    assert staff.get(LIST, {"state": "sideways"}).status_code == 400
    # A tenant naming another tenant sees nothing of it.
    assert as_user(member_a).get(LIST, {"organization": "globex"}).json()["count"] == 0


def test_detail_by_tenant(as_user, member_a, member_b, tam, make_check):
    check = make_check()
    body = as_user(member_a).get(detail(check)).json()
    assert body["state"] == "pending" and body["locations"] == ["pop-ashburn", "pop-san-jose"]
    assert "availability_30d" in body
    assert as_user(member_b).get(detail(check)).status_code == 404
    assert as_user(tam).get(detail(check)).status_code == 404
    assert as_user(member_a).get(reverse("api:check-detail", args=[10**20])).status_code == 404


def test_patch_and_delete(as_user, engineer, member_a, member_b, make_check):
    check = make_check()
    assert as_user(member_b).patch(detail(check), {"interval": 600},
                                   format="json").status_code == 404
    assert as_user(member_a).patch(detail(check), {"interval": 600},
                                   format="json").status_code == 403
    staff = as_user(engineer)
    response = staff.patch(detail(check), {"interval": 600, "is_active": False,
                                           "locations": ["pop-ashburn"]}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["interval"] == 600 and body["is_active"] is False
    assert body["locations"] == ["pop-ashburn"]
    response = staff.patch(detail(check), {"organization": "globex"}, format="json")
    assert response.status_code == 400 and "organization" in response.json()
    response = staff.patch(detail(check), {"timeout": 900}, format="json")
    assert response.status_code == 400 and "timeout" in response.json()
    assert as_user(member_a).delete(detail(check)).status_code == 403
    assert as_user(member_b).delete(detail(check)).status_code == 404
    assert staff.delete(detail(check)).status_code == 204
    assert not Check.objects.exists()


def test_results_paged_and_filtered(as_user, member_a, member_b, make_check, locations):
    check = make_check()
    now = timezone.now()
    for n in range(3):
        CheckResult.objects.create(synthetic_check=check, location=locations[n % 2], ok=n != 1,
                                   duration_ms=100 + n,
                                   started_at=now - datetime.timedelta(minutes=n),
                                   steps=[{"name": "request", "ms": 100 + n, "ok": n != 1}])
    client = as_user(member_a)
    body = client.get(results(check)).json()
    assert body["count"] == 3
    assert [r["duration_ms"] for r in body["results"]] == [100, 101, 102]  # newest first
    assert body["results"][0]["steps"][0]["name"] == "request"
    failed = client.get(results(check), {"failures": "1"}).json()["results"]
    assert [r["duration_ms"] for r in failed] == [101]
    at = client.get(results(check), {"location": "pop-san-jose"}).json()["results"]
    assert [r["location"] for r in at] == ["pop-san-jose"]
    assert client.get(results(check), {"location": "nowhere"}).status_code == 400
    assert client.get(results(check), {"page_size": 1}).json()["next"]
    assert as_user(member_b).get(results(check)).status_code == 404


# --- Probe locations --------------------------------------------------------------------


LOCATIONS = reverse("api:probe-location-list")


def test_probe_locations(as_user, platform_admin, care_analyst, member_a, locations):
    body = as_user(care_analyst).get(LOCATIONS).json()
    assert [loc["slug"] for loc in body["results"]] == ["pop-ashburn", "pop-san-jose"]
    assert as_user(member_a).get(LOCATIONS).status_code == 403
    assert as_user(care_analyst).post(LOCATIONS, {"slug": "x", "name": "X"},
                                      format="json").status_code == 403
    response = as_user(platform_admin).post(
        LOCATIONS, {"slug": "pop-frankfurt", "name": "Frankfurt", "mode": "agent"},
        format="json")
    assert response.status_code == 201
    assert response.json()["token"].startswith("cdp_")
    response = as_user(platform_admin).post(
        LOCATIONS, {"slug": "pop-frankfurt", "name": "Again"}, format="json")
    assert response.status_code == 400 and "slug" in response.json()
    response = as_user(platform_admin).post(
        LOCATIONS, {"slug": "x", "name": "X", "pop": "pop-nowhere"}, format="json")
    assert response.status_code == 400 and "pop" in response.json()
    response = as_user(platform_admin).post(LOCATIONS, {"slug": "y", "name": "Y"},
                                            format="json")
    assert response.status_code == 201 and "token" not in response.json()


# --- The agent's routes -----------------------------------------------------------------


RUNS = reverse("api:probe-runs")
REPORT = reverse("api:probe-results")


@pytest.fixture
def agent(platform_admin, deployed, locations):
    """An agent location with its token, and one check that runs there and at a
    built-in location (both due now)."""
    from caredeck.topology.models import Pop

    location, token = services.location_create(
        actor=platform_admin, slug="agent-ashburn", name="Ashburn agent", mode="agent",
        pop=Pop.objects.get(slug="pop-ashburn"))
    check = services.check_create(
        actor=platform_admin, organization=deployed[0], name="Desktop", area="agent_login",
        kind="http", target="https://acme.example/", locations=["agent-ashburn", "pop-ashburn"],
        quorum=1)
    CheckAssignment.objects.update(next_run_at=timezone.now() - datetime.timedelta(seconds=1))
    return location, token, check


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def outcome(run: dict, **fields) -> dict:
    now = timezone.now().isoformat()
    return {"assignment_id": run["assignment_id"], "scheduled_at": run["scheduled_at"],
            "started_at": now, "ok": True, "duration_ms": 42, "status_code": 200,
            "steps": [{"name": "request", "ms": 42, "ok": True}], **fields}


def test_an_agent_leases_only_its_own_due_runs_and_reports_them(api, agent):
    location, token, check = agent
    response = api.get(RUNS, {"limit": 10}, **bearer(token))
    assert response.status_code == 200
    runs = response.json()["runs"]
    assert len(runs) == 1
    mine = CheckAssignment.objects.get(location=location)
    assert runs[0]["assignment_id"] == mine.pk and runs[0]["target"] == "https://acme.example/"
    # Leased: asking again gives nothing more.
    assert api.get(RUNS, **bearer(token)).json()["runs"] == []
    response = api.post(REPORT, {"results": [outcome(runs[0])]}, format="json", **bearer(token))
    assert response.status_code == 200 and response.json() == {"recorded": 1}
    result = CheckResult.objects.get()
    assert result.location == location and result.duration_ms == 42
    location.refresh_from_db()
    assert location.last_seen_at is not None


def test_an_agent_cannot_report_another_locations_run(api, agent):
    location, token, check = agent
    other = CheckAssignment.objects.exclude(location=location).get()
    now = timezone.now().isoformat()
    response = api.post(REPORT, {"results": [{
        "assignment_id": other.pk, "scheduled_at": now, "started_at": now, "ok": False,
        "duration_ms": 1}]}, format="json", **bearer(token))
    assert response.status_code == 400
    assert "results" in response.json()
    assert not CheckResult.objects.exists()


@pytest.mark.parametrize("body", [
    {"results": "nope"},
    {"results": [{"assignment_id": "1"}]},
    {},
])
def test_bad_reports_are_400(api, agent, body):
    _, token, _ = agent
    assert api.post(REPORT, body, format="json", **bearer(token)).status_code == 400


def test_a_bad_time_in_a_report_is_400(api, agent):
    _, token, _ = agent
    run = api.get(RUNS, **bearer(token)).json()["runs"][0]
    response = api.post(REPORT, {"results": [outcome(run, started_at="yesterday")]},
                        format="json", **bearer(token))
    assert response.status_code == 400
    assert not CheckResult.objects.exists()


@pytest.mark.parametrize("header", [
    {}, bearer("cdp_wrong"), bearer("not-a-probe-token"), {"HTTP_AUTHORIZATION": "Basic eA=="},
])
def test_a_wrong_token_is_refused(api, agent, header):
    assert api.get(RUNS, **header).status_code in (401, 403)
    assert api.post(REPORT, {"results": []}, format="json", **header).status_code in (401, 403)
    assert CheckAssignment.objects.filter(leased_until__isnull=False).count() == 0


def test_a_person_is_not_an_agent(as_user, platform_admin, agent):
    # A person's session or API token does not lease runs.
    assert as_user(platform_admin).get(RUNS).status_code in (401, 403)


def test_a_rotated_token_replaces_the_old_one(api, platform_admin, agent):
    location, token, _ = agent
    new = services.location_rotate_token(actor=platform_admin, location=location)
    assert api.get(RUNS, **bearer(token)).status_code in (401, 403)
    assert api.get(RUNS, **bearer(new)).status_code == 200
    assert ProbeLocation.objects.get(pk=location.pk).token_digest == ProbeLocation.digest_of(new)
