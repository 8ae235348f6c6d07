"""Provider staff and partner users pick the tenant they work for in the page header;
customers always work for their own."""

from __future__ import annotations


def test_it_switches_provider_staff_to_a_tenant_and_shows_it(
    client, care_analyst, tenant_a, tenant_b
):
    client.force_login(care_analyst)
    response = client.post("/switch-tenant/", {"tenant": "acme"})
    assert response.status_code == 302
    assert response.url == "/home/"
    home = client.get("/home/")
    assert home.context["current_tenant"] == tenant_a
    page = home.content.decode()
    assert "Working for <strong>Acme Telecom</strong>" in page
    assert '<option value="acme" selected>' in page
    assert client.get("/team/").context["organization"] == tenant_a


def test_it_keeps_the_choice_for_the_session(client, care_analyst, tenant_a, tenant_b):
    client.force_login(care_analyst)
    client.post("/switch-tenant/", {"tenant": "globex"})
    assert client.get("/home/").context["current_tenant"] == tenant_b
    assert client.get("/team/").context["organization"] == tenant_b


def test_it_returns_to_the_page_the_switch_was_made_on(client, care_analyst, tenant_a):
    client.force_login(care_analyst)
    response = client.post("/switch-tenant/", {"tenant": "acme", "next": "/team/"})
    assert response.url == "/team/"


def test_it_never_redirects_off_site_after_a_switch(client, care_analyst, tenant_a):
    client.force_login(care_analyst)
    response = client.post("/switch-tenant/", {"tenant": "acme", "next": "https://evil.test/"})
    assert response.url == "/home/"


def test_it_answers_404_when_a_customer_switches_to_another_tenant(client, member_a, tenant_b):
    client.force_login(member_a)
    assert client.post("/switch-tenant/", {"tenant": "globex"}).status_code == 404
    home = client.get("/home/")
    assert home.context["current_tenant"] == member_a.organization
    assert "Globex" not in home.content.decode()


def test_it_ignores_a_stale_session_choice_the_user_may_no_longer_see(
    client, tam, tenant_a, tenant_b
):
    tenant_a.tam = tam
    tenant_a.save()
    client.force_login(tam)
    client.post("/switch-tenant/", {"tenant": "acme"})
    tenant_a.tam = None
    tenant_a.save()
    assert client.get("/home/").context["current_tenant"] == tam.organization


def test_it_lets_a_partner_user_switch_only_to_linked_customers(
    client, partner_user, tenant_a, tenant_b
):
    client.force_login(partner_user)
    assert client.post("/switch-tenant/", {"tenant": "acme"}).status_code == 302
    assert client.get("/home/").context["current_tenant"] == tenant_a
    assert client.post("/switch-tenant/", {"tenant": "globex"}).status_code == 404
    assert client.get("/home/").context["current_tenant"] == tenant_a


def test_it_refuses_a_switch_by_get(client, care_analyst, tenant_a):
    client.force_login(care_analyst)
    assert client.get("/switch-tenant/?tenant=acme").status_code == 405


def test_it_offers_a_customer_no_tenant_choice(client, member_a, tenant_b):
    client.force_login(member_a)
    page = client.get("/home/").content.decode()
    assert 'id="tenant-select"' not in page
    assert "Working for <strong>Acme Telecom</strong>" in page


def test_it_answers_404_for_a_tenant_name_with_a_nul_byte(client, care_analyst, tenant_a):
    client.force_login(care_analyst)
    assert client.post("/switch-tenant/", {"tenant": "ac\x00me"}).status_code == 404


def test_it_switches_from_the_tenant_list_when_there_are_too_many_for_a_select(
    client, care_analyst, tenant_a, tenant_b, monkeypatch
):
    from caredeck.web import context_processors

    monkeypatch.setattr(context_processors, "SELECT_LIMIT", 2)
    client.force_login(care_analyst)
    home = client.get("/home/").content.decode()
    assert 'id="tenant-select"' not in home
    assert 'href="/tenants/">Switch</a>' in home
    listing = client.get("/tenants/").content.decode()
    assert 'aria-label="Work for Acme Telecom"' in listing
    client.post("/switch-tenant/", {"tenant": "acme", "next": "/home/"})
    assert "Working for <strong>Acme Telecom</strong>" in client.get("/home/").content.decode()
