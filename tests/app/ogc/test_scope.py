"""Region scope in the map and feature services: WMS (GetMap on every layer,
GetFeatureInfo, REGION), OGC API Features and vector tiles.

Two viewers restricted to one sample region each (``T-KK``: the western square, holding
section T-AZ-001, crossing point T-BCP-1 and incident T-1; ``T-KA``: the eastern one,
with T-AZ-002, T-BCP-2 and T-2) and an unrestricted viewer read the committed sample
layers (``tests/data/sample_layers.geojson``) on a database of this module; mapnik's
connections see only committed data. The hot-spot checks use the 20,000-incident demo.
"""

from __future__ import annotations

import io
import math
from urllib.parse import urlencode

import mapbox_vector_tile
import numpy as np
import pytest
from lxml import etree
from PIL import Image
from sqlalchemy import text

from app.extensions import db
from geo.layers import INCIDENT_POINT_MAX_SCALE
from geo.maps import hotspot_layer, map_request
from geo.scope import VIEWER_PARAMETER, counted_condition
from geo.vocabulary import LEGACY_AGENCY
from tests.conftest import TEST_PASSWORD, committed_sample_layers

OGC_NS = "{http://www.opengis.net/ogc}"
TIME = "2026-01-01/2026-12-31"  # holds T-1 and T-2, not T-3 (2025)
# (lon, lat) of a feature of each region, and the map layer that draws it.
KK_FEATURES = {"border_segments": (45.05, 41.30), "crossing_points": (45.05, 41.30),
               "incidents": (45.00, 41.33), "regions": (44.80, 41.40)}
KA_FEATURES = {"border_segments": (45.40, 41.35), "crossing_points": (45.45, 41.40),
               "incidents": (45.42, 41.45), "regions": (45.60, 41.40)}


def _user(app, username: str, region_codes: tuple[str, ...], no_region: bool = False) -> dict:
    """Bearer headers of a new viewer restricted to ``region_codes`` (none: unrestricted;
    ``no_region``: restricted to none)."""
    from app.auth.models import User
    from app.auth.tokens import create_token
    from app.auth.users import create_user
    from geo.models import Region

    with app.app_context():
        user = create_user(db.session, username, "viewer", TEST_PASSWORD)
        if region_codes or no_region:
            user.all_regions = False  # restricted to the regions linked below
            user.regions = list(db.session.execute(
                db.select(Region).where(Region.code.in_(region_codes))).scalars())
            assert len(user.regions) == len(region_codes)
        _, token = create_token(db.session, user, "scope test")
        db.session.commit()
        assert db.session.get(User, user.id) is not None
        db.session.remove()
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def scoped(databases):
    """(app, sample ids, headers by user: 'kk', 'ka', 'all', 'both', region ids by code)."""
    app, ids = committed_sample_layers(databases)
    headers = {"kk": _user(app, "viewer-kk", ("T-KK",)),
               "ka": _user(app, "viewer-ka", ("T-KA",)),
               "both": _user(app, "viewer-both", ("T-KK", "T-KA")),
               "all": _user(app, "viewer-all", ()),
               "none": _user(app, "viewer-none", (), no_region=True)}
    yield app, ids, headers, ids["regions"]
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _count(app, sql: str, **params) -> int:
    with app.app_context():
        try:
            return db.session.execute(text(sql), params).scalar_one()
        finally:
            db.session.remove()


# ------------------------------------------------------------------ WMS GetMap


def _alpha_near(app, headers, layer: str, point, bbox, size, extra: str = "") -> bool:
    """Whether a transparent CRS:84 GetMap of ``layer`` draws within 2 pixels of ``point``."""
    width, height = size
    response = app.test_client().get(
        f"/ogc/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS={layer}&STYLES="
        f"&CRS=CRS:84&BBOX={','.join(map(str, bbox))}&WIDTH={width}&HEIGHT={height}"
        f"&FORMAT=image/png&TRANSPARENT=TRUE&TIME={TIME}{extra}", headers=headers)
    assert response.status_code == 200 and response.mimetype == "image/png", response.data
    data = np.asarray(Image.open(io.BytesIO(response.data)).convert("RGBA"))
    col = min(int((point[0] - bbox[0]) / (bbox[2] - bbox[0]) * width), width - 1)
    row = min(int((bbox[3] - point[1]) / (bbox[3] - bbox[1]) * height), height - 1)
    return bool(data[max(row - 2, 0):row + 3, max(col - 2, 0):col + 3, 3].any())


AREA = (44.75, 41.15, 45.65, 41.65)  # both regions, about 75 km: points, not cells
COUNTRY = (40.0, 40.0, 48.0, 44.0)  # about 900 km at 512 pixels: incidents as cells


@pytest.mark.parametrize("layer", sorted(KK_FEATURES))
def test_getmap_draws_only_the_users_regions(scoped, layer):
    app, _, headers, _ = scoped
    size = (450, 250)
    scale = map_request.scale_denominator(map_request.MapRequest(layers=(layer,), bbox=AREA,
                                                       width=size[0], height=size[1]))
    assert scale < INCIDENT_POINT_MAX_SCALE
    for user, drawn_kk, drawn_ka in (("kk", True, False), ("ka", False, True),
                                     ("all", True, True), ("both", True, True)):
        assert _alpha_near(app, headers[user], layer, KK_FEATURES[layer], AREA,
                           size) is drawn_kk, (user, "T-KK")
        assert _alpha_near(app, headers[user], layer, KA_FEATURES[layer], AREA,
                           size) is drawn_ka, (user, "T-KA")


def test_getmap_incident_cells_count_only_the_scope(scoped):
    """At a country's scale incidents are counted into cells from the in-process copy
    of the points: a cell of the other region stays empty."""
    app, _, headers, _ = scoped
    size = (512, 256)
    assert map_request.scale_denominator(map_request.MapRequest(
        layers=("incidents",), bbox=COUNTRY, width=512, height=256)) >= INCIDENT_POINT_MAX_SCALE
    t1, t2 = KK_FEATURES["incidents"], KA_FEATURES["incidents"]
    assert _alpha_near(app, headers["kk"], "incidents", t1, COUNTRY, size)
    assert _alpha_near(app, headers["ka"], "incidents", t2, COUNTRY, size)
    # T-1 and T-2 are 0.43 degrees apart: 27 pixels, other cells.
    for user, point in (("kk", t2), ("ka", t1)):
        width, height = size
        response = app.test_client().get(
            "/ogc/wms?" + urlencode({
                "SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap",
                "LAYERS": "incidents", "STYLES": "", "CRS": "CRS:84",
                "BBOX": ",".join(map(str, COUNTRY)), "WIDTH": width, "HEIGHT": height,
                "FORMAT": "image/png", "TRANSPARENT": "TRUE", "TIME": TIME}),
            headers=headers[user])
        data = np.asarray(Image.open(io.BytesIO(response.data)).convert("RGBA"))
        col = int((point[0] - COUNTRY[0]) / (COUNTRY[2] - COUNTRY[0]) * width)
        row = int((COUNTRY[3] - point[1]) / (COUNTRY[3] - COUNTRY[1]) * height)
        assert not data[row - 2:row + 3, col - 2:col + 3, 3].any(), user
        # Only one cell (of 8x8 pixels) is drawn on the whole map: the user's incident.
        assert 0 < np.count_nonzero(data[..., 3]) <= 64, user


def test_getmap_region_outside_the_scope_is_forbidden(scoped):
    app, _, headers, _ = scoped
    client = app.test_client()
    base = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "incidents",
            "STYLES": "", "CRS": "CRS:84", "BBOX": ",".join(map(str, AREA)), "WIDTH": 100,
            "HEIGHT": 100, "FORMAT": "image/png"}
    response = client.get("/ogc/wms?" + urlencode({**base, "REGION": "T-KA"}),
                          headers=headers["kk"])
    assert response.status_code == 403
    report = etree.fromstring(response.data)
    exception = report.find(f"{OGC_NS}ServiceException")
    assert exception.get("locator") == "REGION"
    assert exception.text == "'T-KA' is not one of your regions (T-KK)"
    # 1.1.1 keeps its own format, with the same status.
    response = client.get("/ogc/wms?" + urlencode({**base, "VERSION": "1.1.1", "SRS": "EPSG:4326",
                                                   "REGION": "T-KA"}), headers=headers["kk"])
    assert response.status_code == 403 and b"<ServiceExceptionReport" in response.data
    assert client.get("/ogc/wms?" + urlencode({**base, "REGION": "T-KK"}),
                      headers=headers["kk"]).status_code == 200
    assert client.get("/ogc/wms?" + urlencode({**base, "REGION": "T-KA"}),
                      headers=headers["all"]).status_code == 200
    # An unknown region is refused as one of another scope: no other region is revealed.
    unknown = client.get("/ogc/wms?" + urlencode({**base, "REGION": "NOPE"}),
                         headers=headers["kk"])
    assert unknown.status_code == 403
    assert b">'NOPE' is not one of your regions (T-KK)</ServiceException>" in unknown.data
    unknown = client.get("/ogc/wms?" + urlencode({**base, "REGION": "NOPE"}),
                         headers=headers["all"])
    assert unknown.status_code == 400 and b"unknown region code" in unknown.data


def test_capabilities_still_list_every_layer(scoped):
    app, _, headers, _ = scoped
    response = app.test_client().get("/ogc/wms?SERVICE=WMS&REQUEST=GetCapabilities",
                                     headers=headers["kk"])
    assert response.status_code == 200
    assert b"<Name>incidents</Name>" in response.data and b"<Name>regions</Name>" in response.data


# ------------------------------------------------------------------ WMS GetFeatureInfo


def _feature_info(app, headers, point, extra: dict | None = None):
    # 0.01 degree a pixel: the 5-pixel tolerance reaches 0.05 degrees around the point.
    bbox = (point[0] - 0.5, point[1] - 0.3, point[0] + 0.5, point[1] + 0.3)
    params = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetFeatureInfo",
              "LAYERS": "regions,border_segments,crossing_points,incidents",
              "QUERY_LAYERS": "regions,border_segments,crossing_points,incidents",
              "STYLES": "", "CRS": "CRS:84", "BBOX": ",".join(map(str, bbox)),
              "WIDTH": 100, "HEIGHT": 60, "I": 50, "J": 30, "FEATURE_COUNT": 10,
              "INFO_FORMAT": "application/json", "TIME": TIME, **(extra or {})}
    return app.test_client().get("/ogc/wms?" + urlencode(params), headers=headers)


def test_getfeatureinfo_answers_only_in_scope(scoped):
    app, ids, headers, regions = scoped
    # Near T-BCP-2, T-2 and T-AZ-002, inside T-KA: every layer has a feature near it.
    point = (45.43, 41.43)
    found = {}
    for user in ("kk", "ka", "all"):
        response = _feature_info(app, headers[user], point)
        assert response.status_code == 200, response.data
        found[user] = {f["id"] for f in response.get_json()["features"]}
    expected_ka = {f"regions.{regions['T-KA']}",
                   f"border_segments.{ids['border_segments']['T-AZ-002']}",
                   f"crossing_points.{ids['crossing_points']['T-BCP-2']}",
                   f"incidents.{ids['incidents']['T-2']}"}
    assert found["ka"] == expected_ka
    assert found["kk"] == set()
    assert found["all"] >= expected_ka
    response = _feature_info(app, headers["kk"], point, {"REGION": "T-KA"})
    assert response.status_code == 403
    assert b">'T-KA' is not one of your regions (T-KK)</ServiceException>" in response.data


# ------------------------------------------------------------------ OGC API Features

_SCOPE_COUNTS = {
    "regions": "SELECT count(*) FROM regions WHERE id = ANY(:scope)",
    "border_segments": "SELECT count(*) FROM border_segments WHERE region_id = ANY(:scope)",
    "crossing_points": "SELECT count(*) FROM crossing_points WHERE region_id = ANY(:scope)",
    "incidents": "SELECT count(*) FROM incidents WHERE region_id = ANY(:scope)",
}


@pytest.mark.parametrize("collection", sorted(_SCOPE_COUNTS))
def test_items_hold_the_scope_and_number_matched_counts_it(scoped, collection):
    app, _, headers, regions = scoped
    client = app.test_client()
    scopes = {"kk": [regions["T-KK"]], "ka": [regions["T-KA"]],
              "both": [regions["T-KK"], regions["T-KA"]]}
    total = _count(app, f"SELECT count(*) FROM {collection}")
    for user, scope in scopes.items():
        expected = _count(app, _SCOPE_COUNTS[collection], scope=scope)
        assert expected >= 1
        body = client.get(f"/ogc/features/collections/{collection}/items?limit=100",
                          headers=headers[user]).get_json()
        assert body["numberMatched"] == expected == body["numberReturned"], user
        region_of = [f["id"] if collection == "regions" else f["properties"]["region_id"]
                     for f in body["features"]]
        assert set(region_of) <= set(scope), user
    every = client.get(f"/ogc/features/collections/{collection}/items?limit=100",
                       headers=headers["all"]).get_json()
    assert every["numberMatched"] == total
    # A page past the scope's items still counts the scope (counted apart).
    page = client.get(f"/ogc/features/collections/{collection}/items?limit=1&offset=50",
                      headers=headers["kk"]).get_json()
    assert page["numberMatched"] == _count(app, _SCOPE_COUNTS[collection],
                                           scope=scopes["kk"])


def test_incidents_outside_every_region_are_outside_every_scope(scoped):
    """T-3 lies outside both sample regions: unlinked, so only an unrestricted user
    reads it."""
    app, ids, headers, _ = scoped
    client = app.test_client()
    t3 = ids["incidents"]["T-3"]
    assert _count(app, "SELECT count(*) FROM incidents WHERE id = :id AND region_id IS NULL",
                  id=t3) == 1
    assert client.get(f"/ogc/features/collections/incidents/items/{t3}",
                      headers=headers["all"]).status_code == 200
    assert client.get(f"/ogc/features/collections/incidents/items/{t3}",
                      headers=headers["both"]).status_code == 404


@pytest.mark.parametrize(("collection", "layer", "code"), [
    ("regions", "regions", "T-KA"), ("border_segments", "border_segments", "T-AZ-002"),
    ("crossing_points", "crossing_points", "T-BCP-2"), ("incidents", "incidents", "T-2")])
def test_item_outside_the_scope_is_not_found(scoped, collection, layer, code):
    app, ids, headers, _ = scoped
    client = app.test_client()
    url = f"/ogc/features/collections/{collection}/items/{ids[layer][code]}"
    response = client.get(url, headers=headers["kk"])
    assert response.status_code == 404
    assert response.get_json()["code"] == "NotFound"
    inside = client.get(url, headers=headers["ka"])
    assert inside.status_code == 200 and inside.get_json()["id"] == ids[layer][code]


def test_risk_collection_holds_the_scope(scoped):
    """Risk results of a stored assessment (kept: assessments are immutable; this
    module's database is its own): each user reads only their sections'."""
    app, ids, headers, _ = scoped
    with app.app_context():
        user_id = db.session.execute(text(
            "SELECT id FROM users WHERE username = 'viewer-all'")).scalar_one()
        assessment = db.session.execute(text(
            "INSERT INTO risk_assessments (period_start, period_end, config_sha256, "
            "config_text, inputs, summary, created_by) VALUES ('2026-01-01Z', "
            "'2026-04-01Z', repeat('0', 64), 'x', '{}', '{}', :user) RETURNING id"),
            {"user": user_id}).scalar_one()
        for rank, code in enumerate(("T-AZ-001", "T-AZ-002"), start=1):
            db.session.execute(text(
                "INSERT INTO risk_section_results (assessment_id, segment_id, threat, "
                "vulnerability, impact, risk, level, rank, details) "
                "VALUES (:a, :s, 2, 2, 2, 8, 'low', :rank, '{}')"),
                {"a": assessment, "s": ids["border_segments"][code], "rank": rank})
        db.session.commit()
        db.session.remove()
    client = app.test_client()
    for user, code in (("kk", "T-AZ-001"), ("ka", "T-AZ-002")):
        body = client.get("/ogc/features/collections/risk/items",
                          headers=headers[user]).get_json()
        assert body["numberMatched"] == 1, user
        assert [f["id"] for f in body["features"]] == [ids["border_segments"][code]]
        other = ids["border_segments"]["T-AZ-002" if user == "kk" else "T-AZ-001"]
        assert client.get(f"/ogc/features/collections/risk/items/{other}",
                          headers=headers[user]).status_code == 404
    assert client.get("/ogc/features/collections/risk/items",
                      headers=headers["all"]).get_json()["numberMatched"] == 2
    # The risk tiles too.
    features, _ = _area_tiles(app, headers["kk"], "risk", 9, AREA)
    assert {f["id"] for f in features} == {ids["border_segments"]["T-AZ-001"]}


# ------------------------------------------------------------------ vector tiles


def _tile_xy(z: int, lon: float, lat: float) -> tuple[int, int]:
    n = 2**z
    return (int((lon + 180) / 360 * n),
            int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n))


def _tile(app, headers, layer: str, z: int, lon: float, lat: float):
    x, y = _tile_xy(z, lon, lat)
    return app.test_client().get(f"/ogc/tiles/{layer}/{z}/{x}/{y}.mvt", headers=headers)


def _area_tiles(app, headers, layer: str, z: int, bbox) -> tuple[list[dict], list[str]]:
    """The decoded features of every tile of ``bbox`` at zoom ``z``, and their ETags."""
    (x0, y0), (x1, y1) = _tile_xy(z, bbox[0], bbox[3]), _tile_xy(z, bbox[2], bbox[1])
    features, etags = [], []
    for x in range(x0, x1 + 1):
        for y in range(y0, y1 + 1):
            response = app.test_client().get(f"/ogc/tiles/{layer}/{z}/{x}/{y}.mvt",
                                             headers=headers)
            assert response.status_code in (200, 204), response.data
            assert response.headers["Cache-Control"].startswith("private")
            etags.append(response.headers["ETag"])
            if response.status_code == 200:
                features += mapbox_vector_tile.decode(response.data)[layer]["features"]
    return features, etags


@pytest.mark.parametrize("layer", ["regions", "border_segments", "crossing_points",
                                   "incidents"])
def test_tiles_hold_only_the_scope_and_etags_differ(scoped, layer):
    app, _, headers, regions = scoped
    etags = {}
    ids_by_user = {}
    for user, scope in (("kk", {regions["T-KK"]}), ("ka", {regions["T-KA"]}),
                        ("both", {regions["T-KK"], regions["T-KA"]}), ("all", None)):
        # z 10: incidents are points with ids (aggregated below z 10).
        features, etags[user] = _area_tiles(app, headers[user], layer, 10, AREA)
        ids_by_user[user] = {f["id"] for f in features}
        if scope is not None:
            regions_of = ({f["id"] for f in features} if layer == "regions"
                          else {f["properties"]["region_id"] for f in features})
            assert regions_of == scope, user
    # No tile shares an ETag between two scopes.
    for k, first in enumerate(etags):
        for second in list(etags)[k + 1:]:
            assert set(etags[first]).isdisjoint(etags[second]), (first, second)
    assert ids_by_user["kk"].isdisjoint(ids_by_user["ka"])
    assert ids_by_user["kk"] | ids_by_user["ka"] == ids_by_user["both"]
    assert ids_by_user["both"] <= ids_by_user["all"]


def test_aggregated_incident_tiles_count_only_the_scope(scoped):
    app, _, headers, regions = scoped
    counts = {}
    for user in ("kk", "ka", "both", "all"):
        response = _tile(app, headers[user], "incidents", 6, 45.2, 41.4)
        assert response.status_code == 200
        features = mapbox_vector_tile.decode(response.data)["incidents"]["features"]
        counts[user] = sum(f["properties"]["count"] for f in features)
    assert counts["kk"] == _count(app, "SELECT count(*) FROM incidents WHERE region_id = :r",
                                  r=regions["T-KK"]) == 1
    # T-3 (unlinked) lies in the next tile west: this one holds T-1 and T-2.
    assert counts["ka"] == 1 and counts["both"] == 2 == counts["all"]


def test_a_cached_etag_of_another_scope_is_never_revalidated(scoped):
    """The KK user's ETag sent by the KA user (a shared browser cache): a full tile
    of the KA user's own features, not 304."""
    app, _, headers, _ = scoped
    first = _tile(app, headers["kk"], "incidents", 12, 45.42, 41.45)
    assert first.status_code == 204  # T-2 is in T-KA: nothing for KK here
    etag = first.headers["ETag"]
    again = _tile(app, {**headers["kk"], "If-None-Match": etag}, "incidents", 12, 45.42,
                  41.45)
    assert again.status_code == 304
    other = _tile(app, {**headers["ka"], "If-None-Match": etag}, "incidents", 12, 45.42,
                  41.45)
    assert other.status_code == 200 and other.headers["ETag"] != etag
    assert len(mapbox_vector_tile.decode(other.data)["incidents"]["features"]) == 1


def test_tilejson_bounds_follow_the_scope(scoped):
    app, _, headers, _ = scoped
    kk = app.test_client().get("/ogc/tiles/regions.json", headers=headers["kk"]).get_json()
    every = app.test_client().get("/ogc/tiles/regions.json",
                                  headers=headers["all"]).get_json()
    assert kk["bounds"] == pytest.approx([44.8, 41.2, 45.2, 41.6])
    assert every["bounds"] == pytest.approx([44.8, 41.2, 45.6, 41.6])


# ------------------------------------------------------------------ the map page


def test_map_page_loads_for_a_scoped_user(scoped):
    app, _, headers, _ = scoped
    response = app.test_client().get("/", headers=headers["kk"])
    assert response.status_code == 200
    assert b'id="map"' in response.data


# ------------------------------------------------------------------ hot spots and density


def _demo_user(demo_app, username: str, region_codes: tuple[str, ...]) -> dict:
    from app.auth.models import User

    app = demo_app[0]
    with app.app_context():
        user = db.session.execute(db.select(User).filter_by(username=username)
                                  ).scalar_one_or_none()
        db.session.remove()
    if user is None:
        return _user(app, username, region_codes)
    from app.auth.tokens import create_token

    with app.app_context():
        _, token = create_token(db.session, db.session.get(User, user.id), "scope test")
        db.session.commit()
        db.session.remove()
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.slow
def test_hotspot_collection_of_a_scope_counts_its_incidents_only(demo_app):
    """The hotspots collection for a user of one region: its cells cover that region's
    extent and their counts add up to the region's incidents of the window (the 90 days
    up to the region's latest incident: nothing of other regions' times shows)."""
    app = demo_app[0]
    code, region_id, minx, miny, maxx, maxy = None, None, 0, 0, 0, 0
    with app.app_context():
        row = db.session.execute(text(
            "SELECT r.code, r.id, ST_XMin(r.geom), ST_YMin(r.geom), ST_XMax(r.geom), "
            "ST_YMax(r.geom) FROM regions r JOIN incidents i ON i.region_id = r.id "
            "GROUP BY r.id ORDER BY count(*) DESC LIMIT 1")).one()
        code, region_id, minx, miny, maxx, maxy = row
        last = db.session.execute(text("SELECT max(occurred_at) FROM incidents "
                                       "WHERE region_id = :r"), {"r": region_id}).scalar_one()
        # What the user's agency (the demo users': GBP) may count of the demo.
        expected = db.session.execute(text(
            "SELECT count(*) FROM incidents WHERE region_id = :r AND occurred_at >= "
            f"CAST(:last AS timestamptz) - interval '90 days' AND {counted_condition()}"),
            {"r": region_id, "last": last, VIEWER_PARAMETER: LEGACY_AGENCY}).scalar_one()
        everywhere = db.session.execute(text(
            "SELECT count(*) FROM incidents WHERE occurred_at >= "
            "CAST(:last AS timestamptz) - interval '90 days'"), {"last": last}).scalar_one()
        db.session.remove()
    headers = _demo_user(demo_app, f"hotspots-{code}", (code,))
    body = app.test_client().get("/ogc/features/collections/hotspots/items?limit=10000",
                                 headers=headers).get_json()
    features = body["features"]
    assert body["numberMatched"] == len(features) > 0
    assert sum(f["properties"]["count"] for f in features) == expected < everywhere
    extent = app.test_client().get("/ogc/features/collections/hotspots?f=json",
                                   headers=headers).get_json()["extent"]
    assert extent["temporal"]["interval"][0][1] == last.isoformat()
    assert extent["spatial"]["bbox"] == [pytest.approx([minx, miny, maxx, maxy])]
    ring = np.array([c for f in features for c in f["geometry"]["coordinates"][0]])
    margin = 0.05  # degrees: cells along the edge reach a little past the region
    assert ring[:, 0].min() > minx - margin and ring[:, 0].max() < maxx + margin
    assert ring[:, 1].min() > miny - margin and ring[:, 1].max() < maxy + margin


def test_wms_hotspots_and_density_of_a_scope(demo_app):
    """Gi* cells and the density raster of a scoped map come from the scope's incidents:
    the density is transparent over another region's incidents, and every hot-spot
    cell lies in the extent of the scope's regions."""
    app = demo_app[0]
    with app.app_context():
        rows = db.session.execute(text(
            "SELECT r.code, r.id, ST_XMin(r.geom), ST_YMin(r.geom), ST_XMax(r.geom), "
            "ST_YMax(r.geom) FROM regions r JOIN incidents i ON i.region_id = r.id "
            "GROUP BY r.id ORDER BY count(*) DESC LIMIT 2")).all()
        db.session.remove()
    (code, region_id, *extent), (_, _, *other_extent) = rows
    database_url = app.config["SQLALCHEMY_DATABASE_URI"]
    scoped_cells = hotspot_layer.hotspot_features(
        database_url, None, None, app.config["ANALYSIS_SRID"], scope=(region_id,))
    assert scoped_cells["features"]
    ring = np.array([c for f in scoped_cells["features"]
                     for c in f["geometry"]["coordinates"][0]])
    assert ring[:, 0].min() > extent[0] - 0.2 and ring[:, 0].max() < extent[2] + 0.2
    assert ring[:, 1].min() > extent[1] - 0.2 and ring[:, 1].max() < extent[3] + 0.2
    # Density: the other region's incidents give no density to a user of this one.
    headers = _demo_user(demo_app, f"density-{code}", (code,))
    bbox = (other_extent[0], other_extent[1], other_extent[2], other_extent[3])
    params = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap",
              "LAYERS": "density", "STYLES": "", "CRS": "CRS:84",
              "BBOX": ",".join(map(str, bbox)), "WIDTH": 64, "HEIGHT": 64,
              "FORMAT": "image/png", "TRANSPARENT": "TRUE"}
    client = app.test_client()
    own = client.get("/ogc/wms?" + urlencode(params), headers=headers)
    unscoped = client.get("/ogc/wms?" + urlencode(params), headers=demo_app[1])
    assert own.status_code == 200 and unscoped.status_code == 200

    def drawn(data: bytes) -> int:
        return int(np.count_nonzero(np.asarray(Image.open(io.BytesIO(data)).convert(
            "RGBA"))[..., 3]))

    assert drawn(unscoped.data) > drawn(own.data)


# ------------------------------------------------------------------ metadata (issue 14, item 6)

# The sample incidents: T-1 in T-KK, T-2 in T-KA, T-3 in no region (lon, lat, time).
T1 = (45.00, 41.33, "2026-10-01T02:30:00+00:00")
T2 = (45.42, 41.45, "2026-10-15T22:10:00+00:00")
T3 = (44.70, 41.10, "2025-03-02T12:00:00+00:00")
WORLD = [-180, -90, 180, 90]


@pytest.mark.parametrize(("user", "bbox", "interval"), [
    ("kk", [T1[0], T1[1], T1[0], T1[1]], [T1[2], T1[2]]),
    ("ka", [T2[0], T2[1], T2[0], T2[1]], [T2[2], T2[2]]),
    ("all", [T3[0], T3[1], T2[0], T2[1]], [T3[2], T2[2]]),
    ("none", WORLD, None),
])
def test_collection_extents_describe_only_the_users_regions(scoped, user, bbox, interval):
    """The incidents collection's extent (alone and in the list) is that of the user's
    incidents: a user of T-KK does not learn where and when T-KA's incidents are."""
    app, _, headers, _ = scoped
    client = app.test_client()
    one = client.get("/ogc/features/collections/incidents?f=json", headers=headers[user])
    listed = client.get("/ogc/features/collections?f=json", headers=headers[user])
    (in_list,) = [c for c in listed.get_json()["collections"] if c["id"] == "incidents"]
    for extent in (one.get_json()["extent"], in_list["extent"]):
        assert extent["spatial"]["bbox"] == [pytest.approx(bbox)], user
        if interval is None:
            assert "temporal" not in extent
        else:
            assert extent["temporal"]["interval"] == [interval], user


def test_other_collections_extents_are_scoped_too(scoped):
    app, _, headers, _ = scoped
    client = app.test_client()
    for collection, kk_point in (("border_segments", None), ("crossing_points", (45.05, 41.30)),
                                 ("regions", None)):
        kk = client.get(f"/ogc/features/collections/{collection}?f=json",
                        headers=headers["kk"]).get_json()["extent"]["spatial"]["bbox"][0]
        every = client.get(f"/ogc/features/collections/{collection}?f=json",
                           headers=headers["all"]).get_json()["extent"]["spatial"]["bbox"][0]
        assert kk[2] < every[2], collection  # T-KA lies east of T-KK
        if kk_point is not None:
            assert kk == pytest.approx([*kk_point, *kk_point]), collection
        none = client.get(f"/ogc/features/collections/{collection}?f=json",
                          headers=headers["none"]).get_json()["extent"]["spatial"]["bbox"]
        assert none == [WORLD], collection


def _capabilities_layer(app, headers, name: str):
    body = app.test_client().get("/ogc/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetCapabilities",
                                 headers=headers).data
    ns = {"w": "http://www.opengis.net/wms"}
    (layer,) = etree.fromstring(body).xpath(f"//w:Layer[w:Name='{name}']", namespaces=ns)
    box = layer.find("w:EX_GeographicBoundingBox", ns)
    bbox = [float(box.findtext(f"w:{side}", namespaces=ns)) for side in
            ("westBoundLongitude", "southBoundLatitude", "eastBoundLongitude",
             "northBoundLatitude")]
    dimension = layer.find("w:Dimension", ns)
    return bbox, None if dimension is None else dimension.text


@pytest.mark.parametrize(("user", "bbox", "times"), [
    # whole UTC days (P1D): the days of the first and the last incident the user sees
    ("kk", [T1[0], T1[1], T1[0], T1[1]], "2026-10-01T00:00:00Z/2026-10-01T00:00:00Z/P1D"),
    ("all", [T3[0], T3[1], T2[0], T2[1]], "2025-03-02T00:00:00Z/2026-10-15T00:00:00Z/P1D"),
    ("none", WORLD, None),
])
def test_wms_capabilities_extents_and_time_are_the_users(scoped, user, bbox, times):
    app, _, headers, _ = scoped
    found_bbox, found_times = _capabilities_layer(app, headers[user], "incidents")
    assert found_bbox == pytest.approx(bbox)
    assert found_times == times


def test_a_user_with_no_region_reads_nothing(scoped):
    """No region is not every region: every collection is empty, every map blank."""
    app, ids, headers, _ = scoped
    client = app.test_client()
    none = headers["none"]
    for collection in ("regions", "border_segments", "crossing_points", "incidents", "risk"):
        body = client.get(f"/ogc/features/collections/{collection}/items?f=json",
                          headers=none).get_json()
        assert body["numberMatched"] == 0, collection
    for layer in ("regions", "segments", "crossings", "incidents"):
        body = client.get(f"/api/v1/{layer}", headers=none).get_json()
        assert body["numberMatched"] == 0 and body["features"] == [], layer
    t1 = ids["incidents"]["T-1"]
    assert client.get(f"/api/v1/incidents/{t1}", headers=none).status_code == 404
    for layer in [*sorted(KK_FEATURES), "hotspots", "density"]:
        assert not _alpha_near(app, none, layer, KK_FEATURES["incidents"], AREA, (450, 250)
                               ), layer
    for layer in ("regions", "border_segments", "crossing_points", "incidents"):
        features, _ = _area_tiles(app, none, layer, 10, AREA)
        assert features == [], layer
        assert _area_tiles(app, headers["all"], layer, 10, AREA)[0], layer  # data is there
    exported = client.get("/api/v1/incidents?f=csv", headers=none)
    assert exported.status_code == 200
    assert len(exported.get_data(as_text=True).strip().splitlines()) == 1  # the header
    tilejson = client.get("/ogc/tiles/incidents.json", headers=none).get_json()
    assert tilejson["bounds"] == [-180.0, -85.0511, 180.0, 85.0511]
    refused = client.get("/api/v1/reports/bulletin", headers=none)
    assert refused.status_code == 403
    assert refused.get_json()["detail"] == ("region: you are linked to no region: ask an "
                                            "admin")
