"""Errors a person understands, in a real browser (issue 19): a sentence in the page's
language and a way on, instead of Werkzeug's bare "Not Found" / "Forbidden"."""

from __future__ import annotations

import pytest
from babel.support import Translations

from config import BASE_DIR
from tests.e2e.test_hotspot_day import hotspot_server  # noqa: F401  (a fixture)
from tests.e2e.test_map_page import sign_in, watch_console

# The Georgian catalogue: what the page says in Georgian is its translation (and differs
# from the English, so a string left untranslated fails).
KA = Translations.load(str(BASE_DIR / "app" / "translations"), ["ka"])


def in_georgian(message: str, **values) -> str:
    """``message`` translated as the page does: ``{name}`` (JavaScript's ``t``) and
    ``%(name)s`` (the templates') placeholders filled with ``values``."""
    text = KA.gettext(message)
    assert text != message, f"not translated: {message}"
    for name, value in values.items():
        text = text.replace("{" + name + "}", value).replace(f"%({name})s", value)
    return text

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


def test_a_mistyped_address_says_so_in_english_and_leads_back(page, live_server):
    sign_in(page, live_server, role="viewer")
    response = page.goto(f"{live_server}/bulletins-of-june?lang=en")
    assert response.status == 404
    assert page.locator("h1").inner_text() == "Page not found"
    assert page.locator(".error-reason").inner_text() == (
        "There is no page at this address: the link may be mistyped or out of date.")
    page.get_by_role("link", name="Back to the map").click()
    page.wait_for_selector("#workspace[data-loaded='true']")


def test_a_supervisor_is_told_why_in_georgian(page, live_server):
    sign_in(page, live_server, role="supervisor")
    response = page.goto(f"{live_server}/admin/audit?lang=ka")
    assert response.status == 403
    assert page.get_attribute("html", "lang") == "ka"
    assert page.locator("h1").inner_text() == in_georgian("Not allowed")
    assert page.locator(".error-reason").inner_text() == in_georgian(
        "Your role does not give access to this page. Ask an administrator if you need it.")
    page.get_by_role("link", name=in_georgian("Back to the map")).click()
    page.wait_for_selector("#workspace[data-loaded='true']")

# -- a bad bulletin link (issue 19): a page, not the API's raw problem+json

BULLETIN = "/api/v1/reports/bulletin"


def test_a_bad_bulletin_link_says_what_is_wrong_and_opens_the_right_one(page, live_server):
    sign_in(page, live_server, role="viewer")
    problems = watch_console(page)
    response = page.goto(f"{live_server}{BULLETIN}?region=T-KK&datetime=June")
    assert response.status == 422
    assert response.headers["content-type"].startswith("text/html")
    assert page.locator("h1").inner_text() == "This bulletin cannot be opened"
    assert page.locator(".error-reason").inner_text() == (
        "The period in this link (“June”) could not be read.")
    # The way on: the region's bulletin of the last complete month.
    page.get_by_role("link", name="Open the bulletin of the last complete month").click()
    page.wait_for_selector("h1")
    assert page.get_by_role("heading", level=1).inner_text() == (
        "Regional risk bulletin: Test region (synthetic) (T-KK)")
    assert [p for p in problems if "status of 422" not in p] == []


def test_a_mistyped_bulletin_region_says_so_in_georgian_and_leads_to_the_map(page,
                                                                          live_server):
    sign_in(page, live_server, role="viewer")
    response = page.goto(f"{live_server}{BULLETIN}?region=T-XX&lang=ka")
    assert response.status == 422
    assert page.get_attribute("html", "lang") == "ka"
    assert page.locator("h1").inner_text() == in_georgian("This bulletin cannot be opened")
    assert page.locator(".error-reason").inner_text() == in_georgian(
        "There is no region “%(value)s”: the link may be mistyped.", value="T-XX")
    page.get_by_role("link", name=in_georgian("Back to the map")).click()
    page.wait_for_selector("#workspace[data-loaded='true']")
    assert page.get_attribute("html", "lang") == "ka"
    assert "error" not in page.locator("#map-status").get_attribute("class")


# -- the workspace's own notices, in Georgian (their English twins: test_hotspot_day.py)


def open_in_georgian(page, base_url: str, path: str) -> None:
    sign_in(page, base_url, role="viewer")
    page.goto(f"{base_url}{path}&lang=ka")
    page.wait_for_selector("#workspace[data-loaded='true']")
    assert page.get_attribute("html", "lang") == "ka"


def test_a_link_with_unreadable_parameters_says_so_in_georgian(page, hotspot_server):  # noqa: F811
    problems = watch_console(page)
    open_in_georgian(page, hotspot_server,
                     "/?region=T-KK&from=2024-13-45&to=2024-12-31&method=getis&cell_size=3km")
    assert page.locator("#link-note").inner_text() == in_georgian(
        "This link's {names} could not be read: the map shows the defaults instead.",
        names="from, method, cell_size")
    assert page.input_value("#f-method") == "gistar"
    assert page.input_value("#f-cell") == "2000"
    assert "error" not in page.locator("#map-status").get_attribute("class")
    assert problems == []


def test_a_future_period_says_why_nothing_is_there_in_georgian(page, hotspot_server):  # noqa: F811
    open_in_georgian(page, hotspot_server,
                     "/?region=T-KK&from=2099-01-01&to=2099-01-31&layers=segments")
    status = page.locator("#map-status").inner_text()
    assert in_georgian("(the period lies in the future: nothing has been recorded yet)") \
        in status, status


def test_an_inland_region_is_a_fact_in_georgian(page, hotspot_server):  # noqa: F811
    open_in_georgian(page, hotspot_server, "/?region=T-TB&layers=segments,hotspots")
    sentence = in_georgian("{region} has no border sections: nothing to rank. Its incidents "
                           "and hot spots are on the map.", region="შიდა სატესტო რეგიონი")
    status = page.locator("#map-status")
    assert sentence in status.inner_text()
    assert "error" not in status.get_attribute("class")
    assert page.locator("#ranking-summary").inner_text() == sentence
