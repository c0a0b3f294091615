"""``geo.maps.tiling`` and ``geo.maps.tiles`` by themselves: the tile scheme's
arithmetic, and a tile of the SYNTHETIC sample layers decoded."""

from __future__ import annotations

import math

import mapbox_vector_tile
import pytest
from sqlalchemy import text

from geo.layers import CROSSINGS, INCIDENTS
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
