"""The tenant-facing topology pages: a tenant's deployment, its designed availability and
"what if". A tenant reads its own (another tenant's answers 404, as if it did not exist);
provider staff read every tenant they serve; platform administrators record deployments."""

from __future__ import annotations

import re

import pytest

from caredeck.topology.deployments import deployment_set
from caredeck.topology.models import Deployment
from tests.factories import OrganizationFactory

A_DEPLOYMENT = {
    "primary_region": "us-east", "secondary_region": "us-west",
    "pops": ["pop-ashburn", "pop-san-jose"], "connectivity": "private_line",
    "areas": ["call_routing", "agent_login", "reporting", "voicemail"],
}
B_DEPLOYMENT = {
    "primary_region": "eu-west-1", "secondary_region": "eu-west-2",
    "pops": ["pop-london", "pop-frankfurt"], "connectivity": "internet",
    "areas": ["call_routing", "agent_login", "wfm_feed"],
}



@pytest.fixture
def deployed(platform_admin, tenant_a, tenant_b):
    deployment_set(actor=platform_admin, organization=tenant_a, **A_DEPLOYMENT)
    deployment_set(actor=platform_admin, organization=tenant_b, **B_DEPLOYMENT)


def text_of(response) -> str:
    return response.content.decode()


def main_of(response) -> str:
    """The page without its header (whose tenant switch names every tenant to staff)."""
    html = text_of(response)
    return html[html.index('<main id="main"'):]


def deployment_form(**overrides) -> dict:
    return {**A_DEPLOYMENT, **overrides}


# --- Deployments -----------------------------------------------------------------------


def test_a_tenant_reads_its_own_deployment_on_the_map(page_as, member_a, deployed):
    response = page_as(member_a).get("/topology/deployments/acme/")
    assert response.status_code == 200
    html = text_of(response)
    assert "Acme Telecom" in html and "US East" in html and "Private line" in html
    # Its regions and PoPs are marked on the map, in words too.
    assert "● Primary region" in html and "● Secondary region" in html and "● Your PoP" in html
    assert 'class="region s-own"' in html
    assert "Edit deployment" not in html
    # Tenants are not told how many other tenants run where.
    assert "tenants</text>" not in html


def test_the_platform_entry_opens_the_tenants_own_deployment(page_as, member_a, deployed):
    response = page_as(member_a).get("/platform/")
    assert response.status_code == 302 and response.url == "/topology/deployments/acme/"


def test_another_tenants_deployment_is_not_found(page_as, member_a, admin_b, tam, deployed):
    for user in (member_a, tam):  # a TAM serves only its own accounts
        client = page_as(user)
        for url in ("/topology/deployments/globex/", "/topology/deployments/globex/edit/",
                    "/topology/deployments/globex/availability/"):
            assert client.get(url).status_code == 404, (user.email, url)
    response = page_as(admin_b).post("/topology/deployments/acme/edit/", deployment_form(
        primary_region="eu-west-1"
    ))
    assert response.status_code == 404
    assert Deployment.objects.get(organization__slug="acme").primary_region.slug == "us-east"


def test_a_partner_reads_the_deployment_of_the_customer_it_serves(
    page_as, partner_user, deployed
):
    client = page_as(partner_user)
    assert client.get("/topology/deployments/acme/").status_code == 200
    assert client.get("/topology/deployments/globex/").status_code == 404


def test_a_tenant_without_a_deployment_is_told_what_the_page_is_for(page_as, member_a):
    html = text_of(page_as(member_a).get("/topology/deployments/acme/"))
    assert "No deployment recorded" in html and "technical account manager" in html


def test_staff_list_deployments_and_filter_them(page_as, care_analyst, deployed):
    client = page_as(care_analyst)
    html = main_of(client.get("/topology/deployments/"))
    assert "Acme Telecom" in html and "Globex Insurance" in html
    html = main_of(client.get("/topology/deployments/?region=eu-west-1"))
    assert "Globex Insurance" in html and "Acme Telecom" not in html
    html = main_of(client.get("/topology/deployments/?connectivity=private_line&q=acme"))
    assert "Acme Telecom" in html and "Globex Insurance" not in html


def test_a_platform_admin_records_a_deployment(page_as, platform_admin, tenant_a):
    client = page_as(platform_admin)
    empty = text_of(client.get("/topology/deployments/acme/"))
    assert "Record the deployment" in empty
    assert client.get("/topology/deployments/acme/edit/").status_code == 200
    response = client.post("/topology/deployments/acme/edit/", deployment_form())
    assert response.status_code == 302
    deployment = Deployment.objects.get(organization=tenant_a)
    assert deployment.primary_region.slug == "us-east"
    assert sorted(p.slug for p in deployment.pops.all()) == ["pop-ashburn", "pop-san-jose"]


def test_a_deployment_error_is_shown_beside_its_field_and_keeps_the_choices(
    page_as, platform_admin, tenant_a
):
    client = page_as(platform_admin)
    response = client.post("/topology/deployments/acme/edit/", deployment_form(
        pops=["pop-ashburn"], secondary_region="us-east",
    ))
    assert response.status_code == 200
    html = text_of(response)
    assert "Nothing was saved" in html
    assert "A tenant reaches exactly 2 different PoPs (got 1)." in html
    assert "The secondary region must differ from the primary region." in html
    assert re.search(r'value="pop-ashburn"[^>]*checked', html)
    assert not re.search(r'value="pop-san-jose"[^>]*checked', html)
    assert not Deployment.objects.filter(organization=tenant_a).exists()


def test_only_platform_admins_edit_a_deployment(page_as, care_analyst, admin_a, deployed):
    assert page_as(care_analyst).get("/topology/deployments/acme/").status_code == 200
    for user in (care_analyst, admin_a):
        client = page_as(user)
        assert client.get("/topology/deployments/acme/edit/").status_code == 403
        assert client.post("/topology/deployments/acme/edit/", deployment_form(
            connectivity="internet"
        )).status_code == 403
    assert Deployment.objects.get(organization__slug="acme").connectivity == "private_line"


# --- Designed availability -------------------------------------------------------------


def test_a_tenant_sees_which_of_its_areas_cannot_meet_the_target(page_as, member_a, deployed):
    response = page_as(member_a).get("/topology/deployments/acme/availability/")
    assert response.status_code == 200
    html = text_of(response)
    assert "99.99 %" in html  # the contract's target
    # Reporting is centralized in one region without a standby: it cannot make it.
    assert "1 of 4 areas cannot meet 99.99 % by design: Historical and real-time reporting." \
        in html
    assert html.count("✕ Cannot meet target") == 1
    assert html.count("✓ Meets target") == 3


def test_staff_read_any_tenants_availability(page_as, care_analyst, deployed):
    response = page_as(care_analyst).get("/topology/deployments/globex/availability/")
    assert response.status_code == 200
    assert "Every area can meet 99.99 % by design." in text_of(response)


def test_availability_without_a_deployment_says_what_is_missing(page_as, member_a):
    html = text_of(page_as(member_a).get("/topology/deployments/acme/availability/"))
    assert "No deployment recorded" in html


# --- What if ---------------------------------------------------------------------------


def test_the_what_if_page_offers_every_element_grouped_by_kind(page_as, care_analyst):
    html = text_of(page_as(care_analyst).get("/topology/impact/"))
    for group in ("Regions", "Availability zones", "PoPs"):
        assert f'<optgroup label="{group}">' in html
    assert '<option value="pop-ashburn">Ashburn (United States)</option>' in html


def test_staff_see_who_is_affected_and_how(page_as, care_analyst, deployed):
    response = page_as(care_analyst).get("/topology/impact/?target=us-east")
    assert response.status_code == 200
    html = text_of(response)
    # The failed element on the map, with a label, not only a colour.
    assert 'class="region s-failed"' in html and "✕ FAILED" in html
    # Totals: Acme runs in us-east; Globex uses the WFM feed, centralized in us-east.
    assert '<span class="tile-num">2</span> <span class="tile-label">tenants affected' in html
    assert '<span class="tile-num">1</span> <span class="tile-label">with dropped calls' in html
    affected = html[html.index('id="affected-h"'):html.index('id="unaffected-h"')]
    assert affected.index("Acme Telecom") < affected.index("Globex Insurance")  # worst first
    assert "Active calls dropped." in affected
    assert "☎ Calls dropped" in affected and "⊘ Service unavailable" in affected


def test_a_tenant_sees_only_its_own_answer(page_as, member_a, deployed):
    response = page_as(member_a).get("/topology/impact/?target=us-east&organization=globex")
    assert response.status_code == 200
    html = text_of(response)
    assert "Acme Telecom is affected" in html
    assert "Globex" not in html
    assert "tenants affected" not in html  # no totals over other tenants


def test_a_tenant_not_affected_is_told_so(page_as, member_b, deployed):
    html = text_of(page_as(member_b).get("/topology/impact/?target=pop-ashburn"))
    assert "Globex Insurance is not affected by this failure." in html
    assert "Acme" not in html


def test_a_tam_sees_only_the_tenants_it_serves(page_as, tam, tenant_a, deployed):
    tenant_a.tam = tam
    tenant_a.save()
    html = main_of(page_as(tam).get("/topology/impact/?target=us-east"))
    assert "Acme Telecom" in html and "Globex" not in html


def test_staff_narrow_the_answer_to_one_tenant(page_as, care_analyst, deployed):
    html = main_of(page_as(care_analyst).get(
        "/topology/impact/?target=us-east&organization=globex"
    ))
    assert "Only for" in html and "Globex Insurance" in html and "Acme Telecom" not in html


def test_a_pop_failure_uses_each_tenants_connectivity(page_as, care_analyst, deployed):
    html = text_of(page_as(care_analyst).get("/topology/impact/?target=pop-ashburn"))
    assert "Transit PoP failure (customer connected by private line)" in html
    assert 'class="pop s-failed"' in html


def test_an_unknown_target_is_an_error_beside_the_field(page_as, care_analyst):
    html = text_of(page_as(care_analyst).get("/topology/impact/?target=atlantis"))
    target = html[html.index('for="id_target"'):html.index('for="id_failure"')]
    assert 'class="error"' in target


def test_a_failure_type_that_does_not_fit_the_element_is_an_error(page_as, care_analyst):
    html = text_of(page_as(care_analyst).get(
        "/topology/impact/?target=us-east&failure=az_failure"
    ))
    failure = html[html.index('for="id_failure"'):html.index("Show the impact")]
    assert "az_failure is the failure of a Availability zone" in failure


def test_long_answers_are_paginated(page_as, care_analyst, platform_admin, deployed):
    for n in range(25):
        tenant = OrganizationFactory(slug=f"tenant-{n:02}", name=f"Tenant {n:02}")
        deployment_set(actor=platform_admin, organization=tenant, **A_DEPLOYMENT)
    client = page_as(care_analyst)
    first = text_of(client.get("/topology/impact/?target=us-east"))
    assert "Tenants 1–20 of 27" in first
    assert 'href="?target=us-east&amp;page=2#affected-h"' in first
    second = text_of(client.get("/topology/impact/?target=us-east&page=2"))
    assert "Tenants 21–27 of 27" in second


def test_the_not_affected_tenants_are_counted_and_listed(page_as, care_analyst, deployed):
    html = text_of(page_as(care_analyst).get("/topology/impact/?target=pop-london"))
    unaffected = html[html.index('id="unaffected-h"'):]
    assert "(1)" in unaffected and "Acme Telecom" in unaffected


def test_a_customer_of_a_partner_sees_nothing_of_other_customers(
    page_as, partner_user, deployed, client
):
    # The partner works for Acme (the header's tenant switch): Acme's answer only.
    page_as(partner_user)
    client.post("/switch-tenant/", {"tenant": "acme", "next": "/home/"})
    html = text_of(client.get("/topology/impact/?target=us-east"))
    assert "Acme Telecom is affected" in html and "Globex" not in html


def test_anonymous_visitors_sign_in_first(client):
    response = client.get("/topology/impact/?target=us-east")
    assert response.status_code == 302 and response.url.startswith("/login/")


def test_a_partner_names_the_customer_whose_answer_it_reads(page_as, partner_user, deployed):
    client = page_as(partner_user)
    html = main_of(client.get("/topology/impact/?target=us-east&organization=acme"))
    assert "Acme Telecom is affected" in html
    assert 'name="organization" value="acme"' in html  # kept for the next question
    # A customer it does not serve: its own (partner) tenant's answer, nothing of Globex.
    html = main_of(client.get("/topology/impact/?target=eu-west-1&organization=globex"))
    assert "Globex" not in html and "No deployment of BlueBridge is recorded" in html
