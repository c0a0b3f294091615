"""Risk explained where it is used (issue 19), in the analyst's workspace (a real browser):
the ranking panel says the formula and the levels' bands, each section's factors in
words with units, weights and shares, its incidents per period against the range its
model expects, by category; supervisors read a section's history there.

This module's server holds the sample layers and the SYNTHETIC incidents of
``test_section_trends``: one a month of 2025 near T-AZ-002, and near T-AZ-001 none until
October, then 3, 6 and 9.
"""

from __future__ import annotations

import pytest

from app.auth.users import create_user
from app.extensions import db
from geo.queries import derive_links
from geo.risk.risk_config import load_risk_config
from tests.e2e.test_map_page import shoot, sign_in, wait_until, watch_console
from tests.e2e.test_section_trends import ADD_INCIDENT, MONTHLY, PERIOD, PLACES
from testsupport.apps import TEST_PASSWORD, committed_sample_layers, serving

pytestmark = [pytest.mark.e2e]


@pytest.fixture(scope="module")
def risk_server(databases):
    app, _ = committed_sample_layers(databases)
    with app.app_context():
        for code, month, n in MONTHLY:
            lon, lat = PLACES[code]
            db.session.execute(ADD_INCIDENT, {"prefix": f"RX-{code}-{month}-", "month": month,
                                              "lon": lon, "lat": lat, "n": n})
        derive_links(db.session, "regions", app.config["ANALYSIS_SRID"], [])
        create_user(db.session, "e2e-analyst", "analyst", TEST_PASSWORD)
        create_user(db.session, "e2e-supervisor", "supervisor", TEST_PASSWORD)
        db.session.commit()
        db.session.remove()
    with serving(app) as url:
        yield url


def open_factors(page, code, label="Factors and trend of {code}"):
    """Opens the factors of the section ``code`` (the summary's accessible name)."""
    row = page.locator("#ranking li", has=page.locator(".section-row", has_text=code))
    page.get_by_label(label.format(code=code)).click()
    return row


def test_the_analyst_reads_the_formula_bands_and_a_sections_factors(page, risk_server):
    problems = watch_console(page)
    sign_in(page, risk_server, path=PERIOD)
    wait_until(page, "document.querySelectorAll('#ranking .section-row').length === 2")
    # The formula and the levels' ranges, as risk.yaml sets them.
    config = load_risk_config()
    model = page.locator("#ranking-model")
    assert "risk = T x V x I" in model.inner_text()
    assert "scored 1–5" in model.inner_text()
    bands = page.evaluate("""() => [...document.querySelectorAll(
        '#ranking-model .bands .level')].map((b) => [b.dataset.level, b.textContent])""")
    assert bands == [["low", f"low 1–{config.low_max}"],
                     ["medium", f"medium {config.low_max + 1}–{config.medium_max}"],
                     ["high", f"high {config.medium_max + 1}–125"]]
    # The analyst opens T-AZ-001's factors, next to its row.
    row = open_factors(page, "T-AZ-001")
    threat = row.locator("table.factors[data-component='threat']")
    threat.wait_for()
    assert threat.locator("caption").inner_text().startswith("Threat: ")
    incidents = threat.locator("tr[data-factor='incidents_per_km']")
    cells = incidents.locator("th, td").all_inner_texts()
    assert cells[0] == "Incidents per km of section"
    assert cells[1].endswith("incidents/km per 30 days")
    assert cells[3] == "0.35"  # weight: magnitude 0.5 x incidents_per_km 0.7
    assert cells[4].endswith("%")
    probability = threat.locator("tr[data-factor='probability'] td").first.inner_text()
    assert probability.endswith(" %") and "probability" not in probability
    text = row.locator("details.explain").inner_text()
    for raw in ("incidents_per_km", "inland_share", "persons_per_km", "life_risk"):
        assert raw not in text
    assert "Share detected late (inland, after the crossing)" in text
    assert "Impact is measured over 13 periods" in text
    # Its incidents per period: the twelve months before December, then December,
    # against the band its count model expects (a history this uneven expects much).
    chart = row.locator("svg.period-chart")
    counts = [0] * 10 + [3, 6, 9]
    assert chart.get_attribute("data-counts") == ",".join(map(str, counts))
    band = chart.locator("rect.expected-band")
    low, high = int(band.get_attribute("data-low")), int(band.get_attribute("data-high"))
    assert 0 <= low <= high
    assert chart.locator("circle").count() == 13
    assert chart.locator("circle.above").count() == sum(c > high for c in counts)
    assert f"expected {low}–{high}" in chart.get_attribute("aria-label")
    # By category: December's nine illegal crossings.
    breakdown = row.locator(".category-breakdown li").all_inner_texts()
    assert breakdown == ["Illegal border crossing between crossing points: 9"]
    # The factors stay in the row: the list's other section is below it.
    other = page.locator("#ranking .section-row", has_text="T-AZ-002").bounding_box()
    assert chart.bounding_box()["y"] < other["y"]
    # An analyst has no History button.
    assert page.locator("#ranking .history-button").count() == 0
    shoot(page, "risk-explained")
    assert problems == []


def test_the_factors_read_in_georgian(page, risk_server):
    problems = watch_console(page)
    sign_in(page, risk_server, path=PERIOD)
    page.goto(f"{risk_server}{PERIOD}&lang=ka")
    page.wait_for_selector("#workspace[data-loaded='true']")
    wait_until(page, "document.querySelectorAll('#ranking .section-row').length === 2")
    row = open_factors(page, "T-AZ-001", "{code}-ის ფაქტორები და ტრენდი")
    name = row.locator("tr[data-factor='crossing_distance'] th")
    assert name.inner_text() == "მანძილი უახლოეს გამშვებ პუნქტამდე"
    value = row.locator("tr[data-factor='crossing_distance'] td").first.inner_text()
    assert value.endswith(" კმ")
    assert "დონეები:" in page.locator("#ranking-model").inner_text()
    assert problems == []


def test_a_supervisor_reads_a_sections_history_with_its_decision(page, risk_server):
    problems = watch_console(page)
    sign_in(page, risk_server, role="supervisor", path=PERIOD)
    wait_until(page, "document.querySelectorAll('#ranking .section-row').length === 2")
    row = page.locator("#ranking li", has=page.locator(".section-row", has_text="T-AZ-002"))
    history = row.locator(".history-button")
    history.click()
    row.locator(".history-list li").first.wait_for()
    assert history.get_attribute("aria-expanded") == "true"
    assert row.locator(".history-list li").all_inner_texts() == [
        "No assessments or decisions yet."]
    history.click()  # closes it
    assert row.locator(".history-list").is_hidden()
    # The supervisor sets the level, then reads the decision in the history.
    row.locator(".section-row").click()
    page.select_option("#level-value", "high")
    why = "Patrols report a new route across this section."
    page.fill("#level-justification", why)
    page.click("#level-form button[type='submit']")
    page.locator("#level-form .form-status", has_text="Level saved.").wait_for()
    row = page.locator("#ranking li", has=page.locator(".section-row", has_text="T-AZ-002"))
    row.locator(".section-row .level", has_text="high").wait_for()
    row.locator(".history-button").click()
    entry = row.locator(".history-list li.history-decision")
    entry.wait_for()
    assert "decided: high" in entry.inner_text()
    assert f"e2e-supervisor: {why}" in entry.inner_text()
    shoot(page, "risk-history")
    assert problems == []
