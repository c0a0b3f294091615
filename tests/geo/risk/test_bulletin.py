"""``geo.risk.bulletin`` by itself: the trends, the map's frame, and a bulletin of the
SYNTHETIC sample region (the web page and PDF are tested in tests/app/api)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from app.extensions import db
from geo.risk import bulletin
from geo.risk.risk_config import load_risk_config


def _section(code: str, incidents: int, previous: int, last_year: int) -> dict:
    change = None if previous == 0 else 100.0 * (incidents - previous) / previous
    return {"code": code, "name": f"Section {code}", "incidents": incidents,
            "comparison": {"previous_period": previous, "same_period_last_year": last_year,
                           "change_previous_pct": change}}


def test_trends_sum_the_sections_and_rank_the_increases():
    sections = [_section("A", 10, 5, 2), _section("B", 3, 0, 1), _section("C", 4, 8, 4),
                _section("D", 7, 6, 0)]
    summary = {"incidents": 24, "change_previous_pct": 26.3, "change_last_year_pct": 242.9,
               "concentration_top20_pct": 41.7}
    trends = bulletin._trends(sections, summary)
    assert (trends["previous_period"], trends["same_period_last_year"]) == (19, 7)
    assert trends["incidents"] == 24 and trends["change_previous_pct"] == 26.3
    # rising: A (+5) before D (+1); B had none before (no percentage): new activity
    assert [s["code"] for s in trends["largest_increases"]] == ["A", "D"]
    assert trends["largest_increases"][0]["change_previous_pct"] == 100.0
    assert trends["new_activity"] == ["B"]


@pytest.mark.parametrize(("extent", "height"), [
    ((0, 0, 100_000, 50_000), 554), ((0, 0, 100_000, 400_000), 1100),
    ((0, 0, 100_000, 1_000), 400)])
def test_the_map_keeps_its_pixels_square(extent, height):
    row = SimpleNamespace(minx=extent[0], miny=extent[1], maxx=extent[2], maxy=extent[3])
    bbox, width, high = bulletin._map_size(row)
    assert (width, high) == (bulletin.MAP_WIDTH_PX, height)
    # metres per pixel the same across and up: the map is not stretched
    assert (bbox[2] - bbox[0]) / width == pytest.approx((bbox[3] - bbox[1]) / high)
    # and it holds the extent with its margin (a region much wider than high was cut:
    # its bbox shrank across before it was heightened)
    assert bbox[0] <= extent[0] and bbox[2] >= extent[2]
    assert bbox[1] <= extent[1] and bbox[3] >= extent[3]


def test_a_bulletin_of_the_sample_region(committed_sample):
    # committed: the bulletin's map is drawn on the renderer's own connections
    committed, _ = committed_sample
    start, end = datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 10, 31, tzinfo=UTC)
    made = datetime(2026, 11, 1, 12, tzinfo=UTC)
    with committed.app_context():
        data = bulletin.regional_bulletin(db.session, load_risk_config(), "T-KK", start, end,
                                          committed.config["ANALYSIS_SRID"], now=lambda: made)
        db.session.remove()
    assert data["region"]["code"] == "T-KK"
    assert data["assessment"]["source"] == "live"  # none is stored: computed, not kept
    assert [s["code"] for s in data["sections"]] == ["T-AZ-001"]
    assert data["sections"][0]["incidents"] == 1  # T-1, on 1 October, in T-KK
    assert data["data"]["synthetic"] is True
    assert "synthetic" in data["data"]["approximate_geography"]
    assert data["map"]["png"].startswith(b"\x89PNG")
    assert data["generated_at"].startswith("2026-11-01T12:00")


def test_an_unknown_region_is_named(db_session, sample_layers, analysis_srid):
    from geo.errors import ParameterError

    with pytest.raises(ParameterError) as caught:
        bulletin.regional_bulletin(db_session, load_risk_config(), "NOPE",
                                   datetime(2026, 9, 1, tzinfo=UTC),
                                   datetime(2026, 10, 1, tzinfo=UTC), analysis_srid)
    assert (caught.value.field, caught.value.reason) == ("region", "unknown region code 'NOPE'")
