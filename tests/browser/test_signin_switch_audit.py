"""Signing in through the real form, switching tenant in the header, reading an audit trail.

Drives Debian's Chromium through Playwright against pytest-django's live server: one
browser for the module, a fresh context (cookies) per test.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.browser
def test_staff_switches_tenant_and_reads_the_change_in_its_history(
    page, platform_admin, tenant_a, tenant_b
):
    sign_in(page, platform_admin.email)
    expect(page).to_have_url(re.compile(r"/home/$"))
    switcher = page.get_by_label("Working for")
    expect(switcher).to_have_value("provider")

    # The header select submits itself; the page comes back working for Acme.
    with page.expect_navigation():
        switcher.select_option("acme")
    expect(page.get_by_label("Working for")).to_have_value("acme")
    expect(page.locator("main")).to_contain_text("Working for Acme Telecom")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Team").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Team of Acme Telecom")

    # Change the tenant through its edit form, then read the change in its history.
    page.goto("/tenants/")
    page.get_by_role("link", name="Acme Telecom").click()
    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Name").first.fill("Acme Telecom Group")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Acme Telecom Group")
    expect(page.get_by_label("Working for")).to_have_value("acme")

    page.get_by_role("link", name="History", exact=True).click()
    expect(page).to_have_url(re.compile(r"/history/organization/acme/$"))
    entry = page.locator(".timeline li", has_text="updated").first
    expect(entry).to_contain_text(platform_admin.email)
    expect(entry.locator("del")).to_have_text("Acme Telecom")
    expect(entry.locator("ins")).to_have_text("Acme Telecom Group")


@pytest.mark.browser
def test_customer_sees_only_their_own_tenant(page, admin_a, tenant_b, partner):
    sign_in(page, admin_a.email)
    expect(page).to_have_url(re.compile(r"/home/$"))
    header = page.locator("header")
    expect(header).to_contain_text("Working for Acme Telecom")
    expect(page.locator("#tenant-select")).to_have_count(0)
    expect(header).not_to_contain_text("Globex")
    main_nav = page.get_by_role("navigation", name="Main")
    expect(main_nav.get_by_role("link", name="Tenants")).to_have_count(0)

    # Guessing another tenant's address does not help either.
    page.goto("/tenants/globex/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")


@pytest.mark.browser
def test_wrong_password_is_explained_beside_the_form(page, member_a):
    sign_in(page, member_a.email, password="not-the-password")
    expect(page).to_have_url(re.compile(r"/login/$"))
    form = page.locator("main form")
    expect(form.get_by_role("alert")).to_contain_text("correct email and password")
    expect(page.get_by_label("E-mail")).to_have_value(member_a.email)
    expect(page.get_by_label("Password")).to_have_value("")
    expect(page.locator("header")).not_to_contain_text("Sign out")
