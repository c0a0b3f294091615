"""The planner API on the synthetic demo data: values against esda, planted hot-spots
found, caching, and every bad parameter answered with 422."""

import esda
import libpysal
import numpy as np
import pytest
from sqlalchemy import text

from app.extensions import db
from geo import clock
from geo.crs import transform_xy
from geo.hotspots import evaluation, hexgrid

YEAR = "2025-06-30T00:00:00Z/2026-06-30T00:00:00Z"
GEORGIA = "40.0,41.0,46.8,43.6"


@pytest.fixture(scope="module")
def demo(demo_app):
    return demo_app


def get(demo, url):
    app, headers, _ = demo
    return app.test_client().get(url, headers=headers)


def cell_centres(features, size):
    ij = np.array([[int(v) for v in f["properties"]["cell"].split(",")] for f in features])
    return hexgrid.hex_centres(ij[:, 0], ij[:, 1], size)


def test_gi_star_map_equals_esda_on_the_same_cells(demo):
    response = get(demo, f"/api/v1/hotspots?region=GE-KK&datetime={YEAR}&cell_size=1500")
    assert response.status_code == 200
    body = response.get_json()
    meta = body["metadata"]
    assert meta["method"] == "gistar" and meta["crs"] == "EPSG:32638"
    assert meta["cell_size_m"] == 1500 and meta["fdr"] is True
    features = body["features"]
    assert len(features) == meta["cells"] == body["numberReturned"]
    counts = np.array([f["properties"]["count"] for f in features])
    assert counts.sum() == meta["incidents"] > 0
    assert (counts == 0).any()  # zero cells are included
    cx, cy = cell_centres(features, 1500)
    w = libpysal.weights.DistanceBand(np.column_stack([cx, cy]), meta["distance_band_m"] + 1e-6,
                                      binary=True, silence_warnings=True)
    reference = esda.G_Local(counts, w, transform="B", star=True, permutations=0).Zs
    ours = np.array([f["properties"]["z"] for f in features], dtype=float)
    np.testing.assert_allclose(ours, reference, rtol=1e-9, atol=1e-9)
    bins = {f["properties"]["bin"] for f in features}
    assert bins <= {-3, -2, -1, 0, 1, 2, 3} and 3 in bins


def test_planted_hot_spots_are_found(demo):
    _, _, planted = demo
    body = get(demo, f"/api/v1/hotspots?bbox={GEORGIA}&datetime={YEAR}&cell_size=1000"
               ).get_json()
    features = body["features"]
    cx, cy = cell_centres(features, 1000)
    hot = np.array([f["properties"]["bin"] == 3 for f in features])
    px, py = transform_xy([p.lon for p in planted], [p.lat for p in planted], 4326, 32638)
    result = evaluation.recovery(np.column_stack([cx[hot], cy[hot]]), np.column_stack([px, py]),
                                 [p.radius_m for p in planted])
    # Every planted hot-spot active in the year holds a 99 % hot cell.
    assert result.recall == 1.0, [p.code for p, f in zip(planted, result.found_spots,
                                                          strict=True) if not f]


def test_same_request_is_byte_identical_and_a_write_invalidates_it(demo):
    app, headers, _ = demo
    url = f"/api/v1/hotspots?region=GE-KK&datetime={YEAR}&cell_size=2000&method=kde"
    first, second = get(demo, url), get(demo, url)
    assert first.status_code == 200 and first.data == second.data
    with app.app_context():
        db.session.execute(text("UPDATE incidents SET persons_count = persons_count "
                                "WHERE id = (SELECT min(id) FROM incidents)"))
        db.session.commit()
    third = get(demo, url)
    assert third.data != first.data
    assert (third.get_json()["metadata"]["data_version"]["incidents"]
            == first.get_json()["metadata"]["data_version"]["incidents"] + 1)


def test_without_datetime_the_map_is_of_the_last_complete_month_and_says_so(
        demo, freeze_clock):
    freeze_clock(clock.parse_moment("2026-07-02T00:00:00Z"))
    url = "/api/v1/hotspots?region=GE-KK&cell_size=3000"
    body = get(demo, url).get_json()
    meta = body["metadata"]
    assert meta["period"] == ["2026-06-01T00:00:00+00:00", "2026-06-30T23:59:59+00:00"]
    assert meta["period_source"] == "default: last complete month"
    assert meta["period_partial"] is False
    assert meta["filters"]["start"] == meta["period"][0]
    explicit = get(demo, f"{url}&datetime=2026-06-01T00:00:00Z/2026-06-30T23:59:59Z")
    assert "period_source" not in explicit.get_json()["metadata"]
    assert body["features"] == explicit.get_json()["features"]


@pytest.mark.parametrize("unit", ["cell", "section"])
def test_without_datetime_emerging_covers_the_year_to_the_default_month_and_says_so(
        demo, freeze_clock, unit):
    # The default month of /hotspots (June 2026 at 2 July) and the 11 months before it,
    # the window the map page asks for: the same cells as that explicit request.
    freeze_clock(clock.parse_moment("2026-07-02T00:00:00Z"))
    query = ("region=GE-KK&cell_size=3000" if unit == "cell" else "region=GE-KK&unit=section")
    body = get(demo, f"/api/v1/hotspots/emerging?{query}")
    assert body.status_code == 200, body.get_json()
    meta = body.get_json()["metadata"]
    assert meta["period"] == ["2025-07-01T00:00:00+00:00",
                              "2026-06-30T23:59:59.999999+00:00"]
    assert meta["period_source"] == ("default: last complete month, "
                                     "and the 11 months before")
    assert meta["period_partial"] is False
    assert meta["steps"] == 12 and meta["time_steps"]["dropped_partial_steps"] == []
    assert meta["time_steps"]["edges"][0] == "2025-07-01T00:00:00+00:00"
    assert meta["time_steps"]["edges"][-1] == "2026-07-01T00:00:00+00:00"
    explicit = get(demo, f"/api/v1/hotspots/emerging?{query}"
                   "&datetime=2025-07-01T00:00:00Z/2026-06-30T23:59:59.999999Z").get_json()
    assert "period_source" not in explicit["metadata"]
    assert body.get_json()["features"] == explicit["features"]
    assert sum(sum(f["properties"]["count_series"]) for f in explicit["features"]) > 0


def test_lisa_and_kde(demo):
    lisa = get(demo, f"/api/v1/hotspots?region=GE-KK&datetime={YEAR}&cell_size=1500"
               "&method=lisa").get_json()
    labels = {f["properties"]["cluster"] for f in lisa["features"]}
    assert "HH" in labels and labels <= {"HH", "LL", "HL", "LH", "not significant"}
    kde = get(demo, f"/api/v1/hotspots?region=GE-KK&datetime={YEAR}&cell_size=1500"
              "&method=kde").get_json()
    assert kde["metadata"]["kernel"] == "quartic" and kde["metadata"]["bandwidth_m"] > 0
    density = np.array([f["properties"]["density"] for f in kde["features"]])
    assert density.max() > 0 and (density >= 0).all()


def test_emerging_hot_spots_see_the_new_hot_spot(demo):
    _, _, planted = demo
    new = next(p for p in planted if p.code == "HS-NEW-01")
    around = f"{new.lon - 0.4},{new.lat - 0.3},{new.lon + 0.4},{new.lat + 0.3}"
    body = get(demo, f"/api/v1/hotspots/emerging?bbox={around}"
               "&datetime=2023-07-01T00:00:00Z/2026-06-29T00:00:00Z&cell_size=3000").get_json()
    meta = body["metadata"]
    # monthly steps laid back from the window's end (29 June): 35 whole months from
    # 29 July 2023; 1-28 July 2023 would be a partial step and is left out
    assert meta["steps"] == 35 and meta["step"] == "month"
    assert meta["time_steps"]["alignment"] == "end"
    assert meta["time_steps"]["edges"][0] == "2023-07-29T00:00:00.000001+00:00"
    assert meta["time_steps"]["dropped_partial_steps"] == [
        ["2023-07-01T00:00:00+00:00", "2023-07-29T00:00:00+00:00"]]
    features = body["features"]
    assert len(features[0]["properties"]["z_series"]) == 35
    nx, ny = transform_xy([new.lon], [new.lat], 4326, 32638)
    cx, cy = cell_centres(features, 3000)
    nearest = int(np.argmin(np.hypot(cx - nx[0], cy - ny[0])))
    assert features[nearest]["properties"]["category"] in ("new hot spot",
                                                           "consecutive hot spot")


def assert_cells_kept(only: dict, whole: dict, kept: list, flag: str) -> None:
    """``only`` (the answer with ``flag=true``) holds the features ``kept`` of ``whole``
    (the answer without it), each with its values, geometry and cell label, feature ids
    counted anew, and both say which they are; ``metadata.cells`` counts the whole grid."""
    assert only["numberMatched"] == only["numberReturned"] == len(kept)
    assert only["metadata"][flag] is True
    assert whole["metadata"][flag] is False
    assert only["metadata"]["cells"] == whole["metadata"]["cells"] == len(whole["features"])
    assert [f["id"] for f in only["features"]] == list(range(len(kept)))
    assert [(f["properties"], f["geometry"]) for f in only["features"]] == [
        (f["properties"], f["geometry"]) for f in kept]


def test_emerging_patterns_only_is_the_cells_with_a_pattern_of_the_whole_answer(demo):
    """What the map page draws: the cells whose category is not "no pattern", each with
    the values, geometry and cell label of the whole answer (feature ids count anew)."""
    query = ("/api/v1/hotspots/emerging?region=GE-KK&cell_size=3000"
             "&datetime=2025-07-01T00:00:00Z/2026-06-30T23:59:59.999999Z")
    whole = get(demo, query).get_json()
    response = get(demo, query + "&patterns_only=true")
    assert response.status_code == 200
    only = response.get_json()
    with_pattern = [f for f in whole["features"]
                    if f["properties"]["category"] != "no pattern"]
    assert 0 < len(with_pattern) < len(whole["features"])
    assert_cells_kept(only, whole, with_pattern, "patterns_only")
    # (false is the whole answer; by section there are no cells to leave out)
    assert get(demo, query + "&patterns_only=false").get_json()["features"] == \
        whole["features"]
    refused = get(demo, "/api/v1/hotspots/emerging?unit=section&region=GE-KK"
                  "&patterns_only=true")
    assert refused.status_code == 422 and refused.get_json()["field"] == "patterns_only"
    assert get(demo, query + "&patterns_only=maybe").get_json()["field"] == "patterns_only"


@pytest.mark.parametrize(("options", "significant"), [
    ("region=GE-KK&method=gistar", lambda p: p["bin"] != 0),
    ("region=GE-KK&method=lisa", lambda p: p["cluster"] != "not significant"),
    # a rate map's cells without border are not rated (bin 0): left out too
    ("region=GE-SJ&method=gistar&rate=border_km", lambda p: p["bin"] != 0),
])
def test_significant_only_is_the_significant_cells_of_the_whole_answer(demo, options,
                                                                       significant):
    """What the map page draws: the significant cells, each with the values, geometry and
    cell label of the whole answer (feature ids count anew)."""
    query = f"/api/v1/hotspots?{options}&datetime={YEAR}&cell_size=1500"
    whole = get(demo, query).get_json()
    response = get(demo, query + "&significant_only=true")
    assert response.status_code == 200
    only = response.get_json()
    kept = [f for f in whole["features"] if significant(f["properties"])]
    assert 0 < len(kept) < len(whole["features"]) / 2
    assert_cells_kept(only, whole, kept, "significant_only")
    assert len(response.get_data()) < len(get(demo, query).get_data()) / 2
    assert get(demo, query + "&significant_only=false").get_json()["features"] == \
        whole["features"]
    assert get(demo, query + "&significant_only=1x").get_json()["field"] == "significant_only"


def test_significant_only_is_refused_with_a_kernel_density(demo):
    refused = get(demo, f"/api/v1/hotspots?region=GE-KK&datetime={YEAR}&method=kde"
                        "&significant_only=true")
    assert refused.status_code == 422
    assert refused.get_json()["field"] == "significant_only"


def test_evaluation_scores_the_next_window(demo):
    body = get(demo, "/api/v1/hotspots/evaluate?bbox=" + GEORGIA
               + "&train=2025-01-01T00:00:00Z/2025-12-31T23:59:59Z"
               "&test=2026-01-01T00:00:00Z/2026-03-31T23:59:59Z"
               "&area_share=0.02&method=kde&cell_size=2000").get_json()
    meta = body["metadata"]
    hot = body["features"]
    assert meta["hot_cells"] == len(hot) > 0
    caught = sum(f["properties"]["test_count"] for f in hot)
    assert meta["hit_rate"] == pytest.approx(caught / meta["test_incidents"])
    area_share = len(hot) / meta["cells"]
    assert meta["pai"] == pytest.approx(meta["hit_rate"] / area_share)
    assert 0 < meta["pei"] <= 1 and meta["pai"] > 1


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("region=NOWHERE", "region", "unknown region code 'NOWHERE'"),
        ("bbox=30,30,31,31", "bbox", "covers no region"),
        ("region=GE-KK,NOWHERE", "region", "unknown region code 'NOWHERE'"),
        ("region=GE-KK&cell_size=20", "cell_size", "use cell_size of at least"),
        ("region=GE-KK&cell_size=abc", "cell_size", "is not a number"),
        ("region=GE-KK&method=magic", "method", "unknown method 'magic'"),
        ("region=GE-KK&datetime=2001-01-01T00:00:00Z/2001-02-01T00:00:00Z&cell_size=2000",
         "datetime", "cells hold incidents"),
        ("region=GE-KK&category=jaywalking", "category", "unknown value 'jaywalking'"),
        ("region=GE-KK&weight=kg", "weight", "unknown value 'kg'"),
    ],
)
def test_bad_parameters_are_422(demo, query, field, message):
    response = get(demo, f"/api/v1/hotspots?{query}")
    assert response.status_code == 422, response.get_json()
    problem = response.get_json()
    assert problem["field"] == field and message in problem["detail"]


def test_emerging_and_evaluate_need_closed_windows(demo):
    emerging = get(demo, "/api/v1/hotspots/emerging?region=GE-KK&datetime=2025-01-01T00:00:00Z/..")
    assert emerging.status_code == 422 and emerging.get_json()["field"] == "datetime"
    evaluate = get(demo, "/api/v1/hotspots/evaluate?region=GE-KK&train=2025-01-01T00:00:00Z/..")
    assert evaluate.status_code == 422 and evaluate.get_json()["field"] == "train"


def test_an_automatic_cell_size_too_fine_for_the_cap_is_coarsened_not_refused(demo):
    app, headers, _ = demo
    cap = app.config["HOTSPOT_MAX_CELLS"]
    url = f"/api/v1/hotspots?bbox={GEORGIA}&datetime={YEAR}"
    free = app.test_client().get(url, headers=headers).get_json()["metadata"]
    assert free["cells"] > 500  # the automatic size gives more cells than the cap below
    app.config["HOTSPOT_MAX_CELLS"] = 500
    try:
        response = app.test_client().get(url, headers=headers)
    finally:
        app.config["HOTSPOT_MAX_CELLS"] = cap
    assert response.status_code == 200, response.get_json()
    meta = response.get_json()["metadata"]
    assert meta["cells"] <= 500 and meta["cell_size_m"] > free["cell_size_m"]
    assert "coarsened to keep at most 500 cells" in meta["cell_size_source"]


# 40 SYNTHETIC incidents on a regular lattice (8 x 5 points, 0.095 x 0.07 degrees apart):
# one per 5 km cell, so at some distance bands Moran's I has no randomisation variance.
LATTICE = text("""
    INSERT INTO incidents (source, external_id, occurred_at, category, outcome,
                           persons_count, source_reliability, information_credibility,
                           status, provenance, geom)
    SELECT 'lattice', 'L-' || k, TIMESTAMPTZ '2025-01-10 12:00Z' + k * INTERVAL '1 hour',
           'illegal_crossing_between_bcp', 'actual', 1, 'B', 2, 'validated', 'synthetic',
           ST_SetSRID(ST_MakePoint(44.82 + (k % 8) * 0.095, 41.22 + (k / 8) * 0.07), 4326)
      FROM generate_series(0, 39) AS k
""")


@pytest.mark.parametrize("method", ["gistar", "lisa"])
def test_a_regular_lattice_is_an_answer_not_a_500(client, db_session, sample_layers,
                                                  analysis_srid, token_headers, method):
    """Where Moran's I has no variance at a band (equal counts on a lattice) its z is
    undefined and that band is no peak: the analysis answers (it once divided by zero)."""
    from geo.queries import derive_links

    db_session.execute(LATTICE)
    derive_links(db_session, "regions", analysis_srid, [])
    response = client.get("/api/v1/hotspots", headers=token_headers("viewer"), query_string={
        "bbox": "44.8,41.2,45.6,41.6", "cell_size": "5000", "method": method,
        "datetime": "2025-01-01T00:00:00Z/2025-01-31T23:59:59Z"})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["metadata"]["incidents"] == 40
    assert body["metadata"]["cells_with_data"] == 40
