"""Browser tests drive Debian's Chromium through Playwright against pytest-django's live
server: one browser for the module, a fresh context (cookies) per page."""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.conftest import PASSWORD
from tests.factories import ensure_provider

# Playwright's sync API runs an event loop in this thread; the ORM calls made by the
# fixtures would otherwise be refused as "called from an async context".
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, live_server):
    """new_page(viewport=DESKTOP) -> a page in a context of its own (its own cookies)."""
    contexts = []

    def make(viewport=DESKTOP, timeout_ms: int = 8_000):
        context = browser.new_context(base_url=live_server.url, viewport=viewport)
        context.set_default_timeout(timeout_ms)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page(timeout_ms=5_000)


@pytest.fixture(autouse=True)
def provider_row(transactional_db):
    ensure_provider()


def sign_in(page, email: str, password: str = PASSWORD) -> None:
    page.goto("/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def signed_in(page, email: str):
    sign_in(page, email)
    expect(page).to_have_url(re.compile(r"/home/$"))
    return page
