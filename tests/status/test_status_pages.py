"""The status page, the status API and the feed show one tenant's story only; the feed
works with its token and nothing else; the public page names no tenant and can be off."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from caredeck.accounts.services import token_create
from caredeck.core.models import AuditEntry
from caredeck.incidents.models import IncidentUpdate
from caredeck.maintenance.models import MaintenanceStatus
from caredeck.status.models import FeedToken
from caredeck.status.selectors import tenant_status
from tests.status.conftest import area

A_TEXT = "Acme callers hear silence on the support line"
B_TEXT = "Globex agents cannot log in from the Chicago site"


@pytest.fixture
def outage(deployed, tenant_a, tenant_b, make_incident, affect, make_window, incident_manager):
    """One SEV2 hitting both tenants, each with its own text; a public and an internal
    update; a window for A only."""
    now = timezone.now()
    incident = make_incident(
        severity="SEV2", detected_at=now - dt.timedelta(minutes=40), title="Call routing degraded"
    )
    affect(incident, tenant_a, [area("call_routing")], impact_text=A_TEXT)
    affect(incident, tenant_b, [area("agent_login")], impact_text=B_TEXT)
    IncidentUpdate.objects.create(
        incident=incident, status="identified", body="A faulty route table was found.",
        public=True, author=incident_manager, created_at=now - dt.timedelta(minutes=20),
    )
    IncidentUpdate.objects.create(
        incident=incident, status="identified", body="INTERNAL: rollback of change 77",
        public=False, author=incident_manager, created_at=now - dt.timedelta(minutes=10),
    )
    window = make_window(
        tenant_a, [area("reporting")], starts_at=now + dt.timedelta(days=2),
        ends_at=now + dt.timedelta(days=2, hours=2), status=MaintenanceStatus.SCHEDULED,
        title="Reporting database upgrade", impact_text="Acme reports pause for an hour",
    )
    return incident, window


def page(client, user, url="/status/"):
    client.force_login(user)
    return client.get(url)


@pytest.mark.django_db
def test_the_status_page_shows_the_tenants_own_story(client, member_a, outage):
    incident, window = outage
    response = page(client, member_a)
    assert response.status_code == 200
    html = response.content.decode()
    assert A_TEXT in html
    assert "A faulty route table was found." in html
    assert f"/incidents/{incident.number}/" in html
    assert f"/maintenance/{window.number}/" in html
    assert "Acme reports pause for an hour" in html
    assert "Partial outage" in html
    assert html.count('class="history-bars"') == 3
    # Nothing of B, nothing internal.
    assert B_TEXT not in html
    assert "Globex" not in html
    assert "INTERNAL" not in html


@pytest.mark.django_db
def test_another_tenant_never_sees_a_s_texts(client, member_b, outage):
    html = page(client, member_b).content.decode()
    assert B_TEXT in html
    assert A_TEXT not in html
    assert "Acme" not in html
    assert "Reporting database upgrade" not in html


@pytest.mark.django_db
def test_staff_see_the_current_tenants_page(client, care_analyst, outage):
    client.force_login(care_analyst)
    html = client.get("/status/").content.decode()
    assert "Status pages are per tenant" in html
    client.post("/switch-tenant/", {"tenant": "acme", "next": "/status/"})
    html = client.get("/status/").content.decode()
    assert A_TEXT in html
    assert B_TEXT not in html


@pytest.mark.django_db
def test_a_tenant_without_a_deployment_gets_an_explaining_empty_state(client, member_a):
    html = page(client, member_a).content.decode()
    assert "No functional area is recorded" in html
    assert "No open incident affects Acme Telecom" in html


@pytest.mark.django_db
def test_the_status_page_needs_sign_in(client):
    assert client.get("/status/")["Location"].startswith("/login/")


# --- API -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_api_answers_for_the_callers_tenant(api, member_a, outage):
    incident, window = outage
    api.force_authenticate(member_a)
    body = api.get("/api/v1/status/").json()
    assert body["organization"] == "acme"
    assert {a["area"]: a["state"] for a in body["areas"]} == {
        "call_routing": "partial_outage", "agent_login": "operational",
        "reporting": "operational",
    }
    [seen] = body["incidents"]
    assert seen["number"] == incident.number
    assert seen["impact"] == A_TEXT
    assert seen["latest_update"]["body"] == "A faulty route table was found."
    assert [m["number"] for m in body["maintenance"]] == [window.number]
    assert B_TEXT not in str(body)


@pytest.mark.django_db
def test_the_api_with_a_bearer_token_answers_for_the_users_own_organization(api, admin_b, outage):
    _, raw = token_create(actor=admin_b, name="status")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    body = api.get("/api/v1/status/").json()
    assert body["organization"] == "globex"
    assert body["incidents"][0]["impact"] == B_TEXT
    assert A_TEXT not in str(body)


@pytest.mark.django_db
def test_the_api_answers_404_for_a_tenant_the_caller_may_not_see(api, member_b, care_analyst,
                                                                  outage):
    api.force_authenticate(member_b)
    response = api.get("/api/v1/status/?organization=acme")
    assert response.status_code == 404
    assert A_TEXT not in response.content.decode()
    assert api.get("/api/v1/status/?organization=no-such-tenant").status_code == 404
    assert api.get("/api/v1/status/?organization=no%00pe").status_code == 400
    api.force_authenticate(care_analyst)
    assert api.get("/api/v1/status/?organization=acme").json()["incidents"][0]["impact"] == A_TEXT


# --- Feed ------------------------------------------------------------------------------------


def feed_url_of(organization) -> str:
    return f"/status/feed/{FeedToken.objects.get(organization=organization).token}.atom"


@pytest.mark.django_db
def test_the_feed_works_without_sign_in_and_tells_only_the_tenants_story(
    client, member_a, member_b, outage
):
    incident, window = outage
    page(client, member_a)  # the page creates the token and shows the URL
    page(client, member_b)
    client.logout()

    response = client.get(feed_url_of(member_a.organization))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    xml = response.content.decode()
    assert incident.number in xml
    assert window.number in xml
    assert "Acme callers hear silence" in xml
    assert "A faulty route table was found." in xml
    assert "INTERNAL" not in xml
    assert "Globex" not in xml

    xml_b = client.get(feed_url_of(member_b.organization)).content.decode()
    assert "Globex agents cannot log in" in xml_b
    assert "Acme" not in xml_b
    assert window.number not in xml_b


@pytest.mark.django_db
def test_a_wrong_feed_token_is_404(client, tenant_a):
    FeedToken.objects.create(organization=tenant_a)
    assert client.get("/status/feed/not-the-token.atom").status_code == 404


@pytest.mark.django_db
def test_the_page_shows_the_feed_url(client, member_a):
    html = page(client, member_a).content.decode()
    assert feed_url_of(member_a.organization) in html
    assert "New feed URL" not in html  # a member does not manage users


@pytest.mark.django_db
def test_a_new_feed_url_retires_the_old_one(client, admin_a):
    html = page(client, admin_a).content.decode()
    assert "New feed URL" in html
    old = feed_url_of(admin_a.organization)
    response = client.post("/status/feed/renew/")
    assert response.status_code == 302
    new = feed_url_of(admin_a.organization)
    assert new != old
    client.logout()
    assert client.get(old).status_code == 404
    assert client.get(new).status_code == 200
    entry = AuditEntry.objects.get(action="status_feed_renewed")
    assert entry.organization == admin_a.organization
    assert FeedToken.objects.get(organization=admin_a.organization).token not in str(
        entry.changes
    )


@pytest.mark.django_db
def test_only_those_who_manage_users_may_renew_the_feed(client, member_a):
    page(client, member_a)
    old = feed_url_of(member_a.organization)
    assert client.post("/status/feed/renew/").status_code == 403
    assert feed_url_of(member_a.organization) == old


# --- The public page ------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_public_page_names_no_tenant(client, outage):
    response = client.get("/public-status/")
    assert response.status_code == 200
    html = response.content.decode()
    # The incident and the window, described by their data: state, areas, regions.
    assert "<h3>Partial outage in US East, US West</h3>" in html
    assert "<dd>Agent login, Call routing</dd>" in html
    assert "<h3>Planned maintenance of Historical and real-time reporting</h3>" in html
    # Nothing written by people: no title, no text, no tenant.
    for secret in ("Acme", "Globex", "acme", "globex", A_TEXT, B_TEXT, "faulty route", "pause",
                   "Call routing degraded", "Reporting database upgrade"):
        assert secret not in html


@pytest.mark.django_db
def test_the_public_page_can_be_switched_off(client, settings):
    settings.CAREDECK_PUBLIC_STATUS = False
    assert client.get("/public-status/").status_code == 404


@pytest.mark.django_db
def test_a_tenant_taken_out_of_scope_before_it_was_told_never_sees_the_incident(
    client, deployed, tenant_a, make_incident, affect
):
    now = timezone.now()
    incident = make_incident(severity="SEV1", detected_at=now - dt.timedelta(hours=1),
                             title="Wrongly scoped outage")
    affect(incident, tenant_a, [area("call_routing")], impact_text="not for Acme after all",
           removed_at=now - dt.timedelta(minutes=50))
    feed = FeedToken.objects.create(organization=tenant_a)
    xml = client.get(f"/status/feed/{feed.token}.atom").content.decode()
    assert "Wrongly scoped outage" not in xml
    status = {a.area: a for a in tenant_status(tenant_a).areas}
    assert status["call_routing"].history.troubled_days == []


@pytest.mark.django_db
def test_the_feed_of_a_deactivated_tenant_is_404(client, tenant_a):
    feed = FeedToken.objects.create(organization=tenant_a)
    tenant_a.is_active = False
    tenant_a.save()
    assert client.get(f"/status/feed/{feed.token}.atom").status_code == 404
