"""Helpers of the accounts tests: signing in through the real form, following the links
that CareDeck e-mails, and API clients that act as a given person."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache

from caredeck.core.models import AuditEntry
from tests.conftest import PASSWORD

LINK = re.compile(r"https?://\S+?(/(?:invitation|password-reset)/[^/\s]+/[^/\s]+/)")
NEW_PASSWORD = "a-brand-new-passphrase-42"


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Throttle counters (anonymous access requests) live in the cache; each test
    # starts with none, as on a fresh server.
    cache.clear()
    yield
    cache.clear()


def sign_in(client, email: str, password: str = PASSWORD):
    """POST the sign-in form, as a browser does."""
    return client.post("/login/", {"username": email, "password": password})


def signed_in(response) -> bool:
    return response.status_code == 302 and response.url == "/home/"


def link_path(message) -> str:
    """The path of the one-time link in an e-mail (invitation or password reset)."""
    found = LINK.search(message.body)
    assert found, f"no link in:\n{message.body}"
    return found.group(1)


def choose_password(client, path: str, password: str = NEW_PASSWORD):
    """Follow an e-mailed link and choose a password on the page it opens."""
    opened = client.get(path)
    assert opened.status_code == 302, "a valid link hides its token behind a redirect"
    return client.post(opened.url, {"new_password1": password, "new_password2": password})


def entries(kind: str, object_id, action: str | None = None):
    found = AuditEntry.objects.filter(object_kind=kind, object_id=str(object_id))
    return found.filter(action=action) if action else found


