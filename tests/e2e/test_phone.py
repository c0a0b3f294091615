"""The workspace on a phone (390x844, issue 19): an analyst signs in, changes the period,
picks a hot-spot method, opens a section's risk, opens and closes the legend, reads the
inbox and opens the bulletin, and every step fits the screen (the boxes the browser
laid out, never a page wider than the phone)."""

from __future__ import annotations

import pytest

from tests.conftest import TEST_PASSWORD
from tests.e2e.test_map_page import shoot, sign_in, updates, wait_for_update, watch_console

pytestmark = [pytest.mark.e2e]

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def page_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def on_screen(box: dict) -> bool:
    """Whether a bounding box lies within the phone's width (x from 0 to 390 px)."""
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 0.5


def inside(inner: dict, outer: dict) -> bool:
    return (inner["x"] >= outer["x"] - 0.5 and inner["y"] >= outer["y"] - 0.5
            and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + 0.5
            and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + 0.5)


def topmost_is(page, selector: str) -> bool:
    """Whether the element at the centre of ``selector``'s box is that element (or inside
    it): nothing covers it."""
    return page.evaluate("""(selector) => {
        const element = document.querySelector(selector);
        const box = element.getBoundingClientRect();
        const hit = document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2);
        return element === hit || element.contains(hit);
    }""", selector)


def test_an_analysts_tasks_on_a_phone(phone, live_server):
    page = phone
    problems = watch_console(page)
    page.goto(f"{live_server}/login")
    assert page_width(page) <= PHONE["width"]
    for field in ("User name", "Password"):
        assert on_screen(page.get_by_label(field).bounding_box())
    sign_in(page, live_server)
    assert page_width(page) <= PHONE["width"]

    # The top bar: the language switch, the inbox and Sign out all on the screen.
    for control in (page.get_by_role("button", name="Sign out"),
                    page.get_by_role("button", name="Inbox"),
                    page.get_by_role("link", name="ქართული")):
        assert control.is_visible() and on_screen(control.bounding_box())
    # The map comes first: at least half the screen's height, all its width, on screen.
    map_box = page.locator("#map").bounding_box()
    assert map_box["height"] >= PHONE["height"] / 2 and map_box["width"] == PHONE["width"]
    assert map_box["y"] + map_box["height"] <= PHONE["height"]
    shoot(page, "phone-map")

    # Change the period: the filters open from their button, fit the screen, and apply.
    toggle = page.get_by_role("button", name="Filters")
    assert toggle.get_attribute("aria-expanded") == "false"
    assert not page.locator("#f-from").is_visible()
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    filters = page.locator("#filters").bounding_box()
    assert on_screen(filters) and page_width(page) <= PHONE["width"]
    for field in ("#f-region", "#f-from", "#f-to", "#f-month", "#f-method", "#f-cell"):
        assert on_screen(page.locator(field).bounding_box()), field
    before = updates(page)
    page.fill("#f-from", "2025-03-01")
    page.fill("#f-to", "2025-03-31")
    page.locator("#f-to").dispatch_event("change")
    wait_for_update(page, before)
    assert page.locator("#map-status").inner_text().startswith("1 incidents,")
    shoot(page, "phone-filters")

    # Pick a hot-spot method: the list is on the screen and the page follows it.
    before = updates(page)
    page.select_option("#f-method", label="Kernel density (KDE)")
    wait_for_update(page, before)
    assert "method=kde" in page.url
    assert page_width(page) <= PHONE["width"]
    toggle.click()  # fold the filters away again: the map is back under the top bar
    assert not page.locator("#f-from").is_visible()

    # Open a section's risk: the ranking is the panel's full width, not a small box that
    # scrolls inside the page (the page itself scrolls to it).
    ranking = page.locator("#ranking")
    row = ranking.locator(".section-row").first
    row.scroll_into_view_if_needed()
    panel = page.locator("#panel")
    assert panel.evaluate("(p) => p.scrollHeight <= p.clientHeight + 1")
    ranking_box = ranking.bounding_box()
    assert on_screen(ranking_box) and ranking_box["width"] >= PHONE["width"] * 0.9
    code = row.locator(".code").inner_text()
    page.get_by_label(f"Factors and trend of {code}").click()
    factors = page.locator("#ranking details.explain[open]").first
    factors.locator("table.factors").first.wait_for()
    factors_box = factors.bounding_box()
    assert on_screen(factors_box) and factors_box["height"] > 0
    assert page_width(page) <= PHONE["width"]
    shoot(page, "phone-risk")

    # Open the legend and close it: it stays on the map, its toggle uncovered.
    page.locator("#map").scroll_into_view_if_needed()
    legend_toggle = page.get_by_role("button", name="Legend")
    if legend_toggle.get_attribute("aria-expanded") == "true":
        legend_toggle.click()
    legend_toggle.click()
    assert legend_toggle.get_attribute("aria-expanded") == "true"
    assert page.locator(".legend-body").is_visible()
    map_box = page.locator("#map").bounding_box()
    legend = page.locator(".legend").bounding_box()
    assert inside(legend, map_box), (legend, map_box)
    assert inside(legend_toggle.bounding_box(), map_box)
    assert topmost_is(page, ".legend-toggle")
    shoot(page, "phone-legend")
    legend_toggle.click()
    assert legend_toggle.get_attribute("aria-expanded") == "false"
    assert not page.locator(".legend-body").is_visible()

    # The inbox opens within the screen.
    page.evaluate("window.scrollTo(0, 0)")
    page.get_by_role("button", name="Inbox").click()
    inbox = page.locator("#inbox-panel")
    inbox.wait_for()
    assert on_screen(inbox.bounding_box()) and page_width(page) <= PHONE["width"]
    page.get_by_role("button", name="Inbox").click()

    # The bulletin of a region opens in a new tab that fits the phone.
    page.get_by_role("button", name="Filters").click()
    before = updates(page)
    page.select_option("#f-region", "T-KK")
    wait_for_update(page, before)
    with page.context.expect_page() as opened:
        page.get_by_role("link", name="Open bulletin").click()
    bulletin = opened.value
    bulletin.wait_for_load_state()
    assert bulletin.get_by_role("heading", level=1).is_visible()
    assert page_width(bulletin) <= PHONE["width"]
    assert on_screen(bulletin.get_by_role("heading", level=1).bounding_box())
    assert problems == []


@pytest.mark.parametrize("path", ["/admin", "/admin/agencies", "/admin/sessions",
                                  "/admin/audit", "/no-such-page"])
def test_the_admins_pages_fit_a_phone(phone, live_server, path):
    page = phone
    page.goto(f"{live_server}/admin")
    page.get_by_label("User name").fill("e2e-admin")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("table#users")
    page.goto(f"{live_server}{path}")
    assert page_width(page) <= PHONE["width"]
    assert on_screen(page.get_by_role("button", name="Sign out").bounding_box())
    # A wide table scrolls in its own box, which the keyboard can reach.
    for scroller in page.locator(".table-scroll").all():
        assert on_screen(scroller.bounding_box())
        assert scroller.get_attribute("tabindex") == "0"
