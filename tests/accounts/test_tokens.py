"""Personal API tokens: shown once, stored as a digest, revocable, from the page or the API."""

import hashlib
import re

import pytest
from django.core.management import call_command

from caredeck.accounts.models import ApiToken


def test_it_authenticates_with_a_bearer_token_stored_only_as_digest(api, member_a, capsys):
    call_command("token", email=member_a.email)
    raw = capsys.readouterr().out.strip()
    assert raw.startswith("cdk_")
    token = ApiToken.objects.get(user=member_a)
    assert token.digest != raw and raw not in token.digest
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = api.get("/api/v1/me/")
    assert response.status_code == 200
    assert response.json()["email"] == member_a.email


def test_it_refuses_a_revoked_token(api, member_a):
    api.force_authenticate(member_a)
    created = api.post("/api/v1/tokens/", {"name": "script"}, format="json").json()
    assert api.delete(f"/api/v1/tokens/{created['id']}/").status_code == 204
    api.force_authenticate(None)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {created['token']}")
    assert api.get("/api/v1/me/").status_code == 401


def _raw_tokens(html: str) -> list[str]:
    return re.findall(r"cdk_[A-Za-z0-9_-]{20,}", html)


def test_it_shows_a_new_token_once_on_the_account_page(client, member_a):
    client.force_login(member_a)
    assert client.get("/account/").status_code == 200
    response = client.post("/account/tokens/", {"name": "nightly export"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "<html" in page, "without htmx the whole page comes back"
    shown = _raw_tokens(page)
    assert len(shown) == 1
    token = ApiToken.objects.get(user=member_a)
    assert token.name == "nightly export"
    assert token.digest == hashlib.sha256(shown[0].encode()).hexdigest()
    assert shown[0] not in token.digest and token.hint == shown[0][:10]
    again = client.get("/account/").content.decode()
    assert _raw_tokens(again) == []
    assert "nightly export" in again


def test_it_answers_htmx_with_the_token_fragment_only(client, member_a):
    client.force_login(member_a)
    response = client.post("/account/tokens/", {"name": "ci"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    fragment = response.content.decode()
    assert "<html" not in fragment
    assert len(_raw_tokens(fragment)) == 1
    assert "ci" in fragment


def test_it_shows_a_field_error_for_a_nameless_token(client, member_a):
    client.force_login(member_a)
    response = client.post("/account/tokens/", {"name": ""}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response.context["token_form"].errors["name"]
    assert not ApiToken.objects.exists()


def test_it_lets_a_token_from_the_page_call_the_api(client, api, member_a):
    client.force_login(member_a)
    raw = _raw_tokens(client.post("/account/tokens/", {"name": "ci"}).content.decode())[0]
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/me/").json()["email"] == member_a.email
    assert ApiToken.objects.get(user=member_a).last_used_at is not None


def test_it_revokes_a_token_from_the_page(client, api, member_a):
    client.force_login(member_a)
    raw = _raw_tokens(client.post("/account/tokens/", {"name": "ci"}).content.decode())[0]
    token = ApiToken.objects.get(user=member_a)
    response = client.post(f"/account/tokens/{token.pk}/revoke/")
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert "Revoked" in client.get("/account/").content.decode()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/me/").status_code == 401


def test_it_revokes_with_htmx_and_answers_the_fragment(client, member_a):
    client.force_login(member_a)
    client.post("/account/tokens/", {"name": "ci"})
    token = ApiToken.objects.get(user=member_a)
    response = client.post(f"/account/tokens/{token.pk}/revoke/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "<html" not in response.content.decode()
    assert "Revoked" in response.content.decode()


def test_it_answers_404_for_someone_elses_token(client, as_user, member_a, member_b):
    client.force_login(member_a)
    client.post("/account/tokens/", {"name": "ci"})
    token = ApiToken.objects.get(user=member_a)
    client.force_login(member_b)
    assert client.post(f"/account/tokens/{token.pk}/revoke/").status_code == 404
    assert as_user(member_b).delete(f"/api/v1/tokens/{token.pk}/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_it_answers_409_when_revoking_twice(as_user, member_a):
    client = as_user(member_a)
    created = client.post("/api/v1/tokens/", {"name": "script"}, format="json").json()
    assert client.delete(f"/api/v1/tokens/{created['id']}/").status_code == 204
    again = client.delete(f"/api/v1/tokens/{created['id']}/")
    assert again.status_code == 409
    assert "already revoked" in again.json()["detail"]


def test_it_lists_own_tokens_without_secrets(as_user, member_a, member_b):
    as_user(member_b).post("/api/v1/tokens/", {"name": "theirs"}, format="json")
    client = as_user(member_a)
    created = client.post("/api/v1/tokens/", {"name": "mine"}, format="json")
    assert created.status_code == 201
    listed = client.get("/api/v1/tokens/").json()
    assert [t["name"] for t in listed["results"]] == ["mine"]
    assert "token" not in listed["results"][0]
    assert created.json()["token"] not in str(listed)


def test_it_refuses_a_token_of_a_deactivated_user(api, member_a, capsys):
    call_command("token", email=member_a.email)
    raw = capsys.readouterr().out.strip()
    member_a.is_active = False
    member_a.save()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/me/").status_code == 401


@pytest.mark.parametrize(
    "header", ["Bearer", "Bearer ", "Bearer cdk_nope", "Bearer a b", "Bearer \u00e9t\u00e9"]
)
def test_it_answers_401_for_a_malformed_or_unknown_token(api, db, header):
    response = api.get("/api/v1/me/", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert "detail" in response.json()
