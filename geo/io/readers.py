"""Readers of the files analysts bring: GeoJSON, CSV, GeoPackage, zipped Shapefile.

Each reader yields batches ``(frame, source_srid, parse_errors)`` for
``geo.io.ingest.Ingestion.add``: ``frame`` holds raw property values, a ``geometry``
column of shapely geometries in ``source_srid`` and ``_row``, the number a person
finds the row by (CSV: the line number, header = line 1; other formats: the feature
number, from 1). CSV, GeoPackage and Shapefile are read in batches of ``batch_rows``, so
memory stays bounded for any file size; GeoJSON is parsed whole (its size is bounded by
the upload limit).

Columns are matched to properties by ``DEFAULT_COLUMNS`` (case-insensitive, first
match wins; a Shapefile's names cut to 10 characters match too) unless ``mapping``
names the column for a property. A CSV's geometry comes from a WKT column or from
longitude/latitude columns.

Before any reader opens a file, ``geo.io.file_checks`` makes sure its bytes are the
declared format (and GDAL opens only GeoPackages and Shapefiles, by their own driver,
offline); a file that is not is a ``ReadError`` naming the format.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from geo.io.file_checks import (
    FORMAT_NAMES,
    GDAL_DRIVERS,
    MAX_UNZIPPED_BYTES,
    ArchiveTooLargeError,
    ReadError,
    check_csv,
    check_geojson,
    gdal_offline,
    geopackage_layer,
    shapefile_source,
)
from geo.io.validation import RowError, quoted

__all__ = ["ArchiveTooLargeError", "ReadError", "FORMATS", "MAX_UNZIPPED_BYTES",
           "detect_format", "read_batches", "rows_with_geometry"]

BATCH_ROWS = 50_000
# The private directory a reader gives GDAL (a Shapefile's checked parts, a GeoPackage's
# link) is named so; ``geo.io.import_jobs`` sweeps those a killed process left.
READER_DIR_PREFIX = "borderrisk-read-"


FORMATS = ("geojson", "csv", "gpkg", "shapefile")
EXTENSIONS = {".geojson": "geojson", ".json": "geojson", ".csv": "csv", ".gpkg": "gpkg",
              ".zip": "shapefile", ".shp": "shapefile"}

# property or geometry part -> accepted column names, in order of preference
DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "lon": ("lon", "lng", "long", "longitude", "x"),
    "lat": ("lat", "latitude", "y"),
    "wkt": ("wkt", "geometry", "geom", "the_geom", "wkt_geom"),
    "external_id": ("external_id", "ref", "reference", "report_id", "incident_id"),
    "occurred_at": ("occurred_at", "datetime", "date_time", "timestamp", "time", "date"),
    "category": ("category", "type", "indicator"),
    "persons_count": ("persons_count", "persons", "people", "number_of_persons"),
    "transport_means": ("transport_means", "transport", "means_of_transport"),
    "description": ("description", "notes", "remarks", "comment"),
    "detection_method": ("detection_method", "detection", "detected_by"),
    "source_reliability": ("source_reliability", "reliability"),
    "information_credibility": ("information_credibility", "credibility"),
}
GEOMETRY_PARTS = ("lon", "lat", "wkt")
SHAPEFILE_NAME_LENGTH = 10


def detect_format(filename: str) -> str:
    """Format name from a file name's extension; ReadError when unknown."""
    suffix = Path(filename).suffix.lower()
    if suffix not in EXTENSIONS:
        raise ReadError(f"cannot tell the format of {quoted(Path(filename).name)}: use one of "
                          f"{', '.join(sorted(EXTENSIONS))}")
    return EXTENSIONS[suffix]


def read_batches(path: str | Path, fmt: str | None = None, *, crs: int | None = None,
                 mapping: dict[str, str] | None = None, names=None,
                 batch_rows: int = BATCH_ROWS,
                 max_unzipped_bytes: int = MAX_UNZIPPED_BYTES,
                 temp_dir: str | Path | None = None) -> Iterator[tuple]:
    """Batches of a file (see the module docstring).

    Parameters
    ----------
    crs : int, optional
        EPSG code of the coordinates; overrides the file's own CRS. Without it, files
        that carry a CRS are read in theirs; CSV and GeoJSON default to EPSG:4326.
    mapping : dict, optional
        Property (or, for CSV, ``lon``/``lat``/``wkt``) -> column name.
    names : sequence of str, optional
        The properties to look for (a layer's writable names); default all known.
    max_unzipped_bytes : int
        Most bytes the members of a zipped Shapefile may expand to; beyond it
        ``ArchiveTooLargeError``. Members with a path (``../x.shp``, ``/etc/x``), a NUL,
        a link, a nested archive or a file that is not a Shapefile's are refused with
        ``ReadError``.
    temp_dir : path, optional
        Where the reader's private directory goes (a zip's Shapefile parts, links to a
        GeoPackage or .shp); default the system's temporary directory. Removed when
        the batches are exhausted or closed.
    """
    fmt = fmt or detect_format(str(path))
    if fmt == "geojson":
        check_geojson(Path(path))
        yield from _geojson_batches(Path(path), crs)
    elif fmt == "csv":
        check_csv(Path(path))
        yield from _csv_batches(Path(path), crs, mapping or {}, names, batch_rows)
    elif fmt in ("gpkg", "shapefile"):
        yield from _ogr_batches(Path(path), fmt, crs, mapping or {}, names, batch_rows,
                                max_unzipped_bytes, temp_dir)
    else:
        raise ReadError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")


def _geojson_batches(path: Path, crs: int | None) -> Iterator[tuple]:
    try:
        body = json.loads(path.read_bytes())
    except RecursionError:
        raise ReadError("the GeoJSON is nested too deeply (arrays or objects inside each "
                        "other, hundreds of levels)") from None
    except (UnicodeDecodeError, ValueError) as exc:  # also a number of > 4300 digits
        raise ReadError(f"the file is not GeoJSON (not valid JSON: {quoted(str(exc), 80)})"
                        ) from None
    if isinstance(body, dict) and body.get("type") == "FeatureCollection":
        features = body.get("features") or []
        if not isinstance(features, list):
            raise ReadError("the FeatureCollection's features must be an array")
    elif isinstance(body, dict) and body.get("type") == "Feature":
        features = [body]
    else:
        raise ReadError("the file is not a GeoJSON Feature or FeatureCollection")
    frame, errors = rows_with_geometry(features, first_row=1)
    yield frame, crs or 4326, errors


def _column_for(name: str, columns: list[str], mapping: dict[str, str]) -> str | None:
    if name in mapping:
        if mapping[name] not in columns:
            raise ReadError(f"mapping {name}={mapping[name]}: no column "
                            f"{quoted(mapping[name])} in the file; columns are "
                            f"{', '.join(quoted(c) for c in columns[:20])}"
                            + (" ..." if len(columns) > 20 else ""))
        return mapping[name]
    lowered = {c.lower(): c for c in columns}
    for candidate in (*DEFAULT_COLUMNS.get(name, ()), name, name[:SHAPEFILE_NAME_LENGTH]):
        if candidate in lowered:
            return lowered[candidate]
    return None


def _properties(frame: pd.DataFrame, mapping: dict[str, str],
                names=None, skip=()) -> pd.DataFrame:
    """The frame with columns renamed to property names (unmatched columns kept)."""
    columns = [c for c in frame.columns if c not in skip]
    renamed = {}
    for name in names or DEFAULT_COLUMNS:
        if name in GEOMETRY_PARTS:
            continue
        column = _column_for(name, columns, mapping)
        if column is not None and column not in renamed:
            renamed[column] = name
    result = frame[columns].rename(columns=renamed)
    return result.loc[:, ~result.columns.duplicated()]


def _csv_geometry(chunk: pd.DataFrame, columns: dict[str, str | None], first_line: int):
    lines = np.arange(first_line, first_line + len(chunk))
    errors = []
    if columns["wkt"]:
        text = chunk[columns["wkt"]].fillna("").to_numpy(dtype=object)
        geoms = shapely.from_wkt(np.where(text == "", None, text), on_invalid="ignore")
        bad = (text != "") & shapely.is_missing(geoms)
        errors += [RowError(int(line), "geometry", f"{quoted(columns['wkt'])}: not valid WKT")
                   for line in lines[bad]]
        return geoms, errors
    lon = pd.to_numeric(chunk[columns["lon"]], errors="coerce").to_numpy()
    lat = pd.to_numeric(chunk[columns["lat"]], errors="coerce").to_numpy()
    given = (chunk[columns["lon"]] != "").to_numpy() | (chunk[columns["lat"]] != "").to_numpy()
    bad = given & (np.isnan(lon) | np.isnan(lat))
    errors += [RowError(int(line), "geometry",
                        f"{quoted(columns['lon'])}/{quoted(columns['lat'])}: not numbers")
               for line in lines[bad]]
    ok = ~np.isnan(lon) & ~np.isnan(lat)
    geoms = np.full(len(chunk), None, dtype=object)
    geoms[ok] = shapely.points(lon[ok], lat[ok])
    return geoms, errors


def _csv_chunks(reader, crs: int | None, mapping: dict[str, str], names) -> Iterator[tuple]:
    first_line = 2
    for chunk in reader:
        columns = list(chunk.columns)
        geometry_columns = {part: _column_for(part, columns, mapping)
                            for part in GEOMETRY_PARTS}
        if not geometry_columns["wkt"] and not (geometry_columns["lon"]
                                                and geometry_columns["lat"]):
            raise ReadError("no geometry columns: the CSV needs a WKT column (wkt, "
                            "geometry) or longitude/latitude columns (lon, lat)")
        geoms, errors = _csv_geometry(chunk, geometry_columns, first_line)
        used = {c for c in geometry_columns.values() if c}
        frame = _properties(chunk, mapping, names, skip=used)
        frame["geometry"] = geoms
        frame["_row"] = np.arange(first_line, first_line + len(chunk), dtype=np.int64)
        yield frame.reset_index(drop=True), crs or 4326, errors
        first_line += len(chunk)


def _csv_batches(path: Path, crs: int | None, mapping: dict[str, str], names,
                 batch_rows: int) -> Iterator[tuple]:
    try:
        # An open file, not a name: pandas would fetch a name that looks like a URL.
        with open(path, "rb") as stream, pd.read_csv(
                stream, dtype=str, keep_default_na=False, chunksize=batch_rows,
                encoding="utf-8-sig") as reader:
            yield from _csv_chunks(reader, crs, mapping, names)
    except pd.errors.EmptyDataError:
        raise ReadError("the CSV is empty: it needs a header line and rows") from None
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise ReadError(f"the CSV cannot be read: {quoted(str(exc), 120)}") from None


def _source_srid(crs, override: int | None) -> int:
    if override is not None:
        return override
    if crs is None:
        return 4326
    from pyproj import CRS

    epsg = CRS.from_user_input(crs).to_epsg(min_confidence=70)
    if epsg is None:
        raise ReadError(f"the file's CRS has no EPSG code ({CRS.from_user_input(crs).name});"
                          " give it with crs=EPSG:nnnn")
    return epsg


def _gdal_error(fmt: str, exc: Exception, source: Path) -> ReadError:
    """GDAL's reason, short and quoted, without the server's path."""
    message = str(exc).replace(str(source), "the file")
    return ReadError(f"GDAL cannot read the {FORMAT_NAMES[fmt]}: {quoted(message, 120)}")


def _ogr_batches(path: Path, fmt: str, crs: int | None, mapping: dict[str, str], names,
                 batch_rows: int, max_unzipped_bytes: int = MAX_UNZIPPED_BYTES,
                 temp_dir: str | Path | None = None) -> Iterator[tuple]:
    import pyogrio
    from pyogrio.errors import DataLayerError, DataSourceError

    gdal_offline()
    # GDAL opens a name chosen here, in a private directory: never the caller's path
    # (no /vsi prefix, no URI, no sibling file but a Shapefile's checked parts).
    with tempfile.TemporaryDirectory(prefix=READER_DIR_PREFIX, dir=temp_dir) as workdir:
        if fmt == "gpkg":
            layer = geopackage_layer(path)
            source = Path(workdir) / "upload.gpkg"
            source.symlink_to(path.resolve())
            # As inspected: the file alone, no lock, no -wal/-shm file read or left.
            options = {"IMMUTABLE": "YES"}
        else:
            layer, options = None, {}
            source = shapefile_source(path, Path(workdir), with_prj=crs is None,
                                      max_unzipped_bytes=max_unzipped_bytes)
        try:
            info = pyogrio.read_info(str(source), layer=layer, **options)
        except (DataSourceError, DataLayerError) as exc:
            raise _gdal_error(fmt, exc, source) from None
        if info.get("driver") != GDAL_DRIVERS[fmt]:
            raise ReadError(f"the file is not {FORMAT_NAMES[fmt]}: GDAL reads it as "
                            f"{quoted(info.get('driver'))}")
        srid = _source_srid(info.get("crs"), crs)
        total = int(info.get("features") or 0)
        for offset in range(0, max(total, 1), batch_rows):
            try:
                frame = pyogrio.read_dataframe(
                    str(source), layer=layer, skip_features=offset, max_features=batch_rows,
                    datetime_as_string=True, **options)
            except UnicodeDecodeError:
                raise ReadError(f"the {FORMAT_NAMES[fmt]} holds text that is not valid "
                                f"{info.get('encoding') or 'UTF-8'} (in features "
                                f"{offset + 1} to {offset + batch_rows}); save it as UTF-8"
                                ) from None
            except (DataSourceError, DataLayerError) as exc:
                raise _gdal_error(fmt, exc, source) from None
            if frame.empty:
                break
            geometry = frame.geometry.to_numpy()
            frame = _properties(pd.DataFrame(frame.drop(columns="geometry")), mapping, names)
            frame = frame.astype(object).assign(geometry=geometry)
            frame["_row"] = np.arange(offset + 1, offset + 1 + len(frame), dtype=np.int64)
            yield frame, srid, []


def rows_with_geometry(features: list[dict], first_row: int = 0) -> tuple[pd.DataFrame, list]:
    """A batch frame from GeoJSON-like features (``properties`` + ``geometry`` dicts).

    Rows are numbered from ``first_row`` in input order; a geometry that is not GeoJSON
    becomes a parse error naming the row.
    """
    records, errors = [], []
    for offset, feature in enumerate(features):
        row = first_row + offset
        properties = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            errors.append(RowError(row, "type", "is not a GeoJSON Feature"))
            properties = {}
        elif properties is None:
            properties = {}
        elif not isinstance(properties, dict):
            errors.append(RowError(row, "properties", "must be an object"))
            properties = {}
        geometry = None
        raw = feature.get("geometry") if isinstance(feature, dict) else None
        if raw is not None:
            try:
                geometry = shapely.geometry.shape(raw)
            except RecursionError:
                errors.append(RowError(row, "geometry", "is nested too deeply (geometry "
                                                        "collections inside each other)"))
            except (AttributeError, KeyError, TypeError, ValueError, IndexError,
                    OverflowError, shapely.errors.ShapelyError) as exc:
                errors.append(RowError(row, "geometry",
                                       f"is not a GeoJSON geometry ({quoted(str(exc))})"))
        records.append({**properties, "geometry": geometry, "_row": row})
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame(
        {"_row": [], "geometry": []})
    if "_row" in frame:
        frame["_row"] = frame["_row"].astype(np.int64)
    return frame, errors
