"""The provider's products (platforms): kept by platform administrators only."""

from __future__ import annotations

from caredeck.accounts.models import Product
from tests.accounts.conftest import entries


def test_it_creates_a_product_from_the_page(page_as, platform_admin):
    client = page_as(platform_admin)
    assert client.get("/admin/products/new/").status_code == 200
    response = client.post(
        "/admin/products/new/",
        {
            "name": "Voice Cloud",
            "slug": "voice-cloud",
            "description": "SIP trunking",
            "vote_threshold": 40,
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    product = Product.objects.get(slug="voice-cloud")
    assert (product.name, product.vote_threshold, product.is_active) == ("Voice Cloud", 40, True)
    entry = entries("product", "voice-cloud", "created").get()
    assert entry.actor == platform_admin
    assert entry.changes["vote_threshold"] == [None, 40]


def test_it_edits_a_product_from_the_page_and_audits_the_change(page_as, platform_admin, product):
    client = page_as(platform_admin)
    assert client.get("/admin/products/cloud-cx/").status_code == 200
    response = client.post(
        "/admin/products/cloud-cx/",
        {"name": "Cloud CX", "slug": "cloud-cx", "description": "", "vote_threshold": 50},
    )
    assert response.status_code == 302
    product.refresh_from_db()
    assert product.vote_threshold == 50
    assert product.is_active is False
    entry = entries("product", "cloud-cx", "updated").get()
    assert entry.changes["vote_threshold"] == [10, 50]
    assert entry.changes["is_active"] == [True, False]


def test_it_creates_and_edits_a_product_over_the_api(as_user, platform_admin):
    client = as_user(platform_admin)
    created = client.post(
        "/api/v1/products/",
        {"slug": "voice-cloud", "name": "Voice Cloud", "vote_threshold": 40},
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["vote_threshold"] == 40
    patched = client.patch("/api/v1/products/voice-cloud/", {"vote_threshold": 60}, format="json")
    assert patched.status_code == 200
    assert Product.objects.get(slug="voice-cloud").vote_threshold == 60
    assert client.get("/api/v1/products/").json()["results"][0]["slug"] == "voice-cloud"
    assert [e.action for e in entries("product", "voice-cloud").order_by("id")] == [
        "created",
        "updated",
    ]


def test_it_refuses_a_zero_vote_threshold(as_user, platform_admin):
    response = as_user(platform_admin).post(
        "/api/v1/products/",
        {"slug": "voice-cloud", "name": "Voice Cloud", "vote_threshold": 0},
        format="json",
    )
    assert response.status_code == 400
    assert "vote_threshold" in response.json()


def test_it_refuses_a_duplicate_product_slug_as_a_field_error(as_user, platform_admin, product):
    response = as_user(platform_admin).post(
        "/api/v1/products/", {"slug": "cloud-cx", "name": "Another"}, format="json"
    )
    assert response.status_code == 400
    assert "slug" in response.json()


def test_it_refuses_product_changes_to_a_customer(as_user, page_as, admin_a, product):
    api = as_user(admin_a)
    assert (
        api.post("/api/v1/products/", {"slug": "x", "name": "X"}, format="json").status_code == 403
    )
    assert (
        api.patch("/api/v1/products/cloud-cx/", {"vote_threshold": 1}, format="json").status_code
        == 403
    )
    client = page_as(admin_a)
    assert client.get("/admin/products/new/").status_code == 403
    assert client.post("/admin/products/new/", {"slug": "x", "name": "X"}).status_code == 403
    assert client.post("/admin/products/cloud-cx/", {"vote_threshold": 1}).status_code == 403
    assert not Product.objects.filter(slug="x").exists()
    assert Product.objects.get(slug="cloud-cx").vote_threshold == 10


def test_it_refuses_product_changes_to_provider_staff_without_the_role(as_user, care_analyst):
    response = as_user(care_analyst).post(
        "/api/v1/products/", {"slug": "x", "name": "X"}, format="json"
    )
    assert response.status_code == 403


def test_it_shows_a_customer_only_the_products_of_its_platforms(as_user, member_a, product):
    Product.objects.create(slug="secret-roadmap", name="Secret roadmap")
    slugs = [p["slug"] for p in as_user(member_a).get("/api/v1/products/").json()["results"]]
    assert slugs == ["cloud-cx"]
    assert as_user(member_a).get("/api/v1/products/secret-roadmap/").status_code == 404


def test_it_shows_a_taken_name_as_a_field_error_on_the_page(page_as, platform_admin, product):
    Product.objects.create(slug="voice-cloud", name="Voice Cloud")
    response = page_as(platform_admin).post(
        "/admin/products/cloud-cx/",
        {"name": "Voice Cloud", "slug": "cloud-cx", "vote_threshold": 10, "is_active": "on"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["name"]
    assert Product.objects.get(slug="cloud-cx").name == "Cloud CX"
