"""The map page's legend in a real browser, in the server's colours (geo.maps.palette).

The density layer needs at least 30 incidents in the period (the page does not ask for
fewer), so this module's server adds 40, one per 5 km cell, in January 2025.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app.auth.users import create_user
from app.extensions import db
from geo.maps import palette
from geo.queries import derive_links
from tests.e2e.test_map_page import shoot, sign_in, watch_console
from testsupport.apps import TEST_PASSWORD, load_sample_layers, make_app, serving

pytestmark = [pytest.mark.e2e]

DENSE_INCIDENTS = 40
# 40 points 0.095° x 0.07° (about 8 km) apart over both sample regions, in one month.
ADD_INCIDENTS = text("""
    INSERT INTO incidents (source, external_id, occurred_at, category, outcome, direction,
                           detection_method, persons_count, source_reliability,
                           information_credibility, status, provenance, description, geom)
    SELECT 'e2e-legend', 'L-' || k, TIMESTAMPTZ '2025-01-10 12:00Z' + k * INTERVAL '1 hour',
           'illegal_crossing_between_bcp', 'actual', 'entry', 'border_surveillance', 1, 'B', 2,
           'validated', 'synthetic', 'SYNTHETIC legend test record',
           ST_SetSRID(ST_MakePoint(44.82 + (k % 8) * 0.095, 41.22 + (k / 8) * 0.07), 4326)
    FROM generate_series(0, :n - 1) AS k
""")


@pytest.fixture(scope="module")
def legend_server(databases):
    """A live server with the sample layers and 40 incidents in January 2025."""
    import flask_migrate

    app = make_app(databases.create())
    with app.app_context():
        flask_migrate.upgrade()
        srid = app.config["ANALYSIS_SRID"]
        load_sample_layers(db.session, srid)
        db.session.execute(ADD_INCIDENTS, {"n": DENSE_INCIDENTS})
        derive_links(db.session, "regions", srid, [])  # relinks every incident
        create_user(db.session, "e2e-viewer", "viewer", TEST_PASSWORD)
        db.session.commit()
        db.session.remove()
    with serving(app) as url:
        yield url
    with app.app_context():
        db.engine.dispose()


def legend_swatches(page, title: str) -> list[dict]:
    """The swatches of the legend block whose heading starts with ``title``: the colour
    the page set and the one the browser drew (computed background or border)."""
    return page.evaluate("""(title) => {
        const block = [...document.querySelectorAll('.legend-body section')]
            .find((s) => s.querySelector('h3').textContent.startsWith(title));
        if (!block) return null;
        return [...block.querySelectorAll('.swatch')].map((swatch) => {
            const style = getComputedStyle(swatch);
            return {set: swatch.style.getPropertyValue('--swatch'),
                    drawn: style.backgroundColor, label: swatch.parentNode.textContent};
        });
    }""", title)


def rgb(colour: str) -> str:
    r, g, b = (int(colour[k:k + 2], 16) for k in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def test_density_legend_and_cells_are_in_the_wms_ramp(page, legend_server):
    problems = watch_console(page)
    sign_in(page, legend_server, role="viewer",
            path="/?from=2025-01-01&to=2025-01-31&layers=segments,density")
    assert page.locator("#map-status").inner_text().startswith(f"{DENSE_INCIDENTS} incidents,")
    toggle = page.locator(".legend-toggle")
    if toggle.get_attribute("aria-expanded") != "true":
        toggle.click()
    ramp = list(palette.DENSITY_RAMP)  # YlOrRd, as the WMS's density layer
    assert ramp[0] == "#ffffcc" and ramp[-1] == "#b10026"
    density = legend_swatches(page, "Density (KDE)")
    assert [s["set"] for s in density] == ramp
    assert [s["drawn"] for s in density] == [rgb(c) for c in ramp]
    assert all(s["label"].startswith("≥ ") for s in density)
    # The cells themselves: some drawn, each in a colour of the ramp, the peak in the last.
    fills = page.evaluate(
        "window.borderRisk.layers.density.getLayers().map((l) => l.options.fillColor)")
    assert fills and set(fills) <= set(ramp) and ramp[-1] in fills
    levels = legend_swatches(page, "Border sections: risk level")
    expected = [*palette.RISK_LEVEL_COLOURS.values(), palette.NOT_ASSESSED_COLOUR]
    assert [s["set"] for s in levels] == expected
    # The regions' outline is the WMS's regions colour, read from the server too.
    outlines = page.evaluate(
        "window.borderRisk.layers.regions.getLayers().map((l) => l.options.color)")
    assert outlines and set(outlines) == {palette.REGION_OUTLINE_COLOUR}
    shoot(page, "legend-density")
    assert problems == []


def test_lisa_draws_only_significant_cells(page, legend_server):
    """LISA cells the server labels "not significant" are not drawn (the page once
    looked for "ns" and drew them all); the page asks for the significant cells only,
    and draws all of those."""
    problems = watch_console(page)
    sign_in(page, legend_server, role="viewer",
            path="/?from=2025-01-01&to=2025-01-31&layers=segments,hotspots&method=lisa")
    assert page.locator("#map-status").inner_text().startswith(f"{DENSE_INCIDENTS} incidents,")
    page.wait_for_load_state("networkidle")
    url, asked, whole = page.evaluate("""async () => {
        const url = [...performance.getEntriesByType('resource')].map((e) => e.name)
            .find((n) => n.includes('/api/v1/hotspots?') && n.includes('method=lisa'));
        const clusters = async (u) => (await (await fetch(u)).json())
            .features.map((f) => f.properties.cluster);
        return [url, await clusters(url),
                await clusters(url.replace('&significant_only=true', ''))];
    }""")
    assert "significant_only=true" in url
    drawn = page.evaluate("window.borderRisk.layers.hotspots.getLayers()"
                          ".map((l) => l.feature.properties.cluster)")
    assert "not significant" in whole  # uniform points: most cells are not significant
    assert "not significant" not in asked
    assert sorted(asked) == sorted(c for c in whole if c != "not significant")
    assert sorted(drawn) == sorted(asked)
    assert problems == []
