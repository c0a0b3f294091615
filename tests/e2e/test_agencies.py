"""Agencies in the workspace, in a real browser: a Patrol Police analyst sees the agency
legend, filters by agency, and records an incident for their own agency only, which a
Border Police analyst then neither sees on the map nor gets from the API.

The server holds the sample layers (their incidents are the Border Police's, T-1 and
T-2 moved into the data clock's month, as in ``conftest.live_server``) and an analyst of
each of the two agencies.
"""

from __future__ import annotations

import re

import pytest

from app.auth.users import create_user
from app.extensions import db
from geo import clock
from geo.maps import palette
from tests.e2e.conftest import in_default_month, sample_app
from tests.e2e.test_map_page import shoot, sign_in, updates, wait_for_update, watch_console
from testsupport.apps import TEST_PASSWORD, serving

pytestmark = [pytest.mark.e2e, pytest.mark.clock]

AGENCY_CODES = ["GBP", "IAD", "MD", "PPD"]


@pytest.fixture(scope="module")
def agencies_server(databases):
    """A live server with the sample layers, an analyst of PPD and one of GBP."""

    def add_users(session):
        for agency in ("PPD", "GBP"):
            create_user(session, f"e2e-{agency.lower()}-analyst", "analyst", TEST_PASSWORD,
                        agency=agency)

    app = sample_app(databases, add_users)
    with serving(app) as url:
        yield url
    with app.app_context():
        db.engine.dispose()


def status(page) -> str:
    return page.locator("#map-status").inner_text()


def choose_agencies(page, codes: list[str]) -> None:
    """Tick exactly ``codes`` in the agency filter and wait for the page to update."""
    page.click("details.agencies summary")
    for box in page.locator("#f-agencies input[name='agency']").all():
        wanted = box.get_attribute("value") in codes
        if box.is_checked() != wanted:
            before = updates(page)
            box.set_checked(wanted)
            wait_for_update(page, before)
    page.click("details.agencies summary")


def api_incidents(page, query: str) -> list[dict]:
    """The incidents' properties the API gives the page's user for ``query``."""
    return page.evaluate("""async (query) => {
        const response = await fetch(`/api/v1/incidents?${query}`,
                                     {headers: {Accept: 'application/geo+json'}});
        return (await response.json()).features.map((f) => f.properties);
    }""", query)


def more_than_drawn(route) -> None:
    """Answer a request for points as if 5,000 more incidents matched."""
    response = route.fetch()
    body = response.json()
    body["numberMatched"] = len(body["features"]) + 5000
    route.fulfill(response=response, json=body)


def test_an_analyst_records_an_incident_for_their_agency_only(browser, agencies_server):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems = watch_console(page)
    sign_in(page, agencies_server, role="ppd-analyst")
    assert page.get_attribute("#workspace", "data-agency") == "PPD"
    assert status(page).startswith("2 incidents,")

    # The legend: a ring per agency, in the server's colours.
    toggle = page.locator(".legend-toggle")
    if toggle.get_attribute("aria-expanded") != "true":
        toggle.click()
    rings = page.evaluate("""() => [...document.querySelectorAll('.legend-body li[data-agency]')]
        .map((item) => [item.dataset.agency,
                        item.querySelector('.swatch-ring').style.getPropertyValue('--swatch')])""")
    assert rings == [[code, palette.AGENCY_COLOURS[code]] for code in AGENCY_CODES]

    # The agency filter: none of PPD's yet; the Border Police's two, as ringed points.
    choose_agencies(page, ["PPD"])
    assert status(page).startswith("0 incidents,")
    assert "agency=PPD" in page.url
    choose_agencies(page, ["GBP"])
    assert status(page).startswith("2 incidents,")
    drawn = page.evaluate("window.borderRisk.layers.points.getLayers()"
                          ".map((l) => l.options.color)")
    assert drawn == [palette.AGENCY_COLOURS["GBP"]] * 2
    assert [r[0] for r in page.evaluate("""() => [...document.querySelectorAll(
        '.legend-body li[data-agency]')].map((item) => [item.dataset.agency])""")] == ["GBP"]
    assert page.is_hidden("#points-note")  # every incident in view is drawn
    # More incidents in view than a page of points: the map says it draws only some.
    page.route(re.compile(r"/api/v1/incidents\?.*limit=5000"), more_than_drawn)
    page.evaluate("window.borderRisk.map.panBy([40, 0], {animate: false})")
    page.locator("#points-note").wait_for(state="visible")
    assert page.locator("#points-note").inner_text() == (
        "The map draws 2 of the 5,002 incidents in view: zoom in to see them all.")
    # Waiting for a handler still running: a second request of the pan may be in its
    # fetch, and a handler cut off by unroute fails its fulfil ("already handled").
    page.unroute_all(behavior="wait")
    choose_agencies(page, ["PPD"])
    assert page.is_hidden("#points-note")

    # A new incident, released to the analyst's own agency only.
    page.evaluate("window.borderRisk.map.setView([41.4, 45.2], 9, {animate: false})")
    page.click("#add-incident")
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.locator("#incident-dialog").wait_for()
    # The form starts at PPD's defaults (the migration's: all agencies, counted).
    assert page.is_checked("#incident-form input[name='releasability'][value='all']")
    assert page.is_checked("#i-aggregate")
    assert page.locator("#i-release-to input[value='PPD']").count() == 0  # not to itself
    assert page.is_disabled("#i-release-to input[value='GBP']")
    page.check("#incident-form input[name='releasability'][value='agency']")
    page.select_option("#i-category", "stolen_vehicle")
    # Dated in the period shown (the last complete month), not now, to be counted.
    page.fill("#i-occurred_at", in_default_month(clock.utc_now()).strftime("%Y-%m-%dT%H:%M"))
    page.select_option("#i-reporting_unit", "T-KA")
    page.fill("#i-external_id", "E2E-PPD-OWN")
    page.fill("#i-description", "<b>patrol</b> stop near the road")
    shoot(page, "incident-form-agency")
    before = updates(page)
    page.click("#incident-dialog button[type='submit']")
    wait_for_update(page, before)
    assert page.locator("#incident-form .form-status").inner_text() == ""
    assert status(page).startswith("1 incidents,")

    (stored,) = api_incidents(page, "agency=PPD")
    assert stored["external_id"] == "E2E-PPD-OWN"
    assert (stored["agency"], stored["releasability"], stored["aggregate"]) == (
        "PPD", "agency", True)
    assert stored["reporting_unit"] == "T-KA"
    assert problems == []
    context.close()

    # The Border Police's analyst: neither on the page nor in the API.
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems = watch_console(page)
    sign_in(page, agencies_server, role="gbp-analyst", path="/?agency=PPD")
    assert status(page).startswith("0 incidents,")
    assert page.evaluate("window.borderRisk.layers.points.getLayers().length") == 0
    assert api_incidents(page, "agency=PPD") == []
    assert "E2E-PPD-OWN" not in {p["external_id"] for p in api_incidents(page, "limit=100")}
    choose_agencies(page, [])
    assert status(page).startswith("2 incidents,")  # the Border Police's own two
    assert problems == []
    context.close()
