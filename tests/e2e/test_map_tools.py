"""The map tools a planner hands work on with, in a real browser (issue 19): the print
layout ("Save map as PNG"), the measure tool, the coordinates readout, layer opacity,
the table of the incidents in view and search by place or section code.

The server is test_hotspot_day's: the sample layers and, in the region T-KK, December
2024's 80 incidents (40 spread, 40 in a cluster: Gi* hot spots on 2 km cells).
"""

from __future__ import annotations

import contextlib
import io
import math
import re
from urllib.parse import urlencode

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Error as PlaywrightError

from tests.e2e import test_hotspot_day
from tests.e2e.test_map_page import shoot, sign_in, wait_until, watch_console

pytestmark = [pytest.mark.e2e]

# This module's server: test_hotspot_day's fixture (a server of its own per module).
hotspot_server = test_hotspot_day.hotspot_server

DECEMBER = "/?region=T-KK&from=2024-12-01&to=2024-12-31"
EARTH_RADIUS_KM = 6371.0  # Leaflet's (L.CRS.Earth.R), the measure tool's
WEB_MERCATOR_TILE = 256


def open_view(page, server, query: str, zoom: float, lat: float, lon: float) -> None:
    """Signs in, then opens ``query`` at the view ``#map=zoom/lat/lon`` (the fragment
    does not survive the sign-in's redirect)."""
    sign_in(page, server, role="viewer", path=query.replace("&lang=ka", ""))
    page.goto(f"{server}{query}#map={zoom}/{lat}/{lon}")
    page.wait_for_selector("#workspace[data-loaded='true']")
    wait_until(page, "document.getElementById('workspace').dataset.busy === 'false'")


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance of two (lat, lon) in degrees on a sphere of 6,371 km."""
    (lat1, lon1), (lat2, lon2) = [(math.radians(p[0]), math.radians(p[1])) for p in (a, b)]
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


def pixel_to_latlon(zoom: float, centre: tuple[float, float], dx: float, dy: float):
    """The (lat, lon) ``dx, dy`` CSS pixels from the centre of a Web Mercator view."""
    scale = WEB_MERCATOR_TILE * 2**zoom / (2 * math.pi)  # pixels per radian
    lat0, lon0 = (math.radians(v) for v in centre)
    y0 = math.log(math.tan(math.pi / 4 + lat0 / 2))
    lat = 2 * math.atan(math.exp(y0 - dy / scale)) - math.pi / 2
    return math.degrees(lat), math.degrees(lon0 + dx / scale)


def hex_rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))


def near(pixel, colour, tolerance: int) -> bool:
    return all(abs(p - c) <= tolerance for p, c in zip(pixel[:3], colour, strict=False))


def count_near(image: Image.Image, colour, tolerance: int) -> int:
    pixels = np.asarray(image.convert("RGB"), dtype=int)
    return int(np.all(np.abs(pixels - np.array(colour)) <= tolerance, axis=-1).sum())


def api_json(page, server: str, path: str, **params):
    answer = page.request.get(f"{server}/api/v1/{path}?{urlencode(params)}")
    assert answer.ok, answer.text()
    return answer.json()


# --- "Save map as PNG": the print layout --------------------------------------------

def test_save_map_as_png_draws_what_the_screen_shows_in_a_print_layout(page, hotspot_server,
                                                                        tmp_path):
    problems = watch_console(page)
    open_view(page, hotspot_server, DECEMBER + "&layers=segments,crossings,hotspots",
              10, 41.38, 45.05)
    assert page.evaluate("window.borderRisk.layers.hotspots.getLayers().length") > 0
    # (the offline basemap, a WMS image, has come)
    wait_until(page, "(() => { const images = [...document.querySelectorAll('#map img')];"
                     " return images.length > 0 && images.every((i) => i.complete &&"
                     " i.naturalWidth > 0); })()")
    # What the screen shows of the map, without its controls (zoom, legend, layers).
    page.evaluate("document.querySelector('#map .leaflet-control-container')"
                  ".style.visibility = 'hidden'")
    screen = Image.open(io.BytesIO(page.locator("#map").screenshot())).convert("RGB")
    page.evaluate("document.querySelector('#map .leaflet-control-container')"
                  ".style.visibility = ''")

    page.get_by_role("button", name="Save map as PNG").click()
    dialog = page.locator("#print-dialog")
    wait_until(page, "document.getElementById('print-dialog').dataset.ready === 'true'")
    region = next(f for f in api_json(page, hotspot_server, "regions")["features"]
                  if f["properties"]["code"] == "T-KK")
    assert page.input_value("#print-title") == \
        f"Border risk map: {region['properties']['name_en']}"
    assert dialog.locator("#print-period").inner_text() == "Period: Dec 1, 2024 – Dec 31, 2024"
    assert dialog.get_by_role("img").get_attribute("alt").startswith("Preview of the map")
    with page.expect_download() as download:
        dialog.get_by_role("link", name="Download PNG").click()
    assert download.value.suggested_filename == "borderrisk-map-T-KK-20241201-20241231.png"
    path = tmp_path / "map.png"
    download.value.save_as(path)
    printed = Image.open(path)
    assert printed.format == "PNG"
    printed = printed.convert("RGB")
    shoot(page, "print-layout-dialog")
    layout = page.evaluate("JSON.parse(document.getElementById('print-preview')"
                           ".dataset.layout)")
    assert layout["scale"] == 1  # the test's Chromium: one device pixel per CSS pixel
    assert layout["title"] == f"Border risk map: {region['properties']['name_en']}"
    assert layout["period"] == "Period: Dec 1, 2024 – Dec 31, 2024"
    box = layout["map"]
    # (the map's box may have a fraction of a pixel, rounded either way)
    assert abs(box["w"] - screen.width) <= 1 and abs(box["h"] - screen.height) <= 1
    width, height = min(box["w"], screen.width), min(box["h"], screen.height)
    assert printed.width >= box["x"] + box["w"] + layout["legend"]["w"]

    # The map part is the screen's map, pixel for pixel (up to anti-aliasing).
    drawn = printed.crop((box["x"], box["y"], box["x"] + box["w"], box["y"] + box["h"]))
    # (the scale bar and north arrow are drawn over the map: compared outside them)
    covered = [layout["scaleBar"], layout["northArrow"]]

    agree = np.all(np.abs(np.asarray(drawn, dtype=int)[:height, :width]
                          - np.asarray(screen, dtype=int)[:height, :width]) <= 24, axis=-1)
    for c in covered:
        agree[math.floor(c["y"] - box["y"]):math.ceil(c["y"] - box["y"] + c["h"]),
              math.floor(c["x"] - box["x"]):math.ceil(c["x"] - box["x"] + c["w"])] = True
    same, compared = int(agree.sum()), agree.size
    assert same / compared > 0.98, (same, compared)

    # The sections in their risk levels' colours (not grey), the hot-spot cells in their
    # bins' colours over the basemap (drawn at 70 % opacity, as on the screen).
    palettes = page.request.get(f"{hotspot_server}/ui/palettes.json").json()
    ranking = api_json(page, hotspot_server, "risk/segments", region="T-KK",
                       datetime="2024-12-01T00:00:00Z/2024-12-31T23:59:59Z")
    levels = {s["level"] for s in ranking["sections"]}
    assert levels
    for level in levels:
        colour = hex_rgb(palettes["risk_levels"][level])
        assert count_near(drawn, colour, 8) > 100, (level, colour)
        assert count_near(screen, colour, 8) > 100
    cells = api_json(page, hotspot_server, "hotspots", region="T-KK", cell_size=2000,
                     datetime="2024-12-01T00:00:00Z/2024-12-31T23:59:59Z")
    bins = {f["properties"]["bin"] for f in cells["features"] if f["properties"]["bin"]}
    assert 3 in bins  # the cluster is a hot spot at 99 %
    basemap = max(drawn.getcolors(box["w"] * box["h"]))[1]  # the commonest colour
    for b in bins:
        fill = hex_rgb(palettes["hotspot_bins"][str(b)])
        blended = tuple(round(0.7 * f + 0.3 * g) for f, g in zip(fill, basemap, strict=True))
        assert count_near(drawn, blended, 10) > 20, (b, blended)

    # The legend beside the map, with the swatches of what is drawn.
    legend = layout["legend"]
    assert legend["x"] >= box["x"] + box["w"]
    swatch_colours = set()
    for s in legend["swatches"]:
        swatch_colours.add(s["colour"])
        centre = (round(s["x"] + s["w"] / 2), round(s["y"] + s["h"] / 2))
        assert near(printed.getpixel(centre), hex_rgb(s["colour"]), 3), s
    assert {palettes["risk_levels"][level] for level in levels} <= swatch_colours
    assert {palettes["hotspot_bins"][str(b)] for b in bins} <= swatch_colours
    assert palettes["crossing_point"] in swatch_colours

    # Title and period above the map, in ink; a scale bar at the map's bottom left and a
    # north arrow at its top right.
    ink = hex_rgb(palettes["print"]["ink"])
    paper = hex_rgb(palettes["print"]["paper"])

    def inked(part) -> int:
        area = printed.crop((part["x"], part["y"], part["x"] + part["w"],
                             part["y"] + part["h"]))
        return count_near(area, ink, 40)

    title = layout["titleBox"]
    assert title["y"] + title["h"] <= box["y"] and inked(title) > 100
    assert layout["periodBox"]["y"] + layout["periodBox"]["h"] <= box["y"]
    bar = layout["scaleBar"]
    assert bar["x"] < box["x"] + box["w"] / 2 and bar["y"] > box["y"] + box["h"] / 2
    assert inked(bar) > 50
    # the bar's first quarter is ink, its second paper
    quarter = bar["px"] / 4
    assert near(printed.getpixel((round(bar["x"] + 8 + quarter / 2), bar["y"] + 9)), ink, 40)
    assert near(printed.getpixel((round(bar["x"] + 8 + 1.5 * quarter), bar["y"] + 9)), paper,
                40)
    # its length: the bar's metres over its pixels, as haversine measures at the middle
    lat = pixel_to_latlon(10, (41.38, 45.05), 0, 0)[0]
    metres_per_px = 1000 * haversine_km((lat, 0), (lat, 360 / (256 * 2**10))) / 1
    assert bar["metres"] / bar["px"] == pytest.approx(metres_per_px, rel=0.01)
    assert str(bar["metres"])[0] in "125"
    arrow = layout["northArrow"]
    assert arrow["x"] > box["x"] + box["w"] / 2 and arrow["y"] < box["y"] + box["h"] / 2
    assert inked(arrow) > 50
    # the arrow points up: its tip (top middle) is ink, the top corners are not
    assert near(printed.getpixel((round(arrow["x"] + arrow["w"] / 2), arrow["y"] + 8)), ink, 60)
    assert not near(printed.getpixel((arrow["x"] + 2, arrow["y"] + 4)), ink, 60)
    # The planner's own title goes into the PNG.
    page.fill("#print-title", "Kvemo Kartli, December: for the morning briefing")
    wait_until(page, "document.getElementById('print-dialog').dataset.ready === 'true' && "
                     "JSON.parse(document.getElementById('print-preview').dataset.layout)"
                     ".title.startsWith('Kvemo')")
    assert page.get_attribute("#print-download", "href").startswith("data:image/png;base64,")
    page.get_by_role("button", name="Close").click()
    assert dialog.is_hidden()
    assert problems == []


# --- Coordinates and the measure tool ------------------------------------------------

def readout(page) -> tuple[float, float]:
    text = page.locator("#pointer-coordinates").inner_text()
    match = re.search(r"latitude (-?[\d.]+)°, longitude (-?[\d.]+)°", text)
    assert match, text
    return float(match.group(1)), float(match.group(2))


def test_the_readout_gives_the_coordinates_under_the_pointer_and_measure_sums_km(
        page, hotspot_server):
    problems = watch_console(page)
    zoom = 11
    open_view(page, hotspot_server, DECEMBER + "&layers=segments,hotspots", zoom, 41.35, 45.0)
    box = page.locator("#map").bounding_box()
    middle = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    half_pixel = 0.5 * 360 / (WEB_MERCATOR_TILE * 2**zoom)
    # The link's view, to the pixel (Leaflet keeps the centre in whole pixels).
    shown = page.evaluate("window.borderRisk.map.getCenter()")
    centre = (shown["lat"], shown["lng"])
    assert centre == pytest.approx((41.35, 45.0), abs=2 * half_pixel)

    # Without the pointer over the map: its centre.
    assert page.locator("#pointer-coordinates").inner_text().startswith("Map centre:")
    assert readout(page) == pytest.approx(centre, abs=1e-5)
    # Whole pixels of the page (mouse events have them), their offsets from the centre.
    points = [(round(middle[0] + dx), round(middle[1] + dy))
              for dx, dy in [(-250, 60), (200, -90), (150, 150)]]
    expected = []
    read = []  # what the readout said there (5 decimals: about a metre)
    for x, y in points:
        page.mouse.move(x, y, steps=4)  # (a person's pointer passes on its way)
        expected.append(pixel_to_latlon(zoom, centre, x - middle[0], y - middle[1]))
        # (Chromium delivers a mouse move with the next frame)
        lat, lon = expected[-1]
        wait_until(page, "(() => { const r = document.getElementById('pointer-coordinates');"
                         f" return Math.abs(r.dataset.lat - {lat}) < 0.01 &&"
                         f" Math.abs(r.dataset.lon - {lon}) < 0.01; }})()", 5)
        assert page.locator("#pointer-coordinates").inner_text().startswith("Pointer:")
        assert readout(page) == pytest.approx(expected[-1], abs=half_pixel + 1e-5)
        read.append(readout(page))

    # Two clicks where the readout was read: the distance along the great circle.
    measure = page.get_by_role("button", name="Measure distance")
    measure.click()
    assert page.get_by_role("button", name="Finish measuring").get_attribute(
        "aria-pressed") == "true"
    result = page.locator("#measure-result")
    assert "Click the map to add points" in result.inner_text()
    assert page.locator("#map").bounding_box() == box  # the map stays where it was
    for x, y in points[:2]:
        page.mouse.click(x, y)
    km = haversine_km(read[0], read[1])
    assert page.locator("#map").bounding_box() == box
    shown = float(re.search(r"Distance: ([\d.]+) km", result.inner_text()).group(1))
    assert shown == pytest.approx(km, abs=0.006)  # two decimals
    # A third click: the path's length and the area of the triangle (WGS 84 ellipsoid).
    page.mouse.click(*points[2])
    km += haversine_km(read[1], read[2])
    text = result.inner_text()
    assert float(re.search(r"Distance: ([\d.]+) km", text).group(1)) == \
        pytest.approx(km, abs=0.006)
    from pyproj import Geod

    lats, lons = zip(*read, strict=True)
    area_km2 = abs(Geod(ellps="WGS84").polygon_area_perimeter(lons, lats)[0]) / 1e6
    assert float(re.search(r"Area: ([\d.]+) km²", text).group(1)) == \
        pytest.approx(area_km2, rel=0.01)
    assert page.evaluate("window.borderRisk.map.getZoom()") == zoom  # clicks did not zoom
    shoot(page, "measure-tool")
    # Esc ends measuring (the line stays until cleared); clicks are the map's again.
    page.keyboard.press("Escape")
    assert measure.get_attribute("aria-pressed") == "false"
    page.get_by_role("button", name="Clear measurement").click()
    assert result.inner_text() == ""
    # By keyboard: Enter on the focused map adds its centre.
    measure.click()
    page.locator("#map").focus()
    page.keyboard.press("Enter")
    page.keyboard.press("ArrowRight")  # pans the map
    wait_until(page, "Math.abs(window.borderRisk.map.getCenter().lng - 45.0) > 1e-3")
    page.keyboard.press("Enter")
    assert page.locator("#measure-result").get_attribute("data-points") == "2"
    assert float(page.locator("#measure-result").get_attribute("data-metres")) > 0
    assert problems == []


# --- Layer opacity -----------------------------------------------------------------

def test_the_opacity_sliders_fade_their_layers(page, hotspot_server):
    open_view(page, hotspot_server, DECEMBER + "&layers=regions,segments,hotspots",
              10, 41.38, 45.05)
    page.get_by_text("Layer opacity").click()
    hotspots = page.get_by_role("slider", name="Hot spots")
    assert hotspots.input_value() == "100"
    hotspots.focus()
    for _ in range(10):  # 5 % a step, by keyboard
        page.keyboard.press("ArrowLeft")
    assert hotspots.input_value() == "50"
    fills = page.evaluate("window.borderRisk.layers.hotspots.getLayers()"
                          ".map((l) => l.options.fillOpacity)")
    assert fills and all(f == pytest.approx(0.35) for f in fills)
    page.get_by_role("slider", name="Border sections (risk level)").focus()
    page.keyboard.press("Home")
    assert page.evaluate("window.borderRisk.layers.segments.getLayers()"
                         ".map((l) => l.options.opacity)") == [0, 0]
    page.get_by_role("slider", name="Regions").focus()
    page.keyboard.press("PageDown")  # Chromium: a tenth of the range
    assert page.evaluate("window.borderRisk.map.getPane('regions').style.opacity") == "0.9"
    # The ranking's refresh keeps the sections faded.
    page.evaluate("window.borderRisk.refresh(true)")
    wait_until(page, "document.getElementById('workspace').dataset.busy === 'false'")
    assert page.evaluate("window.borderRisk.layers.segments.getLayers()"
                         ".map((l) => l.options.opacity)") == [0, 0]


# --- The table of the incidents in view ---------------------------------------------

def test_the_table_lists_the_incidents_in_view_sorts_and_zooms_to_a_row(page,
                                                                         hotspot_server):
    problems = watch_console(page)
    open_view(page, hotspot_server, DECEMBER + "&layers=segments,incidents",
              11, 41.40, 45.02)
    toggle = page.get_by_role("button", name="Table of incidents in view")
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    table = page.get_by_role("table", name="Incidents in view")
    wait_until(page, "document.getElementById('incident-table-section').dataset.loading"
                     " === 'false'")
    bounds = page.evaluate("window.borderRisk.map.getBounds().toBBoxString()")
    bbox = ",".join(f"{float(v):.5f}" for v in bounds.split(","))
    expected = api_json(page, hotspot_server, "incidents", region="T-KK", bbox=bbox,
                        datetime="2024-12-01T00:00:00Z/2024-12-31T23:59:59Z", limit=1000)
    ids = sorted(f["properties"]["external_id"] for f in expected["features"])
    assert 0 < len(ids) < 80  # the view holds part of the month's incidents
    rows = table.locator("tbody tr")
    assert sorted(rows.locator("td:first-child").all_inner_texts()) == ids
    assert page.locator("#incident-table-summary").inner_text() == \
        f"{len(ids)} incidents in view."
    # Newest first; a click on "Occurred" sorts oldest first.
    time_of = {f["properties"]["external_id"]: f["properties"]["occurred_at"]
               for f in expected["features"]}

    def times_shown():
        return [time_of[i] for i in rows.locator("td:first-child").all_inner_texts()]

    assert times_shown() == sorted(time_of.values(), reverse=True)
    occurred = table.get_by_role("columnheader", name="Occurred")
    assert occurred.get_attribute("aria-sort") == "descending"
    occurred.get_by_role("button").click()
    assert occurred.get_attribute("aria-sort") == "ascending"
    assert times_shown() == sorted(time_of.values())
    by_time = sorted(expected["features"], key=lambda f: f["properties"]["occurred_at"])
    # A row's button zooms the map to its incident and rings it.
    target = by_time[0]
    lon, lat = target["geometry"]["coordinates"]
    table.get_by_role("button", name=target["properties"]["external_id"], exact=True).click()
    # (centred to the pixel: 1 px is about 57 m at zoom 11 and this latitude)
    wait_until(page, f"window.borderRisk.map.getCenter().distanceTo([{lat}, {lon}]) < 60")
    assert page.evaluate("window.borderRisk.map.getZoom()") >= 11
    ring = page.evaluate("""() => {
        const found = [];
        window.borderRisk.app.tools.eachLayer((group) => group.eachLayer?.((l) => {
            if (l.getRadius && l.getRadius() === 12) found.push(l.getLatLng()); }));
        return found; }""")
    assert ring == [pytest.approx({"lat": lat, "lng": lon})]
    wait_until(page, "document.getElementById('incident-table-section').dataset.loading"
                     " === 'false'")
    current = table.locator("tbody tr[aria-current]")
    assert current.locator("td:first-child").inner_text() == target["properties"]["external_id"]
    shoot(page, "incident-table")
    # A filter change reloads it: no incident of December is an attempt.
    page.select_option("#f-outcome", "attempted")
    wait_until(page, "document.querySelectorAll('#incident-table tbody tr').length === 0")
    assert page.locator("#incident-table-summary").inner_text() == "0 incidents in view."
    assert problems == []


# --- Search by place or section code ------------------------------------------------

def view_contains(page, west, south, east, north) -> bool:
    return page.evaluate(f"window.borderRisk.map.getBounds().contains("
                         f"L.latLngBounds([[{south}, {west}], [{north}, {east}]]))")


def wait_for_moves(page) -> None:
    page.wait_for_timeout(100)
    wait_until(page, "!window.borderRisk.map._animatingZoom && "
                     "!window.borderRisk.map._panAnim?._inProgress")


def test_search_finds_regions_sections_and_crossing_points_and_zooms_there(page,
                                                                            hotspot_server):
    problems = watch_console(page)
    open_view(page, hotspot_server, "/?from=2024-12-01&to=2024-12-31", 7, 42.2, 43.5)
    search = page.get_by_role("searchbox", name="Find a place or section")
    # A region by its code: Enter shows the first match.
    search.fill("t-kk")
    results = page.get_by_role("list", name="Places found")
    assert results.get_by_role("button").first.inner_text() == \
        "Region: Test region (synthetic) (T-KK)"
    search.press("Enter")
    wait_until(page, "window.borderRisk.map.getZoom() >= 9")
    wait_for_moves(page)
    assert view_contains(page, 44.8, 41.2, 45.2, 41.6)
    # zoomed to the region, not the country: it fills the view's width or height
    view = page.evaluate("(() => { const b = window.borderRisk.map.getBounds();"
                         " return [b.getEast() - b.getWest(), b.getNorth() - b.getSouth()];"
                         " })()")
    assert max(0.4 / view[0], 0.4 / view[1]) > 0.5, view
    assert page.locator("#search-status").inner_text() == \
        "Showing Region: Test region (synthetic) (T-KK)."

    # A section by its code: it is selected and shown.
    search.fill("T-AZ-002")
    page.get_by_role("button",
                     name="Border section: T-AZ-002 Test section east (synthetic)").click()
    wait_until(page, "window.borderRisk.app.state.section !== null")
    wait_for_moves(page)
    assert view_contains(page, 45.2, 41.28, 45.55, 41.5)
    section = next(f for f in api_json(page, hotspot_server, "border_segments")["features"]
                   if f["properties"]["code"] == "T-AZ-002")
    assert f"section={section['id']}" in page.url

    # A crossing point by a word of its name, chosen by keyboard: its popup opens.
    search.fill("second test crossing")
    search.press("ArrowDown")
    page.keyboard.press("Enter")
    page.locator(".leaflet-popup").wait_for()
    assert "T-BCP-2" in page.locator(".leaflet-popup").inner_text()
    # (the popup may pan the map a little to fit in it)
    assert view_contains(page, 45.45, 41.4, 45.45, 41.4)
    assert page.evaluate("window.borderRisk.map.getZoom()") >= 12

    # Nothing found: said so.
    search.fill("Atlantis")
    wait_for_search(page)
    assert page.locator("#search-status").inner_text() == \
        "No region, crossing point or section matches “Atlantis”."
    assert results.is_hidden()
    assert problems == []


def test_an_older_search_answering_late_is_not_shown(page, hotspot_server):
    """search.js aborts a request when a newer text replaces it: an answer for "T-A"
    held back by the test until "T-AZ-002" has been answered does not replace its
    results, even when it arrives (a made-up place here, so it would show)."""
    problems = watch_console(page)
    held = []

    def hold_t_a(route):
        if "q=T-A&" in route.request.url:
            held.append(route)
        else:
            route.continue_()
    page.route("**/api/v1/search?*", hold_t_a)
    open_view(page, hotspot_server, "/?from=2024-12-01&to=2024-12-31", 7, 42.2, 43.5)
    search = page.get_by_role("searchbox", name="Find a place or section")
    search.fill("T-A")
    wait_until(page, "document.getElementById('place-search').dataset.busy === 'true'")
    for _ in range(50):  # until the request for "T-A" is held
        if held:
            break
        page.wait_for_timeout(100)
    assert len(held) == 1
    search.fill("T-AZ-002")
    wait_for_search(page)
    results = page.locator("#search-results button")
    assert results.all_inner_texts() == [
        "Border section: T-AZ-002 Test section east (synthetic)"]
    stale = {"q": "T-A", "numberMatched": 1, "numberReturned": 1, "places": [
        {"kind": "region", "id": 999, "code": "T-STALE", "name": "Stale answer",
         "name_ka": None, "region": "T-STALE", "match": "prefix",
         "bbox": [40.0, 41.0, 40.1, 41.1], "centroid": [40.05, 41.05]}]}
    with contextlib.suppress(PlaywrightError):  # the browser may have dropped it already
        held[0].fulfill(json=stale)
    page.wait_for_timeout(300)
    assert results.all_inner_texts() == [
        "Border section: T-AZ-002 Test section east (synthetic)"]
    page.unroute("**/api/v1/search?*")
    assert problems == []


def wait_for_search(page) -> None:
    """Until the server has answered the text typed last (search.js waits for a pause)."""
    page.wait_for_timeout(50)
    wait_until(page, "document.getElementById('place-search').dataset.busy === 'false'")


def test_search_asks_the_server_in_georgian_and_zooms_to_places_not_loaded(page,
                                                                           hotspot_server):
    """The server's search (GET /api/v1/search): by a code and by a Georgian name on a
    Georgian page, the results in Georgian; a place the page has not loaded (a crossing
    point taken out of its layer here) is still shown, from the answer's extent."""
    problems = watch_console(page)
    asked = []
    page.on("request", lambda r: asked.append(r.url) if "/api/v1/search?" in r.url else None)
    open_view(page, hotspot_server, "/?from=2024-12-01&to=2024-12-31&lang=ka", 7, 42.2, 43.5)
    search = page.get_by_role("searchbox", name="ადგილის ან მონაკვეთის ძებნა")
    results = page.locator("#search-results")
    # A section by its code, named in Georgian.
    search.fill("t-az-001")
    wait_for_search(page)
    assert results.get_by_role("button").all_inner_texts() == [
        "საზღვრის მონაკვეთი: T-AZ-001 სატესტო მონაკვეთი, დასავლეთი (სინთეზური)"]
    assert asked and "q=t-az-001" in asked[-1]
    # A crossing point by its Georgian name, typed key by key: one answer, the last text's.
    search.fill("")
    search.press_sequentially("მეორე სატესტო გამშვები")
    wait_for_search(page)
    assert results.get_by_role("button").all_inner_texts() == [
        "გამშვები პუნქტი: მეორე სატესტო გამშვები პუნქტი (სინთეზური) (T-BCP-2)"]
    assert page.locator("#search-status").inner_text() == \
        "ნაპოვნია 1 ადგილი: Enter აჩვენებს პირველს."
    # the last request asked for the whole text
    assert asked[-1].endswith("?" + urlencode({"q": "მეორე სატესტო გამშვები", "limit": 8}))
    # A crossing point the page does not hold: the map still goes there.
    crossing = next(f for f in api_json(page, hotspot_server, "crossing_points")["features"]
                    if f["properties"]["code"] == "T-BCP-1")
    lon, lat = crossing["geometry"]["coordinates"]
    page.evaluate("""(() => { const layers = window.borderRisk.layers.crossings;
        for (const l of layers.getLayers()) {
          if (l.feature.properties.code === 'T-BCP-1') layers.removeLayer(l);
        } })()""")
    search.fill("T-BCP-1")
    search.press("Enter")
    wait_for_search(page)
    wait_for_moves(page)
    centre = page.evaluate("(() => { const c = window.borderRisk.map.getCenter();"
                           " return [c.lat, c.lng]; })()")
    assert centre == pytest.approx([lat, lon], abs=1e-3)  # Leaflet rounds to pixels
    assert page.evaluate("window.borderRisk.map.getZoom()") >= 12
    assert page.locator("#search-status").inner_text() == \
        "ნაჩვენებია: გამშვები პუნქტი: სატესტო გამშვები პუნქტი (სინთეზური) (T-BCP-1)."
    assert problems == []


def test_the_map_tools_speak_georgian(page, hotspot_server):
    open_view(page, hotspot_server, DECEMBER + "&lang=ka", 10, 41.38, 45.05)
    assert page.get_by_role("button", name="მანძილის გაზომვა").is_visible()
    assert page.get_by_role("searchbox", name="ადგილის ან მონაკვეთის ძებნა").is_visible()
    assert page.locator("#pointer-coordinates").inner_text().startswith("რუკის ცენტრი:")
    page.get_by_role("button", name="რუკის შენახვა PNG-ად").click()
    wait_until(page, "document.getElementById('print-dialog').dataset.ready === 'true'")
    assert page.input_value("#print-title").startswith("საზღვრის რისკის რუკა:")
    shoot(page, "print-layout-georgian")
