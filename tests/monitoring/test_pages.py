"""The monitoring pages: who reads which checks, who may define, change, pause and delete
them, the forms (errors beside the field, input kept, invalid JSON never a 500), and the
probe locations with an agent's token shown once."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from caredeck.monitoring.models import Check, CheckResult, CheckState, ProbeLocation

pytestmark = pytest.mark.django_db


def add_result(check, location, *, ok=True, ms=120, minutes_ago=1, **fields):
    return CheckResult.objects.create(
        synthetic_check=check, location=location, ok=ok, duration_ms=ms,
        started_at=timezone.now() - datetime.timedelta(minutes=minutes_ago), **fields)


def form_data(**overrides) -> dict:
    data = {"organization": "acme", "area": "agent_login", "name": "Agent desktop",
            "kind": "http", "target": "https://acme.example/desktop", "interval": "300",
            "timeout": "10", "retries": "0", "failures_to_alert": "2",
            "successes_to_recover": "2", "quorum": "2",
            "assertions": '[{"type": "status", "value": 200}]', "config": ""}
    data.update(overrides)
    return data


# --- The list ---------------------------------------------------------------------------


def test_staff_see_every_tenants_checks_with_state_text_and_sparkline(page_as, platform_admin,
                                                                     make_check, deployed,
                                                                     locations):
    a = make_check(name="Acme desktop")
    b = make_check(organization=deployed[1], name="Globex desktop")
    add_result(a, locations[0], ms=100, minutes_ago=3)
    add_result(a, locations[0], ok=False, ms=900, minutes_ago=2)
    response = page_as(platform_admin).get(reverse("check-list"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Acme desktop" in html and "Globex desktop" in html
    assert 'href="/monitoring/"' in html  # the nav entry
    # The state in words (with its icon), not only a colour.
    assert "Pending" in html
    # The sparkline carries its numbers.
    assert "Response time, last 2 runs: min 100 ms, median 500 ms, max 900 ms; 1 failed" in html
    assert b.name in html


def test_staff_filter_by_tenant_state_and_kind(page_as, engineer, make_check, deployed):
    a = make_check(name="Acme desktop")
    make_check(organization=deployed[1], name="Globex desktop")
    Check.objects.filter(pk=a.pk).update(state=CheckState.DOWN)
    client = page_as(engineer)
    html = client.get(reverse("check-list"), {"tenant": "globex"}).content.decode()
    assert "Globex desktop" in html and "Acme desktop" not in html
    html = client.get(reverse("check-list"), {"state": "down"}).content.decode()
    assert "Acme desktop" in html and "Globex desktop" not in html
    html = client.get(reverse("check-list"), {"kind": "sip_call"}).content.decode()
    assert "No check matches" in html
    # Nonsense filters are no filter, never an error.
    response = client.get(reverse("check-list"), {"state": "x\x00", "kind": "?", "page": "z"})
    assert response.status_code == 200 and "Acme desktop" in response.content.decode()


def test_a_tenant_reads_only_its_own_checks_without_actions(page_as, member_a, make_check,
                                                            deployed):
    make_check(name="Acme desktop")
    make_check(organization=deployed[1], name="Globex desktop")
    response = page_as(member_a).get(reverse("check-list"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Acme desktop" in html and "Globex desktop" not in html
    assert "Define a check" not in html and "Probe locations" not in html


def test_empty_states_say_what_the_page_is_for(page_as, platform_admin, member_a):
    html = page_as(platform_admin).get(reverse("check-list")).content.decode()
    assert "No synthetic check yet" in html and reverse("check-new") in html
    html = page_as(member_a).get(reverse("check-list")).content.decode()
    assert "No check runs against Acme Telecom yet" in html


def test_the_list_paginates(page_as, platform_admin, make_check):
    for n in range(27):
        make_check(name=f"Check {n:02d}")
    client = page_as(platform_admin)
    first = client.get(reverse("check-list")).content.decode()
    assert "Page 1 of 2" in first and "Check 26" not in first
    second = client.get(reverse("check-list"), {"page": 2}).content.decode()
    assert "Check 26" in second


# --- A check's page ---------------------------------------------------------------------


def test_check_page_shows_locations_results_steps_bars_and_escaped_evidence(
        page_as, engineer, make_check, locations):
    check = make_check()
    add_result(check, locations[0], ms=80, steps=[{"name": "log in", "ms": 41.2, "ok": True},
                                                  {"name": "open desktop", "ms": 38, "ok": True}])
    add_result(check, locations[1], ok=False, ms=5000, status_code=503, error="status 503",
               evidence="<script>alert('x')</script> HTTP/1.1 503")
    response = page_as(engineer).get(reverse("check-detail", args=[check.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    for text in ("Ashburn", "San Jose", "log in", "open desktop", "41 ms", "status 503",
                 "Last 90 days", "24 h", "7 days", "30 days", "Edit", "Pause", "Delete",
                 "class=\"history-bars\""):
        assert text in html, text
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    # Failures only.
    html = page_as(engineer).get(reverse("check-detail", args=[check.pk]),
                                 {"failures": "1"}).content.decode()
    assert "log in" not in html and "5000 ms" in html


def test_check_page_by_role_and_tenant(page_as, make_check, deployed, member_a, member_b,
                                       tam, care_analyst):
    check = make_check()
    url = reverse("check-detail", args=[check.pk])
    response = page_as(member_a).get(url)
    assert response.status_code == 200
    assert "Edit" not in response.content.decode()
    assert page_as(care_analyst).get(url).status_code == 200  # staff read every check
    assert page_as(member_b).get(url).status_code == 404
    assert page_as(tam).get(url).status_code == 404  # a TAM of none of these accounts
    assert page_as(member_a).get(reverse("check-detail", args=[99999])).status_code == 404


def test_check_page_links_its_incident(page_as, platform_admin, make_check):
    from caredeck.incidents.services import incident_declare

    check = make_check()
    incident = incident_declare(actor=platform_admin, title="Acme desktop down",
                                severity="SEV2", detected_at=timezone.now(),
                                organizations=[check.organization.slug], notify=False)
    Check.objects.filter(pk=check.pk).update(incident=incident, state=CheckState.DOWN,
                                             failing_since=timezone.now())
    html = page_as(platform_admin).get(reverse("check-detail", args=[check.pk])).content.decode()
    assert incident.number in html and "Failing since" in html and "Down" in html


# --- Define and change ------------------------------------------------------------------


@pytest.mark.parametrize("role", ["platform_admin", "incident_manager", "engineer"])
def test_who_may_define_a_check(request, page_as, role, deployed, locations):
    user = request.getfixturevalue(role)
    assert page_as(user).get(reverse("check-new")).status_code == 200


@pytest.mark.parametrize("role", ["member_a", "admin_a", "tam", "care_analyst"])
def test_who_may_not_define_a_check(request, page_as, role, deployed, locations):
    user = request.getfixturevalue(role)
    client = page_as(user)
    assert client.get(reverse("check-new")).status_code == 403
    assert client.post(reverse("check-new"), form_data()).status_code == 403
    assert not Check.objects.exists()


def test_defining_a_check_runs_it_from_the_tenants_pops(page_as, engineer, deployed, locations):
    response = page_as(engineer).post(reverse("check-new"), form_data())
    check = Check.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("check-detail", args=[check.pk])
    assert check.organization.slug == "acme" and check.area.slug == "agent_login"
    assert check.assertions == [{"type": "status", "value": 200}]
    assert sorted(check.assignments.values_list("location__slug", flat=True)) == [
        "pop-ashburn", "pop-san-jose"]


def test_invalid_json_is_an_error_on_its_field_and_the_input_is_kept(page_as, engineer,
                                                                     deployed, locations):
    response = page_as(engineer).post(reverse("check-new"), form_data(
        name="Kept name", assertions='[{"type": "status", "value": 200',
        config='["not", "an object"]'))
    assert response.status_code == 400
    form = response.context["form"]
    assert "not valid JSON" in form.errors["assertions"][0]
    assert form.errors["config"] == ["Give an object {…}."]
    html = response.content.decode()
    assert 'value="Kept name"' in html
    assert "[{&quot;type&quot;: &quot;status&quot;, &quot;value&quot;: 200" in html
    assert not Check.objects.exists()


def test_service_errors_land_beside_their_fields(page_as, engineer, deployed, locations):
    # Globex does not use "reporting"; the timeout must be shorter than the interval.
    response = page_as(engineer).post(reverse("check-new"), form_data(
        organization="globex", area="reporting", interval="30", timeout="30"))
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert "does not use this functional area" in errors["area"][0]
    assert errors["timeout"] == ["The timeout must be shorter than the interval."]
    response = page_as(engineer).post(reverse("check-new"), form_data(interval="5"))
    assert response.status_code == 400 and "interval" in response.context["form"].errors


def test_editing_keeps_the_tenant_and_changes_the_rest(page_as, engineer, make_check, locations):
    check = make_check()
    client = page_as(engineer)
    url = reverse("check-edit", args=[check.pk])
    response = client.get(url)
    assert response.status_code == 200
    assert "&quot;status&quot;" in response.content.decode()  # assertions as JSON
    response = client.post(url, form_data(organization="globex", interval="600",
                                          locations=["pop-ashburn"]))
    assert response.status_code == 302
    check.refresh_from_db()
    assert check.organization.slug == "acme" and check.interval == 600
    assert list(check.assignments.values_list("location__slug", flat=True)) == ["pop-ashburn"]
    # On edit, at least one location.
    response = client.post(url, form_data())
    assert response.status_code == 400 and "locations" in response.context["form"].errors


def test_pause_resume_and_delete(page_as, engineer, member_a, make_check):
    check = make_check()
    client = page_as(member_a)
    for name in ("check-pause", "check-resume", "check-delete"):
        assert client.post(reverse(name, args=[check.pk])).status_code == 403
    client = page_as(engineer)
    assert client.get(reverse("check-pause", args=[check.pk])).status_code == 405
    assert client.post(reverse("check-pause", args=[check.pk])).status_code == 302
    check.refresh_from_db()
    assert check.is_active is False
    assert "Paused" in client.get(reverse("check-detail", args=[check.pk])).content.decode()
    client.post(reverse("check-resume", args=[check.pk]))
    check.refresh_from_db()
    assert check.is_active is True
    response = client.post(reverse("check-delete", args=[check.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("check-list")
    assert not Check.objects.exists()


def test_another_tenants_check_is_404_before_403(page_as, member_b, make_check):
    check = make_check()
    client = page_as(member_b)
    assert client.get(reverse("check-edit", args=[check.pk])).status_code == 404
    assert client.post(reverse("check-delete", args=[check.pk])).status_code == 404


# --- Probe locations --------------------------------------------------------------------


def test_probe_locations_by_role(page_as, platform_admin, care_analyst, member_a, tam,
                                 locations):
    response = page_as(platform_admin).get(reverse("probe-location-list"))
    assert response.status_code == 200 and "pop-ashburn" in response.content.decode()
    assert "Add a probe location" in response.content.decode()
    response = page_as(care_analyst).get(reverse("probe-location-list"))
    assert response.status_code == 200 and "Add a probe location" not in response.content.decode()
    assert page_as(care_analyst).post(reverse("probe-location-list"), {
        "slug": "x", "name": "X", "mode": "builtin"}).status_code == 403
    assert page_as(member_a).get(reverse("probe-location-list")).status_code == 403
    assert page_as(tam).get(reverse("probe-location-list")).status_code == 403


def test_an_agents_token_is_shown_once_with_the_command(page_as, engineer, deployed):
    client = page_as(engineer)
    response = client.post(reverse("probe-location-list"), {
        "slug": "pop-frankfurt", "name": "Frankfurt agent", "mode": "agent", "pop": "",
        "region": ""})
    assert response.status_code == 200
    token = response.context["token"]
    location = ProbeLocation.objects.get(slug="pop-frankfurt")
    assert location.token_digest == ProbeLocation.digest_of(token)
    assert (f"caredeck probe --location pop-frankfurt --url http://testserver --token {token}"
            in response.content.decode())
    assert token not in client.get(reverse("probe-location-list")).content.decode()
    # A new token replaces the old one.
    response = client.post(reverse("probe-location-rotate", args=["pop-frankfurt"]))
    assert response.status_code == 200 and response.context["token"] != token
    location.refresh_from_db()
    assert location.token_digest == ProbeLocation.digest_of(response.context["token"])


def test_builtin_locations_and_their_errors(page_as, engineer, locations):
    client = page_as(engineer)
    response = client.post(reverse("probe-location-list"), {
        "slug": "us-east", "name": "US East", "mode": "builtin", "region": "us-east"})
    assert response.status_code == 302
    assert ProbeLocation.objects.get(slug="us-east").region.slug == "us-east"
    response = client.post(reverse("probe-location-list"), {
        "slug": "pop-ashburn", "name": "Again", "mode": "builtin"})
    assert response.status_code == 400
    assert "exists" in response.context["form"].errors["slug"][0]
    # A built-in location has no token to rotate.
    response = client.post(reverse("probe-location-rotate", args=["pop-ashburn"]), follow=True)
    assert "Only a remote agent has a token." in response.content.decode()
    assert client.post(reverse("probe-location-rotate", args=["nope"])).status_code == 404

