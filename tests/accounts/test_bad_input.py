"""Bad input answers 400 with a body naming each field, and never a 500."""

from __future__ import annotations

import pytest

from caredeck.accounts.models import Organization, Product, User


@pytest.fixture
def admin_api(as_user, platform_admin, tenant_a, tam, product):
    client = as_user(platform_admin)
    client.raise_request_exception = False
    return client


def _fields(response) -> set[str]:
    assert response.status_code == 400, (response.status_code, response.content[:500])
    body = response.json()
    assert isinstance(body, dict) and body
    for messages in body.values():
        assert messages, "every named field carries at least one message"
    return set(body)


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"name", "kind"}),
        ({"name": "Initech"}, {"kind"}),
        ({"name": 5, "kind": "bogus"}, {"kind"}),
        ({"name": ["Initech"], "kind": "customer"}, {"name"}),
        ({"name": "Initech", "kind": "customer", "platforms": "cloud-cx"}, {"platforms"}),
        ({"name": "Initech", "kind": "customer", "platforms": ["no-such-product"]}, {"platforms"}),
        ({"name": "Initech", "kind": "customer", "tam": "bob"}, {"tam"}),
        ({"name": "Initech", "kind": "customer", "tam": 10**30}, {"tam"}),
        ({"name": "Initech", "kind": "customer", "contract": "generous"}, {"contract"}),
        ({"name": "Initech", "kind": "customer", "contract": None}, {"contract"}),
        ({"name": "Initech", "kind": "customer", "slug": "not a slug"}, {"slug"}),
        ({"name": "x" * 500, "kind": "customer"}, {"name"}),
        ({"name": "!!!", "kind": "customer"}, {"slug"}),
        ({"name": "Ini\x00tech", "kind": "customer"}, {"name"}),
    ],
)
def test_it_names_the_fields_of_a_bad_organization(admin_api, body, fields):
    response = admin_api.post("/api/v1/organizations/", body, format="json")
    assert _fields(response) == fields
    assert not Organization.objects.filter(name__startswith="Initech").exists()


@pytest.mark.parametrize(
    "contract",
    [
        {"notice_minutes": "soon"},
        {"notice_minutes": 0},
        {"notice_minutes": 10**30},
        {"update_minutes": -5},
        {"availability_target": "abc"},
        {"availability_target": "101"},
        {"support_country": "usa"},
        {"support_day_start": "25:00"},
        {"support_24x7": "sometimes"},
        {"case_response_minutes": {"1": "fast"}},
        {"case_response_minutes": {"1": 0}},
        {"case_response_minutes": [15, 60]},
        {"case_resolution_minutes": {"9": 10}},
        {"support_24x7": False, "support_day_start": "18:00", "support_day_end": "08:00"},
    ],
)
def test_it_refuses_bad_contract_terms(admin_api, contract):
    response = admin_api.post(
        "/api/v1/organizations/",
        {"name": "Initech", "kind": "customer", "contract": contract},
        format="json",
    )
    # The error names the contract, or the term inside it.
    assert _fields(response) & {"contract", *contract, "support_day_end"}
    assert not Organization.objects.filter(slug="initech").exists()


def test_it_refuses_unknown_contract_terms_instead_of_dropping_them(admin_api):
    response = admin_api.post(
        "/api/v1/organizations/",
        {"name": "Initech", "kind": "customer", "contract": {"notice_minutse": 5}},
        format="json",
    )
    assert _fields(response) == {"contract"}
    assert "notice_minutse" in response.json()["contract"]
    assert not Organization.objects.filter(slug="initech").exists()
    patched = admin_api.patch(
        "/api/v1/organizations/acme/", {"contract": {"free_coffee": True}}, format="json"
    )
    assert _fields(patched) == {"contract"}


@pytest.mark.parametrize(
    "zone", ["Mars/Olympus_Mons", "Europe", "", "../../etc/passwd", "posixrules"]
)
def test_it_refuses_an_invalid_contract_time_zone(admin_api, zone):
    response = admin_api.post(
        "/api/v1/organizations/",
        {"name": "Initech", "kind": "customer", "contract": {"support_timezone": zone}},
        format="json",
    )
    assert _fields(response) & {"support_timezone", "contract"}
    assert not Organization.objects.filter(slug="initech").exists()


@pytest.mark.parametrize("zone", ["Mars/Base", "Europe", "America/", "Etc/../UTC"])
def test_it_refuses_an_invalid_user_time_zone(admin_api, member_a, zone):
    created = admin_api.post(
        "/api/v1/users/",
        {
            "email": "road@acme.test",
            "name": "Road Runner",
            "organization": "acme",
            "timezone": zone,
        },
        format="json",
    )
    assert _fields(created) == {"timezone"}
    assert not User.objects.filter(email="road@acme.test").exists()
    changed = admin_api.patch(f"/api/v1/users/{member_a.pk}/", {"timezone": zone}, format="json")
    assert _fields(changed) == {"timezone"}
    member_a.refresh_from_db()
    assert member_a.timezone == "UTC"


def test_it_refuses_an_invalid_time_zone_on_the_account_page(client, member_a):
    client.force_login(member_a)
    response = client.post("/account/", {"name": "Mia", "timezone": "Europe"})
    assert response.status_code == 200
    assert response.context["profile_form"].errors["timezone"]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"email", "name", "organization"}),
        (
            {"email": 123, "name": ["A"], "organization": ["acme"]},
            {"email", "name", "organization"},
        ),
        ({"email": "not-an-address", "name": "A", "organization": "acme"}, {"email"}),
        ({"email": "a@acme.test", "name": " ", "organization": "acme"}, {"name"}),
        (
            {
                "email": "a@acme.test",
                "name": "A",
                "organization": "acme",
                "roles": "customer_member",
            },
            {"roles"},
        ),
        ({"email": "a@acme.test", "name": "A", "organization": "acme", "roles": [None]}, {"roles"}),
        (
            {"email": "a@acme.test", "name": "A", "organization": "acme", "password": 12},
            {"password"},
        ),
        (
            {"email": "a@acme.test", "name": "A", "organization": "acme", "is_active": "maybe"},
            {"is_active"},
        ),
    ],
)
def test_it_names_the_fields_of_a_bad_user(admin_api, body, fields):
    assert _fields(admin_api.post("/api/v1/users/", body, format="json")) == fields
    assert not User.objects.filter(email="a@acme.test").exists()


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"slug", "name"}),
        ({"slug": "voice", "name": "Voice", "vote_threshold": "many"}, {"vote_threshold"}),
        ({"slug": "voice", "name": "Voice", "vote_threshold": -1}, {"vote_threshold"}),
        ({"slug": "voice", "name": "Voice", "vote_threshold": 10**30}, {"vote_threshold"}),
        ({"slug": "voice cloud", "name": "Voice"}, {"slug"}),
        ({"slug": "voice", "name": "Voice", "is_active": "perhaps"}, {"is_active"}),
    ],
)
def test_it_names_the_fields_of_a_bad_product(admin_api, body, fields):
    assert _fields(admin_api.post("/api/v1/products/", body, format="json")) == fields
    assert not Product.objects.filter(slug="voice").exists()


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "x" * 81}, {"name": ["a"]}])
def test_it_names_the_fields_of_a_bad_token(admin_api, body):
    assert _fields(admin_api.post("/api/v1/tokens/", body, format="json")) == {"name"}


def test_it_names_the_fields_of_a_bad_access_request(api, db):
    response = api.post(
        "/api/v1/access-requests/",
        {"name": "", "email": "x", "company": ["c"], "kind": "vendor", "message": "m" * 3000},
        format="json",
    )
    assert _fields(response) == {"name", "email", "company", "kind", "message"}


def test_it_names_the_fields_of_a_bad_partner_link(admin_api, partner):
    response = admin_api.post(
        "/api/v1/partner-links/",
        {"partner": "acme", "customer": "bluebridge", "rights": ["all"]},
        format="json",
    )
    assert _fields(response) == {"partner", "customer", "rights"}


def test_it_answers_400_for_malformed_json(admin_api):
    response = admin_api.post(
        "/api/v1/organizations/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert "detail" in response.json()


def test_it_answers_415_for_a_body_that_is_not_json(admin_api):
    response = admin_api.post("/api/v1/organizations/", "name=x", content_type="text/plain")
    assert response.status_code == 415


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/users/99999999999999999999999/",
        "/api/v1/users/-1/",
        "/api/v1/users/abc/",
        "/api/v1/organizations/%00/",
        "/api/v1/organizations/ac%00me/",
        "/api/v1/products/cloud%00cx/",
        "/api/v1/products/no-such-product/",
        "/api/v1/access-requests/99999999999999999999999/",
    ],
)
def test_it_answers_404_for_ids_that_cannot_exist(admin_api, url):
    response = admin_api.get(url)
    assert response.status_code == 404
    assert "detail" in response.json()


@pytest.mark.parametrize(
    "query", ["page=abc", "page=0", "page_size=-1", "page_size=abc", "page=999"]
)
def test_it_never_fails_on_odd_paging(admin_api, query):
    assert admin_api.get(f"/api/v1/organizations/?{query}").status_code in (200, 404)


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        (
            "/api/v1/users/",
            {"email": "a@acme.test", "name": "A", "organization": "ac\x00me"},
            "organization",
        ),
        (
            "/api/v1/organizations/",
            {"name": "Initech", "kind": "customer", "platforms": ["cloud\x00cx"]},
            "platforms",
        ),
        ("/api/v1/partner-links/", {"partner": "\x00", "customer": "acme"}, "partner"),
    ],
)
def test_it_answers_400_for_a_nul_byte_in_a_reference(admin_api, url, body, field):
    # PostgreSQL raises on NUL bytes in text; the answer must still be a field error.
    assert field in _fields(admin_api.post(url, body, format="json"))
