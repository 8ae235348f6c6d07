"""Incident pages: staff run an incident; each tenant reads only its own story."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from caredeck.incidents import services
from caredeck.incidents.models import Incident

pytestmark = pytest.mark.django_db


@pytest.fixture
def shared(deployed, incident_manager, tenant_a):
    incident = services.incident_declare(
        actor=incident_manager, title="Call routing degraded", severity="SEV2",
        organizations=["acme", "globex"], areas=["call_routing"],
    )
    services.incident_tenant_text_set(
        actor=incident_manager, incident=incident, organization=tenant_a,
        impact_text="ACME-ONLY Paris queues ring out.",
    )
    return incident


def test_staff_pages_render(client, shared, incident_manager):
    client.force_login(incident_manager)
    number = shared.number
    for url in ["/incidents/", "/incidents/new/", f"/incidents/{number}/",
                f"/incidents/{number}/scope/", f"/incidents/{number}/findings/",
                f"/incidents/{number}/clocks/", f"/incidents/{number}/tenants/acme/"]:
        response = client.get(url)
        assert response.status_code == 200, url
    page = client.get(f"/incidents/{number}/").content.decode()
    assert "Acme Telecom" in page and "Globex Insurance" in page
    assert "Post an update" in page and 'hx-trigger="every 30s"' in page


def test_declaring_keeps_what_was_typed_after_an_error(client, deployed, incident_manager):
    client.force_login(incident_manager)
    response = client.post("/incidents/new/", {
        "title": "Trunks down", "severity": "SEV9", "scope": "failure", "target": "",
        "detected_at": "2026-11-26T10:00",
    })
    assert response.status_code == 200
    page = response.content.decode()
    assert 'value="Trunks down"' in page
    assert "Nothing was declared" in page
    assert not Incident.objects.exists()


def test_declaring_from_the_page(client, deployed, incident_manager):
    from django.utils import timezone

    client.force_login(incident_manager)
    response = client.post("/incidents/new/", {
        "title": "us-east down", "severity": "SEV1", "scope": "failure", "target": "us-east",
        "detected_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"), "notify": "on",
    })
    incident = Incident.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(
        f"/incidents/{incident.number}/")
    assert list(incident.affected.values_list("organization__slug", flat=True)) == ["acme"]


def test_a_customer_sees_its_own_part_only(client, shared, contact_a, contact_b):
    client.force_login(contact_b)
    page = client.get(f"/incidents/{shared.number}/").content.decode()
    assert "What Globex Insurance may notice" in page
    assert "Acme" not in page and "ACME-ONLY" not in page
    assert "Post an update" not in page
    client.force_login(contact_a)
    page = client.get(f"/incidents/{shared.number}/").content.decode()
    assert "ACME-ONLY Paris queues ring out." in page and "Globex" not in page
    assert shared.number in client.get("/incidents/").content.decode()


def test_another_tenants_incident_is_not_found(client, deployed, incident_manager, member_b):
    incident = services.incident_declare(
        actor=incident_manager, title="Acme trunk", severity="SEV3", organizations=["acme"],
    )
    client.force_login(member_b)
    assert client.get(f"/incidents/{incident.number}/").status_code == 404
    assert incident.number not in client.get("/incidents/?status=all").content.decode()


def test_posting_an_update_and_an_internal_note(client, shared, incident_manager):
    client.force_login(incident_manager)
    url = f"/incidents/{shared.number}/update/"
    assert client.post(url, {"status": "identified", "body": "Found it", "public": "on"}
                       ).status_code == 302
    response = client.post(url, {"status": "monitoring", "body": "quiet change"})
    assert response.status_code == 400
    assert "make the update public" in response.content.decode()
    response = client.post(url, {"status": "identified", "body": ""})
    assert response.status_code == 400
    shared.refresh_from_db()
    assert shared.status == "identified"


def test_findings_report_and_close_from_the_pages(client, shared, incident_manager):
    client.force_login(incident_manager)
    number = shared.number
    client.post(f"/incidents/{number}/update/",
                {"status": "resolved", "body": "Fixed", "public": "on"})
    response = client.post(f"/incidents/{number}/close/", follow=True)
    assert "Publish the incident report" in response.content.decode()
    client.post(f"/incidents/{number}/findings/", {"report": "Route table fault."})
    client.post(f"/incidents/{number}/report/publish/")
    client.post(f"/incidents/{number}/close/")
    shared.refresh_from_db()
    assert shared.status == "closed" and shared.report_published_at


def test_evidence_is_staff_only(client, shared, incident_manager, contact_a):
    client.force_login(incident_manager)
    response = client.post(f"/incidents/{shared.number}/evidence/", {
        "text": "trace", "file": SimpleUploadedFile("trace.log", b"SIP/2.0 503"),
    })
    assert response.status_code == 302
    event = shared.timeline.get(kind="evidence")
    download = client.get(f"/incidents/{shared.number}/evidence/{event.pk}/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"SIP/2.0 503"
    client.force_login(contact_a)
    assert client.get(f"/incidents/{shared.number}/evidence/{event.pk}/").status_code == 404
    assert "trace" not in client.get(f"/incidents/{shared.number}/").content.decode()


def test_the_home_worklist_shows_the_next_notice_due(client, shared, incident_manager):
    client.force_login(incident_manager)
    page = client.get("/home/").content.decode()
    assert f"{shared.number} Call routing degraded: status update due" in page
