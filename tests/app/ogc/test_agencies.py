"""The GIS services under the four-agency fixture (``testsupport.agencies``): OGC API
Features items and collection metadata, vector tiles, and the WMS (maps, cells,
density, hot-spots, GetFeatureInfo and capabilities) show each agency what it sees and
count what it may count (issue 16).

The database is committed (``committed_four_agencies``): mapnik reads it through its
own connections.
"""

from __future__ import annotations

import io
import json
import uuid
from contextlib import contextmanager

import mapbox_vector_tile
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import text

from app.extensions import db
from geo.maps.tiling import BUFFER, EXTENT
from tests.app.ogc.test_tiles import tile_of
from tests.conftest import TEST_PASSWORD
from testsupport.agencies import AGENCIES, SOURCE, Record, insert_records, records, sees

WINDOW = "2026-10-01T00:00:00Z/2026-10-31T23:59:59Z"


@pytest.fixture(scope="module")
def four(committed_four_agencies):
    """``(client, incident ids by external id, {agency: bearer headers})``."""
    from app.auth.tokens import create_token
    from app.auth.users import create_user

    app, _, incident_ids = committed_four_agencies
    headers = {}
    with app.app_context():
        for agency in AGENCIES:
            user = create_user(db.session, f"gis-{agency.lower()}-{uuid.uuid4().hex[:6]}",
                               "viewer", TEST_PASSWORD, agency=agency)
            _, token = create_token(db.session, user, "gis")
            headers[agency] = {"Authorization": f"Bearer {token}"}
        db.session.commit()
        db.session.remove()
    return app.test_client(), incident_ids, headers


def _visible(agency: str) -> set[str]:
    return {r.external_id for r in records() if sees(agency, r)}


def _items(client, headers) -> list[dict]:
    response = client.get("/ogc/features/collections/incidents/items", headers=headers,
                          query_string={"limit": 1000, "f": "json"})
    assert response.status_code == 200
    return json.loads(response.get_data())["features"]


def test_ogc_items_and_collection_metadata_are_each_agencys(four):
    client, ids, headers = four
    intervals = set()
    for agency in AGENCIES:
        items = _items(client, headers[agency])
        fixture = {f["properties"]["external_id"] for f in items
                   if f["properties"]["external_id"] in ids}
        assert fixture == _visible(agency)
        for record in records():
            response = client.get(f"/ogc/features/collections/incidents/items/"
                                  f"{ids[record.external_id]}", headers=headers[agency],
                                  query_string={"f": "json"})
            assert response.status_code == (200 if sees(agency, record) else 404)
        collection = json.loads(client.get("/ogc/features/collections/incidents",
                                           headers=headers[agency],
                                           query_string={"f": "json"}).get_data())
        # The extent and interval are those of the items this agency gets, no wider.
        times = sorted(f["properties"]["occurred_at"] for f in items)
        (first, last), = collection["extent"]["temporal"]["interval"]
        assert (first[:19], last[:19]) == (times[0][:19], times[-1][:19])
        lons = [f["geometry"]["coordinates"][0] for f in items]
        (bbox,) = collection["extent"]["spatial"]["bbox"]
        assert bbox[0] == pytest.approx(min(lons)) and bbox[2] == pytest.approx(max(lons))
        intervals.add((first, last, tuple(bbox)))
    assert len(intervals) > 1  # the agencies' metadata differ: hidden records count


def _tile_ids(client, headers, z=10) -> set[int]:
    tiles = {tile_of(r.lon, r.lat, z) for r in records()}
    found = set()
    for x, y in tiles:
        response = client.get(f"/ogc/tiles/incidents/{z}/{x}/{y}.mvt", headers=headers)
        assert response.status_code in (200, 204)
        if response.status_code == 200:
            layer = mapbox_vector_tile.decode(response.get_data()).get("incidents")
            found |= {f["id"] for f in (layer or {}).get("features", [])}
    return found


def test_tiles_hold_what_each_agency_sees_and_are_cached_apart(four):
    client, ids, headers = four
    etags = set()
    for agency in AGENCIES:
        found = _tile_ids(client, headers[agency])
        fixture_ids = {ids[r.external_id] for r in records()}
        assert found & fixture_ids == {ids[e] for e in _visible(agency)}
        x, y = tile_of(records()[0].lon, records()[0].lat, 10)
        etags.add(client.get(f"/ogc/tiles/incidents/10/{x}/{y}.mvt",
                             headers=headers[agency]).headers["ETag"])
    assert len(etags) == len(AGENCIES)


def _png(client, headers, layers, bbox, size=(256, 256), extra=None) -> np.ndarray:
    params = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": layers,
              "STYLES": "", "CRS": "CRS:84", "BBOX": ",".join(map(str, bbox)),
              "WIDTH": size[0], "HEIGHT": size[1], "FORMAT": "image/png",
              "TRANSPARENT": "TRUE", "TIME": WINDOW, **(extra or {})}
    response = client.get("/ogc/wms", headers=headers, query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return np.asarray(Image.open(io.BytesIO(response.get_data())).convert("RGBA"))


def test_wms_points_and_feature_info_show_only_what_each_agency_sees(four):
    client, ids, headers = four
    for record in records():
        bbox = (record.lon - 0.002, record.lat - 0.002, record.lon + 0.002,
                record.lat + 0.002)  # a large scale: each incident is a point
        for agency in AGENCIES:
            image = _png(client, headers[agency], "incidents", bbox, (64, 64))
            drawn = image[28:36, 28:36, 3].max() > 0
            assert drawn == sees(agency, record), (agency, record.external_id)
            info = client.get("/ogc/wms", headers=headers[agency], query_string={
                "SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetFeatureInfo",
                "LAYERS": "incidents", "QUERY_LAYERS": "incidents", "STYLES": "",
                "CRS": "CRS:84", "BBOX": ",".join(map(str, bbox)), "WIDTH": 64,
                "HEIGHT": 64, "I": 32, "J": 32, "INFO_FORMAT": "application/json",
                "TIME": WINDOW})
            found = {f["properties"]["id"] for f in json.loads(info.get_data())["features"]}
            assert found == ({ids[record.external_id]} if sees(agency, record) else set())


def test_wms_cells_count_what_is_seen_and_density_what_is_counted(four):
    client, _, headers = four
    whole = (44.7, 41.0, 45.7, 41.8)  # a small scale: incidents are counted in cells
    cells = {a: _png(client, headers[a], "incidents", whole, (512, 410))[..., 3] > 0
             for a in AGENCIES}
    density = {a: _png(client, headers[a], "density", whole, (512, 410))
               for a in AGENCIES}
    # Each agency's cells differ from another's (they see different records) ...
    assert len({c.tobytes() for c in cells.values()}) > 1
    # ... the density of two agencies that count the same records is the same.
    from testsupport.agencies import counts

    counted = {a: frozenset(r.external_id for r in records() if counts(a, r))
               for a in AGENCIES}
    for a in AGENCIES:
        for b in AGENCIES:
            if counted[a] == counted[b]:
                assert np.array_equal(density[a], density[b])
    assert len({d.tobytes() for d in density.values()}) == len(set(counted.values())) > 1


def test_wms_capabilities_time_extent_is_the_agencys(four):
    client, _, headers = four
    extents = set()
    for agency in AGENCIES:
        body = client.get("/ogc/wms", headers=headers[agency], query_string={
            "SERVICE": "WMS", "REQUEST": "GetCapabilities", "VERSION": "1.3.0"}
        ).get_data(as_text=True)
        start = body.index('<Dimension name="time"')
        extents.add(body[start:body.index("</Dimension>", start)])
    assert len(extents) > 1


# ------------------------------------------------------------------ records added for a test

EXTRA_SOURCE = "gis-agency-extra"


@contextmanager
def _committed(app, rows):
    """``rows`` (:class:`testsupport.agencies.Record`) committed for the duration of the
    block, then deleted (the other tests see the fixture alone)."""
    with app.app_context():
        insert_records(db.session, rows, app.config["ANALYSIS_SRID"], source=EXTRA_SOURCE)
        db.session.commit()
        db.session.remove()
    try:
        yield
    finally:
        with app.app_context():
            db.session.execute(text("DELETE FROM incidents WHERE source = :source"),
                               {"source": EXTRA_SOURCE})
            db.session.commit()
            db.session.remove()


def _metadata(client, headers) -> dict:
    """What a caller learns of where and when the incidents are: the incidents and
    hotspots collections' extents and the incidents' TileJSON bounds."""
    def extent(name):
        return json.loads(client.get(f"/ogc/features/collections/{name}", headers=headers,
                                     query_string={"f": "json"}).get_data())["extent"]

    return {"incidents": extent("incidents"), "hotspots": extent("hotspots"),
            "tilejson": json.loads(client.get("/ogc/tiles/incidents.json",
                                              headers=headers).get_data())["bounds"]}


def test_a_hidden_record_far_away_and_late_widens_only_its_viewers_metadata(
        four, committed_four_agencies):
    client, _, headers = four
    app = committed_four_agencies[0]
    before = {agency: _metadata(client, headers[agency]) for agency in AGENCIES}
    # Far east of every other incident and four months after them; seen by GBP only.
    far = Record("GBP-FAR", "GBP", "agency", True, None, 46.9, 42.3,
                 "2027-02-01T10:00:00Z")
    with _committed(app, [far]):
        after = {agency: _metadata(client, headers[agency]) for agency in AGENCIES}
    for agency in AGENCIES:
        if sees(agency, far):
            incidents = after[agency]["incidents"]
            assert incidents["spatial"]["bbox"][0][2:] == pytest.approx([46.9, 42.3])
            assert incidents["temporal"]["interval"][0][1].startswith("2027-02-01T10:00")
            # the hot-spot window ends at the newest incident the caller sees
            assert after[agency]["hotspots"]["temporal"]["interval"][0][1].startswith(
                "2027-02-01T10:00")
            assert after[agency]["tilejson"][2:] == pytest.approx([46.9, 42.3])
        else:
            assert after[agency] == before[agency], agency
    assert sum(not sees(a, far) for a in AGENCIES) == 3


def test_cluster_tiles_count_what_each_agency_sees(four, committed_four_agencies):
    client, _, headers = four
    app = committed_four_agencies[0]
    z = 8  # below the incidents' cluster zoom: counts per cell, still detail
    tiles = {tile_of(r.lon, r.lat, z) for r in records()}
    with app.app_context():
        others = sum(db.session.execute(text(
            "SELECT count(*) FROM incidents WHERE source <> :fixture AND ST_Intersects("
            "ST_Transform(geom, 3857), ST_TileEnvelope(:z, :x, :y, margin => :margin))"),
            {"fixture": SOURCE, "z": z, "x": x, "y": y, "margin": BUFFER / EXTENT}
        ).scalar_one() for x, y in tiles)  # a tile holds its buffer's points too
        db.session.remove()
    for agency in AGENCIES:
        total = 0
        for x, y in tiles:
            response = client.get(f"/ogc/tiles/incidents/{z}/{x}/{y}.mvt",
                                  headers=headers[agency])
            assert response.status_code == 200
            layer = mapbox_vector_tile.decode(response.get_data())["incidents"]
            total += sum(f["properties"]["count"] for f in layer["features"])
        assert total == others + len(_visible(agency)) < others + len(records()), agency


def test_tiles_are_cached_per_agency(four):
    client, _, headers = four
    x, y = tile_of(records()[1].lon, records()[1].lat, 11)
    url = f"/ogc/tiles/incidents/11/{x}/{y}.mvt"
    first = client.get(url, headers=headers["GBP"])
    assert client.get(url, headers=headers["GBP"]).headers["X-Tile-Cache"] == "hit"
    other = client.get(url, headers=headers["PPD"])
    assert other.headers["X-Tile-Cache"] == "miss"  # GBP's tile is not PPD's
    assert other.headers["ETag"] != first.headers["ETag"]
    # PPD's ETag does not revalidate GBP's tile.
    assert client.get(url, headers={**headers["GBP"], "If-None-Match": other.headers["ETag"]}
                      ).status_code == 200


# Two groups of three GBP records in December 2026 (no other incident then), seen by GBP
# only: those at P may be counted by every agency, those at Q by none but GBP.
P, Q = (45.10, 41.75), (45.30, 41.75)
TRIANGLE = ((0.0, 0.0), (0.012, 0.0), (0.006, 0.009))
DECEMBER = "2026-12-01T00:00:00Z/2026-12-03T23:59:59Z"


def _groups() -> list[Record]:
    return [Record(f"GBP-{name}-{n}", "GBP", "agency", aggregate, None,
                   centre[0] + dx, centre[1] + dy, f"2026-12-0{1 + n}T10:00:00Z")
            for name, centre, aggregate in (("P", P, True), ("Q", Q, False))
            for n, (dx, dy) in enumerate(TRIANGLE)]


def _alpha_near(image: np.ndarray, bbox, point, radius: int = 6) -> int:
    """The largest alpha within ``radius`` pixels of the pixel of ``point`` (lon, lat)."""
    height, width = image.shape[:2]
    column = int((point[0] - bbox[0]) / (bbox[2] - bbox[0]) * width)
    row = int((bbox[3] - point[1]) / (bbox[3] - bbox[1]) * height)
    return int(image[max(row - radius, 0):row + radius, max(column - radius, 0):
                     column + radius, 3].max())


def test_density_counts_hidden_records_released_for_aggregates_and_cells_show_none(
        four, committed_four_agencies):
    client, _, headers = four
    app = committed_four_agencies[0]
    bbox = (44.95, 41.55, 45.45, 41.95)
    centre = {name: (c[0] + 0.006, c[1] + 0.003) for name, c in (("P", P), ("Q", Q))}
    with _committed(app, _groups()):
        for agency in AGENCIES:
            density = _png(client, headers[agency], "density", bbox, (512, 410),
                           {"TIME": DECEMBER})
            # a small scale (over 1:1,000,000): the incidents layer draws count cells
            cells = _png(client, headers[agency], "incidents", bbox, (96, 77),
                         {"TIME": DECEMBER})
            own = agency == "GBP"
            assert _alpha_near(density, bbox, centre["P"]) > 0, agency
            assert (_alpha_near(density, bbox, centre["Q"]) > 0) == own, agency
            assert (cells[..., 3].max() > 0) == own, agency
            for name in "PQ":
                assert (_alpha_near(cells, bbox, centre[name], 2) > 0) == own, agency


def test_wms_hotspots_count_for_the_callers_agency(four, monkeypatch):
    from geo.hotspots import pipeline

    client, _, headers = four
    asked = []
    default_map = pipeline.default_map

    def recording(session, area, selection, *args, **kwargs):
        asked.append(selection.viewer_agency)
        return default_map(session, area, selection, *args, **kwargs)

    monkeypatch.setattr(pipeline, "default_map", recording)
    for agency in ("MD", "IAD"):
        _png(client, headers[agency], "hotspots", (44.7, 41.0, 45.7, 41.8), (256, 205),
             {"TIME": "2026-10-02T00:00:00Z/2026-10-30T23:59:59Z"})
    assert asked == ["MD", "IAD"]  # counted as each caller may count (inputs.Selection)
