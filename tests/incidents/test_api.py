"""The incidents API: the contract of API.md, each tenant's own view, errors."""

from __future__ import annotations

import pytest

from caredeck.incidents.models import Incident

pytestmark = pytest.mark.django_db


def declare(api, user, **body):
    api.force_authenticate(user)
    payload = {"title": "Calls fail in us-east", "severity": "SEV1",
               "failure": {"target": "us-east"}, **body}
    return api.post("/api/v1/incidents/", payload, format="json")


def test_declare_by_failure_returns_the_affected_tenants_and_clocks(
    api, deployed, incident_manager, contact_a
):
    response = declare(api, incident_manager)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["number"].startswith("INC-")
    (tenant,) = body["affected"]
    assert tenant["organization"] == "acme"
    assert {a["area"] for a in tenant["areas"]} == {"call_routing", "agent_login", "reporting"}
    assert tenant["clocks"]["next_notice"] == "update"
    assert tenant["clocks"]["first_notice_at"] is not None


def test_declare_with_chosen_tenants_and_areas(api, deployed, incident_manager):
    response = declare(api, incident_manager, failure=None,
                       organizations=["acme", "globex"], areas=["call_routing"])
    assert response.status_code == 201, response.json()
    assert [t["organization"] for t in response.json()["affected"]] == ["acme", "globex"]


def test_field_errors(api, deployed, incident_manager):
    response = declare(api, incident_manager, severity="SEV7", failure={"target": "nowhere"})
    assert response.status_code == 400
    assert set(response.json()) >= {"severity"}
    response = declare(api, incident_manager, failure={"target": "nowhere"})
    assert response.status_code == 400 and "failure" in response.json()
    response = declare(api, incident_manager, failure=None, organizations=["no-such-tenant"])
    assert response.status_code == 400 and "organizations" in response.json()


def test_a_customer_may_not_declare(api, deployed, admin_a):
    assert declare(api, admin_a).status_code == 403


def test_each_tenant_reads_only_its_own_view(api, deployed, incident_manager, admin_a, admin_b):
    number = declare(api, incident_manager, failure=None, organizations=["acme", "globex"],
                     areas=["call_routing"]).json()["number"]
    api.post(f"/api/v1/incidents/{number}/updates/",
             {"status": "investigating", "body": "SECRET internal lead", "public": False},
             format="json")
    api.force_authenticate(admin_b)
    body = api.get(f"/api/v1/incidents/{number}/").json()
    assert [t["organization"] for t in body["affected"]] == ["globex"]
    assert "SECRET" not in str(body) and "acme" not in str(body).lower()
    assert "technical_description" not in body and "team" not in body
    timeline = api.get(f"/api/v1/incidents/{number}/timeline/").json()["results"]
    assert "Acme" not in str(timeline) and "SECRET" not in str(timeline)


def test_another_tenants_incident_is_404(api, deployed, incident_manager, admin_b):
    number = declare(api, incident_manager).json()["number"]  # acme only
    api.force_authenticate(admin_b)
    assert api.get(f"/api/v1/incidents/{number}/").status_code == 404
    assert api.get(f"/api/v1/incidents/{number}/timeline/").status_code == 404
    assert api.post(f"/api/v1/incidents/{number}/updates/",
                    {"status": "resolved", "body": "x"}, format="json").status_code == 404
    assert api.get("/api/v1/incidents/").json()["count"] == 0
    assert api.get("/api/v1/incidents/INC-junk/").status_code == 404


def test_updates_resolve_report_close_and_409s(api, deployed, incident_manager, admin_a):
    number = declare(api, incident_manager).json()["number"]
    url = f"/api/v1/incidents/{number}/"
    assert api.post(url + "close/").status_code == 409
    response = api.post(url + "updates/", {"status": "identified", "body": "Router."},
                        format="json")
    assert response.status_code == 201
    assert api.post(url + "resolve/", {"body": ""}, format="json").status_code == 400
    assert api.post(url + "resolve/", {"body": "Back."}, format="json").json()["status"] == \
        "resolved"
    assert api.post(url + "resolve/", {"body": "Again."}, format="json").status_code == 409
    assert api.post(url + "report/", {}, format="json").status_code == 400
    response = api.post(url + "report/", {"report": "Firmware fault."}, format="json")
    assert response.status_code == 200 and response.json()["report_published_at"]
    assert api.post(url + "close/").json()["status"] == "closed"
    assert api.post(url + "updates/", {"status": "investigating", "body": "x"},
                    format="json").status_code == 409
    api.force_authenticate(admin_a)
    assert api.post(url + "close/").status_code == 403
    assert api.get(url).json()["report"] == "Firmware fault."


def test_scope_change_via_api(api, deployed, incident_manager):
    number = declare(api, incident_manager, failure=None, organizations=["acme"]).json()["number"]
    response = api.post(f"/api/v1/incidents/{number}/scope/",
                        {"organizations": ["acme", "globex"]}, format="json")
    assert response.status_code == 200
    assert {t["organization"] for t in response.json()["affected"]} == {"acme", "globex"}
    assert Incident.objects.get(number=number).affected.count() == 2


def test_evidence_upload_limits(api, deployed, incident_manager):
    from django.core.files.uploadedfile import SimpleUploadedFile

    number = declare(api, incident_manager).json()["number"]
    url = f"/api/v1/incidents/{number}/evidence/"
    ok = SimpleUploadedFile("sip.log", b"INVITE sip:...", content_type="text/plain")
    assert api.post(url, {"text": "SIP trace", "file": ok}, format="multipart").status_code == 201
    bad = SimpleUploadedFile("run.exe", b"MZ", content_type="application/octet-stream")
    response = api.post(url, {"file": bad}, format="multipart")
    assert response.status_code == 400 and "file" in response.json()
