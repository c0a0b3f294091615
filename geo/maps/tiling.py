"""The Web Mercator tiling scheme of the vector tiles (EPSG:3857, ``z/x/y`` from the
top left, as PostGIS ``ST_TileEnvelope``): tile sizes in tile units and metres.
"""

from __future__ import annotations

import math

MAX_ZOOM = 22
EXTENT = 4096  # tile units a side
BUFFER = 64  # tile units around the tile, so that lines and labels join at the edges
WEB_MERCATOR_HALF_WIDTH = 20037508.342789244  # metres
MAX_LATITUDE = 85.0511287798066  # degrees: the edge of the Web Mercator square
CLUSTER_CELL = 16  # tile units a side of an aggregation cell


def tile_exists(z: int, x: int, y: int) -> bool:
    """Whether ``z/x/y`` is a tile of the scheme (0 <= z <= MAX_ZOOM, x and y in range)."""
    return 0 <= z <= MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z


def tile_bounds_lonlat(z: int, x: int, y: int, buffer: float = 0.0
                       ) -> tuple[float, float, float, float]:
    """(min lon, min lat, max lon, max lat) in degrees of tile ``z/x/y``, grown by
    ``buffer`` (a fraction of the tile's width) on each side and clipped to the world."""
    n = 2**z

    def lon(column: float) -> float:
        return column / n * 360.0 - 180.0

    def lat(row: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return (max(lon(x - buffer), -180.0), max(lat(y + 1 + buffer), -MAX_LATITUDE),
            min(lon(x + 1 + buffer), 180.0), min(lat(y - buffer), MAX_LATITUDE))


def tile_width_m(z: int) -> float:
    return 2 * WEB_MERCATOR_HALF_WIDTH / 2**z


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """(x, y) of the zoom-``z`` tile holding the point (degrees; latitudes beyond the
    Web Mercator square are clamped to its edge)."""
    n = 2**z
    lat = max(-MAX_LATITUDE, min(MAX_LATITUDE, lat))
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)
