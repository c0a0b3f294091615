"""The first map, in a real browser: login, layers from the API, escaped popups."""

import pytest

from tests.conftest import TEST_PASSWORD

pytestmark = pytest.mark.e2e


def sign_in(page, base_url):
    page.goto(f"{base_url}/")
    assert "/login" in page.url
    page.get_by_label("User name").fill("e2e-analyst")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/")


def test_map_shows_layers_and_the_demo_data_notice(page, live_server):
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    sign_in(page, live_server)

    page.wait_for_selector("#map[data-loaded='true']")
    status = page.locator("#map-status").inner_text()
    assert status == ("2 regions, 2 border sections, 2 crossing points, "
                      "2 incidents in the last 90 days")
    notice = page.locator("#data-notice")
    assert notice.is_visible()
    assert "synthetic" in notice.inner_text()
    assert page.locator(".leaflet-control-layers-overlays label").count() == 4
    # Leaflet's own assets came from our server (tiles/markers would fail otherwise).
    assert page.evaluate("typeof L.version") == "string"
    assert problems == []


def test_popup_shows_user_text_as_text(page, live_server):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, live_server)
    page.wait_for_selector("#map[data-loaded='true']")
    # Click the incident whose description carries a <script> tag.
    point = page.evaluate(
        """() => {
            const map = window.borderRisk.map;
            map.setView([41.45, 45.42], 13, {animate: false});
            const p = map.latLngToContainerPoint([41.45, 45.42]);
            const box = document.getElementById('map').getBoundingClientRect();
            return {x: box.left + p.x, y: box.top + p.y};
        }"""
    )
    page.wait_for_timeout(500)  # let the canvas renderer redraw at the new view
    page.mouse.click(point["x"], point["y"])
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert "<script>alert(1)</script>" in popup.inner_text()
    assert popup.locator("script").count() == 0
    assert dialogs == []
