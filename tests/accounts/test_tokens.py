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
