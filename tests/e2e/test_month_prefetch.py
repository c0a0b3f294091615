"""The month the month slider shows next, asked for ahead (``static/js/prefetch.js``,
issue 19: a month never computed took seconds to show).

On ``test_hotspot_day``'s data (region T-KK: December 2024, the first month of data, with
a Gi* hot spot; January 2025 with 35 incidents at 5 places) and the setting on
(``PREFETCH_NEXT_MONTH``: off under TESTING): settled on January, the page asks for
December's analyses by the URLs a step back requests, the step back then asks for
nothing, and nothing is asked for the month before the first month of data.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e.test_hotspot_day import DECEMBER as DECEMBER_PATH
from tests.e2e.test_hotspot_day import JANUARY, drawn_cells, hotspot_app
from tests.e2e.test_map_page import sign_in, updates, wait_for_update
from testsupport.apps import serving

pytestmark = [pytest.mark.e2e]

ANALYSES = ("/api/v1/risk/segments", "/api/v1/incidents", "/api/v1/hotspots")
# December 2024 as the page asks for it: its period (state.js datetimeInterval) and the
# 12 months to its end of the emerging analyses (cells.js emergingWindow).
DECEMBER = ("2024-12-01T00:00:00Z/2024-12-31T23:59:59Z",
            "2024-01-01T00:00:00Z/2024-12-31T23:59:59.999999Z")


@pytest.fixture(scope="module")
def prefetch_server(databases):
    app = hotspot_app(databases)
    app.config["PREFETCH_NEXT_MONTH"] = True
    with serving(app) as url:
        yield url


def record_analyses(page) -> list[str]:
    """The URLs of the analysis requests the page makes from now on, in order."""
    asked = []
    page.on("request", lambda r: asked.append(r.url)
            if urlsplit(r.url).path.startswith(ANALYSES) else None)
    return asked


def analysis(url: str) -> tuple[str, str]:
    """What an analysis request asks for and its period (its datetime)."""
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    if parts.path.endswith("/risk/segments"):
        kind = "ranking"
    elif parts.path.endswith("/incidents"):
        kind = "count" if query.get("limit") == "1" else "points"
    elif "unit" in query:
        kind = f"emerging by {query['unit']}"
    else:
        kind = f"cells {query.get('method', 'emerging')}"
    return kind, query.get("datetime", "")


def requests_of(urls: list[str], month: tuple[str, str] = DECEMBER) -> list[str]:
    """What the requests of ``month`` (its period and emerging window) among ``urls``
    ask for."""
    return sorted(kind for kind, period in map(analysis, urls) if period in month)


def wait_for_requests(page, asked: list[str], wanted: list[str],
                      month: tuple[str, str] = DECEMBER) -> None:
    """Until ``month``'s requests among ``asked`` are ``wanted``."""
    for _ in range(150):
        if requests_of(asked, month) == wanted:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"{month[0]}: {requests_of(asked, month)}, not {wanted}: {asked}")


def step_back(page) -> None:
    before = updates(page)
    page.focus("#f-month")
    page.keyboard.press("ArrowLeft")
    wait_for_update(page, before)


def test_settled_on_a_month_the_page_asks_for_the_month_before_and_the_step_takes_it(
        page, prefetch_server):
    asked = record_analyses(page)
    sign_in(page, prefetch_server, role="viewer", path=JANUARY)
    shown = urlsplit(page.url).query  # the filters (the hash, the view, may still move)
    # December's, asked for by the page itself (nobody has moved the slider): the
    # ranking, the count, the sections' emerging categories and the Gi* cells (80
    # incidents counted: enough for them), each once.
    wait_for_requests(page, asked, ["cells gistar", "count", "emerging by section", "ranking"])
    # ... without showing December: the page is January's still.
    assert (page.input_value("#f-from"), page.input_value("#f-to")) == ("2025-01-01",
                                                                         "2025-01-31")
    assert urlsplit(page.url).query == shown
    assert page.locator("#map-status").inner_text().startswith("35 incidents,")
    # An overlay turned off meanwhile (the border sections: no analysis of theirs
    # depends on it) keeps what was asked ahead.
    page.evaluate("window.borderRisk.map.removeLayer(window.borderRisk.layers.segments)")
    assert "segments" not in page.evaluate("window.borderRisk.app.state.layers")

    at_step = len(asked)
    step_back(page)
    # December shown, from the answers asked for ahead: ...
    assert page.input_value("#f-from") == "2024-12-01"
    assert page.locator("#map-status").inner_text().startswith("80 incidents,")
    assert drawn_cells(page) > 0
    # ... the step asked for nothing, and nothing is asked for November (no data before
    # December: the first month of the slider), however long the page stays.
    page.wait_for_timeout(2000)
    assert asked[at_step:] == []


def test_another_change_drops_what_was_asked_ahead_and_asks_for_the_new_filters(
        page, prefetch_server):
    asked = record_analyses(page)
    sign_in(page, prefetch_server, role="viewer", path=JANUARY)
    wait_for_requests(page, asked, ["cells gistar", "count", "emerging by section", "ranking"])
    before = updates(page)
    page.select_option("#f-method", "kde")
    wait_for_update(page, before)
    # December's density cells now (the ranking, count and categories again: the
    # previous month's answers were dropped with the change), Gi*'s no longer kept.
    wait_for_requests(page, asked, ["cells gistar", "cells kde", "count", "count",
                                    "emerging by section", "emerging by section",
                                    "ranking", "ranking"])
    kept = page.evaluate("[...window.borderRisk.app.prefetched.keys()]")
    assert sorted(analysis(url)[0] for url in kept) == [
        "cells kde", "count", "emerging by section", "ranking"], kept
    at_step = len(asked)
    step_back(page)
    assert page.input_value("#f-method") == "kde"
    assert page.evaluate("window.borderRisk.layers.density.getLayers().length") > 0
    assert asked[at_step:] == []


def test_after_a_step_forward_the_month_after_is_asked_for(page, prefetch_server):
    asked = record_analyses(page)
    sign_in(page, prefetch_server, role="viewer", path=DECEMBER_PATH)
    before = updates(page)
    page.focus("#f-month")
    page.keyboard.press("ArrowRight")  # to January
    wait_for_update(page, before)
    # February 2025 (no Gi* cells: 0 incidents counted), not December again.
    february = ("2025-02-01T00:00:00Z/2025-02-28T23:59:59Z",
                "2024-03-01T00:00:00Z/2025-02-28T23:59:59.999999Z")
    wait_for_requests(page, asked, ["count", "emerging by section", "ranking"], february)
    assert requests_of(asked) == ["cells gistar", "count", "emerging by section", "ranking"]


def test_after_a_write_the_month_ahead_is_asked_for_again(page, prefetch_server):
    """A refresh after a write (what the incident, import and level forms do:
    ``refresh(true)``) drops the month asked ahead, whose answers may predate the write,
    and asks for it again once the page has settled; the step takes the new answers."""
    asked = record_analyses(page)
    sign_in(page, prefetch_server, role="viewer", path=JANUARY)
    once = ["cells gistar", "count", "emerging by section", "ranking"]
    wait_for_requests(page, asked, once)
    before = updates(page)
    page.evaluate("window.borderRisk.refresh(true)")
    wait_for_update(page, before)
    wait_for_requests(page, asked, sorted(once * 2))
    at_step = len(asked)
    step_back(page)
    assert page.locator("#map-status").inner_text().startswith("80 incidents,")
    page.wait_for_timeout(1000)
    assert asked[at_step:] == []
