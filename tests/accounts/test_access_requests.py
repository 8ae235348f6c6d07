"""Anyone may ask for access; platform administrators approve (inviting the person) or
decline (telling them), once."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from caredeck.accounts.models import AccessRequest, AccessRequestStatus, Organization, User
from tests.accounts.conftest import entries, link_path

REQUEST = {
    "name": "Peggy Olson",
    "email": "Peggy@Initech.test",
    "company": "Initech",
    "kind": "customer",
    "message": "We run 400 agents on your platform.",
}


@pytest.fixture
def pending(db):
    return AccessRequest.objects.create(
        name="Peggy Olson", email="peggy@initech.test", company="Initech", kind="customer"
    )


def test_it_takes_an_anonymous_request_from_the_page_and_mails_the_admins(
    client, platform_admin, mailoutbox, django_capture_on_commit_callbacks
):
    assert client.get("/access/request/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/access/request/", REQUEST)
    assert response.status_code == 302
    assert response.url == "/access/request/thanks/"
    request = AccessRequest.objects.get()
    assert request.email == "peggy@initech.test"
    assert request.status == AccessRequestStatus.PENDING
    assert [m.to for m in mailoutbox] == [[platform_admin.email]]
    assert "Peggy Olson" in mailoutbox[0].body
    assert f"/admin/access-requests/{request.pk}/" in mailoutbox[0].body
    assert entries("access_request", request.pk, "submitted").get().actor is None


def test_it_takes_an_anonymous_request_over_the_api(
    platform_admin, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = APIClient().post("/api/v1/access-requests/", REQUEST, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "pending"
    assert [m.to for m in mailoutbox] == [[platform_admin.email]]


def test_it_shows_field_errors_for_an_incomplete_request(client, db):
    response = client.post("/access/request/", {"name": "", "email": "nope", "kind": "vendor"})
    assert response.status_code == 200
    assert {"name", "email", "company", "kind"} <= set(response.context["form"].errors)
    api = APIClient().post("/api/v1/access-requests/", {"email": "nope"}, format="json")
    assert api.status_code == 400
    assert {"name", "email", "company", "kind"} <= set(api.json())
    assert not AccessRequest.objects.exists()


def test_it_keeps_access_requests_from_everyone_but_admins(as_user, pending, admin_a, care_analyst):
    for user in (admin_a, care_analyst):
        assert as_user(user).get("/api/v1/access-requests/").json()["results"] == []
        assert as_user(user).get(f"/api/v1/access-requests/{pending.pk}/").status_code == 404
        approve = as_user(user).post(
            f"/api/v1/access-requests/{pending.pk}/approve/",
            {"new_organization_name": "Initech"},
            format="json",
        )
        assert approve.status_code == 404
    assert APIClient().get("/api/v1/access-requests/").status_code == 401


def test_it_approves_into_a_new_organization_and_invites_the_person_over_the_api(
    as_user, platform_admin, pending, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_user(platform_admin).post(
            f"/api/v1/access-requests/{pending.pk}/approve/",
            {"new_organization_name": "Initech"},
            format="json",
        )
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "approved"
    assert response.json()["organization"] == "initech"
    organization = Organization.objects.get(slug="initech")
    assert organization.kind == "customer"
    user = User.objects.get(email="peggy@initech.test")
    assert user.organization == organization
    assert user.roles == ["customer_member"]
    assert [m.to for m in mailoutbox] == [["peggy@initech.test"]]
    assert link_path(mailoutbox[0]).startswith("/invitation/")
    approved = entries("access_request", pending.pk, "approved").get()
    assert approved.actor == platform_admin
    assert approved.changes["status"] == ["pending", "approved"]
    assert entries("organization", "initech", "created").get().actor == platform_admin
    assert entries("user", user.pk, "invited").get().actor == platform_admin


def test_it_approves_into_a_new_organization_from_the_page(
    page_as, platform_admin, pending, mailoutbox, django_capture_on_commit_callbacks
):
    client = page_as(platform_admin)
    page = client.get(f"/admin/access-requests/{pending.pk}/")
    assert page.status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/admin/access-requests/{pending.pk}/",
            {"action": "approve", "new_organization_name": "Initech"},
            follow=True,
        )
    assert "is invited" in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == AccessRequestStatus.APPROVED
    assert pending.organization.slug == "initech"
    assert [m.to for m in mailoutbox] == [["peggy@initech.test"]]


def test_it_approves_into_an_existing_organization(as_user, platform_admin, pending, tenant_a):
    response = as_user(platform_admin).post(
        f"/api/v1/access-requests/{pending.pk}/approve/",
        {"organization": "acme", "roles": ["customer_member", "designated_contact"]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    user = User.objects.get(email="peggy@initech.test")
    assert user.organization == tenant_a
    assert user.roles == ["customer_member", "designated_contact"]


def test_it_refuses_an_approval_that_names_no_organization(as_user, platform_admin, pending):
    response = as_user(platform_admin).post(
        f"/api/v1/access-requests/{pending.pk}/approve/", {}, format="json"
    )
    assert response.status_code == 400
    assert "organization" in response.json()
    pending.refresh_from_db()
    assert pending.status == AccessRequestStatus.PENDING


def test_it_refuses_to_approve_a_customer_into_a_partner(as_user, platform_admin, pending, partner):
    response = as_user(platform_admin).post(
        f"/api/v1/access-requests/{pending.pk}/approve/",
        {"organization": "bluebridge"},
        format="json",
    )
    assert response.status_code == 400
    assert "organization" in response.json()
    assert not User.objects.filter(email="peggy@initech.test").exists()


def test_it_declines_and_mails_the_requester(
    as_user, platform_admin, pending, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_user(platform_admin).post(
            f"/api/v1/access-requests/{pending.pk}/decline/",
            {"note": "We serve contact centers only."},
            format="json",
        )
    assert response.status_code == 200
    assert response.json()["status"] == "declined"
    assert [m.to for m in mailoutbox] == [["peggy@initech.test"]]
    assert "We serve contact centers only." in mailoutbox[0].body
    assert not User.objects.filter(email="peggy@initech.test").exists()
    declined = entries("access_request", pending.pk, "declined").get()
    assert declined.actor == platform_admin
    assert declined.changes["status"] == ["pending", "declined"]


def test_it_declines_from_the_page(
    page_as, platform_admin, pending, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = page_as(platform_admin).post(
            f"/admin/access-requests/{pending.pk}/", {"action": "decline", "note": ""}, follow=True
        )
    assert "Declined" in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == AccessRequestStatus.DECLINED
    assert len(mailoutbox) == 1


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("approve", "approve"),
        ("approve", "decline"),
        ("decline", "approve"),
        ("decline", "decline"),
    ],
)
def test_it_answers_409_when_deciding_twice_over_the_api(
    as_user, platform_admin, pending, first, second
):
    client = as_user(platform_admin)
    body = {"new_organization_name": "Initech"}
    url = f"/api/v1/access-requests/{pending.pk}"
    assert client.post(f"{url}/{first}/", body, format="json").status_code == 200
    again = client.post(f"{url}/{second}/", body, format="json")
    assert again.status_code == 409
    assert "already" in again.json()["detail"]
    assert Organization.objects.filter(name="Initech").count() == (1 if first == "approve" else 0)


def test_it_shows_a_message_when_deciding_twice_on_the_page(page_as, platform_admin, pending):
    client = page_as(platform_admin)
    url = f"/admin/access-requests/{pending.pk}/"
    client.post(url, {"action": "decline", "note": ""})
    response = client.post(
        url, {"action": "approve", "new_organization_name": "Initech"}, follow=True
    )
    assert response.status_code == 200
    assert "already declined" in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == AccessRequestStatus.DECLINED
    assert not Organization.objects.filter(name="Initech").exists()


def test_it_throttles_anonymous_requests(db):
    client = APIClient()
    statuses = [
        client.post(
            "/api/v1/access-requests/", {**REQUEST, "email": f"p{i}@initech.test"}, format="json"
        ).status_code
        for i in range(21)
    ]
    assert statuses[:20] == [201] * 20
    assert statuses[20] == 429
