"""Every page checked by axe-core (installed from npm, node_modules/axe-core) in both
languages, at a desktop's 1440x900 and a phone's 390x844: no violation of any impact
(issue 19). The map page reached by keyboard alone: a skip link first, then every
control with a name and a visible focus ring.

axe runs inside the page: its script is added by Playwright from node_modules (tests
only, nothing is served to users), in a context that lets that one script past our
Content-Security-Policy.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_map_page import sign_in, wait_until

pytestmark = [pytest.mark.e2e]

AXE_SCRIPT = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
VIEWPORTS = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
SKIP_LINK = {"en": "Skip to main content", "ka": "მთავარ შინაარსზე გადასვლა"}


def axe_violations(page) -> list[str]:
    """axe-core's violations on the page as it is now, one line each: the rule, its
    impact, and the elements that break it; and a page wider than its window (a phone's
    page that scrolls sideways), as one more line."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE_SCRIPT))
    found = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    lines = [f"{v['id']} ({v['impact']}): "
             + "; ".join(" ".join(node["target"]) for node in v["nodes"])
             for v in found["violations"]]
    width, window = page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth]")
    if width > window:
        lines.append(f"page {width} px wide in a {window} px window")
    return lines


@pytest.fixture(params=list(VIEWPORTS))
def viewport(request):
    return request.param


@pytest.fixture
def axe_page(browser, viewport):
    """A page of the given viewport that lets the axe script past the CSP."""
    context = browser.new_context(viewport=VIEWPORTS[viewport], bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def with_language(path: str, lang: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}lang={lang}"


def workspace_states(page):
    """The map page's states that show more controls: the inbox, the legend, the
    import's and the new incident's dialogs, a section's details."""
    yield "map"
    page.click("#inbox-toggle")
    page.wait_for_selector("#inbox-panel:not([hidden])")
    yield "map, inbox open"
    page.click("#inbox-toggle")
    legend = page.locator(".legend-toggle")
    if legend.get_attribute("aria-expanded") != "true":
        legend.click()
    yield "map, legend open"
    legend.click()  # closed again: on a phone it covers much of the map
    page.click("#open-import")
    page.wait_for_selector("#import-dialog[open]")
    yield "map, import a file"
    page.keyboard.press("Escape")
    page.click("#add-incident")
    page.evaluate("window.borderRisk.map.setView([41.4, 45.2], 9, {animate: false})")
    page.locator("#map").scroll_into_view_if_needed()
    box = page.locator("#map").bounding_box()  # a point away from the lines
    page.mouse.click(box["x"] + box["width"] / 3, box["y"] + box["height"] / 3)
    page.wait_for_selector("#incident-dialog[open]")
    yield "map, new incident"
    page.keyboard.press("Escape")
    page.locator("#ranking .section-row").first.click()
    page.wait_for_selector("#section-details:not([hidden])")
    # with its monthly trend drawn (chart and category table)
    page.wait_for_selector("#details-body .monthly-trend[data-state='ready']")
    yield "map, section details"
    page.fill("#search-input", "T-")
    page.wait_for_selector("#search-results:not([hidden]) button")
    yield "map, search results"


@pytest.mark.parametrize("lang", ["en", "ka"])
def test_no_axe_violation_on_any_page(axe_page, live_server, lang, viewport):
    page = axe_page
    found: dict[str, list[str]] = {}

    page.goto(with_language(f"{live_server}/login", lang))
    found["sign-in"] = axe_violations(page)
    page.goto(f"{live_server}/login?lang=en")
    sign_in(page, live_server, role="admin")

    page.goto(with_language(f"{live_server}/", lang))
    page.wait_for_selector("#workspace[data-loaded='true']")
    for state in workspace_states(page):
        found[state] = axe_violations(page)

    pages = {"bulletin": "/api/v1/reports/bulletin?region=T-KK",
             "admin: users": "/admin", "admin: agencies": "/admin/agencies",
             "admin: sessions": "/admin/sessions", "admin: audit trail": "/admin/audit",
             "not found": "/no-such-page", "API docs": "/api/v1/docs"}
    for name, path in pages.items():
        page.goto(with_language(f"{live_server}{path}", lang))
        if name == "API docs":
            page.wait_for_selector(".opblock")  # Swagger UI has drawn the operations
        found[name] = axe_violations(page)
        if name == "admin: users":
            page.locator("table#users a").first.click()
            page.wait_for_selector("h1")
            found["admin: a user"] = axe_violations(page)

    print(f"\naxe violations ({lang}, {viewport}):")
    for name, violations in found.items():
        print(f"  {name}: {len(violations)} {violations}")
    assert {name: v for name, v in found.items() if v} == {}


# What a keyboard user reaches on the map page, element by element (axe's own accessible
# name computation; a focus indicator is an outline or a box shadow that focus adds).
FOCUSED = """() => {
    const element = document.activeElement;
    if (!element || element === document.body) return null;
    const style = getComputedStyle(element);
    const box = element.getBoundingClientRect();
    axe.setup();
    const name = axe.commons.text.accessibleText(element).trim();
    axe.teardown();
    if (!element.dataset.keyboardStop) {
        window.keyboardStops = (window.keyboardStops || 0) + 1;
        element.dataset.keyboardStop = String(window.keyboardStops);
    }
    return {key: element.dataset.keyboardKey, stop: element.dataset.keyboardStop,
            tag: element.tagName.toLowerCase(), id: element.id, name,
            outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0,
            shadow: style.boxShadow !== 'none',
            visible: box.width > 0 && box.height > 0};
}"""

# Every control a keyboard user should reach: visible, enabled, in the tab order (the
# ranking's rows are one stop and a radio group is one, arrow keys move within them;
# Leaflet's drawn features are reached through the ranking and the popups).
TABBABLE = """() => {
    const selector = 'a[href], button, input, select, textarea, summary, [tabindex]';
    let key = 0;
    return [...document.querySelectorAll(selector)].filter((element) => {
        if (element.tabIndex < 0 || element.disabled) return false;
        if (element.closest('[inert], dialog:not([open])')) return false;
        // A radio group is one stop, at its checked button (arrow keys move within it).
        if (element.type === 'radio' && !element.checked && document.querySelector(
            `input[type=radio][name="${element.name}"]:checked`)) return false;
        return element.checkVisibility({visibilityProperty: true});
    }).map((element) => {
        element.dataset.keyboardKey = String(++key);
        return {key: element.dataset.keyboardKey, tag: element.tagName.toLowerCase(),
                id: element.id || element.name || element.className,
                text: element.textContent.trim().slice(0, 40)};
    });
}"""


def tab_through(page, limit: int = 300) -> list[dict]:
    """Press Tab from the focused element until focus comes round again (or leaves the
    page); the elements focused after it, in order (a date field, whose parts Tab visits
    one by one, once)."""
    reached: list[dict] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused is None:
            break
        if reached and focused["stop"] == reached[-1]["stop"]:
            continue
        if any(focused["stop"] == r["stop"] for r in reached):
            break
        reached.append(focused)
    return reached


@pytest.mark.parametrize("lang", ["en", "ka"])
def test_the_map_page_by_keyboard(axe_page, live_server, lang):
    page = axe_page
    sign_in(page, live_server, role="analyst")
    page.goto(f"{live_server}/?lang={lang}")
    page.wait_for_selector("#workspace[data-loaded='true']")
    page.add_script_tag(path=str(AXE_SCRIPT))
    wait_until(page, "document.querySelectorAll('#ranking .section-row').length === 2")

    # The first Tab reaches the skip link, shown on screen; Enter moves focus to <main>.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name=SKIP_LINK[lang])
    assert skip.evaluate("(a) => a === document.activeElement")
    box = skip.bounding_box()
    assert box["y"] >= 0 and box["x"] >= 0
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "workspace"
    page.keyboard.press("Tab")  # the first control after the skip: inside the workspace
    assert page.evaluate("document.getElementById('workspace')"
                         ".contains(document.activeElement)")

    # What folds away opens from the keyboard: the filters on a phone, the categories and
    # agencies, the layers.
    toggle = page.locator("#filters-toggle")
    if toggle.is_visible():
        toggle.focus()
        page.keyboard.press("Enter")
        assert toggle.get_attribute("aria-expanded") == "true"
    for summary in page.locator("#filters details > summary").all():
        summary.focus()
        page.keyboard.press("Enter")
    page.locator(".leaflet-control-layers-toggle").focus()
    page.keyboard.press("Enter")
    wanted = page.evaluate(TABBABLE)
    skip.focus()
    reached = [page.evaluate(FOCUSED)] + tab_through(page)
    keys = {r["key"] for r in reached}
    missed = [w for w in wanted if w["key"] not in keys]
    assert missed == [], [(m["tag"], m["id"], m["text"]) for m in missed]
    assert len(wanted) > 30  # filters, map controls, panel, ranking, top bar
    nameless = [r for r in reached if not r["name"]]
    assert nameless == [], nameless
    unmarked = [r for r in reached if not (r["outline"] or r["shadow"])]
    assert unmarked == [], unmarked
    assert all(r["visible"] for r in reached)
