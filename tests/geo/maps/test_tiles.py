"""``geo.maps.tiling`` and ``geo.maps.tiles`` by themselves: the tile scheme's
arithmetic, and a tile of the SYNTHETIC sample layers decoded."""

from __future__ import annotations

import math

import mapbox_vector_tile
import pytest
from sqlalchemy import text

from geo.layers import CROSSINGS, INCIDENTS, REGIONS, SEGMENTS
from geo.maps import tiles, tiling
from geo.queries import FeatureQuery


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def test_the_scheme_bounds_and_addresses():
    assert tiling.tile_bounds_lonlat(0, 0, 0) == pytest.approx(
        (-180.0, -tiling.MAX_LATITUDE, 180.0, tiling.MAX_LATITUDE))
    # zoom 1, top right: lon 0..180, lat 0..85.05
    assert tiling.tile_bounds_lonlat(1, 1, 0) == pytest.approx(
        (0.0, 0.0, 180.0, tiling.MAX_LATITUDE), abs=1e-9)
    assert tiling.tile_exists(22, 2**22 - 1, 0) and not tiling.tile_exists(23, 0, 0)
    assert not tiling.tile_exists(3, 8, 0) and not tiling.tile_exists(-1, 0, 0)
    assert tiling.tile_width_m(0) == pytest.approx(2 * tiling.WEB_MERCATOR_HALF_WIDTH)


def test_a_tile_holds_the_point_where_it_is(db_session, sample_layers):
    lon, lat = db_session.execute(text(
        "SELECT ST_X(geom), ST_Y(geom) FROM crossing_points WHERE code = 'T-BCP-1'")).one()
    z = 12
    x, y = _tile_of(lon, lat, z)
    body = tiles.vector_tile(db_session, CROSSINGS, z, x, y, FeatureQuery(limit=None))
    layer = mapbox_vector_tile.decode(body, default_options={"y_coord_down": True})[
        "crossing_points"]
    [feature] = [f for f in layer["features"] if f["properties"]["code"] == "T-BCP-1"]
    assert feature["id"] == sample_layers["crossing_points"]["T-BCP-1"]
    assert set(feature["properties"]) == set(CROSSINGS.tiles.properties)
    # where the point is in the tile, in tile units from the top left
    minx, miny, maxx, maxy = tiling.tile_bounds_lonlat(z, x, y)
    px, py = feature["geometry"]["coordinates"]
    assert px == pytest.approx((lon - minx) / (maxx - minx) * tiling.EXTENT, abs=1.5)
    merc = lambda v: math.log(math.tan(math.pi / 4 + math.radians(v) / 2))  # noqa: E731
    assert py == pytest.approx((merc(maxy) - merc(lat)) / (merc(maxy) - merc(miny))
                               * tiling.EXTENT, abs=1.5)


def test_below_the_cluster_zoom_incidents_are_counts_per_category(db_session,
                                                                   sample_layers):
    z = INCIDENTS.tiles.cluster_below_zoom - 4
    lon, lat = db_session.execute(text(
        "SELECT ST_X(geom), ST_Y(geom) FROM incidents WHERE external_id = 'T-1'")).one()
    x, y = _tile_of(lon, lat, z)
    body = tiles.vector_tile(db_session, INCIDENTS, z, x, y, FeatureQuery(limit=None))
    features = mapbox_vector_tile.decode(body)["incidents"]["features"]
    counted = {}
    for f in features:
        key = f["properties"]["category"]
        counted[key] = counted.get(key, 0) + f["properties"]["count"]
    stored = dict(db_session.execute(text(
        "SELECT category, count(*) FROM incidents WHERE ST_Intersects(geom, ST_Transform("
        "ST_TileEnvelope(:z, :x, :y, margin => :margin), 4326)) GROUP BY category"),
        {"z": z, "x": x, "y": y, "margin": tiling.BUFFER / tiling.EXTENT}).all())
    # (the tile holds the points of its buffer too, so that cells join at its edges)
    assert counted == stored and sum(counted.values()) >= 2


def _in_tile(lon: float, lat: float, z: int, x: int, y: int) -> tuple[float, float]:
    """Where ``lon``/``lat`` is in tile ``z/x/y``, in tile units from its top left."""
    n = 2**z
    row = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return (((lon + 180) / 360 * n - x) * tiling.EXTENT, (row - y) * tiling.EXTENT)


def _decoded(body: bytes, name: str) -> dict[str, dict]:
    """The features of layer ``name`` of a tile by their code, y counted downwards."""
    layer = mapbox_vector_tile.decode(body, default_options={"y_coord_down": True})[name]
    return {f["properties"]["code"]: f for f in layer["features"]}


# Tile 8/160/95 holds the sample's east section and region whole (45.2-45.6 E) and
# cuts the west ones at 45 E, its left edge.
LINES_TILE = (8, 160, 95)


def test_a_line_is_its_vertices_in_tile_units_and_is_cut_at_the_buffer(db_session,
                                                                        sample_layers):
    body = tiles.vector_tile(db_session, SEGMENTS, *LINES_TILE, FeatureQuery(limit=None))
    features = _decoded(body, "border_segments")
    assert set(features) == {"T-AZ-001", "T-AZ-002"}
    east = features["T-AZ-002"]
    stored = db_session.execute(text(
        "SELECT region_id, length_m FROM border_segments WHERE code = 'T-AZ-002'")).one()
    assert east["properties"] == {
        "code": "T-AZ-002", "name": "Test section east (synthetic)",
        "name_ka": "სატესტო მონაკვეთი, აღმოსავლეთი (სინთეზური)", "kind": "river",
        "neighbour_country": "AZ", "surveillance_level": 1, "terrain_class": "river",
        "region_id": stored.region_id, "length_m": pytest.approx(stored.length_m)}
    assert east["geometry"]["type"] == "LineString"
    expected = [_in_tile(lon, lat, *LINES_TILE)
                for lon, lat in ((45.2, 41.28), (45.4, 41.35), (45.55, 41.5))]
    assert len(east["geometry"]["coordinates"]) == 3
    for got, want in zip(east["geometry"]["coordinates"], expected, strict=True):
        assert got == pytest.approx(want, abs=1)
    # The west section starts at 44.9 E, left of the tile: it is cut where the tile's
    # buffer ends, 64 units left of its edge, and keeps its end at 45.2 E.
    west = features["T-AZ-001"]["geometry"]["coordinates"]
    assert min(x for x, _ in west) == -tiling.BUFFER
    assert west[-1] == pytest.approx(_in_tile(45.2, 41.28, *LINES_TILE), abs=1)


def test_a_region_is_its_polygon_in_tile_units(db_session, sample_layers):
    body = tiles.vector_tile(db_session, REGIONS, *LINES_TILE, FeatureQuery(limit=None))
    features = _decoded(body, "regions")
    assert set(features) == {"T-KK", "T-KA"}
    second = features["T-KA"]
    assert second["id"] == sample_layers["regions"]["T-KA"]
    assert second["properties"] == {"code": "T-KA", "name_en": "Second test region "
                                    "(synthetic)", "name_ka": "მეორე სატესტო რეგიონი",
                                    "provenance": "synthetic"}
    assert second["geometry"]["type"] == "Polygon"
    [ring] = second["geometry"]["coordinates"]
    assert ring[0] == ring[-1] and len(ring) == 5  # a closed square
    corners = sorted(_in_tile(lon, lat, *LINES_TILE)
                     for lon, lat in ((45.2, 41.2), (45.6, 41.2), (45.6, 41.6), (45.2, 41.6)))
    for got, want in zip(sorted(ring[:-1]), corners, strict=True):
        assert got == pytest.approx(want, abs=1)


def test_a_scope_keeps_the_features_of_its_regions_only(db_session, sample_layers):
    regions = sample_layers["regions"]
    x, y = _tile_of(45.1, 41.35, 2)  # every sample feature

    def codes(scope):
        body = tiles.vector_tile(db_session, CROSSINGS, 2, x, y,
                                 FeatureQuery(limit=None, scope_region_ids=scope))
        return sorted(_decoded(body, "crossing_points")) if body else []

    assert codes(None) == ["T-BCP-1", "T-BCP-2"]
    assert codes(frozenset({regions["T-KA"]})) == ["T-BCP-2"]
    assert codes(frozenset()) == []  # an empty scope sees nothing: an empty tile
    clustered = tiles.vector_tile(db_session, INCIDENTS, 2, x, y, FeatureQuery(
        limit=None, scope_region_ids=frozenset({regions["T-KK"]})))
    # T-1 is in T-KK; T-2 is in T-KA and T-3 in no region
    assert [(f["properties"]["category"], f["properties"]["count"])
            for f in mapbox_vector_tile.decode(clustered)["incidents"]["features"]] == [
        ("illegal_crossing_between_bcp", 1)]


def test_the_layers_bounds_in_and_out_of_a_scope(db_session, sample_layers):
    regions = sample_layers["regions"]
    assert tiles.layer_bounds(db_session, CROSSINGS) == pytest.approx(
        (45.05, 41.3, 45.45, 41.4))
    assert tiles.layer_bounds(db_session, CROSSINGS, frozenset({regions["T-KK"]})) == \
        pytest.approx((45.05, 41.3, 45.05, 41.3))
    assert tiles.layer_bounds(db_session, CROSSINGS, frozenset()) is None


def test_tilejson_names_each_fields_type_and_the_clustering():
    assert tiles.tilejson_vector_layer(INCIDENTS) == {
        "id": "incidents",
        "description": "Incidents (border events); below zoom 10 one point per category "
                       "and cell of 1/256 of the tile, with category and count",
        "minzoom": 0, "maxzoom": 22,
        "fields": {"occurred_at": "String", "category": "String", "outcome": "String",
                   "status": "String", "persons_count": "Number", "region_id": "Number",
                   "agency": "String", "count": "Number"}}
    assert tiles.tilejson_vector_layer(CROSSINGS)["fields"] == {
        "code": "String", "name": "String", "name_ka": "String", "kind": "String",
        "neighbour_country": "String", "status": "String", "region_id": "Number"}
