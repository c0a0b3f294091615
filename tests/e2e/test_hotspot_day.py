"""An analyst's day with the hot-spot layers, in a real browser (issue 19).

This module's server holds the sample layers and, in the region T-KK:

- December 2024: 40 incidents spread one per cell over the region and 40 in a cluster
  about 5 km across (a hot spot);
- January 2025: 35 incidents at only 5 places, so that Gi* on the default 2 km cells
  has 5 cells with incidents (it needs 30) and the API answers 422;

and an inland region, T-TB, without border sections (as Tbilisi).
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app.auth.users import create_user
from app.extensions import db
from geo.queries import derive_links
from tests.e2e.test_map_page import shoot, sign_in, updates, wait_for_update, watch_console
from testsupport.apps import TEST_PASSWORD, committed_sample_layers, serving

pytestmark = [pytest.mark.e2e]

INSERT = """
    INSERT INTO incidents (source, external_id, occurred_at, category, outcome, direction,
                           detection_method, persons_count, source_reliability,
                           information_credibility, status, provenance, description, geom)
    SELECT 'e2e-hotspots', :prefix || k, CAST(:day AS timestamptz) + k * INTERVAL '1 hour',
           'illegal_crossing_between_bcp', 'actual', 'entry', 'border_surveillance', 1, 'B', 2,
           'validated', 'synthetic', 'SYNTHETIC hot-spot test record',
           ST_SetSRID(ST_MakePoint({lon}, {lat}), 4326)
    FROM generate_series(0, :n - 1) AS k
"""
# name: (first moment, how many, longitude, latitude) as SQL of k
INCIDENTS = {
    "spread": ("2024-12-02 12:00Z", 40, "44.82 + (k % 8) * 0.05", "41.22 + (k / 8) * 0.075"),
    "cluster": ("2024-12-03 12:00Z", 40, "45.00 + (k % 7) * 0.008", "41.40 + (k / 7) * 0.008"),
    "few_places": ("2025-01-05 12:00Z", 35, "44.85 + (k % 5) * 0.07", "41.30"),
}
JANUARY = "/?region=T-KK&from=2025-01-01&to=2025-01-31&layers=segments,hotspots"
DECEMBER = "/?region=T-KK&from=2024-12-01&to=2024-12-31&layers=segments,hotspots"


def hotspot_app(databases):
    """An app on a new database holding this module's data (its docstring), committed."""
    app, _ = committed_sample_layers(databases)
    with app.app_context():
        for prefix, (day, n, lon, lat) in INCIDENTS.items():
            db.session.execute(text(INSERT.replace("{lon}", lon).replace("{lat}", lat)),
                               {"prefix": f"H-{prefix}-", "day": day, "n": n})
        # An inland region without border sections (as Tbilisi).
        db.session.execute(text(
            "INSERT INTO regions (code, name_en, name_ka, provenance, geom) VALUES "
            "('T-TB', 'Inland test region (synthetic)', 'შიდა სატესტო რეგიონი', 'synthetic', "
            "ST_Multi(ST_MakeEnvelope(45.6, 41.2, 45.8, 41.4, 4326)))"))
        derive_links(db.session, "regions", app.config["ANALYSIS_SRID"], [])  # all incidents
        create_user(db.session, "e2e-viewer", "viewer", TEST_PASSWORD)
        db.session.commit()
        db.session.remove()
    return app


@pytest.fixture(scope="module")
def hotspot_server(databases):
    with serving(hotspot_app(databases)) as url:  # empties the app's pool at the end
        yield url


def choose_period(page, start: str, end: str) -> None:
    """Types a period into the filters, as the analyst does, and waits for the page."""
    before = updates(page)
    page.fill("#f-from", start)
    page.fill("#f-to", end)
    page.locator("#f-to").dispatch_event("change")
    wait_for_update(page, before)


def map_size(page) -> list[int]:
    return page.evaluate("(() => { const s = window.borderRisk.map.getSize(); "
                         "return [s.x, s.y]; })()")


def drawn_cells(page) -> int:
    return page.evaluate("window.borderRisk.layers.hotspots.getLayers().length")


def test_hotspots_ask_for_the_bulletins_map_by_default(page, hotspot_server):
    """Without a chosen cell size the page asks for the default map's 2 km cells (the
    bulletin's, geo.hotspots.pipeline.DEFAULT_CELL_SIZE_M) and draws its hot spots."""
    asked = []
    page.on("request", lambda r: asked.append(r.url) if "/api/v1/hotspots?" in r.url else None)
    sign_in(page, hotspot_server, role="viewer", path=DECEMBER)
    assert page.input_value("#f-cell") == "2000"
    assert asked and all("cell_size=2000" in url for url in asked), asked
    assert drawn_cells(page) > 0
    assert page.locator("#cells-note").is_hidden()


def test_too_few_cells_empties_the_layer_says_why_and_offers_a_fix(page, hotspot_server):
    problems = watch_console(page)
    sign_in(page, hotspot_server, role="viewer", path=DECEMBER)
    assert drawn_cells(page) > 0
    # The analyst moves to January: 35 incidents at 5 places, too few cells for Gi*.
    choose_period(page, "2025-01-01", "2025-01-31")
    assert drawn_cells(page) == 0  # December's cells are gone
    status = page.locator("#map-status")
    assert status.inner_text().startswith("35 incidents,")
    assert "error" not in status.get_attribute("class")  # the note says it, once
    note = page.locator("#cells-note")
    assert note.is_visible()
    assert note.inner_text().startswith("Hot spots: only 5 grid cells hold incidents in this "
                                        "area and period; the statistic needs at least 30.")
    # One click fixes it: the fix was tried with the API before it was offered.
    fix = note.get_by_role("button", name="Widen the period to")
    fix.wait_for()
    assert fix.inner_text() == "Widen the period to Nov 1, 2024 – Jan 31, 2025"
    shoot(page, "hotspots-too-few-cells")
    before = updates(page)
    fix.click()
    wait_for_update(page, before)
    assert page.input_value("#f-from") == "2024-11-01"
    assert page.input_value("#f-to") == "2025-01-31"
    assert drawn_cells(page) > 0
    assert note.is_hidden()
    assert "from=2024-11-01" in page.url
    # Chromium logs the API's expected 422s (the refusal and the fixes tried); nothing else.
    assert [p for p in problems if "status of 422" not in p] == []


def test_too_few_incidents_counts_the_wider_periods_at_once(page, hotspot_server):
    """A period without incidents (January's last days): the note's fix is the narrowest
    wider period with enough incidents, and the three wider periods were counted at once
    (each count asked before any was answered), not one after another."""
    sign_in(page, hotspot_server, role="viewer", path=DECEMBER)
    events = []
    wider = ("2024-11-01", "2024-08-01", "2024-02-01")  # 3, 6 and 12 months to January

    def count_of(request) -> str | None:
        url = request.url
        if "/api/v1/incidents?" not in url or "limit=1" not in url:
            return None
        return next((start for start in wider if f"datetime={start}" in url), None)

    page.on("request", lambda r: count_of(r) and events.append(("asked", count_of(r))))
    page.on("requestfinished",
            lambda r: count_of(r) and events.append(("answered", count_of(r))))
    choose_period(page, "2025-01-20", "2025-01-31")
    note = page.locator("#cells-note")
    fix = note.get_by_role("button", name="Widen the period to")
    fix.wait_for()
    assert note.inner_text().startswith("Hot spots: only 0 incidents in this area and period")
    assert fix.inner_text() == "Widen the period to Nov 1, 2024 – Jan 31, 2025"
    asked = [start for event, start in events if event == "asked"]
    assert sorted(asked) == sorted(wider), events
    first_answer = next(k for k, (event, _) in enumerate(events) if event == "answered")
    assert first_answer == len(wider), events  # all three asked before the first answer


def test_too_few_cells_is_said_in_georgian(page, hotspot_server):
    sign_in(page, hotspot_server, role="viewer", path=DECEMBER)
    page.goto(f"{hotspot_server}{JANUARY}&lang=ka")
    page.wait_for_selector("#workspace[data-loaded='true']")
    note = page.locator("#cells-note")
    note.get_by_role("button").first.wait_for()
    text_ka = note.inner_text()
    assert text_ka.startswith("ცხელი წერტილები: ამ ტერიტორიასა და პერიოდში ინციდენტები "
                              "მხოლოდ 5 ბადის უჯრედშია"), text_ka
    assert "პერიოდის გაფართოება" in text_ka
    assert drawn_cells(page) == 0


def click_cell(page, kind: str, pick: str) -> dict:
    """Clicks, as a person does, the centre of the first `kind` cell for which the JS
    predicate `pick` (of its properties) holds; returns those properties."""
    found = page.evaluate("""([kind, pick]) => {
        const cells = window.borderRisk.layers[kind].getLayers();
        const most = (key) => Math.max(...cells.map((l) => l.feature.properties[key]));
        const test = { hot: (p) => p.bin === most("bin"),
                       busiest: (p) => p.count === most("count") }[pick];
        const layer = cells.find((l) => test(l.feature.properties));
        const map = window.borderRisk.map;
        map.setView(layer.getBounds().getCenter(), 12, { animate: false });
        const point = map.latLngToContainerPoint(layer.getBounds().getCenter());
        return { x: point.x, y: point.y, properties: layer.feature.properties };
    }""", [kind, pick])
    page.wait_for_timeout(300)
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + found["x"], box["y"] + found["y"])
    page.locator(".leaflet-popup-content .cell-popup").wait_for()
    return found["properties"]


def test_a_hot_cell_says_why_it_is_hot(page, hotspot_server):
    problems = watch_console(page)
    sign_in(page, hotspot_server, role="viewer", path=DECEMBER)
    cell = click_cell(page, "hotspots", "hot")
    assert cell["bin"] == 3
    popup = page.locator(".leaflet-popup-content .cell-popup")
    lines = popup.locator("h3, p").all_inner_texts()
    assert lines[0] == "Hot spot, 99% confidence"
    mean = cell["neighbourhood_count"] / cell["neighbourhood_cells"]
    assert lines[1].startswith(f"{cell['count']} incidents in this cell; "
                               f"{cell['neighbourhood_count']} in it and its neighbours "
                               f"({cell['neighbourhood_cells']} cells): ")
    assert f"{mean:.2f}".rstrip("0").rstrip(".") in lines[1]
    assert lines[1].endswith("per cell over the study area.")
    assert lines[2] == f"z = {cell['z']:.2f}, p < 0.001"  # never "p 0"
    assert lines[3] == "Method: Getis-Ord Gi*, false discovery rate corrected"
    assert lines[4] == "Cells: hexagons of 2,000 m"
    assert lines[5].startswith("Neighbourhood: cells within ") and lines[5].endswith(" m")
    assert lines[6] == "Period: Dec 1, 2024 – Dec 31, 2024"
    # The legend says which period the map covers.
    toggle = page.locator(".legend-toggle")
    if toggle.get_attribute("aria-expanded") != "true":
        toggle.click()
    assert "Dec 1, 2024 – Dec 31, 2024" in page.locator(".legend-period").first.inner_text()
    shoot(page, "hotspot-cell-popup")
    assert problems == []


def test_an_emerging_cell_explains_its_category_and_draws_its_months(page, hotspot_server):
    problems = watch_console(page)
    sign_in(page, hotspot_server, role="viewer",
            path="/?region=T-KK&from=2024-12-01&to=2024-12-31&layers=segments,emerging")
    cell = click_cell(page, "emerging", "busiest")
    assert cell["count"] > 0 and cell["count_series"][-1] == cell["count"]
    popup = page.locator(".leaflet-popup-content .cell-popup")
    assert popup.locator("h3").inner_text() == cell["category"]
    sentences = popup.locator("p").all_inner_texts()
    if cell["category"] == "new hot spot":
        assert ("As a hot spot (more incidents than around): Significant in the last month "
                "for the first time in the window.") in sentences
    # The cell's 12 months as a line, the last (December) marked.
    chart = popup.locator("svg.cell-series")
    assert chart.locator("polyline").get_attribute("points").count(",") == 12
    series = ", ".join(str(v) for v in cell["count_series"])
    assert chart.get_attribute("aria-label") == f"Incidents per month: {series}"
    assert "Period: Jan 1, 2024 – Dec 31, 2024" in sentences
    shoot(page, "emerging-cell-popup")
    assert problems == []


def open_incident_popup(page) -> dict:
    """Zooms to an incident of January, as a person does, and clicks its point."""
    page.evaluate("window.borderRisk.map.setView([41.30, 44.85], 15, { animate: false })")
    for _ in range(100):
        if page.evaluate("window.borderRisk.layers.points.getLayers().length > 0"):
            break
        page.wait_for_timeout(100)
    point = page.evaluate("""() => {
        const map = window.borderRisk.map;
        const p = map.latLngToContainerPoint([41.30, 44.85]);
        return { x: p.x, y: p.y };
    }""")
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
    page.locator(".leaflet-popup-content table.feature-props").first.wait_for()
    return page.evaluate("""() => Object.fromEntries([...document.querySelector(
        '.leaflet-popup-content table.feature-props').rows].map(
        (row) => [row.cells[0].textContent, row.cells[1]?.textContent]))""")


def test_an_incident_popup_reads_in_words_not_codes(page, hotspot_server):
    problems = watch_console(page)
    sign_in(page, hotspot_server, role="viewer",
            path="/?region=T-KK&from=2025-01-01&to=2025-01-31&layers=incidents")
    rows = open_incident_popup(page)
    assert rows["Category"] == "Illegal border crossing between crossing points"
    assert rows["Outcome"] == "Actual"
    assert rows["Direction"] == "Entry"
    assert rows["Detected by"] == "Border surveillance"
    assert rows["Source reliability"] == "B: usually reliable"
    assert rows["Information credibility"] == "2: known to the source, not to the officer"
    assert rows["Status"] == "Validated"
    assert rows["Provenance"] == "Synthetic (demonstration data)"
    assert rows["Persons"] == "1"
    assert not any("_" in name for name in rows), rows  # no raw field names
    page.goto(f"{hotspot_server}/?region=T-KK&from=2025-01-01&to=2025-01-31"
              "&layers=incidents&lang=ka")
    page.wait_for_selector("#workspace[data-loaded='true']")
    rows = open_incident_popup(page)
    assert rows["კატეგორია"] == "უკანონო გადაკვეთა გამშვებ პუნქტებს შორის"
    assert rows["წყაროს სანდოობა"] == "B: ჩვეულებრივ სანდო"
    assert problems == []


def test_a_link_with_unreadable_parameters_says_so_and_shows_the_defaults(page, hotspot_server):
    problems = watch_console(page)
    sign_in(page, hotspot_server, role="viewer",
            path="/?region=T-KK&from=2024-13-45&to=2024-12-31&method=getis&cell_size=3km")
    note = page.locator("#link-note")
    assert note.inner_text() == ("This link's from, method, cell_size could not be read: "
                                 "the map shows the defaults instead.")
    # No blank lists: the defaults are chosen and shown.
    assert page.input_value("#f-method") == "gistar"
    assert page.input_value("#f-cell") == "2000"
    assert page.input_value("#f-from") != ""
    status = page.locator("#map-status")
    assert "error" not in status.get_attribute("class")
    assert "RFC 3339" not in status.inner_text()
    # The URL now holds what the map shows; the note goes once the person chooses.
    assert "getis" not in page.url and "3km" not in page.url
    before = updates(page)
    page.select_option("#f-method", "lisa")
    wait_for_update(page, before)
    assert note.is_hidden()
    assert problems == []


def test_a_future_period_says_why_nothing_is_there(page, hotspot_server):
    sign_in(page, hotspot_server, role="viewer",
            path="/?region=T-KK&from=2099-01-01&to=2099-01-31&layers=segments")
    status = page.locator("#map-status").inner_text()
    assert status.startswith("0 incidents, Jan 1, 2099 – Jan 31, 2099 (the period lies in "
                             "the future: nothing has been recorded yet)"), status


def test_an_inland_region_is_a_fact_not_an_error(page, hotspot_server):
    problems = watch_console(page)
    sign_in(page, hotspot_server, role="viewer", path="/?region=T-TB&layers=segments,hotspots")
    status = page.locator("#map-status")
    sentence = ("Inland test region (synthetic) has no border sections: nothing to rank. "
                "Its incidents and hot spots are on the map.")
    assert sentence in status.inner_text()
    assert "error" not in status.get_attribute("class")
    assert page.locator("#ranking-summary").inner_text() == sentence
    assert page.locator("#ranking .section-row").count() == 0
    # No bulletin to open (it would be the API's problem+json in a new tab): the link
    # is off and says why; another region brings it back.
    bulletin = page.locator("#bulletin-link")
    assert bulletin.get_attribute("aria-disabled") == "true"
    assert bulletin.get_attribute("href") is None
    assert bulletin.get_attribute("title") == sentence
    before = updates(page)
    page.select_option("#f-region", "T-KK")
    wait_for_update(page, before)
    assert "region=T-KK" in bulletin.get_attribute("href")
    assert bulletin.get_attribute("aria-disabled") is None
    # Chromium logs the API's 422 for the ranking; nothing else goes wrong.
    assert [p for p in problems if "status of 422" not in p] == []


def open_legend(page) -> None:
    toggle = page.locator(".legend-toggle")
    if toggle.get_attribute("aria-expanded") != "true":
        toggle.click()


def test_kde_and_emerging_hot_spots_are_methods_with_their_period_on_the_map(
        page, hotspot_server):
    problems = watch_console(page)
    sign_in(page, hotspot_server, role="viewer", path=DECEMBER)
    page.hover(".leaflet-control-layers")
    overlays = page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    assert "Hot spots" in [o.strip() for o in overlays]
    assert not any("Density" in o or o.strip() == "Emerging hot spots" for o in overlays)
    count = lambda kind: page.evaluate(  # noqa: E731
        f"window.borderRisk.layers.{kind}.getLayers().length")
    before = updates(page)
    page.select_option("#f-method", label="Kernel density (KDE)")
    wait_for_update(page, before)
    assert count("density") > 0 and count("hotspots") == 0
    assert "method=kde" in page.url
    open_legend(page)
    block = page.locator(".legend-body section", has_text="Density (KDE)")
    assert block.locator(".legend-period").inner_text() == "Dec 1, 2024 – Dec 31, 2024"
    before = updates(page)
    with page.expect_response(lambda r: "/hotspots/emerging?" in r.url
                              and "unit=" not in r.url) as emerging:
        page.select_option("#f-method", label="Emerging hot spots (12 months)")
    wait_for_update(page, before)
    # only the cells with a pattern are asked for, and each of them is drawn
    assert "patterns_only=true" in emerging.value.url
    drawn = emerging.value.json()["numberReturned"]
    assert count("emerging") == drawn > 0 and count("density") == 0
    block = page.locator(".legend-body section", has_text="Emerging hot spots")
    # The emerging map covers the year to the period's end: the map says so.
    assert block.locator(".legend-period").inner_text() == "Jan 1, 2024 – Dec 31, 2024"
    # An old link that named the density overlay opens the KDE method.
    page.goto(f"{hotspot_server}/?region=T-KK&from=2024-12-01&to=2024-12-31"
              "&layers=segments,density")
    page.wait_for_selector("#workspace[data-loaded='true']")
    assert page.input_value("#f-method") == "kde"
    assert count("density") > 0
    assert problems == []


def test_the_note_of_too_few_cells_lies_over_the_map_without_resizing_it(page, hotspot_server):
    """The note (and its fixes, which come a moment later) shows over the map's top: the
    map keeps its size, so the WMS images are not asked for again at other heights (a
    note under the map shrank it twice, and each layer was drawn three times)."""
    sign_in(page, hotspot_server, role="viewer",
            path=DECEMBER.replace("layers=segments,", "layers=segments,incidents,"))
    size = map_size(page)
    heights = []
    page.on("request", lambda r: heights.append(int(r.url.split("HEIGHT=")[1].split("&")[0]))
            if "REQUEST=GetMap" in r.url and "HEIGHT=" in r.url else None)
    choose_period(page, "2025-01-01", "2025-01-31")
    note = page.locator("#cells-note")
    note.get_by_role("button", name="Widen the period to").wait_for()
    page.wait_for_timeout(500)  # a resize would be observed and drawn by now
    assert map_size(page) == size
    container = page.locator("#map").bounding_box()
    assert abs(container["height"] - size[1]) < 1
    assert heights and set(heights) == {size[1]}, heights
    box = note.bounding_box()
    for start, length in (("x", "width"), ("y", "height")):  # the note lies over the map
        assert container[start] <= box[start]
        assert box[start] + box[length] <= container[start] + container[length]
    # ... under the map's controls: the layer switcher, opened over it, is what a click
    # at its entries reaches; and a fix's button is not a click on the map.
    page.hover(".leaflet-control-layers")
    entry = page.locator(".leaflet-control-layers-list label").first
    entry.wait_for()
    reached = page.evaluate("""([x, y]) => !!document.elementFromPoint(x, y)
        ?.closest('.leaflet-control-layers')""", centre(entry.bounding_box()))
    assert reached
    assert page.evaluate("""([x, y]) => !!document.elementFromPoint(x, y)
        ?.closest('#cells-note')""", centre(note.get_by_role("button").first.bounding_box()))


def centre(box: dict) -> list[float]:
    return [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2]
