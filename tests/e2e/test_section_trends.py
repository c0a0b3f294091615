"""Emerging hot spots by border section in the analyst's workspace (a real browser).

This module's server holds the sample layers and SYNTHETIC incidents of 2025 near both
sample sections: one a month near T-AZ-002, and near T-AZ-001 none until October, then
3, 6 and 9: a new hot spot in December.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import text

from app.auth.users import create_user
from app.extensions import db
from geo.maps import palette
from geo.queries import derive_links
from tests.e2e.test_map_page import shoot, sign_in, wait_until, watch_console
from testsupport.apps import TEST_PASSWORD, committed_sample_layers, serving

pytestmark = [pytest.mark.e2e]

# (lon, lat) about 1 km from the section, month of 2025, how many (the 15th, noon UTC)
PLACES = {"T-AZ-001": (45.0, 41.29), "T-AZ-002": (45.4, 41.36)}
MONTHLY = [("T-AZ-002", month, 1) for month in range(1, 13)] + [
    ("T-AZ-001", 10, 3), ("T-AZ-001", 11, 6), ("T-AZ-001", 12, 9)]
ADD_INCIDENT = text("""
    INSERT INTO incidents (source, external_id, occurred_at, category, outcome,
                           persons_count, source_reliability, information_credibility,
                           status, provenance, description, geom)
    SELECT 'e2e-trends', :prefix || k, make_timestamptz(2025, :month, 15, 12, 0, 0, 'UTC'),
           'illegal_crossing_between_bcp', 'actual', 1, 'B', 2, 'validated', 'synthetic',
           'SYNTHETIC section trends test record', ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)
      FROM generate_series(1, :n) AS k
""")
PERIOD = "/?from=2025-12-01&to=2025-12-31"


@pytest.fixture(scope="module")
def trends_server(databases):
    app, _ = committed_sample_layers(databases)
    with app.app_context():
        for code, month, n in MONTHLY:
            lon, lat = PLACES[code]
            db.session.execute(ADD_INCIDENT, {"prefix": f"TR-{code}-{month}-", "month": month,
                                              "lon": lon, "lat": lat, "n": n})
        derive_links(db.session, "regions", app.config["ANALYSIS_SRID"], [])  # all incidents
        create_user(db.session, "e2e-analyst", "analyst", TEST_PASSWORD)
        db.session.commit()
        db.session.remove()
    with serving(app) as url:  # empties the app's pool at the end
        yield url


def test_the_analyst_sees_each_sections_emerging_category_and_maps_them(page, trends_server):
    problems = watch_console(page)
    asked = []
    page.on("request", lambda r: asked.append(r.url) if "unit=section" in r.url else None)
    sign_in(page, trends_server, path=PERIOD)
    wait_until(page, "document.querySelectorAll('#ranking .section-row .emerging').length === 2")
    # What the API answers the page's request, asked again with the page's session: the
    # twelve calendar months to the period's end.
    answer = page.request.get(asked[-1])
    assert answer.ok, answer.text()
    edges = answer.json()["metadata"]["time_steps"]["edges"]
    assert (len(edges), edges[0], edges[-1]) == (
        13, "2025-01-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00")
    categories = {f["properties"]["code"]: f["properties"]["category"]
                  for f in answer.json()["features"]}
    assert categories["T-AZ-001"] == "new hot spot"  # the planted rise
    # Each ranked section shows its category, by name, in the panel.
    shown = page.evaluate("""() => [...document.querySelectorAll('#ranking .section-row')]
        .map((row) => [row.querySelector('.code').textContent,
                       row.querySelector('.emerging').textContent])""")
    assert dict(shown) == categories
    # The analyst turns on the sections coloured by category in the layer control.
    page.hover(".leaflet-control-layers")
    page.get_by_label("Emerging hot spots by border section").check()
    wait_until(page, "window.borderRisk.map.hasLayer(window.borderRisk.layers.emergingSections)")
    assert "emergingSections" in parse_qs(urlsplit(page.url).query)["layers"][0].split(",")
    colours = palette.legend_palettes()
    drawn = page.evaluate("""() => window.borderRisk.layers.emergingSections.getLayers()
        .map((layer) => [layer.feature.properties.code,
                         layer.getElement().getAttribute('stroke')])""")
    assert dict(drawn) == {code: colours["emerging_categories"].get(
        category, colours["unclassified"]) for code, category in categories.items()}
    # The legend names the categories drawn.
    if page.locator(".legend-body").is_hidden():  # a short screen starts it closed
        page.locator(".legend-toggle").click()
    legend = page.locator(".legend-body section", has_text="Border sections: emerging hot spots")
    assert "new hot spot" in legend.inner_text()
    # A click on the coloured section (a third of the way along its first leg) selects
    # it in the panel.
    x, y = page.evaluate("""() => {
        const map = window.borderRisk.map;
        const point = map.latLngToContainerPoint([41.2667, 44.95]);
        const box = map.getContainer().getBoundingClientRect();
        return [box.left + point.x, box.top + point.y];
    }""")
    page.mouse.click(x, y)
    selected = page.locator("#ranking .section-row.selected .code")
    assert selected.inner_text() == "T-AZ-001"
    shoot(page, "section-trends")
    assert problems == []


def test_the_categories_read_in_georgian(page, trends_server):
    problems = watch_console(page)
    sign_in(page, trends_server, path=PERIOD)
    page.goto(f"{trends_server}{PERIOD}&lang=ka")
    page.wait_for_selector("#workspace[data-loaded='true']")
    wait_until(page, "document.querySelectorAll('#ranking .section-row .emerging').length === 2")
    badge = page.locator("#ranking .section-row", has_text="T-AZ-001").locator(".emerging")
    assert badge.inner_text() == "ახალი ცხელი წერტილი"  # new hot spot
    assert badge.get_attribute("data-category") == "new hot spot"
    assert problems == []


# --- A section's incidents per calendar month -----------------------------------------

MONTHS_NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)  # the data clock: January partial


def show_section_months(page, code: str) -> dict:
    """Selects ``code``'s row and reads its monthly chart and category table."""
    page.locator("#ranking .section-row", has_text=code).click()
    wait_until(page, "document.querySelector('#details-body .monthly-trend')"
                     "?.dataset.state === 'ready'")
    return page.evaluate("""() => {
        const svg = document.querySelector('#details-body .monthly-chart');
        const table = document.querySelector('#details-body .monthly-categories');
        return { months: svg.dataset.months.split(','),
                 counts: svg.dataset.counts.split(',').map(Number),
                 low: svg.dataset.low.split(',').map(Number),
                 high: svg.dataset.high.split(',').map(Number),
                 role: svg.getAttribute('role'), label: svg.getAttribute('aria-label'),
                 axis: [...svg.querySelectorAll('text')].map((n) => n.textContent),
                 partial: svg.querySelectorAll('circle.partial').length,
                 caption: table.caption.textContent,
                 head: [...table.tHead.rows[0].cells].map((c) => c.textContent),
                 rows: [...table.tBodies[0].rows].map((r) => [r.dataset.category,
                        ...[...r.cells].map((c) => c.textContent)]) };
    }""")


def test_a_sections_incidents_per_calendar_month_in_its_details(page, trends_server,
                                                                freeze_clock):
    freeze_clock(MONTHS_NOW)
    problems = watch_console(page)
    sign_in(page, trends_server, path=PERIOD)
    shown = show_section_months(page, "T-AZ-001")
    # 24 complete months and January 2026, the planted counts (none near T-AZ-001
    # before October 2025), and the API's own answer
    expected_months = [f"{2024 + k // 12}-{k % 12 + 1:02d}" for k in range(25)]
    assert shown["months"] == expected_months
    planted = {"2025-10": 3, "2025-11": 6, "2025-12": 9}
    assert shown["counts"] == [planted.get(m, 0) for m in expected_months]
    section_id = page.evaluate("window.borderRisk.app.state.section")
    answer = page.request.get(f"{trends_server}/api/v1/risk/segments/{section_id}/months")
    assert answer.ok, answer.text()
    months = answer.json()["months"]
    assert shown["counts"] == [m["incidents"] for m in months]
    assert shown["low"] == [m["expected_range"][0] for m in months]
    assert shown["high"] == [m["expected_range"][1] for m in months]
    assert months[-1]["partial"] and shown["partial"] == 1
    # what a screen reader hears: every month in words with its count and band
    assert shown["role"] == "img"
    december = months[-2]["expected_range"]
    assert (f"December 2025: 9, expected {december[0]}–{december[1]}") in shown["label"]
    assert "January 2026 (partial, so far): 0, expected" in shown["label"]
    assert shown["label"].count(", expected ") == 25
    assert shown["axis"][1:] == ["January 2024", "January 2026"]
    assert shown["caption"] == "By category, January 2024 – January 2026"
    assert shown["head"] == ["Category", "Incidents", "share"]
    assert [(r[0], r[2], r[3]) for r in shown["rows"]] == [
        ("illegal_crossing_between_bcp", "18", "100%")]
    page.locator("#details-body .monthly-trend").scroll_into_view_if_needed()
    shoot(page, "section-months")
    assert problems == []


def test_the_monthly_trend_speaks_georgian(page, trends_server, freeze_clock):
    freeze_clock(MONTHS_NOW)
    problems = watch_console(page)
    sign_in(page, trends_server, path=PERIOD)
    page.goto(f"{trends_server}{PERIOD}&lang=ka")
    page.wait_for_selector("#workspace[data-loaded='true']")
    shown = show_section_months(page, "T-AZ-002")
    assert shown["counts"][12:24] == [1] * 12  # one a month in 2025
    assert "ოქტომბერი" in shown["label"] and "მოსალოდნელი" in shown["label"]
    assert "(არასრული, დღემდე)" in shown["label"]
    assert shown["caption"].startswith("კატეგორიების მიხედვით, ")
    assert shown["head"][0] == "კატეგორია"
    assert shown["rows"][0][2] == "12"
    assert problems == []
