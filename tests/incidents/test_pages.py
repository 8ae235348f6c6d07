import pytest
from caredeck.incidents import services
pytestmark = pytest.mark.django_db
def test_pages(client, deployed, incident_manager, contact_a, member_b, platform_admin):
    from tests.conftest import PASSWORD
    inc = services.incident_declare(actor=incident_manager, title="Calls fail", severity="SEV1", failure={"target": "us-east"})
    client.force_login(incident_manager)
    for url in ["/incidents/", "/incidents/new/", f"/incidents/{inc.number}/", f"/incidents/{inc.number}/scope/", f"/incidents/{inc.number}/findings/", f"/incidents/{inc.number}/clocks/", f"/incidents/{inc.number}/tenants/acme/"]:
        r = client.get(url); assert r.status_code == 200, (url, r.status_code)
    r = client.post("/incidents/new/", {"title": "", "severity": "SEV9", "scope": "failure", "target": "", "detected_at": "x"})
    assert r.status_code == 200 and b"error" in r.content
    r = client.post(f"/incidents/{inc.number}/update/", {"status": "identified", "body": "found", "public": "on"})
    assert r.status_code == 302
    client.force_login(contact_a)
    r = client.get(f"/incidents/{inc.number}/"); assert r.status_code == 200; assert b"What Acme" in r.content
    client.force_login(member_b)
    assert client.get(f"/incidents/{inc.number}/").status_code == 404
    open("/tmp/inc.html","wb").write(client.get("/incidents/").content)
