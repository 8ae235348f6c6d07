"""The topology API: the platform, its catalog (JSON and YAML), deployments, impact and
availability, with each route's ownership checks and 400s."""

from __future__ import annotations

import yaml

from caredeck.core.models import AuditEntry
from caredeck.topology.catalog import catalog_dump_yaml
from caredeck.topology.models import Connectivity, Deployment, FunctionalArea, Region
from tests.topology.test_impact import ALL_AREAS, deploy

DEPLOYMENT = {
    "organization": "acme",
    "primary_region": "us-east",
    "secondary_region": "us-west",
    "pops": ["pop-ashburn", "pop-san-jose"],
    "connectivity": "private_line",
    "areas": ["call_routing", "outbound"],
}


def _deploy_both(tenant_a, tenant_b):
    deploy(tenant_a, "us-east", "us-west", ("pop-ashburn", "pop-san-jose"),
           Connectivity.PRIVATE_LINE, ALL_AREAS)
    deploy(tenant_b, "eu-west-1", "eu-west-2", ("pop-london", "pop-frankfurt"),
           Connectivity.INTERNET, ALL_AREAS)


# --- The platform and its catalog -----------------------------------------------------


def test_it_shows_the_platform(api, member_a):
    api.force_authenticate(member_a)
    data = api.get("/api/v1/topology/").json()
    assert set(data) == {"geographies", "regions", "pops", "areas", "failure_types"}
    us_east = next(r for r in data["regions"] if r["id"] == "us-east")
    assert us_east["geography"] == "us"
    assert [z["id"] for z in us_east["zones"]] == ["us-east-a", "us-east-b", "us-east-c"]
    assert len(data["areas"]) == 13
    assert {f["id"] for f in data["failure_types"]} == {
        "az_failure", "region_failure", "pop_failure_private_line", "pop_failure_internet"
    }
    ashburn = next(p for p in data["pops"] if p["id"] == "pop-ashburn")
    assert ashburn["regions"] == ["us-east", "us-west"]


def test_it_needs_a_signed_in_user(api):
    assert api.get("/api/v1/topology/").status_code in (401, 403)
    assert api.post("/api/v1/impact/", {"target": "us-east"}, format="json").status_code in (
        401, 403
    )


def test_it_exports_the_catalog_as_json_and_yaml(api, member_a):
    api.force_authenticate(member_a)
    as_json = api.get("/api/v1/topology/catalog/")
    assert as_json.status_code == 200
    assert "us-east" in as_json.json()["regions"]
    as_yaml = api.get("/api/v1/topology/catalog/?format=yaml")
    assert as_yaml.status_code == 200
    assert as_yaml["Content-Type"].startswith("application/yaml")
    assert yaml.safe_load(as_yaml.content)["regions"]["us-east"]["name"] == "US East"


def test_platform_admins_import_a_catalog_as_yaml(api, platform_admin):
    api.force_authenticate(platform_admin)
    text = catalog_dump_yaml().replace('name: US East\n', 'name: US East (Virginia)\n', 1)
    assert "US East (Virginia)" in text
    response = api.put(
        "/api/v1/topology/catalog/", data=text.encode(), content_type="application/yaml"
    )
    assert response.status_code == 200, response.content
    assert response.json()["changed"] is True
    assert Region.objects.get(slug="us-east").name == "US East (Virginia)"


def test_format_yaml_says_what_the_body_is(api, platform_admin):
    api.force_authenticate(platform_admin)
    response = api.put(
        "/api/v1/topology/catalog/?format=yaml", data=catalog_dump_yaml().encode(),
        content_type="text/plain",
    )
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["changed"] is False


def test_platform_admins_import_a_catalog_as_json(api, platform_admin):
    api.force_authenticate(platform_admin)
    data = api.get("/api/v1/topology/catalog/").json()
    response = api.put("/api/v1/topology/catalog/", data, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["changed"] is False


def test_a_bad_catalog_answers_400_with_lines_and_changes_nothing(api, platform_admin):
    api.force_authenticate(platform_admin)
    before = list(Region.objects.values_list("slug", "name"))
    lines = catalog_dump_yaml().splitlines()
    line = next(n for n, text in enumerate(lines) if "geography: us" in text)
    lines[line] = lines[line].replace("geography: us", "geography: atlantis")
    response = api.put(
        "/api/v1/topology/catalog/", data="\n".join(lines).encode(),
        content_type="application/yaml",
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors and {"line", "path", "message"} <= set(errors[0])
    assert errors[0]["line"] == line + 1
    assert list(Region.objects.values_list("slug", "name")) == before


def test_a_dry_run_changes_nothing(api, platform_admin):
    api.force_authenticate(platform_admin)
    text = catalog_dump_yaml().replace('name: US East\n', 'name: Elsewhere\n', 1)
    response = api.put(
        "/api/v1/topology/catalog/?dry_run=true", data=text.encode(),
        content_type="application/yaml",
    )
    assert response.status_code == 200
    assert response.json()["dry_run"] is True
    assert Region.objects.get(slug="us-east").name == "US East"


def test_only_platform_admins_import(api, care_analyst, admin_a):
    for user in (care_analyst, admin_a):
        api.force_authenticate(user)
        response = api.put(
            "/api/v1/topology/catalog/", data=catalog_dump_yaml().encode(),
            content_type="application/yaml",
        )
        assert response.status_code == 403


# --- Deployments ----------------------------------------------------------------------


def test_platform_admins_set_a_deployment(api, platform_admin, tenant_a):
    api.force_authenticate(platform_admin)
    created = api.post("/api/v1/deployments/", DEPLOYMENT, format="json")
    assert created.status_code == 201, created.content
    assert created.json() == {**DEPLOYMENT, "areas": ["call_routing", "outbound"]}
    replaced = api.post(
        "/api/v1/deployments/", {**DEPLOYMENT, "connectivity": "internet"}, format="json"
    )
    assert replaced.status_code == 200
    assert replaced.json()["connectivity"] == "internet"
    assert AuditEntry.objects.filter(object_kind="organization", object_id="acme").count() == 2


def test_a_deployment_may_have_no_secondary_region(api, platform_admin, tenant_a):
    api.force_authenticate(platform_admin)
    body = {k: v for k, v in DEPLOYMENT.items() if k != "secondary_region"}
    response = api.post("/api/v1/deployments/", body, format="json")
    assert response.status_code == 201
    assert response.json()["secondary_region"] is None


def test_a_bad_deployment_answers_400_on_its_fields(api, platform_admin, tenant_a):
    api.force_authenticate(platform_admin)
    for body, field in (
        ({**DEPLOYMENT, "pops": ["pop-ashburn"]}, "pops"),
        ({**DEPLOYMENT, "secondary_region": "us-east"}, "secondary_region"),
        ({**DEPLOYMENT, "primary_region": "atlantis"}, "primary_region"),
        ({**DEPLOYMENT, "areas": ["teleportation"]}, "areas"),
        ({**DEPLOYMENT, "connectivity": "pigeon"}, "connectivity"),
        ({**DEPLOYMENT, "organization": "no-such-org"}, "organization"),
        ({**DEPLOYMENT, "organization": "bad\x00slug"}, "organization"),
        ({k: v for k, v in DEPLOYMENT.items() if k != "pops"}, "pops"),
    ):
        response = api.post("/api/v1/deployments/", body, format="json")
        assert response.status_code == 400, (field, response.content)
        assert field in response.json(), (field, response.json())
    assert not Deployment.objects.exists()


def test_customers_cannot_set_a_deployment(api, admin_a, tenant_a):
    api.force_authenticate(admin_a)
    response = api.post("/api/v1/deployments/", DEPLOYMENT, format="json")
    assert response.status_code == 403
    assert not Deployment.objects.exists()


def test_an_outsider_cannot_set_anothers_deployment(api, admin_b, tenant_a):
    api.force_authenticate(admin_b)
    response = api.post("/api/v1/deployments/", DEPLOYMENT, format="json")
    assert response.status_code == 403
    assert not Deployment.objects.exists()


def test_deployments_list_only_ones_own(api, admin_a, care_analyst, tenant_a, tenant_b):
    _deploy_both(tenant_a, tenant_b)
    api.force_authenticate(admin_a)
    listed = api.get("/api/v1/deployments/?organization=globex").json()
    assert listed["results"] == []
    listed = api.get("/api/v1/deployments/").json()
    assert [d["organization"] for d in listed["results"]] == ["acme"]
    api.force_authenticate(care_analyst)
    listed = api.get("/api/v1/deployments/?region=eu-west-1").json()
    assert [d["organization"] for d in listed["results"]] == ["globex"]


def test_it_checks_ownership_of_a_deployment(api, admin_a, tenant_a, tenant_b):
    _deploy_both(tenant_a, tenant_b)
    api.force_authenticate(admin_a)
    own = api.get("/api/v1/deployments/acme/")
    assert own.status_code == 200
    assert own.json()["primary_region"] == "us-east"
    assert own.json()["pops"] == ["pop-ashburn", "pop-san-jose"]
    assert api.get("/api/v1/deployments/globex/").status_code == 404
    assert api.get("/api/v1/deployments/no-such-org/").status_code == 404


# --- Impact ---------------------------------------------------------------------------


def test_a_tenant_sees_only_its_own_impact(api, member_a, tenant_a, tenant_b):
    _deploy_both(tenant_a, tenant_b)
    api.force_authenticate(member_a)
    data = api.post("/api/v1/impact/", {"target": "us-east"}, format="json").json()
    assert [t["organization"] for t in data["tenants"]] == ["acme"]
    assert data["not_affected"] == []
    assert data["summary"]["tenants_affected"] == 1
    assert "globex" not in str(data)
    # Europe fails: Acme is not affected, and nothing says who is.
    data = api.post("/api/v1/impact/", {"target": "eu-west-1"}, format="json").json()
    assert data["tenants"] == []
    assert data["not_affected"] == ["acme"]


def test_staff_see_every_tenant(api, care_analyst, tenant_a, tenant_b):
    _deploy_both(tenant_a, tenant_b)
    api.force_authenticate(care_analyst)
    data = api.post("/api/v1/impact/", {"target": "us-east"}, format="json").json()
    assert [t["organization"] for t in data["tenants"]] == ["acme", "globex"]
    acme = data["tenants"][0]
    assert set(acme["areas"][0]) >= {
        "area", "operational", "agent", "customer", "data_lost", "delayed",
        "service_unavailable",
    }


def test_a_tam_sees_only_the_accounts_it_serves(api, tam, tenant_a, tenant_b):
    _deploy_both(tenant_a, tenant_b)
    tenant_b.tam = tam
    tenant_b.save()
    api.force_authenticate(tam)
    data = api.post("/api/v1/impact/", {"target": "us-east"}, format="json").json()
    assert [t["organization"] for t in data["tenants"]] == ["globex"]


def test_the_failure_type_may_be_named(api, care_analyst, tenant_a, tenant_b):
    _deploy_both(tenant_a, tenant_b)
    api.force_authenticate(care_analyst)
    data = api.post(
        "/api/v1/impact/", {"target": "pop-ashburn", "failure": "pop_failure_internet"},
        format="json",
    ).json()
    assert data["tenants"][0]["failure"] == "pop_failure_internet"


def test_a_bad_impact_question_answers_400(api, care_analyst):
    api.force_authenticate(care_analyst)
    for body, field in (
        ({"target": "atlantis"}, "target"),
        ({}, "target"),
        ({"target": "us-east\x00"}, "target"),
        ({"target": ["us-east"]}, "target"),
        ({"target": "us-east", "failure": "meteor"}, "failure"),
        ({"target": "us-east", "failure": "az_failure"}, "failure"),
    ):
        response = api.post("/api/v1/impact/", body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert field in response.json(), (body, response.json())


def test_impact_is_asked_with_post(api, care_analyst):
    api.force_authenticate(care_analyst)
    assert api.get("/api/v1/impact/").status_code == 405


# --- Availability ---------------------------------------------------------------------


def test_a_tenant_sees_its_designed_availability(api, member_a, tenant_a, tenant_b):
    _deploy_both(tenant_a, tenant_b)
    api.force_authenticate(member_a)
    response = api.get("/api/v1/availability/?organization=acme&month=2025-11")
    assert response.status_code == 200
    data = response.json()
    assert data["organization"] == "acme"
    assert data["month"] == "2025-11"
    assert data["measured"] is None
    assert data["target"] == 0.9999
    rows = {r["area"]: r for r in data["areas"]}
    assert rows["call_routing"]["meets_target"] is True
    assert "provisioning" in data["below_target"]
    assert data["deployment"]["primary_region"] == "us-east"
    # Without ?organization, a customer's user gets its own.
    assert api.get("/api/v1/availability/").json()["organization"] == "acme"


def test_it_checks_ownership_of_availability(api, member_a, tenant_a, tenant_b):
    _deploy_both(tenant_a, tenant_b)
    api.force_authenticate(member_a)
    assert api.get("/api/v1/availability/?organization=globex").status_code == 404


def test_a_bad_availability_question_answers_400(api, member_a, care_analyst, tenant_a):
    api.force_authenticate(member_a)
    for month in ("2025-13", "11-2025", "2025-1", "x"):
        response = api.get(f"/api/v1/availability/?organization=acme&month={month}")
        assert response.status_code == 400
        assert "month" in response.json()
    api.force_authenticate(care_analyst)
    response = api.get("/api/v1/availability/")
    assert response.status_code == 400
    assert "organization" in response.json()


def test_a_tenant_without_a_deployment_has_no_rows(api, member_a, tenant_a):
    api.force_authenticate(member_a)
    data = api.get("/api/v1/availability/").json()
    assert data["areas"] == []
    assert data["deployment"] is None
    assert FunctionalArea.objects.exists()


def test_a_catalog_that_is_no_mapping_answers_400(api, platform_admin):
    api.force_authenticate(platform_admin)
    for body in ("null", "[]", '"text"', "42", "{}"):
        response = api.put(
            "/api/v1/topology/catalog/", data=body, content_type="application/json"
        )
        assert response.status_code == 400, (body, response.content)
        assert response.json()["errors"], body
    assert Region.objects.filter(slug="us-east").exists()
