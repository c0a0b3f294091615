"""Readers of the files analysts bring: GeoJSON, CSV, GeoPackage, zipped Shapefile.

Each reader yields batches ``(frame, source_srid, parse_errors)`` for
``geo.ingest.Ingestion.add``: ``frame`` holds raw property values, a ``geometry``
column of shapely geometries in ``source_srid`` and ``_row``, the number a person
finds the row by (CSV: the line number, header = line 1; other formats: the feature
number, from 1). CSV, GeoPackage and Shapefile are read in batches of ``batch_rows``, so
memory stays bounded for any file size; GeoJSON is parsed whole (its size is bounded by
the upload limit).

Columns are matched to properties by ``DEFAULT_COLUMNS`` (case-insensitive, first
match wins; a Shapefile's names cut to 10 characters match too) unless ``mapping``
names the column for a property. A CSV's geometry comes from a WKT column or from
longitude/latitude columns.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from geo.validation import RowError

BATCH_ROWS = 50_000


class ReadError(ValueError):
    """The input as a whole cannot be read (not one row of it); the message says why."""


class ArchiveTooLargeError(ReadError):
    """A zip whose members would expand beyond the limit (a zip bomb, or just too big)."""

# An uploaded zip is read in place by GDAL (/vsizip/), never extracted; still, its
# members must have plain names and expand to a bounded size.
MAX_UNZIPPED_BYTES = 1024 * 1024 * 1024
MAX_ZIP_MEMBERS = 64
NESTED_ARCHIVES = (".zip", ".gz", ".tgz", ".tar", ".7z", ".rar", ".bz2", ".xz")

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
        raise ReadError(f"cannot tell the format of {Path(filename).name!r}: use one of "
                          f"{', '.join(sorted(EXTENSIONS))}")
    return EXTENSIONS[suffix]


def read_batches(path: str | Path, fmt: str | None = None, *, crs: int | None = None,
                 mapping: dict[str, str] | None = None, names=None,
                 batch_rows: int = BATCH_ROWS,
                 max_unzipped_bytes: int = MAX_UNZIPPED_BYTES) -> Iterator[tuple]:
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
        ``ArchiveTooLargeError``. Members with a path (``../x.shp``, ``/etc/x``), a NUL
        or a nested archive are refused with ``ReadError``.
    """
    fmt = fmt or detect_format(str(path))
    if fmt == "geojson":
        yield from _geojson_batches(Path(path), crs)
    elif fmt == "csv":
        yield from _csv_batches(Path(path), crs, mapping or {}, names, batch_rows)
    elif fmt in ("gpkg", "shapefile"):
        yield from _ogr_batches(Path(path), fmt, crs, mapping or {}, names, batch_rows,
                                max_unzipped_bytes)
    else:
        raise ReadError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")


def _geojson_batches(path: Path, crs: int | None) -> Iterator[tuple]:
    try:
        body = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReadError(f"the file is not valid JSON: {exc}") from None
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
            raise ReadError(f"mapping {name}={mapping[name]}: no column {mapping[name]!r} "
                            f"in the file; columns are {', '.join(columns)}")
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
        errors += [RowError(int(line), "geometry", f"{columns['wkt']}: not valid WKT")
                   for line in lines[bad]]
        return geoms, errors
    lon = pd.to_numeric(chunk[columns["lon"]], errors="coerce").to_numpy()
    lat = pd.to_numeric(chunk[columns["lat"]], errors="coerce").to_numpy()
    given = (chunk[columns["lon"]] != "").to_numpy() | (chunk[columns["lat"]] != "").to_numpy()
    bad = given & (np.isnan(lon) | np.isnan(lat))
    errors += [RowError(int(line), "geometry",
                        f"{columns['lon']}/{columns['lat']}: not numbers")
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
        with pd.read_csv(path, dtype=str, keep_default_na=False, chunksize=batch_rows,
                         encoding="utf-8-sig") as reader:
            yield from _csv_chunks(reader, crs, mapping, names)
    except pd.errors.EmptyDataError:
        raise ReadError("the CSV is empty: it needs a header line and rows") from None
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise ReadError(f"the CSV cannot be read: {exc}") from None


def _check_zip_members(members: list[zipfile.ZipInfo], max_unzipped_bytes: int) -> None:
    """ReadError for a member name that is a path out of the archive, holds a NUL or
    is an archive itself; ArchiveTooLargeError when the members expand beyond
    ``max_unzipped_bytes`` (the sizes the zip declares)."""
    if len(members) > MAX_ZIP_MEMBERS:
        raise ReadError(f"the zip holds {len(members)} files; a zipped Shapefile needs a "
                        f"few (.shp, .shx, .dbf, .prj, .cpg), at most {MAX_ZIP_MEMBERS}")
    for member in members:
        name = member.filename
        parts = name.replace("\\", "/").split("/")
        if ("\x00" in name or name.startswith(("/", "\\")) or ".." in parts
                or (len(name) > 1 and name[1] == ":")):
            raise ReadError(f"the zip holds a file named {name!r}: names with a path out "
                            "of the archive are not accepted")
        if name.lower().endswith(NESTED_ARCHIVES):
            raise ReadError(f"the zip holds another archive ({name!r}): nested archives "
                            "are not accepted; zip the Shapefile's own files")
    total = sum(member.file_size for member in members)
    if total > max_unzipped_bytes:
        raise ArchiveTooLargeError(
            f"the zip's files would expand to {total / 2**20:,.0f} MiB, more than the "
            f"limit of {max_unzipped_bytes / 2**20:,.0f} MiB (IMPORT_MAX_UNZIPPED_MB)")


def _shapefile_path(path: Path, max_unzipped_bytes: int = MAX_UNZIPPED_BYTES) -> str:
    if path.suffix.lower() != ".zip":
        return str(path)
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError):
        raise ReadError("the upload is not a valid zip file") from None
    _check_zip_members(members, max_unzipped_bytes)
    shapefiles = [m.filename for m in members if m.filename.lower().endswith(".shp")
                  and not m.filename.startswith("__MACOSX")]
    if len(shapefiles) != 1:
        raise ReadError(f"the zip must hold exactly one .shp file, it holds {len(shapefiles)}")
    return f"/vsizip/{path}/{shapefiles[0]}"


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


def _ogr_batches(path: Path, fmt: str, crs: int | None, mapping: dict[str, str], names,
                 batch_rows: int,
                 max_unzipped_bytes: int = MAX_UNZIPPED_BYTES) -> Iterator[tuple]:
    import pyogrio
    from pyogrio.errors import DataSourceError

    source = (_shapefile_path(path, max_unzipped_bytes) if fmt == "shapefile"
              else str(path))
    try:
        info = pyogrio.read_info(source)
    except DataSourceError as exc:
        raise ReadError(f"GDAL cannot open the {fmt} file: {exc}") from None
    srid = _source_srid(info.get("crs"), crs)
    total = int(info.get("features") or 0)
    for offset in range(0, max(total, 1), batch_rows):
        frame = pyogrio.read_dataframe(source, skip_features=offset, max_features=batch_rows,
                                       datetime_as_string=True)
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
            except (AttributeError, KeyError, TypeError, ValueError, IndexError,
                    shapely.errors.ShapelyError) as exc:
                errors.append(RowError(row, "geometry", f"is not a GeoJSON geometry ({exc})"))
        records.append({**properties, "geometry": geometry, "_row": row})
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame(
        {"_row": [], "geometry": []})
    if "_row" in frame:
        frame["_row"] = frame["_row"].astype(np.int64)
    return frame, errors
