"""The history page of an object: for those who may see the object, and nobody else."""

from __future__ import annotations

import pytest

from caredeck.accounts import services


@pytest.fixture
def renamed_acme(platform_admin, tenant_a):
    return services.organization_update(
        actor=platform_admin, organization=tenant_a, name="Acme Telecom Group"
    )


@pytest.mark.parametrize("who", ["admin_a", "member_a", "care_analyst", "partner_user"])
def test_it_shows_the_history_to_the_owner_and_staff(client, request, who, renamed_acme):
    client.force_login(request.getfixturevalue(who))
    response = client.get("/history/organization/acme/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "admin@provider.test" in page
    assert "Acme Telecom Group" in page
    assert [e.action for e in response.context["page"]] == ["updated"]


@pytest.mark.parametrize("who", ["admin_b", "member_b"])
def test_it_answers_404_to_another_tenant(client, request, who, renamed_acme):
    client.force_login(request.getfixturevalue(who))
    assert client.get("/history/organization/acme/").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/history/wizard/acme/",
        "/history/organization/no-such-org/",
        "/history/user/abc/",
        "/history/user/99999999999999999999999/",
        "/history/organization/ac%00me/",
        "/history/user/1%00/",
    ],
)
def test_it_answers_404_for_unknown_kinds_and_objects(client, care_analyst, path):
    client.force_login(care_analyst)
    assert client.get(path).status_code == 404


def test_it_sends_anonymous_visitors_to_sign_in(client, renamed_acme):
    response = client.get("/history/organization/acme/")
    assert response.status_code == 302
    assert response.url.startswith("/login/")
