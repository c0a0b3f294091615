"""The admin page in Chromium: an admin creates a user restricted to a region, sees it
listed, and a token for it is shown once."""

import re

import pytest

from tests.conftest import TEST_PASSWORD
from tests.e2e.test_map_page import shoot

pytestmark = [pytest.mark.e2e, pytest.mark.clock]


def sign_in_as_admin(page, base_url):
    page.goto(f"{base_url}/admin")
    assert "/login" in page.url
    page.get_by_label("User name").fill("e2e-admin")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("table#users")


def test_admin_creates_a_user_with_a_region(page, live_server):
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_in_as_admin(page, live_server)
    assert page.url.endswith("/admin")

    form = page.locator("form#create-user")
    form.get_by_label("User name").fill("kakheti-viewer")
    form.get_by_label("Role").select_option("viewer")
    form.get_by_label("Password (at least 8 characters)").fill("e2e-long-password")
    form.get_by_label("Regions (choose some, or tick All regions)").select_option(["T-KA"])
    form.get_by_role("button", name="Create user").click()

    page.wait_for_selector("h1:has-text('User kakheti-viewer')")
    assert "Created user kakheti-viewer." in page.locator(".flash").inner_text()
    assert "regions: T-KA;" in page.locator(".summary").inner_text()

    page.get_by_role("link", name="Users").click()
    row = page.locator('tr[data-username="kakheti-viewer"]')
    assert row.locator("td.regions").inner_text() == "T-KA"
    assert "viewer" in row.inner_text() and "active" in row.inner_text()
    shoot(page, "admin-users")

    # A token for the new user: shown once, then only its name and dates.
    row.get_by_role("link", name="kakheti-viewer").click()
    tokens = page.locator("form#create-token")
    tokens.get_by_label("Token name (what it is for)").fill("qgis")
    tokens.get_by_role("button", name="Create token").click()
    token = page.locator("#new-token-value").inner_text()
    assert re.fullmatch(r"br_[A-Za-z0-9_-]{40,}", token)
    shoot(page, "admin-token-shown-once")
    # The user's page again: the token is gone, its name and dates stay.
    page.get_by_role("link", name="Users").click()
    page.locator('tr[data-username="kakheti-viewer"]').get_by_role(
        "link", name="kakheti-viewer").click()
    page.wait_for_selector("table#tokens")
    assert token not in page.content() and "qgis" in page.locator("table#tokens").inner_text()
    assert errors == []
