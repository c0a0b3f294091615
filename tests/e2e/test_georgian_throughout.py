"""Georgian throughout (issue 19), in a real browser: signed in with Georgian as the
language, a person walks every page and opens every popup and panel; whatever Latin-script
word they can read (text, tooltips, alternative texts, options) must be a code, a unit
symbol or a proper name of the allow-list below, never English left untranslated.

Not walked: the API's documentation page (Swagger UI, a third party's interface that
documents an English API) and the OGC API Features' HTML pages (a protocol's own pages,
for GIS users). What users typed is data, not the interface: the test's own records'
descriptions, user names and sources are removed before the words are read.

This module's server holds the sample layers (with their Georgian names) and the
SYNTHETIC hot-spot incidents of ``test_hotspot_day``: December 2024 in the region T-KK.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from app.auth.users import create_user
from app.extensions import db
from geo.queries import derive_links
from tests.e2e.test_hotspot_day import INCIDENTS, INSERT, click_cell, open_incident_popup
from tests.e2e.test_map_page import wait_until
from testsupport.apps import TEST_PASSWORD, committed_sample_layers, serving

pytestmark = [pytest.mark.e2e]

DECEMBER = ("/?region=T-KK&from=2024-12-01&to=2024-12-31"
            "&layers=regions,segments,crossings,incidents,hotspots,alerts")

# Codes: capitals and digits, with hyphens (T-KK, GE-AZ-001, EPSG, CSV, SHA-256, B).
CODE = re.compile(r"^[A-Z0-9]+(?:[-_][A-Z0-9]+)*[A-Z0-9]*$")
# Unit symbols, the methods' and standards' proper names, and file formats.
ALLOWED = {
    "m", "km", "km²", "p", "z", "x", "Gi", "GeoJSON", "BorderRisk", "Getis-Ord", "Moran",
    "Mann-Kendall", "Natural", "Earth", "Leaflet", "GeoPackage", "Shapefile",
    "Enter", "Esc",  # the names printed on keys
    "JavaScript",  # Leaflet's tooltip: "a JavaScript library for interactive maps"
}
# A Latin-script word: letters (with digits, ², and inner hyphens or apostrophes).
WORD = re.compile(r"[A-Za-z0-9²]*[A-Za-z][A-Za-z0-9²]*(?:[-'’][A-Za-z0-9²]+)*")
# What the test's users typed: data, not the interface.
TYPED = (re.compile(r"SYNTHETIC [^\n]*?test record[^\n]*"), re.compile(r"\be2e-[a-z]+"),
         re.compile(r"\bH-(?:spread|cluster|few_places)-\d+"), re.compile(r"e2e-hotspots"),
         re.compile(r"<script>alert\(1\)</script>"))

# Everything a person can read on the page: visible text, the options of its lists,
# tooltips, accessible names, alternative texts and placeholders, and its title. What
# is marked as not to be translated (translate="no": codes, data), <code>, and what is
# marked as in another language (the language switch's English) are left out.
READABLE = """() => {
    const page = document.documentElement.lang;
    const skipped = (el) => el.closest('code, pre, script, style, [translate="no"]') ||
        el.closest('[lang]').lang !== page;
    const out = [document.title];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
        const el = walker.currentNode.parentElement;
        if (!el || skipped(el)) continue;
        if (el.tagName === 'OPTION' || el.checkVisibility()) out.push(walker.currentNode.data);
    }
    for (const el of document.querySelectorAll(
            '[title], [aria-label], [alt], [placeholder], input[type=submit][value]')) {
        if (skipped(el)) continue;
        for (const name of ['title', 'aria-label', 'alt', 'placeholder', 'value']) {
            if (name === 'value' && el.type !== 'submit') continue;
            if (el.getAttribute(name)) out.push(el.getAttribute(name));
        }
    }
    return out.join('\\n');
}"""


def english_words(page) -> list[str]:
    """The Latin-script words of the page that are not codes, units or allowed names."""
    readable = page.evaluate(READABLE)
    for typed in TYPED:
        readable = typed.sub(" ", readable)
    return sorted({w for w in WORD.findall(readable)
                   if not CODE.match(w) and w not in ALLOWED})


@pytest.fixture(scope="module")
def georgian_server(databases):
    app, _ = committed_sample_layers(databases)
    with app.app_context():
        for prefix, (day, n, lon, lat) in INCIDENTS.items():
            db.session.execute(text(INSERT.replace("{lon}", lon).replace("{lat}", lat)),
                               {"prefix": f"H-{prefix}-", "day": day, "n": n})
        derive_links(db.session, "regions", app.config["ANALYSIS_SRID"], [])
        for role in ("viewer", "supervisor", "admin"):
            create_user(db.session, f"e2e-{role}", role, TEST_PASSWORD)
        db.session.commit()
        db.session.remove()
    with serving(app) as url:
        yield url


def sign_in_georgian(page, base_url, role, path=DECEMBER):
    page.goto(f"{base_url}/login?lang=ka")
    page.fill("#username", f"e2e-{role}")
    page.fill("#password", TEST_PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(f"{base_url}/")
    page.goto(f"{base_url}{path}")
    page.wait_for_selector("#workspace[data-loaded='true']")


class Walk:
    """What a walk found: the words by where they were first read."""

    def __init__(self, page):
        self.page = page
        self.found: dict[str, list[str]] = {}

    def read(self, where: str) -> None:
        seen = {w for words in self.found.values() for w in words}
        words = [w for w in english_words(self.page) if w not in seen]
        if words:
            self.found[where] = words

    def report(self) -> str:
        return "\n".join(f"{where}: {' '.join(words)}" for where, words in self.found.items())


def open_legend(page):
    toggle = page.locator(".legend-toggle")
    if toggle.get_attribute("aria-expanded") != "true":
        toggle.click()


def test_the_walk_reads_what_a_person_reads(page, georgian_server):
    """The control: on the English page the same reading finds English, in the text, the
    tooltips (Leaflet's zoom buttons) and the legend."""
    sign_in_georgian(page, georgian_server, "viewer")
    page.goto(f"{georgian_server}{DECEMBER}&lang=en")
    page.wait_for_selector("#workspace[data-loaded='true']")
    open_legend(page)
    words = english_words(page)
    assert {"Zoom", "Layers", "Ranked", "Legend", "Illegal"} <= set(words), words


def test_the_map_its_panels_and_popups_read_in_georgian(page, georgian_server):
    walk = Walk(page)
    page.set_viewport_size({"width": 1440, "height": 900})
    sign_in_georgian(page, georgian_server, "supervisor")
    assert page.get_attribute("html", "lang") == "ka"
    # Leaflet's controls and the incidents' legend (drawn from the WMS's colours, in words).
    assert page.get_attribute(".leaflet-control-zoom-in", "title") == "გადიდება"
    assert page.get_attribute(".leaflet-control-layers-toggle", "title") == "ფენები"
    open_legend(page)
    assert page.locator(".legend-body img").count() == 0
    assert "უკანონო გადაკვეთა გამშვებ პუნქტებს შორის" in page.locator(
        ".legend-body").inner_text()
    page.hover(".leaflet-control-layers")
    walk.read("map workspace, legend and layer switcher")
    # The ranking: the formula, a section's factors and its history.
    page.locator("#ranking details.explain summary").first.click()
    page.locator("#ranking table.factors").first.wait_for()
    page.locator("#ranking .section-row").first.click()
    page.locator("#section-details").wait_for()
    wait_until(page, "!document.getElementById('section-details').hidden")
    page.locator("#details-body .monthly-trend[data-state='ready']").wait_for()
    walk.read("risk panel: factors, section details and its monthly trend")
    # The place search's results (names in Georgian).
    page.fill("#search-input", "T-")
    page.locator("#search-results button").first.wait_for()
    walk.read("place search results")
    page.locator("#ranking .history-button").first.click()
    page.locator("#ranking .history-list li").first.wait_for()
    walk.read("risk panel: history")
    # A hot cell's popup.
    click_cell(page, "hotspots", "hot")
    walk.read("hot-spot popup")
    # The emerging hot-spots' popup.
    page.goto(f"{georgian_server}/?region=T-KK&from=2024-12-01&to=2024-12-31"
              "&layers=segments,emerging")
    page.wait_for_selector("#workspace[data-loaded='true']")
    open_legend(page)
    click_cell(page, "emerging", "busiest")
    walk.read("emerging hot-spot popup")
    # An incident's popup, and a section's and a crossing point's.
    page.goto(f"{georgian_server}/?region=T-KK&from=2025-01-01&to=2025-01-31"
              "&layers=segments,crossings,incidents")
    page.wait_for_selector("#workspace[data-loaded='true']")
    open_incident_popup(page)
    walk.read("incident popup")
    page.evaluate("window.borderRisk.map.closePopup()")
    page.evaluate("window.borderRisk.map.setZoom(9, { animate: false })")
    for kind in ("segments", "crossings"):
        opened = page.evaluate("""(kind) => {
            const layers = window.borderRisk.layers[kind]?.getLayers() || [];
            if (!layers.length) return false;
            layers[0].fire('click', { latlng: layers[0].getLatLng?.() ||
                                      layers[0].getBounds().getCenter() });
            return true;
        }""", kind)
        if opened:
            page.locator(".leaflet-popup-content").last.wait_for()
            walk.read(f"{kind} popup")
            page.evaluate("window.borderRisk.map.closePopup()")
    # The inbox and the dialogs to add an incident and to import a file.
    page.locator("#inbox-toggle").click()
    walk.read("inbox")
    page.locator("#inbox-toggle").click()
    page.locator("#add-incident").click()
    # A point away from the sections and crossing points (a click on one opens its popup).
    page.evaluate("window.borderRisk.map.setView([41.4, 45.2], 9, {animate: false})")
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 3, box["y"] + box["height"] / 3)
    page.locator("#incident-dialog[open]").wait_for()
    walk.read("new incident dialog")
    page.keyboard.press("Escape")
    page.locator("#open-import").click()
    page.locator("#import-dialog[open]").wait_for()
    walk.read("import dialog")
    assert not walk.found, "English on Georgian pages:\n" + walk.report()


def test_the_bulletin_admin_and_error_pages_read_in_georgian(page, georgian_server):
    walk = Walk(page)
    sign_in_georgian(page, georgian_server, "admin")
    page.goto(f"{georgian_server}/api/v1/reports/bulletin?region=T-KK"
              "&datetime=2024-12-01T00:00:00Z/2024-12-31T23:59:59Z")
    walk.read("bulletin")
    for path in ("/admin", "/admin/agencies", "/admin/sessions", "/admin/audit"):
        page.goto(f"{georgian_server}{path}")
        walk.read(path)
    page.goto(f"{georgian_server}/admin")
    page.locator("#users a[href*='/admin/users/']").first.click()
    walk.read("/admin/users/<id>")
    page.goto(f"{georgian_server}/no-such-page")
    walk.read("404")
    page.goto(f"{georgian_server}/login")  # signed in: back to the map
    page.locator("form.logout button").click()
    page.locator("#username").wait_for()
    walk.read("sign-in page")
    sign_in_georgian(page, georgian_server, "viewer")
    page.goto(f"{georgian_server}/admin/audit")
    walk.read("403")
    assert not walk.found, "English on Georgian pages:\n" + walk.report()
