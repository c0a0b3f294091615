"""Vector tiles at /ogc/tiles: content decoded with mapbox-vector-tile, filters, ETag,
204 for empty tiles, range checks, TileJSON."""

from __future__ import annotations

import math

import mapbox_vector_tile
import pytest
import requests
from sqlalchemy import text

from geo.layers import TILE_LAYERS
from geo.maps import tiles, tiling

BASE = "/ogc/tiles"


@pytest.fixture
def viewer(token_headers):
    return token_headers("viewer")


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


# All sample features lie between 44.7 and 45.6 E, 41.1 and 41.6 N; 45 E is a tile edge
# from z=3 on, so z=2 (tile 2/2/1) holds them all.
Z, X, Y = 2, *tile_of(45.1, 41.35, 2)


def decode(response) -> dict:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/vnd.mapbox-vector-tile"
    return mapbox_vector_tile.decode(response.get_data())


def test_tile_holds_every_feature_with_its_properties(client, viewer, db_session,
                                                      sample_layers):
    assert tile_of(44.7, 41.6, Z) == tile_of(45.6, 41.1, Z) == (X, Y)
    layer = decode(client.get(f"{BASE}/border_segments/{Z}/{X}/{Y}.mvt", headers=viewer))[
        "border_segments"]
    assert layer["extent"] == 4096
    by_code = {f["properties"]["code"]: f for f in layer["features"]}
    assert set(by_code) == set(sample_layers["border_segments"])
    feature = by_code["T-AZ-001"]
    assert feature["id"] == sample_layers["border_segments"]["T-AZ-001"]
    length = db_session.execute(text("SELECT length_m FROM border_segments WHERE code = "
                                     "'T-AZ-001'")).scalar_one()
    assert feature["properties"]["length_m"] == pytest.approx(length)
    assert feature["geometry"]["type"] == "LineString"

    x, y = tile_of(45.0, 41.33, 10)  # T-1 (45 E is a tile edge: it is in both tiles)
    incidents = decode(client.get(f"{BASE}/incidents/10/{x}/{y}.mvt", headers=viewer))[
        "incidents"]["features"]
    t1 = next(f for f in incidents if f["id"] == sample_layers["incidents"]["T-1"])
    assert t1["properties"]["category"] == "illegal_crossing_between_bcp"
    assert t1["properties"]["occurred_at"] == "2026-10-01T02:30:00Z"  # +04:00 as UTC
    assert t1["properties"]["persons_count"] == 3


def categories(response) -> dict[str, int]:
    """Incident counts by category of an aggregated (small-zoom) incidents tile."""
    if response.status_code == 204:
        return {}
    totals: dict[str, int] = {}
    for feature in decode(response)["incidents"]["features"]:
        assert "id" not in feature or feature["id"] in (0, None)
        category = feature["properties"]["category"]
        totals[category] = totals.get(category, 0) + feature["properties"]["count"]
    return totals


def test_incidents_are_counted_per_category_and_cell_below_zoom_10(client, viewer, db_session,
                                                                   sample_layers):
    # Three more incidents within a metre of T-1, two of its category: one cell.
    db_session.execute(text(
        "INSERT INTO incidents (source, external_id, occurred_at, category, outcome, "
        "persons_count, source_reliability, information_credibility, status, geom) "
        "SELECT 'cluster', 'C-' || n, timestamptz '2026-01-01T00:00:00Z', "
        "CASE WHEN n < 3 THEN 'illegal_crossing_between_bcp' ELSE 'smuggling_tobacco' END,"
        " 'actual', 0, 'X', 4, 'draft', ST_SetSRID(ST_MakePoint(45.00001 + n * 1e-6, "
        "41.33), 4326) FROM generate_series(1, 3) AS n"))
    response = client.get(f"{BASE}/incidents/{Z}/{X}/{Y}.mvt", headers=viewer)
    features = decode(response)["incidents"]["features"]
    near_t1 = [f for f in features if f["properties"]["category"] ==
               "illegal_crossing_between_bcp"]
    assert [f["properties"]["count"] for f in near_t1] == [3]
    assert categories(response) == {"illegal_crossing_between_bcp": 3,
                                    "smuggling_tobacco": 2, "refusal_of_entry": 1}


def test_point_lands_where_it_is_in_the_tile(client, viewer, sample_layers):
    # T-BCP-1 is at a known position; at z=12 its tile coordinate is predictable.
    lon, lat = 45.0, 41.33  # T-1 (on the edge of two tiles at z=12: in both)
    z = 12
    x, y = tile_of(lon, lat, z)
    layer = decode(client.get(f"{BASE}/incidents/{z}/{x}/{y}.mvt", headers=viewer))[
        "incidents"]
    (feature,) = layer["features"]
    n = 2**z
    expected_x = ((lon + 180) / 360 * n - x) * 4096
    y_fraction = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n - y
    expected_y = (1 - y_fraction) * 4096  # the decoder flips y to point up
    px, py = feature["geometry"]["coordinates"]
    assert abs(px - expected_x) <= 1 and abs(py - expected_y) <= 1


def test_time_and_category_filters(client, viewer, sample_layers):
    def counts(**params):
        return categories(client.get(f"{BASE}/incidents/{Z}/{X}/{Y}.mvt", headers=viewer,
                                     query_string=params))

    # T-1 illegal crossing 2026-10-01, T-2 tobacco 2026-10-15, T-3 refusal 2025-03-02.
    assert counts(datetime="2026-10-10T00:00:00Z/..") == {"smuggling_tobacco": 1}
    assert counts(time="../2025-12-31T00:00:00Z") == {"refusal_of_entry": 1}
    assert counts(category="smuggling_tobacco,refusal_of_entry") == {
        "smuggling_tobacco": 1, "refusal_of_entry": 1}
    assert counts(category="smuggling_tobacco", status="validated") == {}
    assert counts(status="validated") == {"illegal_crossing_between_bcp": 1}
    # T-1 and T-3 actual, T-2 attempted.
    assert counts(outcome="attempted") == {"smuggling_tobacco": 1}
    assert counts(outcome="actual", category="refusal_of_entry,smuggling_tobacco") == {
        "refusal_of_entry": 1}
    assert counts(outcome="attempted,actual") == counts()


def test_empty_tile_is_204(client, viewer, sample_layers):
    response = client.get(f"{BASE}/incidents/10/0/0.mvt", headers=viewer)
    assert response.status_code == 204
    assert response.get_data() == b""
    assert response.headers["ETag"]


@pytest.mark.parametrize(("path", "status", "field"), [
    (f"{BASE}/incidents/23/0/0.mvt", 404, None),
    (f"{BASE}/incidents/3/8/0.mvt", 404, None),
    (f"{BASE}/incidents/3/0/8.mvt", 404, None),
    (f"{BASE}/rivers/3/0/0.mvt", 404, None),
    (f"{BASE}/rivers.json", 404, None),
    (f"{BASE}/incidents/3/0/0.mvt?category=piracy", 400, "category"),
    (f"{BASE}/incidents/3/0/0.mvt?datetime=soon", 400, "datetime"),
    (f"{BASE}/regions/3/0/0.mvt?datetime=2026-01-01", 400, "datetime"),
    (f"{BASE}/regions/3/0/0.mvt?category=smuggling_tobacco", 400, "category"),
    (f"{BASE}/incidents/3/0/0.mvt?outcome=foiled", 400, "outcome"),
    (f"{BASE}/crossing_points/3/0/0.mvt?outcome=actual", 400, "outcome"),
    (f"{BASE}/incidents/3/0/0.mvt?colour=red", 400, "colour"),
])
def test_bad_tile_requests(client, viewer, path, status, field):
    response = client.get(path, headers=viewer)
    assert response.status_code == status
    body = response.get_json()
    assert body["code"] == ("NotFound" if status == 404 else "InvalidParameterValue")
    if field:
        assert body["description"].startswith(f"{field}:")


def test_etag_changes_when_the_data_changes_and_304_when_it_did_not(client, viewer,
                                                                    db_session, sample_layers):
    url = f"{BASE}/crossing_points/{Z}/{X}/{Y}.mvt"
    first = client.get(url, headers=viewer)
    assert first.headers["Cache-Control"] == "private, max-age=60"
    etag = first.headers["ETag"]
    again = client.get(url, headers={**viewer, "If-None-Match": etag})
    assert again.status_code == 304 and again.headers["ETag"] == etag
    other_filter = client.get(url + "?status=open", headers=viewer)
    assert other_filter.headers["ETag"] != etag
    db_session.execute(text("UPDATE crossing_points SET name = 'Renamed' WHERE code = "
                            "'T-BCP-1'"))
    changed = client.get(url, headers={**viewer, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    names = {f["properties"]["name"] for f in decode(changed)["crossing_points"]["features"]}
    assert "Renamed" in names
    # A write to another table leaves this layer's tiles valid.
    db_session.execute(text("UPDATE incidents SET persons_count = persons_count + 1"))
    unchanged = client.get(url, headers={**viewer, "If-None-Match": changed.headers["ETag"]})
    assert unchanged.status_code == 304


def test_lines_are_simplified_at_small_zooms(client, viewer, db_session, sample_layers):
    # A zig-zag of 2,000 vertices ~1 m apart: one tile unit is ~300 m at z=5 and
    # 7.5 cm at z=17 (a tile 305 Web Mercator metres wide, holding ~280 of the vertices).
    db_session.execute(text(
        "INSERT INTO border_segments (code, name, kind, surveillance_level, terrain_class, "
        "geom) SELECT 'ZIGZAG', 'zig-zag', 'land', 2, 'hills', ST_SetSRID(ST_MakeLine("
        "ARRAY(SELECT ST_MakePoint(45.0 + n * 1e-5, 41.3 + (n % 2) * 1e-5) "
        "FROM generate_series(1, 2000) AS n)), 4326)"))

    def vertices(z: int) -> int:
        x, y = tile_of(45.01, 41.3, z)
        layer = decode(client.get(f"{BASE}/border_segments/{z}/{x}/{y}.mvt",
                                  headers=viewer))["border_segments"]
        (feature,) = [f for f in layer["features"] if f["properties"]["code"] == "ZIGZAG"]
        return len(feature["geometry"]["coordinates"])

    assert vertices(5) <= 3
    assert vertices(17) > 250  # every vertex in the tile kept


def test_tilejson_describes_the_layer(client, viewer, sample_layers):
    response = client.get(f"{BASE}/incidents.json?category=smuggling_tobacco", headers=viewer)
    document = response.get_json()
    assert document["tilejson"] == "3.0.0"
    (template,) = document["tiles"]
    assert template.endswith("/ogc/tiles/incidents/{z}/{x}/{y}.mvt?category=smuggling_tobacco")
    assert document["bounds"] == pytest.approx([44.7, 41.1, 45.42, 41.45])
    (vector_layer,) = document["vector_layers"]
    assert vector_layer["id"] == "incidents"
    assert vector_layer["fields"]["category"] == "String"
    assert vector_layer["fields"]["persons_count"] == "Number"
    assert vector_layer["fields"]["count"] == "Number"  # of the aggregated small zooms
    assert document["maxzoom"] == tiling.MAX_ZOOM


def total_count(tile: bytes) -> int:
    """Incidents in an aggregated incidents tile (the sum of its counts)."""
    features = mapbox_vector_tile.decode(tile)["incidents"]["features"]
    return sum(f["properties"]["count"] for f in features)


def test_live_tile_etag_changes_after_a_write_through_the_api(live_server):
    x, y = tile_of(45.1, 41.35, Z)
    url = f"{live_server.url}{BASE}/incidents/{Z}/{x}/{y}.mvt"
    before = requests.get(url, headers=live_server.headers, timeout=30)
    count = total_count(before.content)
    created = requests.post(f"{live_server.url}/api/v1/incidents", headers=live_server.headers,
                            json={"type": "Feature", "geometry": {"type": "Point",
                                                                  "coordinates": [45.2, 41.3]},
                                  "properties": {"source": "tile-test", "external_id": "E-1",
                                                 "occurred_at": "2026-02-01T00:00:00Z",
                                                 "category": "refusal_of_entry"}},
                            timeout=30)
    assert created.status_code == 201, created.text
    try:
        after = requests.get(url, headers={**live_server.headers,
                                           "If-None-Match": before.headers["ETag"]},
                             timeout=30)
        assert after.status_code == 200
        assert after.headers["ETag"] != before.headers["ETag"]
        assert total_count(after.content) == count + 1
    finally:
        deleted = requests.delete(f"{live_server.url}/api/v1/incidents/"
                                  f"{created.json()['id']}", headers=live_server.headers,
                                  timeout=30)
        assert deleted.status_code == 204


@pytest.mark.parametrize("layer_name", sorted(TILE_LAYERS))
def test_one_statement_tile_has_the_version_and_bytes_of_the_separate_ones(
        db_session, sample_layers, layer_name):
    tile_layer = TILE_LAYERS[layer_name]
    query = tiles.queries.FeatureQuery(limit=None)
    version, body, from_cache = tiles.versioned_tile(db_session, tile_layer, Z, X, Y, query,
                                                     "k")
    assert not from_cache
    assert version == tiles.tile_version(db_session, tile_layer, "k")
    assert body == tiles.vector_tile(db_session, tile_layer, Z, X, Y, query)
    if layer_name != "risk":  # no assessment in the sample layers: an empty tile
        assert body
    # A client that holds the version gets no tile; one that holds another gets it.
    assert tiles.versioned_tile(db_session, tile_layer, Z, X, Y, query, "k",
                                {version}) == (version, None, False)
    assert tiles.versioned_tile(db_session, tile_layer, Z, X, Y, query, "k",
                                {"other"}) == (version, body, False)
    assert tiles.versioned_tile(db_session, tile_layer, Z, X, Y, query, "other key")[0] \
        != version


def test_a_tile_request_is_two_statements_with_the_scope_read_with_the_token(
        app, client, db_session, make_user, sample_layers):
    """The token's owner and their regions come in the token's statement; then a tile
    the cache holds needs only its version; one it does not, the tile (a third); and one
    asked with ``Cache-Control: no-cache``, the version and the tile in one statement
    (the region scope still applies)."""
    from sqlalchemy import event

    from app.auth.tokens import create_token
    from app.extensions import db
    from geo.models import Region

    user = make_user("viewer")
    user.all_regions = False  # restricted to the regions linked below
    user.regions = [db_session.get(Region, sample_layers["regions"]["T-KK"])]
    _, token = create_token(db_session, user, "test")
    db_session.flush()
    db_session.expire_all()  # as a new request finds it: nothing loaded yet
    headers = {"Authorization": f"Bearer {token}"}
    url = "{}/incidents/10/{}/{}.mvt".format(BASE, *tile_of(45.0, 41.33, 10))  # T-1's
    client.get(url, headers=headers)  # records the token's first use (a write)
    statements = []

    def record(conn, cursor, statement, *args):
        if not statement.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):  # the fixture's
            statements.append(statement)

    with app.app_context():
        engine = db.engine

    def statements_of(request_headers):
        statements.clear()
        event.listen(engine, "before_cursor_execute", record)
        try:
            db_session.expire_all()
            response = client.get(url, headers=request_headers)
        finally:
            event.remove(engine, "before_cursor_execute", record)
        features = decode(response)["incidents"]["features"]
        assert sample_layers["incidents"]["T-1"] in {f["id"] for f in features}
        assert {f["properties"]["region_id"] for f in features} == {
            sample_layers["regions"]["T-KK"]}
        assert "api_tokens" in statements[0] and "user_regions" in statements[0]
        return response.headers["X-Tile-Cache"], statements[1:]

    cached, rest = statements_of(headers)  # the first request above put it in the cache
    assert cached == "hit" and len(rest) == 1 and "data_versions" in rest[0], rest
    cached, rest = statements_of({**headers, "Cache-Control": "no-cache"})
    assert cached == "miss" and len(rest) == 1, rest
    assert "data_versions" in rest[0] and "ST_AsMVT" in rest[0]
    db_session.execute(text("UPDATE incidents SET persons_count = persons_count"))
    cached, rest = statements_of(headers)  # a new version: not in the cache
    assert cached == "miss" and len(rest) == 2, rest
    assert "data_versions" in rest[0] and "ST_AsMVT" in rest[1]


# ----------------------------------------------------------------- the tile cache


def incident_tile(client, headers, url):
    response = client.get(url, headers=headers)
    features = decode(response)["incidents"]["features"]
    return response, {f["id"]: f["properties"] for f in features}


def test_a_cached_tile_has_the_same_bytes_and_etag_as_a_made_one(client, viewer,
                                                                 sample_layers):
    for layer in ("incidents", "border_segments", "regions"):
        url = f"{BASE}/{layer}/{Z}/{X}/{Y}.mvt?"
        made = client.get(url, headers={**viewer, "Cache-Control": "no-cache"})
        assert made.status_code == 200 and made.headers["X-Tile-Cache"] == "miss"
        kept = client.get(url, headers=viewer)
        assert kept.headers["X-Tile-Cache"] == "hit"
        assert kept.get_data() == made.get_data()
        assert kept.headers["ETag"] == made.headers["ETag"]
        assert kept.mimetype == made.mimetype
    # An empty tile is kept as empty: 204 again.
    url = f"{BASE}/incidents/14/0/0.mvt"
    assert client.get(url, headers=viewer).status_code == 204
    again = client.get(url, headers=viewer)
    assert again.status_code == 204 and again.headers["X-Tile-Cache"] == "hit"


def test_a_write_is_never_answered_from_the_cache(client, viewer, db_session,
                                                  sample_layers):
    t1 = sample_layers["incidents"]["T-1"]
    url = "{}/incidents/12/{}/{}.mvt".format(BASE, *tile_of(45.0, 41.33, 12))
    client.get(url, headers=viewer)
    before, properties = incident_tile(client, viewer, url)
    assert before.headers["X-Tile-Cache"] == "hit"
    persons = properties[t1]["persons_count"]
    db_session.execute(text("UPDATE incidents SET persons_count = :n WHERE id = :id"),
                       {"n": persons + 7, "id": t1})
    after, properties = incident_tile(client, viewer, url)
    assert after.headers["X-Tile-Cache"] == "miss"
    assert after.headers["ETag"] != before.headers["ETag"]
    assert properties[t1]["persons_count"] == persons + 7
    # A write to another table keeps the cached tile valid.
    db_session.execute(text("UPDATE crossing_points SET name = name"))
    kept, properties = incident_tile(client, viewer, url)
    assert kept.headers["X-Tile-Cache"] == "hit"
    assert properties[t1]["persons_count"] == persons + 7


def test_a_rolled_back_write_does_not_leave_its_tile_for_a_later_one(db_session,
                                                                     sample_layers):
    """The counter goes back with a rollback, and the next write reaches the same
    value again: the version also holds the writing transaction, so the tile made
    inside the rolled-back one is not answered after the next write."""
    t1 = sample_layers["incidents"]["T-1"]
    tile_layer, cache = TILE_LAYERS["incidents"], tiles.TileCache(1 << 20)
    z, (x, y) = 13, tile_of(45.0, 41.33, 13)
    query = tiles.queries.FeatureQuery(limit=None)

    def persons():
        answer = tiles.versioned_tile(db_session, tile_layer, z, x, y, query, "k",
                                      cache=cache)
        features = mapbox_vector_tile.decode(answer.body)["incidents"]["features"]
        return answer.from_cache, {f["id"]: f["properties"]["persons_count"]
                                   for f in features}[t1]

    counter = text("SELECT version FROM data_versions WHERE table_name = 'incidents'")
    update = text("UPDATE incidents SET persons_count = :n WHERE id = :id")
    start = db_session.execute(counter).scalar_one()
    db_session.execute(text("SAVEPOINT before_the_write"))
    db_session.execute(update, {"n": 101, "id": t1})
    assert persons() == (False, 101)
    assert persons() == (True, 101)
    db_session.execute(text("ROLLBACK TO SAVEPOINT before_the_write"))
    db_session.execute(update, {"n": 202, "id": t1})
    assert db_session.execute(counter).scalar_one() == start + 1  # the same counter
    assert persons() == (False, 202)


def test_region_scopes_never_share_a_cached_tile(client, db_session, make_user,
                                                 sample_layers):
    from app.auth.tokens import create_token
    from geo.models import Region

    regions = sample_layers["regions"]
    scoped_user = make_user("viewer")
    scoped_user.all_regions = False  # restricted to the regions linked below
    scoped_user.regions = [db_session.get(Region, regions["T-KK"])]
    _, scoped_token = create_token(db_session, scoped_user, "test")
    _, open_token = create_token(db_session, make_user("viewer"), "test")
    db_session.flush()
    scoped = {"Authorization": f"Bearer {scoped_token}"}
    unrestricted = {"Authorization": f"Bearer {open_token}"}
    url = f"{BASE}/incidents/{Z}/{X}/{Y}.mvt"  # every sample incident, clustered

    def counted(headers):
        response = client.get(url, headers=headers)
        features = decode(response)["incidents"]["features"]
        return response.headers, sum(f["properties"]["count"] for f in features)

    first_headers, scoped_count = counted(scoped)
    assert first_headers["X-Tile-Cache"] in ("hit", "miss")
    open_headers, open_count = counted(unrestricted)
    assert open_headers["ETag"] != first_headers["ETag"]
    in_scope = db_session.execute(text(
        "SELECT count(*) FILTER (WHERE region_id = :r), count(*) FROM incidents"),
        {"r": regions["T-KK"]}).one()
    assert (scoped_count, open_count) == tuple(in_scope)
    assert scoped_count < open_count
    # Each asked again gets its own tile from the cache.
    again_headers, again_count = counted(scoped)
    assert again_headers["X-Tile-Cache"] == "hit" and again_count == scoped_count
    again_headers, again_count = counted(unrestricted)
    assert again_headers["X-Tile-Cache"] == "hit" and again_count == open_count


def test_the_tile_cache_keeps_to_its_bound_dropping_the_least_recently_used():
    overhead = tiles.TileCache.ENTRY_OVERHEAD
    cache = tiles.TileCache(3 * (1000 + overhead))
    for name in "abc":
        cache.put(name, name.encode() * 1000)
    assert len(cache) == 3 and cache.size_bytes == 3 * (1000 + overhead)
    assert cache.get("a") == b"a" * 1000  # now the most recently used
    cache.put("d", b"d" * 1000)
    assert cache.get("b") is None  # the least recently used went
    assert [cache.get(name) is not None for name in "acd"] == [True, True, True]
    assert cache.size_bytes <= cache.max_bytes
    cache.put("big", b"x" * cache.max_bytes)  # larger than the bound: not kept
    assert cache.get("big") is None and len(cache) == 3
    cache.put("e", b"e" * 2000)  # room for it: the two least recently used go
    assert [cache.get(name) is not None for name in "acde"] == [False, False, True, True]
    assert cache.size_bytes == 3000 + 2 * overhead <= cache.max_bytes
    cache.put("e", b"")  # replacing an entry counts only the new bytes
    assert cache.size_bytes == 1000 + 2 * overhead and cache.get("e") == b""
    assert (cache.hits, cache.misses) == (7, 4)


def test_versioned_tiles_fill_a_cache_no_larger_than_its_bound(db_session, sample_layers):
    """Tiles of every layer at a few zooms through a small cache: it never holds more
    bytes than its bound, and what it answers equals a newly made tile."""
    cache = tiles.TileCache(4096)
    query = tiles.queries.FeatureQuery(limit=None)
    addresses = [(z, *tile_of(45.1, 41.35, z)) for z in range(2, 12)]
    for layer_name in ("incidents", "border_segments", "regions"):
        tile_layer = TILE_LAYERS[layer_name]
        for _ in range(2):
            for z, x, y in addresses:
                key = f"{z}/{x}/{y}"
                answer = tiles.versioned_tile(db_session, tile_layer, z, x, y, query, key,
                                              cache=cache)
                assert cache.size_bytes <= cache.max_bytes
                if answer.from_cache:
                    assert answer.body == tiles.vector_tile(db_session, tile_layer, z, x,
                                                            y, query)
    assert cache.hits > 0 and cache.misses > 0


def test_app_connections_run_without_jit(app):
    """JIT compiled tile statements for longer than they ran (docs/benchmarks.md)."""
    from app.extensions import db

    with app.app_context(), db.engine.connect() as connection:
        assert connection.execute(text("SHOW jit")).scalar_one() == "off"


def test_tile_cache_size_is_a_setting_and_zero_turns_it_off(app, client, viewer,
                                                            sample_layers, monkeypatch):
    from config import Config, ConfigError

    base = {"DATABASE_URL": "postgresql://u:p@h:1/d", "SECRET_KEY": "k" * 32}
    assert Config.from_env(base).TILE_CACHE_BYTES == 64 * 1024 * 1024
    assert Config.from_env({**base, "TILE_CACHE_MB": "16"}).TILE_CACHE_BYTES == 16 << 20
    for bad in ("-1", "lots", "1.5"):
        with pytest.raises(ConfigError, match="TILE_CACHE_MB"):
            Config.from_env({**base, "TILE_CACHE_MB": bad})
    monkeypatch.setitem(app.config, "TILE_CACHE_BYTES", 0)
    url = f"{BASE}/regions/{Z}/{X}/{Y}.mvt"
    for _ in range(2):
        response = client.get(url, headers=viewer)
        assert response.status_code == 200 and "X-Tile-Cache" not in response.headers
