"""Hot-spot maps an analyst can defend (issue 18), on the synthetic demo data: each
cell counts its whole area, the reported band reproduces the map with libpysal, the
study area masks sea and foreign land, and emerging steps are whole."""

import esda
import libpysal
import numpy as np
import pytest
from sqlalchemy import text

from app.extensions import db
from geo.crs import transform_xy
from geo.hotspots import hexgrid
from geo.scope import VIEWER_PARAMETER, counted_condition

KAKHETI_YEAR = "2025-07-01T00:00:00Z/2026-06-29T23:59:59Z"
MONTH = "2026-05-01T00:00:00Z/2026-05-31T23:59:59Z"
GEORGIA = "40.0,41.0,46.8,43.6"


@pytest.fixture(scope="module")
def demo(demo_app):
    return demo_app


def get(demo, url):
    app, headers, _ = demo
    response = app.test_client().get(url, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def cells_of(features) -> np.ndarray:
    return np.array([[int(v) for v in f["properties"]["cell"].split(",")] for f in features])


def postgis_cell_counts(demo, window: str, size: float, agency: str
                        ) -> dict[tuple[int, int], int]:
    """Incidents of the window that ``agency`` may count, per ST_HexagonGrid cell, as
    PostGIS assigns them."""
    start, end = window.split("/")
    app, _, _ = demo
    with app.app_context():
        rows = db.session.execute(text(
            "SELECT h.i, h.j, count(*) FROM incidents AS n, "
            "LATERAL ST_HexagonGrid(:size, ST_Transform(n.geom, 32638)) AS h "
            "WHERE n.occurred_at BETWEEN CAST(:start AS timestamptz) "
            "AND CAST(:end AS timestamptz) AND " + counted_condition("n.")
            + " AND ST_Intersects(h.geom, ST_Transform(n.geom, 32638)) GROUP BY h.i, h.j"),
            {"size": size, "start": start, "end": end, VIEWER_PARAMETER: agency}).all()
        db.session.remove()
    return {(int(i), int(j)): int(n) for i, j, n in rows}


def test_every_cell_counts_its_whole_area_whatever_region_holds_the_incident(demo):
    """Defect 1: the edge cells of a region counted only the incidents in the region's
    bbox; each cell's count is now PostGIS's count of the incidents in that hexagon."""
    body = get(demo, f"/api/v1/hotspots?region=GE-KK&datetime={KAKHETI_YEAR}&cell_size=2000")
    features = body["features"]
    ours = {tuple(c): f["properties"]["count"] for c, f in zip(cells_of(features), features,
                                                              strict=True)}
    truth = postgis_cell_counts(demo, KAKHETI_YEAR, 2000.0, body["metadata"]["viewer_agency"])
    wrong = {cell: (ours[cell], truth.get(cell, 0)) for cell in ours
             if ours[cell] != truth.get(cell, 0)}
    assert not wrong
    assert sum(ours.values()) == body["metadata"]["incidents"] > 500
    # the edge cells hold incidents of the neighbouring regions too (the grid's rule)
    app, _, _ = demo
    with app.app_context():
        outside = db.session.execute(text(
            "SELECT count(*) FROM incidents AS n JOIN regions AS r ON r.id = n.region_id "
            "WHERE r.code <> 'GE-KK' AND n.occurred_at BETWEEN '2025-07-01' "
            "AND '2026-06-29T23:59:59Z'")).scalar_one()
        db.session.remove()
    assert outside > sum(ours.values())  # most other regions' incidents are outside


def test_both_windows_of_an_evaluation_count_over_the_same_cells(demo):
    """Defect 1: /hotspots/evaluate counted its test window over another footprint."""
    evaluation = get(demo, f"/api/v1/hotspots/evaluate?region=GE-KK&train={KAKHETI_YEAR}"
                           f"&test={MONTH}&cell_size=2000&method=count")["metadata"]
    month = get(demo, f"/api/v1/hotspots?region=GE-KK&datetime={MONTH}&cell_size=2000"
                      "&method=kde")["metadata"]
    year = get(demo, f"/api/v1/hotspots?region=GE-KK&datetime={KAKHETI_YEAR}&cell_size=2000"
                     "&method=kde")["metadata"]
    assert evaluation["test_incidents"] == month["incidents"] > 0
    assert evaluation["incidents"] == year["incidents"]
    assert evaluation["cells"] == month["cells"] == year["cells"]


def test_the_reported_band_reproduces_gi_star_and_lisa_with_libpysal(demo):
    """Defect 2: Gi* took the ring at the band, LISA dropped it; one rule now, and the
    reported band gives it with libpysal's <=."""
    for size in (2000, 3000):
        gi = get(demo, f"/api/v1/hotspots?region=GE-KK&datetime={KAKHETI_YEAR}"
                       f"&cell_size={size}")
        lisa = get(demo, f"/api/v1/hotspots?region=GE-KK&datetime={KAKHETI_YEAR}"
                         f"&cell_size={size}&method=lisa")
        band = gi["metadata"]["distance_band_m"]
        assert lisa["metadata"]["distance_band_m"] == band
        cells = cells_of(gi["features"])

        cx, cy = hexgrid.hex_centres(cells[:, 0], cells[:, 1], size)
        w = libpysal.weights.DistanceBand(np.column_stack([cx, cy]), threshold=band,
                                          binary=True, silence_warnings=True)
        counts = np.array([f["properties"]["count"] for f in gi["features"]], dtype=float)
        z = np.array([f["properties"]["z"] for f in gi["features"]], dtype=float)
        reference = esda.G_Local(counts, w, transform="B", star=True, permutations=0).Zs
        np.testing.assert_allclose(z, reference, rtol=1e-9, atol=1e-9)
        local_i = np.array([f["properties"]["local_i"] for f in lisa["features"]], dtype=float)
        w.transform = "r"
        moran = esda.Moran_Local(counts, w, permutations=0)
        np.testing.assert_allclose(local_i, moran.Is, rtol=1e-9, atol=1e-12)


def test_the_automatic_band_says_how_it_was_chosen(demo):
    meta = get(demo, f"/api/v1/hotspots?region=GE-KK&datetime={KAKHETI_YEAR}"
                     "&cell_size=3000")["metadata"]
    curve = meta["band_selection"]
    assert len(curve["distances_m"]) == len(curve["morans_i_z"]) == 10
    z = np.array(curve["morans_i_z"], dtype=float)
    if curve["peak_m"] is None:
        assert "median cell 8 neighbours" in meta["distance_band_source"]
    else:
        k = curve["distances_m"].index(curve["peak_m"])
        assert z[k] >= 1.96 and z[k] > np.nanmax(z[:k]) and z[k] > z[k + 1]
        assert abs(meta["distance_band_m"] - curve["peak_m"]) < 0.002
    given = get(demo, f"/api/v1/hotspots?region=GE-KK&datetime={KAKHETI_YEAR}"
                      "&cell_size=3000&distance_band=12000")["metadata"]
    assert given["distance_band_source"] == "given"
    assert given["distance_band_m"] == 12000.0


def test_a_bbox_analysis_has_no_cells_over_the_sea_or_abroad(demo):
    """The study area mask: a bbox over Georgia is clipped to the regions."""
    body = get(demo, f"/api/v1/hotspots?bbox={GEORGIA}&datetime={KAKHETI_YEAR}"
                     "&cell_size=5000&method=kde")
    meta = body["metadata"]
    assert "cells outside have no statistic" in meta["study_area"]["mask"]
    cells = cells_of(body["features"])
    app, _, _ = demo
    with app.app_context():
        away = db.session.execute(text(
            "SELECT count(*) FROM unnest(CAST(:i AS integer[]), CAST(:j AS integer[])) "
            "AS c(i, j) WHERE NOT EXISTS (SELECT 1 FROM regions AS r WHERE ST_Intersects("
            "ST_Transform(r.geom, 32638), ST_SetSRID(ST_Hexagon(5000, c.i, c.j), 32638)))"),
            {"i": cells[:, 0].tolist(), "j": cells[:, 1].tolist()}).scalar_one()
        box_cells = db.session.execute(text(
            "SELECT count(*) FROM ST_HexagonGrid(5000, ST_Transform(ST_Segmentize("
            "ST_MakeEnvelope(40.0, 41.0, 46.8, 43.6, 4326), 0.01), 32638))")).scalar_one()
        db.session.remove()
    assert away == 0
    assert len(cells) < 0.8 * box_cells  # the sea and Turkey, Armenia, ... are gone
    # the country's code and no region at all are the same study area
    country = get(demo, f"/api/v1/hotspots?region=GE&datetime={KAKHETI_YEAR}"
                        "&cell_size=5000&method=kde")["metadata"]
    everywhere = get(demo, f"/api/v1/hotspots?datetime={KAKHETI_YEAR}&cell_size=5000"
                           "&method=kde")["metadata"]
    assert country["cells"] == everywhere["cells"] >= len(cells)
    assert country["study_area"]["regions"] == everywhere["study_area"]["regions"]
    two = get(demo, f"/api/v1/hotspots?region=GE-KK,GE-KA&datetime={KAKHETI_YEAR}"
                    "&cell_size=5000&method=kde")["metadata"]
    one = get(demo, f"/api/v1/hotspots?region=GE-KK&datetime={KAKHETI_YEAR}"
                    "&cell_size=5000&method=kde")["metadata"]
    assert two["study_area"]["regions"] == ["GE-KA", "GE-KK"]
    assert one["cells"] < two["cells"] < country["cells"]


def test_emerging_steps_are_whole_so_a_persistent_spot_stays_persistent(demo):
    """Defect 3: a window ending on the 3rd made a 3-day last step, read as a decline."""
    _, _, planted = demo
    spot = next(p for p in planted if p.code == "HS-PERS-01")
    around = f"{spot.lon - 0.4},{spot.lat - 0.3},{spot.lon + 0.4},{spot.lat + 0.3}"
    window = "2025-06-01T00:00:00Z/2026-06-03T23:59:59.999999Z"
    x, y = transform_xy([spot.lon], [spot.lat], 4326, 32638)
    for alignment in ("end", "start"):
        body = get(demo, f"/api/v1/hotspots/emerging?bbox={around}&datetime={window}"
                         f"&cell_size=3000&alignment={alignment}")
        meta = body["metadata"]
        assert meta["steps"] == 12 and meta["time_steps"]["alignment"] == alignment
        assert len(meta["time_steps"]["dropped_partial_steps"]) == 1
        cube = np.array([f["properties"]["count_series"] for f in body["features"]])
        per_step = cube.sum(axis=0)
        assert per_step.min() > 0.5 * np.median(per_step)  # no short step

        cells = cells_of(body["features"])
        cx, cy = hexgrid.hex_centres(cells[:, 0], cells[:, 1], 3000)
        nearest = int(np.argmin(np.hypot(cx - x[0], cy - y[0])))
        properties = body["features"][nearest]["properties"]
        assert properties["category"] in ("persistent hot spot", "intensifying hot spot")
        assert {"count_trend_z", "count_trend_p", "count_trend_tau"} <= set(properties)
    start_aligned = meta["time_steps"]
    assert start_aligned["edges"][-1] == "2026-06-01T00:00:00+00:00"
    assert start_aligned["dropped_partial_steps"] == [
        ["2026-06-01T00:00:00+00:00", "2026-06-03T23:59:59.999999+00:00"]]


def test_knn_and_inverse_distance_neighbourhoods_equal_esda_and_the_formula(demo):
    url = f"/api/v1/hotspots?region=GE-KK&datetime={KAKHETI_YEAR}&cell_size=3000"
    knn = get(demo, url + "&neighbourhood=knn&k=6")
    assert knn["metadata"]["neighbourhood"] == "knn" and knn["metadata"]["k"] == 6
    assert "distance_band_m" not in knn["metadata"]
    cells = cells_of(knn["features"])
    cx, cy = hexgrid.hex_centres(cells[:, 0], cells[:, 1], 3000)
    counts = np.array([f["properties"]["count"] for f in knn["features"]], dtype=float)
    w = libpysal.weights.KNN(np.column_stack([cx, cy]), k=6)
    reference = esda.G_Local(counts, w, transform="B", star=True, permutations=0).Zs
    z = np.array([f["properties"]["z"] for f in knn["features"]], dtype=float)
    # ties among lattice neighbours may be broken otherwise by libpysal: most agree
    assert np.mean(np.isclose(z, reference, atol=1e-9)) > 0.5
    inverse = get(demo, url + "&neighbourhood=inverse_distance&distance_band=9000")
    meta = inverse["metadata"]
    assert meta["neighbourhood"] == "inverse_distance" and meta["distance_band_m"] == 9000.001
    # cell by cell: sum of (spacing / d) x_j over the band, self weight 1
    spacing = np.sqrt(3) * 3000
    d = np.hypot(cx[:, None] - cx[None, :], cy[:, None] - cy[None, :])
    weights = np.where((d > 0) & (d <= meta["distance_band_m"]), spacing / np.where(d > 0, d, 1), 0)
    weights[np.diag_indices_from(weights)] = 1.0
    n, mean = len(counts), counts.mean()
    spread = np.sqrt((counts ** 2).mean() - mean ** 2)
    wsum, wsq = weights.sum(axis=1), (weights ** 2).sum(axis=1)
    expected = (weights @ counts - mean * wsum) / (
        spread * np.sqrt((n * wsq - wsum ** 2) / (n - 1)))
    ours = np.array([f["properties"]["z"] for f in inverse["features"]], dtype=float)
    np.testing.assert_allclose(ours, expected, rtol=1e-9, atol=1e-9)


def test_lisa_by_permutation_is_seeded_and_close_to_the_analytic_answer(demo):
    url = (f"/api/v1/hotspots?region=GE-KK&datetime={KAKHETI_YEAR}&cell_size=3000"
           "&method=lisa")
    first = get(demo, url + "&inference=permutation&permutations=999&seed=7")
    again = get(demo, url + "&inference=permutation&permutations=999&seed=7")
    other = get(demo, url + "&inference=permutation&permutations=999&seed=8")
    analytic = get(demo, url)
    meta = first["metadata"]
    assert meta["significance"] == "conditional permutation"
    assert meta["permutations"] == 999 and meta["seed"] == 7
    assert analytic["metadata"]["significance"].startswith("analytic")
    p = [f["properties"]["p"] for f in first["features"]]
    assert p == [f["properties"]["p"] for f in again["features"]]
    assert p != [f["properties"]["p"] for f in other["features"]]
    p = np.array(p, dtype=float)
    assert p.min() >= 1 / 1000 and p.max() <= 1
    local_i = [f["properties"]["local_i"] for f in first["features"]]
    assert local_i == [f["properties"]["local_i"] for f in analytic["features"]]


def test_gi_star_of_incidents_per_km_of_border(demo):
    body = get(demo, f"/api/v1/hotspots?region=GE-KK&datetime={KAKHETI_YEAR}"
                     "&cell_size=3000&rate=border_km")
    meta = body["metadata"]
    assert meta["rate"] == "border_km" and meta["rated_cells"] > 10
    props = [f["properties"] for f in body["features"]]
    rated = [p for p in props if p["border_km"] > 0]
    assert len(rated) == meta["rated_cells"] < len(props)
    for p in rated:
        assert p["rate"] == pytest.approx(p["count"] / p["border_km"])
        assert p["z"] is not None
    assert all(p["rate"] is None and p["z"] is None and p["bin"] == 0
               for p in props if p["border_km"] == 0)
    app, _, _ = demo
    with app.app_context():
        border_km = db.session.execute(text(
            "SELECT sum(ST_Length(ST_Intersection(ST_Transform(s.geom, 32638), "
            "ST_SetSRID(ST_Hexagon(3000, c.i, c.j), 32638)))) / 1000 FROM border_segments s, "
            "unnest(CAST(:i AS integer[]), CAST(:j AS integer[])) AS c(i, j)"),
            {"i": [int(f["properties"]["cell"].split(",")[0]) for f in body["features"]],
             "j": [int(f["properties"]["cell"].split(",")[1]) for f in body["features"]]}
        ).scalar_one()
        db.session.remove()
    # every section inside a cell counts for it, whatever its region (as incidents do)
    assert sum(p["border_km"] for p in rated) == pytest.approx(border_km, rel=1e-6)


@pytest.mark.parametrize(("path", "query", "field"), [
    ("emerging", "alignment=middle", "alignment"),
    ("emerging", "alignment=reference", "reference"),
    ("emerging", "reference=yesterday", "reference"),
    ("emerging", "global_window=galaxy", "global_window"),
    ("emerging", "time_window=2.5", "time_window"),
    ("emerging", "time_window=13", "time_window"),
    ("emerging", "step=day", "step"),
    ("", "neighbourhood=queen", "neighbourhood"),
    ("", "k=0", "k"),
    ("", "inference=bootstrap&method=lisa", "inference"),
    ("", "inference=permutation", "inference"),
    ("", "permutations=10&method=lisa&inference=permutation", "permutations"),
    ("", "rate=persons_per_km", "rate"),
    ("", "rate=border_km&method=lisa", "rate"),
])
def test_bad_options_are_422_naming_the_field(demo, path, query, field):
    app, headers, _ = demo
    response = app.test_client().get(
        f"/api/v1/hotspots{'/' + path if path else ''}?region=GE-KK&datetime={KAKHETI_YEAR}"
        "&cell_size=5000&" + query, headers=headers)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["field"] == field
