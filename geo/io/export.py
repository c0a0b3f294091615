"""Export of layers as CSV and GeoPackage, read batch by batch.

Both read rows from ``geo.queries.iter_feature_rows`` (``id``, the layer's properties,
``geometry`` as WKB in EPSG:4326) and write what ``geo.io.readers`` reads back, so an export
imports again into the same rows: CSV carries the geometry as WKT with full double
precision (and ``lon``/``lat`` columns for points), GeoPackage stores it in binary.

CSV is produced chunk by chunk while the rows are read, so a database failure is raised
between chunks (a caller that streams them must not let the output look complete); a
GeoPackage is written whole to a temporary file before it is returned.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import BinaryIO

import pandas as pd
import shapely

from geo import releasability
from geo.layers import Layer

BATCH_ROWS = 5000


def _batches(rows: Iterable[dict], size: int = BATCH_ROWS) -> Iterator[list[dict]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):  # a releasability's agency codes
        return releasability.as_text(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def csv_header(layer: Layer) -> list[str]:
    columns = ["id", *layer.readable_names]
    if layer.geometry_type == "Point":
        columns += ["lon", "lat"]
    return [*columns, "wkt"]


def csv_chunks(layer: Layer, rows: Iterable[dict]) -> Iterator[str]:
    """CSV text (UTF-8, header first, RFC 4180 quoting), one chunk per batch of rows."""
    names = ["id", *layer.readable_names]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(csv_header(layer))
    yield buffer.getvalue()
    for batch in _batches(rows):
        buffer.seek(0)
        buffer.truncate()
        geoms = shapely.from_wkb([bytes(r["geometry"]) for r in batch])
        wkts = shapely.to_wkt(geoms, rounding_precision=-1, trim=True)
        for row, geom, wkt in zip(batch, geoms, wkts, strict=True):
            values = [_text(row[n]) for n in names]
            if layer.geometry_type == "Point":
                values += [repr(float(shapely.get_x(geom))), repr(float(shapely.get_y(geom)))]
            writer.writerow([*values, wkt])
        yield buffer.getvalue()


def _frame(layer: Layer, batch: list[dict]):
    import geopandas

    data = {"id": [r["id"] for r in batch]}
    for spec in layer.readable:
        values = [r[spec.name] for r in batch]
        if spec.kind == "timestamp":
            # RFC 3339 text: GeoPackage's DATETIME keeps only milliseconds, and an export
            # must import back unchanged.
            data[spec.name] = pd.array([_text(v) or None for v in values], dtype="string")
        elif spec.kind == "int" or (spec.kind == "choice" and spec.choices
                                   and isinstance(spec.choices[0], int)):
            data[spec.name] = pd.array(values, dtype="Int64")
        elif spec.kind == "float":
            data[spec.name] = pd.array(values, dtype="Float64")
        elif spec.kind == "bool":
            data[spec.name] = pd.array(values, dtype="boolean")
        else:
            data[spec.name] = pd.array([None if v is None else _text(v) for v in values],
                                       dtype="string")
    geoms = shapely.from_wkb([bytes(r["geometry"]) for r in batch])
    return geopandas.GeoDataFrame(data, geometry=geoms, crs="EPSG:4326")


def write_gpkg(layer: Layer, rows: Iterable[dict], path: str) -> int:
    """Write rows to a GeoPackage layer named after ``layer``; returns the row count."""
    import pyogrio

    count = 0
    for batch in _batches(rows):
        pyogrio.write_dataframe(_frame(layer, batch), path, layer=layer.name, driver="GPKG",
                                append=count > 0, promote_to_multi=False)
        count += len(batch)
    if count == 0:  # an empty layer still has its schema
        empty = _frame(layer, []).set_geometry([], crs="EPSG:4326")
        pyogrio.write_dataframe(empty, path, layer=layer.name, driver="GPKG",
                                geometry_type=layer.geometry_type)
    return count


def gpkg_file(layer: Layer, rows: Iterable[dict]) -> BinaryIO:
    """A GeoPackage of the rows, written whole before anything is returned.

    Returns
    -------
    BinaryIO
        The file, open for reading at its start and already unlinked (its storage is
        freed when the caller closes it). Every row has been read when this returns, so
        a database failure is raised here, before a caller has sent a byte, never in the
        middle of a download.
    """
    handle, path = tempfile.mkstemp(suffix=".gpkg")
    os.close(handle)
    os.unlink(path)  # GDAL creates the file itself
    try:
        write_gpkg(layer, rows, path)
        stream = open(path, "rb")  # noqa: SIM115  # the caller closes it
    finally:
        if os.path.exists(path):
            os.unlink(path)
    return stream
