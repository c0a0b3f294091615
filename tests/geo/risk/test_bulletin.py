"""``geo.risk.bulletin`` by itself: the trends, the map's frame, a bulletin of the
SYNTHETIC sample region and its PDF's text (the web page and its route are tested in
tests/app/api)."""

from __future__ import annotations

import base64
import io
import re
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import render_template
from PIL import Image

from app.extensions import db
from geo.errors import ParameterError
from geo.risk import bulletin
from geo.risk.risk_config import load_risk_config
from tests.pdf_text import pdf_text_runs

STYLESHEET = Path(__file__).resolve().parents[3] / "static" / "css" / "bulletin.css"
# An image XObject's dictionary (never compressed): its size in pixels.
PDF_IMAGE = re.compile(rb"/Subtype\s*/Image\s*/Width\s+(\d+)\s*/Height\s+(\d+)")


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


@pytest.fixture(scope="module")
def sample_bulletin(committed_sample):
    """``(app, bulletin data)`` of the sample region T-KK, September and October 2026."""
    # committed: the bulletin's map is drawn on the renderer's own connections
    committed, _ = committed_sample
    start, end = datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 10, 31, tzinfo=UTC)
    made = datetime(2026, 11, 1, 12, tzinfo=UTC)
    with committed.app_context():
        data = bulletin.regional_bulletin(db.session, load_risk_config(), "T-KK", start, end,
                                          committed.config["ANALYSIS_SRID"], now=lambda: made)
        db.session.remove()
    return committed, data


def test_a_bulletin_of_the_sample_region(sample_bulletin):
    _, data = sample_bulletin
    assert data["region"]["code"] == "T-KK"
    assert data["assessment"]["source"] == "live"  # none is stored: computed, not kept
    assert [s["code"] for s in data["sections"]] == ["T-AZ-001"]
    assert data["sections"][0]["incidents"] == 1  # T-1, on 1 October, in T-KK
    # the system's view: every record, none unseen; no incident on the map
    assert data["counted"] == {"viewer_agency": None, "counted_not_visible": 0}
    assert data["map"]["layers"] == list(bulletin.MAP_LAYERS)
    assert "incidents" not in data["map"]["layers"]
    assert data["data"]["synthetic"] is True
    assert "synthetic" in data["data"]["approximate_geography"]
    assert data["map"]["png"].startswith(b"\x89PNG")
    # the region's code on the region and the section's on its middle, in map pixels
    labels = {label["code"]: label for label in data["map"]["labels"]}
    assert set(labels) == {"T-KK", "T-AZ-001"}
    assert (labels["T-KK"]["kind"], labels["T-AZ-001"]["kind"]) == ("region", "section")
    for label in labels.values():
        assert 0 <= label["x"] <= data["map"]["width"]
        assert 0 <= label["y"] <= data["map"]["height"]
    assert data["generated_at"].startswith("2026-11-01T12:00")
    # the next calendar month's forecast per section, from the incidents up to the end
    outlook = data["outlook"]
    assert outlook["period"]["start"] == "2026-10-31T00:00:01+00:00"
    assert outlook["period"]["end"] == "2026-11-30T00:00:01+00:00"
    assert set(outlook["sections"]) == {"T-AZ-001"}
    section = outlook["sections"]["T-AZ-001"]
    assert 0 < section["expected"] <= 1  # one incident in its whole history
    assert section["lower_80"] == 0 <= section["upper_80"]


def test_an_unknown_region_is_named(db_session, sample_layers, analysis_srid):
    with pytest.raises(ParameterError) as caught:
        bulletin.regional_bulletin(db_session, load_risk_config(), "NOPE",
                                   datetime(2026, 9, 1, tzinfo=UTC),
                                   datetime(2026, 10, 1, tzinfo=UTC), analysis_srid)
    assert (caught.value.field, caught.value.reason) == ("region", "unknown region code 'NOPE'")


@pytest.mark.parametrize(("region", "start", "field", "reason"), [
    (None, datetime(2026, 9, 1, tzinfo=UTC), "region",
     "is required: the bulletin is the product of one regional unit (a region code such "
     "as GE-KA)"),
    ("T-KK", datetime(2026, 10, 1, tzinfo=UTC), "datetime",
     "the period must end after it starts"),
])
def test_a_bulletin_needs_a_region_and_a_period(db_session, sample_layers, analysis_srid,
                                                region, start, field, reason):
    with pytest.raises(ParameterError) as caught:
        bulletin.regional_bulletin(db_session, load_risk_config(), region, start,
                                   datetime(2026, 10, 1, tzinfo=UTC), analysis_srid)
    assert (caught.value.field, caught.value.reason) == (field, reason)


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "orange").save(buffer, "PNG")
    return buffer.getvalue()


def test_the_pdf_prints_the_text_and_no_image_but_data_uris(tmp_path):
    """SYNTHETIC page: a region's names, two sections and their levels, an image as a
    data: URI (37 x 23 pixels) and one as a file (41 x 19) that must not be read."""
    (tmp_path / "local.png").write_bytes(_png(41, 19))
    data_uri = "data:image/png;base64," + base64.b64encode(_png(37, 23)).decode()
    html = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
      <title>Bulletin</title></head><body class="bulletin">
      <h1>Regional risk bulletin: Test region (T-KK)</h1><p>სატესტო რეგიონი</p>
      <table><tr><td>T-AZ-001</td><td>high</td></tr>
             <tr><td>T-AZ-002</td><td>medium</td></tr></table>
      <img src="{data_uri}" alt=""><img src="file://{tmp_path}/local.png" alt="">
      </body></html>"""
    pdf = bulletin.pdf_from_html(html, STYLESHEET)
    assert pdf.startswith(b"%PDF-")
    assert pdf_text_runs(pdf) == [
        "Regional risk bulletin: Test region (T-KK)", "სატესტო რეგიონი",
        "T-AZ-001", "high", "T-AZ-002", "medium",
        # the stylesheet's running footer
        "BorderRisk regional risk bulletin", "page 1 of 1"]
    assert PDF_IMAGE.findall(pdf) == [(b"37", b"23")]


def test_the_sample_bulletin_prints_its_region_levels_and_sections(sample_bulletin):
    """The PDF of the bulletin as the web layer renders it: T-AZ-001, the region's one
    section, is low (one incident in the period, none before)."""
    app, data = sample_bulletin
    with app.test_request_context():
        html = render_template("bulletin.html", bulletin=data, for_print=True)
    pdf = bulletin.pdf_from_html(html, STYLESHEET)
    runs = [run.strip() for run in pdf_text_runs(pdf)]
    assert "Regional risk bulletin: Test region (synthetic) (T-KK)" in runs
    assert runs[0] == "SYNTHETIC DEMONSTRATION DATA."
    # the summary: sections in force per level
    summary = runs.index("Summary")
    assert runs[summary + 1:summary + 13] == [
        "Border sections", "1", "Incidents", "1", "low", "1", "medium", "0", "high", "0",
        "critical", "0"]
    # the ranked table: rank, code, name (over two lines or more), level, risk
    row = runs.index("T-AZ-001")
    assert runs[row - 1] == "1"
    level = runs.index("low", row)
    assert " ".join(runs[row + 1:level]) == "Test section west (synthetic)"
    assert runs[level + 1] == str(data["sections"][0]["risk"])
    # after T, V, I, incidents, the changes and the alert: next month's forecast
    outlook = data["outlook"]["sections"]["T-AZ-001"]
    assert runs[level + 9] == (f"{outlook['expected']:.1f} "
                               f"({outlook['lower_80']}\u2013{outlook['upper_80']})")
    assert data["sections"][0]["level"] == "low"
    # the map, 1000 pixels wide, is the one image
    assert PDF_IMAGE.findall(pdf) == [(b"1000", str(data["map"]["height"]).encode())]


@pytest.mark.parametrize(("latitude", "metres", "pixels"), [
    # at the equator 100 m a pixel: at most 25 km on 1000 pixels, so 20 km on 200
    (0.0, 20_000, 200.0),
    # at 60 degrees north EPSG:3857 doubles lengths: 50 m a pixel, 10 km on 200 pixels
    (60.0, 10_000, 200.0)])
def test_the_scale_bar_measures_ground_metres(latitude, metres, pixels):
    import math

    y = bulletin.WEB_MERCATOR_RADIUS_M * math.asinh(math.tan(math.radians(latitude)))
    bbox = (0.0, y - 50_000, 100_000.0, y + 50_000)
    bar = bulletin.scale_bar(bbox, 1000)
    assert bar["metres"] == metres
    assert bar["pixels"] == pytest.approx(pixels, abs=0.2)


def test_the_georgian_pdf_is_georgian_to_its_footer(sample_bulletin):
    """The page's language (``?lang=ka``) decides the printed bulletin's: headings,
    levels, dates in words and the running footer."""
    app, data = sample_bulletin
    with app.test_request_context("/?lang=ka"):
        html = render_template("bulletin.html", bulletin=data, for_print=True)
    runs = [run.strip() for run in pdf_text_runs(bulletin.pdf_from_html(html, STYLESHEET))]
    assert runs[0] == "სინთეზური სადემონსტრაციო მონაცემები."
    assert "რეგიონული რისკის ბიულეტენი: სატესტო რეგიონი (T-KK)" in runs
    assert any(run.startswith("პერიოდი: 1 სექტემბერი 2026 – 31 ოქტომბერი 2026 (UTC, 60 დღე)")
               for run in runs)
    # the reasons and the weights name their factors in Georgian too (the catalogue's)
    assert any(run.startswith("ინციდენტები მონაკვეთის კმ-ზე 0.35") for run in runs)  # weights
    assert not any("per km" in run or "_per_km" in run or "no incidents" in run
                   or "new activity" in run for run in runs)
    assert any("რუკა: ქვეყნები, რეგიონული ერთეულები, Gi* ცხელი წერტილები" in run for run in runs)
    summary = runs.index("შეჯამება")
    assert runs[summary + 5:summary + 7] == ["დაბალი", "1"]
    assert "BorderRisk — რეგიონული რისკის ბიულეტენი" in runs and "გვერდი 1 / 4" in runs
    for english in ("Summary", "Trends", "Alerts", "low", "BorderRisk regional risk bulletin"):
        assert english not in runs
