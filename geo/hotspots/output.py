"""The output of a hot-spot analysis: its cells as GeoJSON (EPSG:4326), built as a dict
or written straight to JSON text.
"""

from __future__ import annotations

import numpy as np
import orjson

from geo.crs import STORAGE_SRID, transform_xy
from geo.hotspots import hexgrid
from geo.hotspots.inputs import Grid

# ------------------------------------------------------------------ output


COORDINATE_DECIMALS = 7  # ~1 cm in degrees: cell vertices in GeoJSON


def _column_array(values) -> np.ndarray:
    """Per-cell values in the JSON type they are written as: str, int64 or float."""
    array = np.asarray(values)
    if array.dtype.kind in "US":
        return array.astype(str)
    if array.dtype.kind in "iub":
        return array.astype(np.int64)
    return array.astype(float)


def _column(values) -> list:
    """Per-cell values as JSON-ready Python objects (NaN becomes null when serialised)."""
    return _column_array(values).tolist()


def _lonlat_rings(grid: Grid) -> np.ndarray:
    """The cells' rings in EPSG:4326, ``(n, 7, 2)``, rounded to 7 decimals."""
    x, y, ring = hexgrid.hex_shared_vertices(grid.i, grid.j, grid.size)
    lon, lat = transform_xy(x, y, grid.srid, STORAGE_SRID)
    vertices = np.round(np.column_stack([lon, lat]), COORDINATE_DECIMALS)
    return vertices[ring]


def cells_geojson(grid: Grid, properties: dict[str, np.ndarray], metadata: dict) -> dict:
    """A FeatureCollection of the grid's hexagons (EPSG:4326) with per-cell properties.

    Vertices are rounded to 7 decimals of a degree (about 1 cm); NaN values (e.g. a Gi*
    z where it is undefined) are serialised as null. :func:`write_cells_geojson` writes
    the same document as JSON text, faster.
    """
    rings = _lonlat_rings(grid).tolist()
    names = list(properties)
    columns = [_column(properties[n]) for n in names]
    cells = [f"{a},{b}" for a, b in zip(grid.i.tolist(), grid.j.tolist(), strict=True)]
    features = [
        {"type": "Feature", "id": k, "geometry": {"type": "Polygon", "coordinates": [ring]},
         "properties": {"cell": cell, **dict(zip(names, values, strict=True))}}
        for k, (ring, cell, *values) in enumerate(zip(rings, cells, *columns, strict=True))
    ]
    return {"type": "FeatureCollection", "metadata": metadata, "numberMatched": len(features),
            "numberReturned": len(features), "features": features}


JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


def _json_items(values) -> list[bytes]:
    """The JSON text of each element of a 1-D column (or each row of a 2-D one).

    Numbers go through one ``orjson`` call on the whole array (the same shortest
    round-trip text as for Python floats and ints, NaN as null), cut at the commas.
    """
    array = _column_array(values)
    n = len(array)
    if n == 0:
        return []
    if array.dtype.kind == "U":
        if array.ndim != 1:
            return [orjson.dumps(row) for row in array.tolist()]
        # labels repeat (categories, clusters): encode each distinct one once
        labels, index = np.unique(array, return_inverse=True)
        encoded = np.empty(len(labels), dtype=object)
        encoded[:] = [orjson.dumps(str(label)) for label in labels]
        return encoded[index].tolist()
    text = orjson.dumps(np.ascontiguousarray(array), option=JSON_OPTIONS)
    if array.ndim == 1:
        return text[1:-1].split(b",")
    if array.ndim == 2 and array.shape[1] > 0:
        return [b"[" + row + b"]" for row in text[2:-2].split(b"],[")]
    return [orjson.dumps(row, option=JSON_OPTIONS) for row in array]


class GridText:
    """The JSON text of each cell's feature up to its first property: id, polygon
    and cell label ``"i,j"``, which depend on the grid alone. Built once per grid."""

    def __init__(self, grid: Grid):
        n = len(grid)
        rings = orjson.dumps(_lonlat_rings(grid), option=JSON_OPTIONS)
        # [[[x,y],...],[[x,y],...]]: rings are separated by "]],[[" and by nothing else
        coordinates = rings[3:-3].split(b"]],[[") if n else []
        template = (b'{"type":"Feature","id":%d,"geometry":{"type":"Polygon",'
                    b'"coordinates":[[[%b]]]},"properties":{"cell":"%d,%d"')
        self.features = [template % row for row in zip(range(n), coordinates, grid.i.tolist(),
                                                        grid.j.tolist(), strict=True)]


def write_cells_geojson(grid: Grid, properties: dict[str, np.ndarray],
                        metadata: dict) -> bytes:
    """The JSON text of ``cells_geojson(grid, properties, metadata)``, byte for byte as
    ``orjson.dumps`` writes it, without building a Python object per cell.

    Every per-cell value is cut from one serialisation of its whole column; the
    features are spliced together with one ``bytes.join``.
    """
    n = len(grid)
    head = orjson.dumps({"type": "FeatureCollection", "metadata": metadata,
                         "numberMatched": n, "numberReturned": n}, option=JSON_OPTIONS)
    if n == 0:
        return head[:-1] + b',"features":[]}'
    if "cell" in properties:
        raise ValueError("'cell' is the cell label, not a property name")
    # For each feature: its head (id, geometry, cell), then for each property its
    # name and value; the value texts are cut from one serialisation per column.
    columns = [grid.text.features]
    for name, values in properties.items():
        column = _json_items(values)
        if len(column) != n:
            raise ValueError(f"property {name!r} has {len(column)} values for {n} cells")
        columns += [[b"," + orjson.dumps(name) + b":"] * n, column]
    columns.append([b"}},"] * n)
    pieces: list[bytes] = [b""] * (len(columns) * n)
    for k, column in enumerate(columns):
        pieces[k::len(columns)] = column
    pieces[-1] = b"}}"
    return head[:-1] + b',"features":[' + b"".join(pieces) + b"]}"


