"""OGC API - Features at /ogc/features: documents, items, filters, CRS, paging, errors,
and real clients (OWSLib, GDAL's OAPIF driver) against a live server."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime

import pytest
import requests
from openapi_spec_validator import validate
from pyproj import Transformer
from sqlalchemy import text

from geo.layers import COLLECTIONS, TILE_LAYERS
from geo.maps import ogc_features

BASE = "/ogc/features"
CRS_EPSG = "http://www.opengis.net/def/crs/EPSG/0/"


@pytest.fixture
def viewer(token_headers):
    return token_headers("viewer")


def get(client, headers, path, **params):
    response = client.get(f"{BASE}{path}", headers=headers, query_string=params)
    return response, (response.get_json() if response.is_json or
                      response.mimetype == "application/geo+json" else None)


def geojson(response) -> dict:
    assert response.mimetype == "application/geo+json", response.get_data(as_text=True)
    return json.loads(response.get_data(as_text=True))


def add_incidents(session, count: int, hour_step: str = "1 h") -> None:
    """``count`` synthetic incidents near (45.0, 41.3), an hour apart from 2026-01-01."""
    session.execute(text(
        "INSERT INTO incidents (source, external_id, occurred_at, category, outcome, "
        "persons_count, source_reliability, information_credibility, status, geom) "
        "SELECT 'paging', 'P-' || n, timestamptz '2026-01-01T00:00:00Z' + n * "
        "CAST(:step AS interval), 'refusal_of_entry', 'actual', 0, 'X', 4, 'draft', "
        "ST_SetSRID(ST_MakePoint(45.0 + n / 1000.0, 41.3), 4326) "
        "FROM generate_series(1, :count) AS n"), {"count": count, "step": hour_step})


def db_count(session, sql: str, **params) -> int:
    return session.execute(text(sql), params).scalar_one()


def test_landing_page_links_the_service_description_conformance_and_data(client, viewer):
    response, body = get(client, viewer, "")
    assert response.status_code == 200
    rels = {link["rel"]: link["href"] for link in body["links"]}
    assert rels["service-desc"].endswith("/ogc/features/api")
    assert rels["conformance"].endswith("/ogc/features/conformance")
    assert rels["data"].endswith("/ogc/features/collections")


def test_conformance_lists_the_implemented_classes(client, viewer):
    _, body = get(client, viewer, "/conformance")
    assert set(body["conformsTo"]) == {
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
        "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
        "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
        "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
        "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
        "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
        "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
        "http://www.opengis.net/spec/tms/2.0/conf/tilematrixset",
        "http://www.opengis.net/spec/tms/2.0/conf/json-tilematrixset",
    }


def test_openapi_document_is_valid_and_covers_every_collection(client, viewer):
    response = client.get(f"{BASE}/api", headers=viewer)
    assert response.mimetype == "application/vnd.oai.openapi+json"
    document = json.loads(response.get_data(as_text=True))
    validate(document)
    for collection_id in COLLECTIONS:
        items = document["paths"][f"/collections/{collection_id}/items"]["get"]
        # A parameter declared once under components (limit) is referred to.
        names = {p["name"] if "name" in p else
                 document["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]["name"]
                 for p in items["parameters"]}
        assert {"bbox", "limit", "crs", "bbox-crs"} <= names
    for collection_id in TILE_LAYERS:
        tile = document["paths"][f"/collections/{collection_id}/tiles/{{tileMatrixSetId}}"
                                 "/{tileMatrix}/{tileRow}/{tileCol}"]["get"]
        assert "application/vnd.mapbox-vector-tile" in tile["responses"]["200"]["content"]
    assert "/tileMatrixSets/{tileMatrixSetId}" in document["paths"]
    incidents = document["paths"]["/collections/incidents/items"]["get"]["parameters"]
    category = next(p for p in incidents if p.get("name") == "category")
    assert "smuggling_tobacco" in category["schema"]["enum"]


def test_collections_have_extents_crs_and_item_links(client, viewer, sample_layers):
    _, body = get(client, viewer, "/collections")
    by_id = {c["id"]: c for c in body["collections"]}
    assert set(by_id) == {"regions", "border_segments", "crossing_points", "incidents",
                          "hotspots", "risk"}
    incidents = by_id["incidents"]
    # The three sample incidents lie between 44.7 and 45.42 E, 41.1 and 41.45 N.
    assert incidents["extent"]["spatial"]["bbox"][0] == pytest.approx([44.7, 41.1, 45.42, 41.45])
    first, last = incidents["extent"]["temporal"]["interval"][0]
    assert first.startswith("2025-03-02T12:00:00") and last.startswith("2026-10-15T22:10:00")
    assert f"{CRS_EPSG}32638" in incidents["crs"]
    assert any(link["rel"] == "items" and link["type"] == "application/geo+json"
               for link in incidents["links"])


def test_items_default_limit_is_10_and_counts_equal_the_database(client, viewer, db_session,
                                                                 sample_layers):
    add_incidents(db_session, 24)
    response, _ = get(client, viewer, "/collections/incidents/items")
    body = geojson(response)
    total = db_count(db_session, "SELECT count(*) FROM incidents")
    assert total == 27
    assert body["numberMatched"] == total
    assert body["numberReturned"] == len(body["features"]) == 10
    assert response.headers["Content-Crs"] == "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"


def test_paging_links_walk_every_feature_exactly_once(client, viewer, db_session,
                                                      sample_layers):
    add_incidents(db_session, 20, "0 h")  # same time and order key: ids break the tie
    expected = {row[0] for row in db_session.execute(text("SELECT id FROM incidents"))}
    seen, url, pages = [], f"{BASE}/collections/incidents/items?limit=7", 0
    while url:
        response = client.get(url, headers=viewer)
        body = geojson(response)
        pages += 1
        assert body["numberMatched"] == len(expected)
        seen += [feature["id"] for feature in body["features"]]
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
    assert pages == 4  # 23 features, 7 a page
    assert sorted(seen) == sorted(expected)  # none twice, none missing


def test_a_list_without_a_time_window_counts_up_to_a_bound(client, viewer, db_session,
                                                          sample_layers, monkeypatch):
    """Issue 21: without a time window, numberMatched is given only when it is under the
    bound (max(NUMBER_MATCHED_BOUND, offset + limit) + 1 rows counted), left out past
    it; the next links still walk every feature once, in the OGC API and the JSON API.
    A list of a window counts exactly."""
    from geo.queries import features as feature_queries

    monkeypatch.setattr(feature_queries, "NUMBER_MATCHED_BOUND", 10)
    add_incidents(db_session, 20, "0 h")
    expected = {row[0] for row in db_session.execute(text("SELECT id FROM incidents"))}
    assert len(expected) == 23
    for first in (f"{BASE}/collections/incidents/items?limit=7",
                  "/api/v1/incidents?limit=7&sortby=id"):
        seen, url, matched = [], first, []
        while url:
            body = geojson(client.get(url, headers=viewer))
            matched.append(body.get("numberMatched"))
            seen += [feature["id"] for feature in body["features"]]
            url = next((link["href"] for link in body["links"] if link["rel"] == "next"),
                       None)
        # counted up to 11, 15, 22 rows: more match; then up to 29: all 23
        assert matched == [None, None, None, 23], first
        assert sorted(seen) == sorted(expected), first
    window = "2025-01-01T00:00:00Z/2027-01-01T00:00:00Z"
    _, body = get(client, viewer, "/collections/incidents/items", limit="7",
                  datetime=window)
    assert body["numberMatched"] == 23
    html = client.get(f"{BASE}/collections/incidents/items?limit=7&f=html", headers=viewer)
    assert "7 of more than 10 items" in html.get_data(as_text=True)
    api = client.get(f"/api/v1/incidents?limit=7&datetime={window}", headers=viewer)
    assert api.get_json()["numberMatched"] == 23


def test_limit_above_the_maximum_is_served_as_the_maximum(client, viewer, sample_layers):
    response, _ = get(client, viewer, "/collections/incidents/items", limit="50000")
    assert geojson(response)["numberReturned"] == 3
    response, body = get(client, viewer, "/collections/incidents/items", limit="0")
    assert response.status_code == 400
    assert body["code"] == "InvalidParameterValue" and body["description"].startswith("limit")


def test_bbox_datetime_and_property_filters(client, viewer, sample_layers):
    ids = sample_layers["incidents"]

    def ids_of(**params):
        response, _ = get(client, viewer, "/collections/incidents/items", **params)
        return {feature["id"] for feature in geojson(response)["features"]}

    # T-1 at (45.0, 41.33); T-2 and T-3 are further east or south.
    assert ids_of(bbox="44.95,41.3,45.05,41.36") == {ids["T-1"]}
    assert ids_of(datetime="2026-10-10T00:00:00Z/..") == {ids["T-2"]}
    assert ids_of(datetime="../2025-12-31T00:00:00Z") == {ids["T-3"]}
    assert ids_of(category="smuggling_tobacco") == {ids["T-2"]}
    assert ids_of(status="validated", category="illegal_crossing_between_bcp") == {ids["T-1"]}
    assert ids_of(status="draft", category="illegal_crossing_between_bcp") == set()


@pytest.mark.parametrize(("params", "field"), [
    ({"category": "piracy"}, "category"),
    ({"bbox": "1,2,3"}, "bbox"),
    ({"datetime": "yesterday"}, "datetime"),
    ({"crs": "EPSG:2154"}, "crs"),
    ({"persons_count": "many"}, "persons_count"),
    ({"colour": "red"}, "colour"),
    ({"offset": "-1"}, "offset"),
])
def test_bad_parameters_are_400_exceptions_naming_the_parameter(client, viewer, params, field):
    response, body = get(client, viewer, "/collections/incidents/items", **params)
    assert response.status_code == 400
    assert body["code"] == "InvalidParameterValue"
    assert body["description"].startswith(f"{field}:")


def test_datetime_on_a_collection_without_time_is_refused(client, viewer):
    response, body = get(client, viewer, "/collections/regions/items", datetime="2026-01-01")
    assert response.status_code == 400 and body["description"].startswith("datetime:")


def test_unknown_collection_item_and_path_are_404_exceptions(client, viewer, sample_layers):
    for path in ("/collections/rivers", "/collections/rivers/items",
                 "/collections/incidents/items/999999", "/collections/incidents/items/abc",
                 "/no/such/thing"):
        response, body = get(client, viewer, path)
        assert response.status_code == 404, path
        assert body["code"] == "NotFound"


def test_one_item_with_links(client, viewer, sample_layers):
    feature_id = sample_layers["crossing_points"]["T-BCP-2"]
    response, _ = get(client, viewer, f"/collections/crossing_points/items/{feature_id}")
    feature = geojson(response)
    assert feature["id"] == feature_id
    assert feature["properties"]["code"] == "T-BCP-2"
    assert feature["properties"]["status"] == "restricted"
    assert {"self", "alternate", "collection"} <= {link["rel"] for link in feature["links"]}


@pytest.mark.parametrize("srid", [3857, 32638])
def test_items_in_a_projected_crs_match_pyproj_within_a_centimetre(client, viewer,
                                                                  sample_layers, srid):
    response, _ = get(client, viewer, "/collections/incidents/items",
                      crs=f"{CRS_EPSG}{srid}")
    assert response.headers["Content-Crs"] == f"<{CRS_EPSG}{srid}>"
    projected = {f["id"]: f["geometry"]["coordinates"] for f in geojson(response)["features"]}
    response, _ = get(client, viewer, "/collections/incidents/items")
    lonlat = {f["id"]: f["geometry"]["coordinates"] for f in geojson(response)["features"]}
    to_srid = Transformer.from_crs(4326, srid, always_xy=True)
    assert len(projected) == 3
    for feature_id, (lon, lat) in lonlat.items():
        x, y = to_srid.transform(lon, lat)
        assert projected[feature_id] == pytest.approx([x, y], abs=0.01)


def test_epsg_4326_is_latitude_first_and_bbox_crs_reads_each_crs(client, viewer,
                                                                 sample_layers):
    t1 = sample_layers["incidents"]["T-1"]  # at lon 45.0, lat 41.33
    response, _ = get(client, viewer, f"/collections/incidents/items/{t1}",
                      crs=f"{CRS_EPSG}4326")
    assert geojson(response)["geometry"]["coordinates"] == pytest.approx([41.33, 45.0])
    x, y = Transformer.from_crs(4326, 32638, always_xy=True).transform(45.0, 41.33)
    for bbox, crs in (("41.3,44.95,41.36,45.05", f"{CRS_EPSG}4326"),
                      (f"{x - 100},{y - 100},{x + 100},{y + 100}", f"{CRS_EPSG}32638")):
        response, _ = get(client, viewer, "/collections/incidents/items", bbox=bbox,
                          **{"bbox-crs": crs})
        assert [f["id"] for f in geojson(response)["features"]] == [t1], crs


@pytest.mark.parametrize(("short", "uri"), [
    ("EPSG:4326", f"{CRS_EPSG}4326"), ("urn:ogc:def:crs:EPSG::4326", f"{CRS_EPSG}4326"),
    ("EPSG:3857", f"{CRS_EPSG}3857"), ("EPSG:32638", f"{CRS_EPSG}32638"),
    ("CRS84", ogc_features.CRS84), ("OGC:CRS84", ogc_features.CRS84)])
def test_short_crs_names_read_as_their_uri(client, viewer, sample_layers, short, uri):
    """``crs=EPSG:4326`` (issue 20) is the URI's CRS, latitude first; bbox-crs too."""
    t1 = sample_layers["incidents"]["T-1"]
    by_uri, _ = get(client, viewer, f"/collections/incidents/items/{t1}", crs=uri)
    by_short, _ = get(client, viewer, f"/collections/incidents/items/{t1}", crs=short)
    assert by_short.headers["Content-Crs"] == f"<{uri}>"
    assert geojson(by_short)["geometry"] == geojson(by_uri)["geometry"]
    x, y = geojson(by_uri)["geometry"]["coordinates"]
    d = 0.01 if uri.endswith(("4326", "CRS84")) else 100
    box = f"{x - d},{y - d},{x + d},{y + d}"
    found, _ = get(client, viewer, "/collections/incidents/items", bbox=box,
                   **{"bbox-crs": short})
    assert [f["id"] for f in geojson(found)["features"]] == [t1]


def test_html_pages_are_escaped(client, viewer, db_session, sample_layers):
    t1 = sample_layers["incidents"]["T-1"]
    db_session.execute(text("UPDATE incidents SET description = :d WHERE id = :id"),
                       {"d": "<script>alert(1)</script>", "id": t1})
    for path in ("/collections/incidents/items", f"/collections/incidents/items/{t1}"):
        response = client.get(f"{BASE}{path}?f=html", headers=viewer)
        page = response.get_data(as_text=True)
        assert response.mimetype == "text/html"
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "<script>alert(1)" not in page
    response = client.get(f"{BASE}/collections", headers={**viewer, "Accept": "text/html"})
    assert response.mimetype == "text/html" and "border_segments" in response.get_data(
        as_text=True)


def test_risk_collection_holds_each_sections_latest_assessment(client, viewer, db_session,
                                                               sample_layers, make_user):
    user = make_user("analyst")
    db_session.flush()
    segments = sample_layers["border_segments"]

    def assess(level: str, created: str) -> int:
        assessment = db_session.execute(text(
            "INSERT INTO risk_assessments (period_start, period_end, config_sha256, "
            "config_text, inputs, summary, created_by, created_at) VALUES "
            "('2026-01-01Z', '2026-04-01Z', repeat('0', 64), 'x', '{}', '{}', :user, "
            ":created) RETURNING id"), {"user": user.id, "created": created}).scalar_one()
        db_session.execute(text(
            "INSERT INTO risk_section_results (assessment_id, segment_id, threat, "
            "vulnerability, impact, risk, level, rank, details) VALUES "
            "(:a, :s, 4, 4, 4, 64, :level, 1, '{}')"),
            {"a": assessment, "s": segments["T-AZ-001"], "level": level})
        return assessment

    assess("low", "2026-05-01T00:00:00Z")
    latest = assess("high", "2026-06-01T00:00:00Z")
    response, _ = get(client, viewer, "/collections/risk/items", level_source="assessment")
    body = geojson(response)
    assert body["numberMatched"] == 1  # the others were never assessed
    feature = body["features"][0]
    assert feature["id"] == segments["T-AZ-001"]
    assert feature["properties"]["level"] == "high"
    assert feature["properties"]["assessment_id"] == latest
    assert feature["geometry"]["type"] == "LineString"
    response, _ = get(client, viewer, "/collections/risk/items", level="low",
                      level_source="assessment")
    assert geojson(response)["numberMatched"] == 0
    # The sections no stored assessment covers carry the workspace's live scores
    # (issue 20): those of /api/v1/risk/segments for their region, default period.
    response, _ = get(client, viewer, "/collections/risk/items", level_source="live",
                      limit=100)
    live = geojson(response)["features"]
    assert live and segments["T-AZ-001"] not in {f["id"] for f in live}
    region_codes = {region_id: code for code, region_id in sample_layers["regions"].items()}
    for feature in live:
        properties = feature["properties"]
        ranking = client.get("/api/v1/risk/segments", headers=viewer, query_string={
            "region": region_codes[properties["region_id"]]}).get_json()
        (section,) = [s for s in ranking["sections"] if s["section_id"] == feature["id"]]
        assert properties["level"] == section["computed_level"]
        assert (properties["risk"], properties["rank"]) == (section["risk"], section["rank"])
        assert properties["assessment_id"] is None
        assert [properties["period_start"][:19], properties["period_end"][:19]] == [
            t[:19] for t in ranking["period"]]


@pytest.mark.slow
def test_hotspot_collection_is_the_gi_star_map_of_the_last_90_days(demo_app):
    from app.extensions import db
    from geo.hotspots import cache, pipeline

    app, headers, _ = demo_app
    client = app.test_client()
    cache.CACHE.clear()
    response = client.get(f"{BASE}/collections/hotspots/items?limit=10000", headers=headers)
    body = geojson(response)
    # Computed through the shared result cache, as the default map (Gi*, 2 km cells).
    (key,) = list(cache.CACHE._entries)
    assert json.loads(key)[0] == "gistar"
    assert json.loads(key)[1]["cell_size_m"] == pipeline.DEFAULT_CELL_SIZE_M == 2000.0
    with app.app_context():
        last = db.session.execute(text("SELECT max(occurred_at) FROM incidents")).scalar_one()
        cells = ogc_features.hotspot_cells(db.session, app.config["HOTSPOT_MAX_CELLS"],
                                           app.config["ANALYSIS_SRID"],
                                           viewer_agency="GBP")  # the planner's agency
        db.session.remove()
    assert list(cache.CACHE._entries) == [key]  # the same map, not computed again
    assert body["numberMatched"] == len(cells) > 1000
    hot = [c for c in cells if c["properties"]["bin"] == 3]
    assert hot, "the demo plants hot-spots; Gi* must find some"
    response = client.get(f"{BASE}/collections/hotspots/items?bin=3&limit=10000",
                          headers=headers)
    filtered = geojson(response)
    assert filtered["numberMatched"] == len(hot)
    assert all(f["properties"]["bin"] == 3 for f in filtered["features"])
    response = client.get(f"{BASE}/collections/hotspots", headers=headers)
    start, end = response.get_json()["extent"]["temporal"]["interval"][0]
    assert datetime.fromisoformat(end) == last
    assert (datetime.fromisoformat(end) - datetime.fromisoformat(start)).days == 90
    assert last <= datetime(2026, 6, 30, tzinfo=UTC)


# ------------------------------------------------------------------ real clients


def test_owslib_reads_the_service_and_fetches_items(live_server):
    from owslib.ogcapi.features import Features

    service = Features(f"{live_server.url}{BASE}", headers=live_server.headers)
    assert service.links  # the landing page
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in (
        service.conformance()["conformsTo"])
    collection_ids = {c["id"] for c in service.collections()["collections"]}
    assert {"border_segments", "incidents", "regions", "crossing_points"} <= collection_ids
    items = service.collection_items("border_segments", limit=100)
    codes = sorted(f["properties"]["code"] for f in items["features"])
    assert codes == sorted(live_server.ids["border_segments"])
    queryables = service.collection_queryables("incidents")
    assert "category" in queryables["properties"]


def _database_counts(live_server) -> dict[str, int]:
    from app.extensions import db

    with live_server.app.app_context():
        counts = {name: db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                  for name, table in (("regions", "regions"),
                                      ("border_segments", "border_segments"),
                                      ("crossing_points", "crossing_points"),
                                      ("incidents", "incidents"))}
        db.session.remove()
    return counts


def test_gdal_ogrinfo_lists_the_layers_and_counts_equal_the_database(live_server):
    environment = {**os.environ,
                   "GDAL_HTTP_HEADERS": f"Authorization: Bearer {live_server.token}"}
    url = f"OAPIF:{live_server.url}{BASE}"
    listing = subprocess.run(["ogrinfo", "-ro", "-q", url], env=environment,
                             capture_output=True, text=True, timeout=120, check=True).stdout
    for name in COLLECTIONS:
        assert f": {name}" in listing, listing
    for name, expected in _database_counts(live_server).items():
        summary = subprocess.run(["ogrinfo", "-ro", "-so", url, name], env=environment,
                                 capture_output=True, text=True, timeout=120,
                                 check=True).stdout
        assert f"Feature Count: {expected}\n" in summary, summary
    # Reading every feature (paging through the next links) gives the same count.
    features = subprocess.run(["ogrinfo", "-ro", "-q", "-oo", "PAGE_SIZE=1", url, "incidents"],
                              env=environment, capture_output=True, text=True, timeout=120,
                              check=True).stdout
    assert features.count("OGRFeature(incidents)") == _database_counts(live_server)["incidents"]


def test_a_request_without_token_is_refused(live_server):
    response = requests.get(f"{live_server.url}{BASE}/collections",
                            headers={"Accept": "application/json"}, timeout=30)
    assert response.status_code == 401
