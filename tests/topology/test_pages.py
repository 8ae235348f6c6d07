"""The topology pages: the map, the platform model, the failure matrix, catalog import and
export. Platform administrators change; other provider staff read; tenants get nothing
of the provider's catalog pages (403) and 404 for what does not exist."""

from __future__ import annotations

import re

import pytest

from caredeck.core.models import AuditEntry
from caredeck.topology.catalog import catalog_dump_yaml
from caredeck.topology.deployments import deployment_set
from caredeck.topology.models import FailureImpact, FunctionalArea, Pop, Region, Zone

CELL = "/topology/matrix/region_failure/call_routing/"
CELL_PREFIX = "region_failure-call_routing"



@pytest.fixture
def deployed_a(platform_admin, tenant_a):
    return deployment_set(
        actor=platform_admin, organization=tenant_a, primary_region="us-east",
        secondary_region="us-west", pops=["pop-ashburn", "pop-san-jose"],
        connectivity="private_line", areas=["call_routing", "agent_login", "reporting"],
    )


def text_of(response) -> str:
    return response.content.decode()


def cell_form(**values) -> dict:
    data = {"operational": "none", "agent": "none", "customer": "none", **values}
    return {f"{CELL_PREFIX}-{name}": value for name, value in data.items()}


# --- The map ---------------------------------------------------------------------------


def test_the_map_draws_the_platform_with_a_table_beside_it(page_as, care_analyst, deployed_a):
    response = page_as(care_analyst).get("/topology/")
    assert response.status_code == 200
    html = text_of(response)
    # Two layouts of one accessible map: a title, a description, text labels.
    assert html.count('<svg class="topology-map"') == 2
    assert '<title id="map-wide-title">Topology map of the platform</title>' in html
    assert "5 geographies, 10 regions with 30 availability zones" in html
    assert ">US East</text>" in html and ">Ashburn</text>" in html
    # Each element is a link to "what if it fails".
    assert 'href="/topology/impact/?target=us-east-a"' in html
    # The same data in a table, with the tenant counts.
    regions_table = html[html.index('id="regions-h"'):html.index('id="pops-h"')]
    assert re.search(r"US East</a>.*?<td class=\"num\"[^>]*>1</td>", regions_table, re.S)
    assert "New region" not in html  # reading is not changing


def test_platform_admins_get_the_buttons_that_change_the_platform(page_as, platform_admin):
    html = text_of(page_as(platform_admin).get("/topology/"))
    for button in ("New geography", "New region", "New zone", "New PoP"):
        assert button in html


def test_tenants_do_not_get_the_providers_pages(page_as, admin_a, partner_user):
    for user in (admin_a, partner_user):
        client = page_as(user)
        for url in ("/topology/", "/topology/areas/", "/topology/matrix/", CELL,
                    "/topology/catalog/", "/topology/catalog/export.yaml",
                    "/topology/regions/us-east/", "/topology/deployments/"):
            assert client.get(url).status_code == 403, (user.email, url)


def test_the_navigation_says_topology_to_staff_and_platform_to_tenants(
    page_as, care_analyst, admin_a, client
):
    staff_nav = text_of(page_as(care_analyst).get("/home/"))
    assert ">Topology</a>" in staff_nav and ">Platform</a>" not in staff_nav
    client.logout()
    tenant_nav = text_of(page_as(admin_a).get("/home/"))
    assert ">Platform</a>" in tenant_nav and ">Topology</a>" not in tenant_nav


# --- Platform elements -----------------------------------------------------------------


def test_it_creates_a_region_with_its_zones(page_as, platform_admin):
    client = page_as(platform_admin)
    assert client.get("/topology/regions/new/").status_code == 200
    response = client.post(
        "/topology/regions/new/",
        {"slug": "sa-east", "name": "South America East", "geography": "us", "zones": 2},
    )
    assert response.status_code == 302
    region = Region.objects.get(slug="sa-east")
    assert sorted(region.zones.values_list("slug", flat=True)) == ["sa-east-a", "sa-east-b"]
    assert AuditEntry.objects.filter(object_kind="region", object_id="sa-east").exists()


def test_a_bad_element_keeps_what_was_typed_and_says_why_beside_the_field(
    page_as, platform_admin
):
    client = page_as(platform_admin)
    # The id of an existing zone: the service refuses it, next to the id field.
    response = client.post(
        "/topology/pops/new/",
        {"slug": "us-east-a", "name": "Typed PoP name", "geography": "us", "regions": ["us-east"]},
    )
    assert response.status_code == 200
    html = text_of(response)
    assert 'value="Typed PoP name"' in html
    slug_field = html[html.index('for="id_slug"'):html.index('for="id_name"')]
    assert "already used by a zone" in slug_field
    assert not Pop.objects.filter(name="Typed PoP name").exists()


def test_it_edits_a_pop_and_the_regions_it_serves(page_as, platform_admin):
    client = page_as(platform_admin)
    response = client.post(
        "/topology/pops/pop-ashburn/",
        {"name": "Ashburn VA", "geography": "us", "regions": ["us-east"]},
    )
    assert response.status_code == 302
    pop = Pop.objects.get(slug="pop-ashburn")
    assert pop.name == "Ashburn VA"
    assert [r.slug for r in pop.regions.all()] == ["us-east"]


def test_other_staff_read_an_element_but_may_not_change_it(page_as, care_analyst):
    client = page_as(care_analyst)
    response = client.get("/topology/regions/us-east/")
    assert response.status_code == 200
    assert "Only platform administrators change the platform" in text_of(response)
    assert client.post("/topology/regions/us-east/", {"name": "X", "geography": "us"}
                       ).status_code == 403
    assert client.post("/topology/zones/us-east-c/delete/").status_code == 403
    assert client.get("/topology/regions/new/").status_code == 403
    assert Region.objects.get(slug="us-east").name == "US East"
    assert Zone.objects.filter(slug="us-east-c").exists()


def test_an_unknown_element_is_not_found(page_as, platform_admin):
    client = page_as(platform_admin)
    assert client.get("/topology/regions/atlantis/").status_code == 404
    assert client.get("/topology/areas/atlantis/").status_code == 404
    assert client.get("/topology/matrix/region_failure/atlantis/").status_code == 404


def test_it_deletes_a_zone_after_asking(page_as, platform_admin):
    client = page_as(platform_admin)
    confirm = client.get("/topology/zones/us-east-c/delete/")
    assert confirm.status_code == 200 and "Delete availability zone" in text_of(confirm)
    assert client.post("/topology/zones/us-east-c/delete/").status_code == 302
    assert not Zone.objects.filter(slug="us-east-c").exists()


def test_a_region_a_tenant_runs_in_is_not_deleted_and_the_page_says_why(
    page_as, platform_admin, deployed_a
):
    client = page_as(platform_admin)
    response = client.post("/topology/regions/us-west/delete/", follow=True)
    assert Region.objects.filter(slug="us-west").exists()
    assert "was not deleted" in text_of(response) and "Acme Telecom" in text_of(response)


# --- Functional areas ------------------------------------------------------------------


def area_form(**overrides) -> dict:
    data = {
        "name": "Call routing", "scope": "distributed", "home_region": "",
        "standby_region": "", "services": "SIP server\nrouting", "note": "",
        "components-TOTAL_FORMS": 3, "components-INITIAL_FORMS": 0,
        "components-0-name": "SIP server", "components-0-availability": "99.995",
        "components-1-name": "routing", "components-1-availability": "99.99",
        "components-2-name": "", "components-2-availability": "",
    }
    return {**data, **overrides}


def test_it_lists_the_areas_with_their_component_figures(page_as, care_analyst):
    html = text_of(page_as(care_analyst).get("/topology/areas/"))
    assert "Call routing" in html and "Distributed across regions" in html
    assert "SIP server: 99.995 %" in html


def test_it_edits_an_area_and_its_components(page_as, platform_admin):
    client = page_as(platform_admin)
    form = client.get("/topology/areas/call_routing/")
    assert 'value="99.995"' in text_of(form)  # shown in percent
    response = client.post("/topology/areas/call_routing/", area_form())
    assert response.status_code == 302
    area = FunctionalArea.objects.get(slug="call_routing")
    assert area.services == ["SIP server", "routing"]
    assert area.components == [
        {"name": "SIP server", "availability": 0.99995},
        {"name": "routing", "availability": 0.9999},
    ]
    assert AuditEntry.objects.filter(object_kind="area", object_id="call_routing").exists()


def test_area_errors_are_shown_beside_their_fields_and_nothing_is_saved(
    page_as, platform_admin
):
    client = page_as(platform_admin)
    before = FunctionalArea.objects.get(slug="wfm").components
    response = client.post("/topology/areas/wfm/", area_form(
        name="Typed WFM", scope="centralized",
        **{"components-1-availability": ""},  # a component without its figure
    ))
    assert response.status_code == 200
    html = text_of(response)
    assert "Nothing was saved" in html
    assert "Give the component&#x27;s designed availability." in html
    assert 'value="Typed WFM"' in html
    # The service's own rule, next to its field once the rows are right.
    response = client.post("/topology/areas/wfm/", area_form(name="Typed WFM",
                                                             scope="centralized"))
    html = text_of(response)
    home = html[html.index('for="id_home_region"'):html.index('for="id_standby_region"')]
    assert "A centralized area needs a home region." in home
    assert FunctionalArea.objects.get(slug="wfm").components == before


def test_other_staff_may_not_change_an_area(page_as, care_analyst):
    client = page_as(care_analyst)
    assert client.get("/topology/areas/call_routing/").status_code == 200
    assert client.post("/topology/areas/call_routing/", area_form(name="X")).status_code == 403


# --- The failure matrix ----------------------------------------------------------------


def test_the_matrix_shows_every_cell_with_its_texts_and_flags(page_as, care_analyst):
    html = text_of(page_as(care_analyst).get("/topology/matrix/"))
    assert html.count('<td id="cell-') == FailureImpact.objects.count()
    assert "Active calls dropped." in html
    assert "✕ Data lost" in html and "⊘ Service unavailable" in html
    assert "✓ No impact" in html
    assert "cell-edit" not in html  # read only for other staff


def test_a_failure_type_tab_shows_its_column_only(page_as, care_analyst):
    html = text_of(page_as(care_analyst).get("/topology/matrix/?failure=az_failure"))
    assert html.count('<td id="cell-az_failure-') == FunctionalArea.objects.count()
    assert "cell-region_failure-" not in html


def test_a_cell_opens_in_place_and_saves_in_place(page_as, platform_admin):
    client = page_as(platform_admin)
    editor = client.get(CELL, headers={"HX-Request": "true"})
    assert editor.status_code == 200
    html = text_of(editor)
    assert "<html" not in html and 'hx-post="/topology/matrix/region_failure/call_routing/"' in html
    saved = client.post(
        CELL, cell_form(customer="Active calls dropped; callers retry.", data_lost="on"),
        headers={"HX-Request": "true"},
    )
    assert saved.status_code == 200
    assert "Saved." in text_of(saved) and "✕ Data lost" in text_of(saved)
    cell = FailureImpact.objects.get(failure_type__slug="region_failure",
                                     area__slug="call_routing")
    assert (cell.customer, cell.data_lost, cell.operational) == (
        "Active calls dropped; callers retry.", True, "none"
    )
    assert AuditEntry.objects.filter(object_kind="impact_cell", object_id=str(cell.pk)).exists()


def test_cancel_puts_the_cell_back(page_as, platform_admin):
    response = page_as(platform_admin).get(CELL + "?show=1", headers={"HX-Request": "true"})
    assert "Active calls dropped." in text_of(response) and "<form" not in text_of(response)


def test_a_cell_without_htmx_is_a_page_that_redirects_to_the_matrix(page_as, platform_admin):
    client = page_as(platform_admin)
    page = client.get(CELL)
    assert page.status_code == 200 and "<html" in text_of(page)
    response = client.post(CELL, cell_form(agent="Logged out."))
    assert response.status_code == 302
    assert response.url == (
        "/topology/matrix/?failure=region_failure#cell-region_failure-call_routing"
    )


def test_a_cell_with_an_empty_text_keeps_what_was_typed(page_as, platform_admin):
    client = page_as(platform_admin)
    response = client.post(
        CELL, cell_form(operational="Typed operations text", agent="   "),
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    html = text_of(response)
    assert "Typed operations text" in html
    agent = html[html.index(f'for="id_{CELL_PREFIX}-agent"'):
                 html.index(f'for="id_{CELL_PREFIX}-customer"')]
    assert "Describe the impact, or write &quot;none&quot; for no impact." in agent
    cell = FailureImpact.objects.get(failure_type__slug="region_failure",
                                     area__slug="call_routing")
    assert cell.operational != "Typed operations text"


def test_other_staff_may_not_edit_a_cell(page_as, care_analyst):
    client = page_as(care_analyst)
    assert client.post(CELL, cell_form(customer="Hijacked")).status_code == 403
    assert not FailureImpact.objects.filter(customer="Hijacked").exists()


# --- Catalog import and export ---------------------------------------------------------


def test_staff_download_the_catalog_as_yaml(page_as, care_analyst):
    client = page_as(care_analyst)
    page = text_of(client.get("/topology/catalog/"))
    assert "Download catalog (YAML)" in page
    assert 'type="file"' not in page  # only platform administrators import
    response = client.get("/topology/catalog/export.yaml")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/yaml")
    assert response["Content-Disposition"].startswith('attachment; filename="caredeck-catalog-')
    assert "us-east:" in text_of(response) and "impact:" in text_of(response)


def test_it_imports_an_uploaded_catalog(page_as, platform_admin):
    from django.core.files.uploadedfile import SimpleUploadedFile

    text = catalog_dump_yaml().replace("name: United States", "name: USA")
    upload = SimpleUploadedFile("catalog.yaml", text.encode(), content_type="application/yaml")
    response = page_as(platform_admin).post(
        "/topology/catalog/", {"file": upload, "action": "import"}, follow=True
    )
    assert "Imported: updated 1 geographies." in text_of(response)
    assert Region.objects.get(slug="us-east").geography.name == "USA"


def test_a_bad_catalog_lists_its_errors_with_their_lines_and_changes_nothing(
    page_as, platform_admin
):
    text = catalog_dump_yaml()
    lines = text.splitlines()
    # Break two things: a region's geography, and a flag that is not true or false.
    geo_line = next(i for i, line in enumerate(lines) if line.strip() == "geography: us")
    lines[geo_line] = lines[geo_line].replace("geography: us", "geography: atlantis")
    flag_line = next(i for i, line in enumerate(lines) if "data_lost: false" in line)
    lines[flag_line] = lines[flag_line].replace("false", "maybe")
    before = catalog_dump_yaml()
    response = page_as(platform_admin).post(
        "/topology/catalog/", {"text": "\n".join(lines), "action": "import"}
    )
    assert response.status_code == 200
    html = text_of(response)
    assert "Nothing was imported: the file has 2 errors." in html
    assert f"line {geo_line + 1}" in html and f"line {flag_line + 1}" in html
    assert "atlantis" in html
    assert catalog_dump_yaml() == before


def test_a_file_that_is_not_yaml_says_where(page_as, platform_admin):
    response = page_as(platform_admin).post(
        "/topology/catalog/", {"text": "version: 1\ngeographies: [unclosed\n", "action": "import"}
    )
    assert "Nothing was imported" in text_of(response) and "line 3" in text_of(response)


def test_check_only_says_what_would_change_and_changes_nothing(page_as, platform_admin):
    text = catalog_dump_yaml().replace("name: United States", "name: USA")
    response = page_as(platform_admin).post(
        "/topology/catalog/", {"text": text, "action": "check"}
    )
    assert response.status_code == 200
    assert "importing would have updated 1 geographies" in text_of(response)
    assert Region.objects.get(slug="us-east").geography.name == "United States"


def test_an_empty_upload_is_an_error_on_the_form(page_as, platform_admin):
    response = page_as(platform_admin).post("/topology/catalog/", {"action": "import"})
    assert "Choose a file or paste the catalog." in text_of(response)


def test_other_staff_may_not_import(page_as, care_analyst):
    text = catalog_dump_yaml().replace("name: United States", "name: USA")
    response = page_as(care_analyst).post("/topology/catalog/", {"text": text})
    assert response.status_code == 403
    assert Region.objects.get(slug="us-east").geography.name == "United States"
