"""The analyst's workspace in a real browser (Debian's Chromium, headless).

The live server holds the synthetic sample layers: 2 regions, 2 border sections,
2 crossing points and 3 incidents (T-1 and T-2 moved into the last complete month,
the page's default period, T-3 in March 2025).
Screenshots of the main states go to tests/e2e/screenshots/ (git-ignored, CI artefacts).
"""

from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from babel import Locale

from geo import clock
from tests.conftest import TEST_PASSWORD
from tests.e2e.conftest import in_default_month

pytestmark = [pytest.mark.e2e, pytest.mark.clock]

SCREENSHOTS = Path(__file__).parent / "screenshots"


def shoot(page, name):
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def watch_console(page):
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems


def sign_in(page, base_url, role="analyst", path="/"):
    page.goto(f"{base_url}{path}")
    assert "/login" in page.url
    page.get_by_label("User name").fill(f"e2e-{role}")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("#workspace[data-loaded='true']")


def updates(page) -> int:
    return int(page.get_attribute("#workspace", "data-updates"))


def wait_until(page, expression: str, timeout_s: float = 15) -> None:
    """Poll ``expression`` (page.wait_for_function would need eval, which our CSP bans)."""
    for _ in range(int(timeout_s * 10)):
        if page.evaluate(expression):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"still false after {timeout_s} s: {expression}")


def wait_for_update(page, after: int) -> None:
    wait_until(page, f"Number(document.getElementById('workspace').dataset.updates) > {after} "
                     "&& document.getElementById('workspace').dataset.busy === 'false'")


def test_workspace_draws_every_layer_and_the_panel(page, live_server):
    problems = watch_console(page)
    map_images = []
    page.on("response", lambda r: map_images.append((r.url, r.status, r.headers.get(
        "content-type"))) if "/ogc/wms" in r.url and "GetMap" in r.url else None)
    sign_in(page, live_server)
    status = page.locator("#map-status").inner_text()
    # The default period is the last complete month: T-1 and T-2.
    assert status.startswith("2 incidents,"), status
    assert "2 sections ranked" in status
    # Border sections and crossing points are SVG paths in their pane; incidents canvas.
    assert page.locator(".leaflet-sections-pane path").count() >= 4
    drawn = page.evaluate("""() => {
        const layers = window.borderRisk.layers;
        return {segments: layers.segments.getLayers().length,
                crossings: layers.crossings.getLayers().length,
                points: layers.points.getLayers().length,
                regions: layers.regions.getLayers().length};
    }""")
    if page.get_attribute("#workspace", "data-wms"):
        # Incidents (and the offline basemap) come from our WMS at this scale.
        incidents = [m for m in map_images if "layers=incidents" in m[0].lower()]
        assert incidents and all(m[1:] == (200, "image/png") for m in map_images), map_images
        assert any("layers=countries" in m[0].lower() for m in map_images)
        assert all("time=" in m[0].lower() for m in incidents)
        drawn["points"] = 2 if drawn["points"] == 0 else -1  # points only when zoomed in
    assert drawn == {"segments": 2, "crossings": 2, "points": 2, "regions": 2}
    assert page.locator("#ranking .section-row").count() == 2
    codes = page.locator("#ranking .section-row .code").all_inner_texts()
    assert sorted(codes) == ["T-AZ-001", "T-AZ-002"]
    assert page.locator("#ranking .section-row svg.trend").count() == 2
    notice = page.locator("#data-notice")
    assert notice.is_visible() and "synthetic" in notice.inner_text()
    # The region filter lists both sample regions.
    assert page.locator("#f-region option").count() == 3
    # The URL holds the state.
    query = parse_qs(urlsplit(page.url).query)
    assert query["from"][0].endswith("-01") and "to" in query
    assert "#map=" in page.url
    shoot(page, "workspace")
    assert problems == []


def test_changing_the_dates_requests_new_data_and_updates_the_panel(page, live_server):
    problems = watch_console(page)
    sign_in(page, live_server)
    summary_before = page.locator("#ranking-summary").inner_text()
    requests = []
    page.on("request", lambda r: requests.append(r.url) if "/api/v1/" in r.url else None)
    before = updates(page)
    page.fill("#f-from", "2025-03-01")
    page.fill("#f-to", "2025-03-31")
    page.locator("#f-to").dispatch_event("change")
    wait_for_update(page, before)
    ranking = [u for u in requests if "/risk/segments?" in u]
    assert ranking, requests
    interval = parse_qs(urlsplit(ranking[-1]).query)["datetime"][0]
    assert interval == "2025-03-01T00:00:00Z/2025-03-31T23:59:59Z"
    assert any("/incidents?" in u and "2025-03-01" in u for u in requests)
    assert page.locator("#map-status").inner_text().startswith("1 incidents,")
    assert page.locator("#ranking-summary").inner_text() != summary_before
    assert parse_qs(urlsplit(page.url).query)["from"] == ["2025-03-01"]
    # The month slider follows the range.
    assert "2025" in page.locator("#f-month-label").inner_text()
    shoot(page, "march-2025")

    # A link with the state reproduces the view.
    link = page.url
    page.goto(link)
    page.wait_for_selector("#workspace[data-loaded='true']")
    assert page.input_value("#f-from") == "2025-03-01"
    assert page.locator("#map-status").inner_text().startswith("1 incidents,")
    assert problems == []


def test_clicking_a_ranked_section_highlights_it_on_the_map(page, live_server):
    problems = watch_console(page)
    sign_in(page, live_server)
    row = page.locator("#ranking .section-row").first
    section_id = int(row.get_attribute("data-section-id"))
    row.click()
    assert row.get_attribute("aria-pressed") == "true"
    highlighted = page.locator("path.section-selected")
    highlighted.wait_for()
    assert highlighted.count() == 1
    weight = page.evaluate(
        f"window.borderRisk.app.segmentLayers.get({section_id}).options.weight")
    assert weight == 8
    assert parse_qs(urlsplit(page.url).query)["section"] == [str(section_id)]
    assert page.locator("#section-details").is_visible()
    shoot(page, "section-selected")

    # And the reverse: clicking the other section on the map selects it in the panel.
    other = page.locator("#ranking .section-row").nth(1)
    other_id = int(other.get_attribute("data-section-id"))
    point = page.evaluate(f"""() => {{
        const map = window.borderRisk.map;
        const layer = window.borderRisk.app.segmentLayers.get({other_id});
        const ll = layer.getLatLngs()[Math.floor(layer.getLatLngs().length / 2)];
        map.setView(ll, 12, {{animate: false}});
        const p = map.latLngToContainerPoint(ll);
        const box = document.getElementById('map').getBoundingClientRect();
        return {{x: box.left + p.x, y: box.top + p.y}};
    }}""")
    page.wait_for_timeout(300)
    page.mouse.click(point["x"], point["y"])
    wait_until(page, f"document.querySelector('.section-row[data-section-id=\"{other_id}\"]')"
                     ".getAttribute('aria-pressed') === 'true'")
    assert row.get_attribute("aria-pressed") == "false"
    assert problems == []


def test_keyboard_moves_through_the_ranking(page, live_server):
    sign_in(page, live_server)
    first = page.locator("#ranking .section-row").first
    first.focus()
    page.keyboard.press("ArrowDown")
    focused = page.evaluate("document.activeElement.dataset.sectionId")
    assert focused == page.locator("#ranking .section-row").nth(1).get_attribute(
        "data-section-id")
    page.keyboard.press("Enter")
    assert page.locator("path.section-selected").count() == 1


def test_popup_shows_user_text_as_text(page, live_server):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, live_server)
    # Zoom to the incident whose description carries a <script> tag (T-2).
    point = page.evaluate(
        """() => {
            const map = window.borderRisk.map;
            map.setView([41.45, 45.42], 13, {animate: false});
            const p = map.latLngToContainerPoint([41.45, 45.42]);
            const box = document.getElementById('map').getBoundingClientRect();
            return {x: box.left + p.x, y: box.top + p.y};
        }"""
    )
    # The new view's points come from a request of their own, which may start after the
    # page looks idle: wait for them rather than read the layer once.
    wait_until(page, "window.borderRisk.layers.points.getLayers().length >= 1")
    page.wait_for_timeout(300)  # let the canvas renderer redraw at the new view
    page.mouse.click(point["x"], point["y"])
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert "<script>alert(1)</script>" in popup.inner_text()
    assert popup.locator("script").count() == 0
    shoot(page, "incident-popup")
    assert dialogs == []


def test_georgian_labels(page, live_server):
    problems = watch_console(page)
    sign_in(page, live_server)
    page.goto(f"{live_server}/?lang=ka")
    page.wait_for_selector("#workspace[data-loaded='true']")
    assert page.get_attribute("html", "lang") == "ka"
    assert page.locator("#ranking-title").inner_text() == "საზღვრის მონაკვეთების რეიტინგი"
    assert page.get_by_label("რეგიონი").count() == 1
    # JavaScript strings come from the catalogue: the status line and the legend.
    assert "ინციდენტი" in page.locator("#map-status").inner_text()
    assert "ლეგენდა" in page.locator(".legend").inner_text()
    # Months and numbers in Georgian (CLDR names when the browser's Intl lacks them).
    newest = in_default_month(clock.utc_now())  # T-1 and T-2, the default month
    month = Locale.parse("ka").months["stand-alone"]["wide"][newest.month]
    assert page.locator("#f-month-label").inner_text() == f"{month} {newest.year}"
    assert page.locator("#f-cell option[value='5000']").inner_text() == "5\xa0000 m"
    # The language is remembered: a plain reload stays Georgian.
    page.goto(page.url.split("?")[0])
    page.wait_for_selector("#workspace[data-loaded='true']")
    assert page.locator("button", has_text="გასვლა").count() == 1
    shoot(page, "georgian")
    assert problems == []


def test_viewer_sees_no_write_actions(page, live_server):
    problems = watch_console(page)
    sign_in(page, live_server, role="viewer")
    assert page.locator("#add-incident").count() == 0
    assert page.locator("#open-import").count() == 0
    page.locator("#ranking .section-row").first.click()
    assert page.locator("#level-form").count() == 0
    assert problems == []


def test_new_incident_form_shows_the_api_messages(page, live_server):
    sign_in(page, live_server)
    page.click("#add-incident")
    box = page.locator("#map").bounding_box()
    # A point in the sample region, away from the sections and crossing points.
    page.evaluate("window.borderRisk.map.setView([41.4, 45.2], 9, {animate: false})")
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    dialog = page.locator("#incident-dialog")
    dialog.wait_for()
    page.fill("#i-persons_count", "-3")
    page.click("#incident-dialog button[type='submit']")
    error = page.locator(".field-error[data-field='persons_count']")
    error.wait_for()
    assert error.inner_text() != ""
    assert page.get_attribute("#i-persons_count", "aria-invalid") == "true"
    shoot(page, "incident-form-errors")
    page.fill("#i-persons_count", "2")
    # Dated in the period shown (the last complete month), not now, to be counted.
    page.fill("#i-occurred_at", in_default_month(clock.utc_now()).strftime("%Y-%m-%dT%H:%M"))
    page.select_option("#i-category", "smuggling_tobacco")
    page.fill("#i-description", "<img src=x onerror=alert(2)> from the browser test")
    before = updates(page)
    page.click("#incident-dialog button[type='submit']")
    wait_until(page, "!document.getElementById('incident-dialog').open || "
                     "document.querySelector('#incident-form .form-status').textContent")
    assert page.locator("#incident-form .form-status").inner_text() == ""
    wait_for_update(page, before)
    assert page.locator("#map-status").inner_text().startswith("3 incidents,")


def test_supervisor_sets_a_level_with_a_justification(page, live_server):
    problems = watch_console(page)
    sign_in(page, live_server, role="supervisor")
    row = page.locator("#ranking .section-row").first
    row.click()
    page.select_option("#level-value", "critical")
    page.fill("#level-justification", "short")
    page.click("#level-form button[type='submit']")
    error = page.locator("#level-form .field-error[data-field='justification']")
    error.wait_for()
    assert "10 characters" in error.inner_text()
    before = updates(page)
    page.fill("#level-justification", "Patrol reports a new route across this section.")
    page.click("#level-form button[type='submit']")
    wait_for_update(page, before)
    assert "critical" in row.locator(".level").inner_text()
    shoot(page, "level-decision")
    # The 422 of the short justification is the only console message expected.
    assert all("422" in p for p in problems)


def test_import_dialog_shows_the_report(page, live_server):
    problems = watch_console(page)
    sign_in(page, live_server)
    page.click("#open-import")
    page.set_input_files("#import-file", str(Path(__file__).parents[1] / "data"
                                             / "incidents_small.csv"))
    page.fill("#import-source", "e2e-import")
    assert page.is_checked("#import-dry-run")
    page.click("#import-dialog button[type='submit']")
    report = page.locator("#import-report table.report")
    report.wait_for()
    text = page.locator("#import-report").inner_text()
    assert text.startswith("Checked, nothing written:")
    assert "inserted\t3" in text
    shoot(page, "import-report")
    assert problems == []


def test_region_filter_zooms_and_filters_every_request(page, live_server):
    problems = watch_console(page)
    sign_in(page, live_server)
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    region_centre = ("window.borderRisk.app.regionsByCode.get('T-KA').getBounds()"
                     ".getCenter()")
    assert page.evaluate(f"window.borderRisk.map.getCenter().distanceTo({region_centre})") > 5000
    before = updates(page)
    page.select_option("#f-region", "T-KA")
    wait_for_update(page, before)
    assert parse_qs(urlsplit(page.url).query)["region"] == ["T-KA"]
    ranking = [u for u in requests if "/risk/segments?" in u]
    assert parse_qs(urlsplit(ranking[-1]).query)["region"] == ["T-KA"]
    assert any("/incidents?" in u and "region=T-KA" in u for u in requests)
    export = page.get_attribute("#export-link", "href")
    assert "region=T-KA" in export and "f=csv" in export
    # The map flies to the region: centred on it, the whole region in view.
    wait_until(page, f"window.borderRisk.map.getCenter().distanceTo({region_centre}) < 100 && "
                     "window.borderRisk.map.getBounds().contains("
                     "window.borderRisk.app.regionsByCode.get('T-KA').getBounds())")
    assert problems == []


def test_play_steps_through_the_months(page, live_server):
    problems = watch_console(page)
    sign_in(page, live_server, path="/?from=2025-03-01&to=2025-03-31")
    assert page.input_value("#f-from") == "2025-03-01"
    before = updates(page)
    page.click("#f-play")
    assert page.get_attribute("#f-play", "aria-pressed") == "true"
    wait_for_update(page, before)
    page.click("#f-play")  # pause
    assert page.get_attribute("#f-play", "aria-pressed") == "false"
    assert page.input_value("#f-from") >= "2025-04-01"
    assert parse_qs(urlsplit(page.url).query)["from"] == [page.input_value("#f-from")]
    assert problems == []


def test_category_and_outcome_filters_reach_the_wms_and_the_export(page, live_server):
    problems = watch_console(page)
    sign_in(page, live_server)
    assert page.get_attribute("#workspace", "data-wms"), "the live server has a WMS"
    maps = []
    page.on("request", lambda r: maps.append(parse_qs(urlsplit(r.url).query))
            if "/ogc/wms" in r.url and "layers=incidents" in r.url.lower() else None)
    before = updates(page)
    page.click("details.categories summary")
    # T-1 only (the new-incident test adds a smuggling_tobacco one: not this category).
    page.check("input[name='category'][value='illegal_crossing_between_bcp']")
    wait_for_update(page, before)
    assert maps, "changing the category asks the WMS for a new incidents map"
    assert maps[-1]["REQUEST"] == ["GetMap"]
    assert maps[-1]["CATEGORY"] == ["illegal_crossing_between_bcp"]
    assert "OUTCOME" not in maps[-1]
    assert page.locator("#map-status").inner_text().startswith("1 incidents,")

    # T-1 was an actual crossing: keeping attempted ones only leaves nothing.
    before = updates(page)
    page.select_option("#f-outcome", "attempted")
    wait_for_update(page, before)
    assert maps[-1]["CATEGORY"] == ["illegal_crossing_between_bcp"]
    assert maps[-1]["OUTCOME"] == ["attempted"]
    assert page.locator("#map-status").inner_text().startswith("0 incidents,")
    export = parse_qs(urlsplit(page.get_attribute("#export-link", "href")).query)
    assert export["category"] == ["illegal_crossing_between_bcp"]
    assert export["outcome"] == ["attempted"]
    assert problems == []


def month_bounds(moment):
    """First and last day (ISO dates) of ``moment``'s calendar month."""
    first = moment.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first.date().isoformat(), (following - timedelta(days=1)).date().isoformat()


def test_the_page_opens_on_the_last_complete_month_and_marks_a_partial_one(page, live_server):
    problems = watch_console(page)
    sign_in(page, live_server)
    first, last = month_bounds(in_default_month(clock.utc_now()))
    assert (page.input_value("#f-from"), page.input_value("#f-to")) == (first, last)
    assert "partial" not in page.locator("#map-status").inner_text()
    assert page.get_attribute("#ranking-summary", "data-partial") == "false"
    # The month under way: marked as partial, and compared with nothing.
    current_first, current_last = month_bounds(clock.utc_now())
    page.goto(f"{live_server}/?from={current_first}&to={current_last}")
    page.wait_for_selector("#workspace[data-loaded='true']")
    assert "(partial period: not over)" in page.locator("#map-status").inner_text()
    summary = page.locator("#ranking-summary").inner_text()
    assert "partial period (not over): not compared with full periods" in summary
    assert "vs previous" not in summary
    rows = page.locator("#ranking .section-row")
    assert rows.count() == 2
    for k in range(rows.count()):
        numbers = rows.nth(k).locator(".numbers").inner_text()
        assert "partial period" in numbers and "vs previous" not in numbers
    shoot(page, "partial-period")
    assert problems == []


def test_each_count_says_what_it_counts_and_the_ranking_its_order(page, live_server):
    sign_in(page, live_server)
    assert "linked to the region" in page.get_attribute("#map-status", "title")
    assert "within 5 km of a border section" in page.get_attribute("#ranking-summary", "title")
    assert page.locator("#ranking-order").inner_text() == \
        "Ordered by risk, then incidents, then section code."


def test_a_link_to_a_region_outside_the_users_says_so(page, live_server):
    problems = watch_console(page)
    sign_in(page, live_server, role="kk", path="/?region=T-KA")
    notice = page.locator("#scope-notice")
    assert notice.is_visible()
    assert "region T-KA, which is not among your regions" in notice.inner_text()
    assert parse_qs(urlsplit(page.url).query).get("region") != ["T-KA"]
    shoot(page, "region-out-of-scope")
    # Their own region's link says nothing.
    page.goto(f"{live_server}/?region=T-KK")
    page.wait_for_selector("#workspace[data-loaded='true']")
    assert page.locator("#scope-notice").is_hidden()
    assert problems == []


def test_the_ranking_and_the_incidents_download_with_their_extensions(page, live_server):
    sign_in(page, live_server)
    first, last = month_bounds(in_default_month(clock.utc_now()))
    name = f"ranking-all-{first.replace('-', '')}-{last.replace('-', '')}"
    with page.expect_download() as csv_download:
        page.click("#ranking-csv")
    assert csv_download.value.suggested_filename == f"{name}.csv"
    text = Path(csv_download.value.path()).read_text()
    assert text.splitlines()[0].startswith("rank,code,name,level")
    assert len(text.splitlines()) == 3  # the header and the two sections
    with page.expect_download() as geojson_download:
        page.click("#ranking-geojson")
    assert geojson_download.value.suggested_filename == f"{name}.geojson"
    for fmt in ("csv", "geojson", "gpkg"):
        page.select_option("#export-format", fmt)
        with page.expect_download() as download:
            page.click("#export-link")
        assert download.value.suggested_filename == f"incidents.{fmt}"
