"""Errors a person understands, in a real browser (issue 19): a sentence in the page's
language and a way on, instead of Werkzeug's bare "Not Found" / "Forbidden"."""

from __future__ import annotations

import pytest

from tests.e2e.test_map_page import sign_in, watch_console

pytestmark = [pytest.mark.e2e]


def test_a_supervisor_opening_the_audit_trail_is_told_why_and_finds_the_way_back(
        page, live_server):
    sign_in(page, live_server, role="supervisor")
    problems = watch_console(page)
    response = page.goto(f"{live_server}/admin/audit")
    assert response.status == 403
    assert page.locator("h1").inner_text() == "Not allowed"
    assert page.locator(".error-reason").inner_text() == (
        "Your role does not give access to this page. Ask an administrator if you need it.")
    page.get_by_role("link", name="Back to the map").click()
    page.wait_for_selector("#workspace[data-loaded='true']")
    assert [p for p in problems if "status of 403" not in p] == []


def test_a_mistyped_address_says_so_in_georgian(page, live_server):
    sign_in(page, live_server, role="viewer")
    response = page.goto(f"{live_server}/bulletins-of-june?lang=ka")
    assert response.status == 404
    assert page.get_attribute("html", "lang") == "ka"
    assert page.locator("h1").inner_text() == "გვერდი ვერ მოიძებნა"
    assert page.get_by_role("link", name="რუკაზე დაბრუნება").is_visible()
