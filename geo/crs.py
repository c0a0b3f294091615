"""Coordinate transformations (pyproj), in one place.

Coordinates are (x, y) = (longitude, latitude) in degrees for EPSG:4326 and (easting,
northing) in metres for projected CRSs: axis order is always x, y.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyproj
import shapely

# EPSG code of every stored geometry: longitude, latitude in degrees (WGS 84).
STORAGE_SRID = 4326
# EPSG code of the analysis CRS when the ANALYSIS_CRS setting is not given: UTM zone 38N,
# metres, which covers Georgia.
DEFAULT_ANALYSIS_SRID = 32638
# The CRSs the WMS serves every layer in (EPSG codes; CRS:84 is EPSG:4326 with
# x = longitude).
MAP_CRS = ("EPSG:4326", "CRS:84", "EPSG:3857", "EPSG:32638")


@lru_cache(maxsize=16)
def transformer(source_epsg: int, target_epsg: int) -> pyproj.Transformer:
    """A cached pyproj Transformer between two EPSG codes, x/y axis order."""
    return pyproj.Transformer.from_crs(source_epsg, target_epsg, always_xy=True)


def transform_xy(x, y, source_epsg: int, target_epsg: int) -> tuple[np.ndarray, np.ndarray]:
    """Transform arrays of coordinates from ``source_epsg`` to ``target_epsg``."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    transform = transformer(source_epsg, target_epsg).transform
    if x.size == 1:
        # pyproj 3.7 takes a one-element array for a scalar, which NumPy 2 deprecates.
        x1, y1 = transform(float(x.ravel()[0]), float(y.ravel()[0]))
        return np.full(x.shape, x1), np.full(y.shape, y1)
    return transform(x, y)


def reproject(geometry, source_epsg: int, target_epsg: int):
    """A shapely geometry (or array of them) transformed between two EPSG codes."""
    if source_epsg == target_epsg:
        return geometry

    def project(coords: np.ndarray) -> np.ndarray:
        return np.column_stack(transform_xy(coords[:, 0], coords[:, 1], source_epsg,
                                            target_epsg))

    return shapely.transform(geometry, project)
