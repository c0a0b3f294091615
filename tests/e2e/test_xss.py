"""Stored XSS in the map page: a border section and a region whose names hold markup are
shown as text in the ranked list, the section's details and the map's popups; no script
runs (no dialog opens) and no element is made from the names.

The incident popup with a ``<script>`` description is covered by
``test_map_page.py::test_popup_shows_user_text_as_text``.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.test_map_page import sign_in, watch_console

pytestmark = [pytest.mark.e2e, pytest.mark.clock]

HOSTILE = "West <img src=x onerror=alert('img')><script>alert('script')</script>"


def csrf_token(page) -> str:
    return page.get_attribute("[data-csrf-token]", "data-csrf-token")


def test_section_names_with_markup_are_text_everywhere(page, live_server):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    problems = watch_console(page)
    sign_in(page, live_server, role="supervisor")
    segments = page.request.get(f"{live_server}/api/v1/segments").json()["features"]
    target = next(f for f in segments if f["properties"]["code"] == "T-AZ-001")
    renamed = page.request.patch(
        f"{live_server}/api/v1/segments/{target['id']}",
        data={"properties": {"name": HOSTILE}},
        headers={"X-CSRFToken": csrf_token(page)})
    assert renamed.status == 200, renamed.text()
    try:
        page.reload()
        page.wait_for_selector("#workspace[data-loaded='true']")
        row = page.locator(f"#ranking .section-row[data-section-id='{target['id']}']")
        assert HOSTILE in row.inner_text()
        row.click()
        details = page.locator("#section-details")
        details.wait_for()
        for area in ("#ranking", "#section-details"):
            assert page.locator(f"{area} script, {area} img").count() == 0, area
        # The section's popup on the map (opened on the line itself: a click in the
        # middle of the line can land on a crossing point).
        page.evaluate(f"""() => {{
            const layer = window.borderRisk.app.segmentLayers.get({target['id']});
            layer.openPopup(layer.getLatLngs()[0]);
        }}""")
        popup = page.locator(".leaflet-popup-content")
        popup.wait_for()
        assert HOSTILE in popup.inner_text()
        assert popup.locator("script, img").count() == 0
        page.wait_for_timeout(300)  # an onerror handler would have fired by now
        assert dialogs == []
        assert not [p for p in problems if re.search(r"(?i)content security policy", p)]
    finally:
        page.request.patch(f"{live_server}/api/v1/segments/{target['id']}",
                           data={"properties": {"name": "Test section west (synthetic)"}},
                           headers={"X-CSRFToken": csrf_token(page)})
