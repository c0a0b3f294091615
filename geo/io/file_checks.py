"""What an analyst's file must be before a reader opens it, and GDAL kept offline.

A file from outside is untrusted. GDAL chooses a driver by a file's content, and some
drivers do what a file says: a VRT document names other files and URLs to read, a
GeoPackage's views are SQL that GDAL runs with its own SQL functions. So a file is
opened only once its bytes are shown to be its declared format, only by that
format's reader, and under a path chosen here:

- GeoJSON is JSON text; Python's ``json`` parses it, never GDAL.
- CSV is text, not markup or binary; pandas parses it, never GDAL.
- A GeoPackage is an SQLite database with the GeoPackage application id at byte 68
  of its header. Its schema is read as data (Python's ``sqlite3``, read-only, with an
  authorizer that allows reading only; no SQL from the file runs): it must hold no
  view, no computed column, no virtual table but the R-tree spatial index, no trigger
  but GeoPackage's and GDAL's own, and exactly one feature table, which is what GDAL
  then opens (driver GPKG, checked).
- A Shapefile's ``.shp`` and ``.shx`` start with file code 9994, its ``.dbf`` with a
  dBase version byte, its ``.prj`` is WKT text (never a path or URL) and its ``.cpg``
  a code page name. A zipped one holds only a Shapefile's files and no link; Python
  unpacks its parts (never GDAL's ``/vsizip/``) into a private directory under names
  chosen here, and GDAL opens that (driver ESRI Shapefile, checked). ``.shp.xml`` and
  other members are never given to GDAL.

``gdal_offline`` switches off GDAL's network access (``/vsicurl/`` and the other
network file systems, HTTP) for the process: nothing BorderRisk reads is remote.
"""

from __future__ import annotations

import os
import re
import sqlite3
import stat
import zipfile
from pathlib import Path
from urllib.parse import quote

from geo.io.validation import quoted


class ReadError(ValueError):
    """The input as a whole cannot be read (not one row of it); the message says why."""


class ArchiveTooLargeError(ReadError):
    """A zip whose members would expand beyond the limit (a zip bomb, or just too big)."""


FORMAT_NAMES = {"geojson": "GeoJSON", "csv": "CSV", "gpkg": "GeoPackage",
                "shapefile": "ESRI Shapefile"}
# The one GDAL driver each GDAL-read format may be opened by.
GDAL_DRIVERS = {"gpkg": "GPKG", "shapefile": "ESRI Shapefile"}
HEAD_BYTES = 4096

SQLITE_HEADER = b"SQLite format 3\x00"
# PRAGMA application_id at offset 68 of the header; GP10/GP11 are GeoPackage 1.0/1.1.
GPKG_APPLICATION_IDS = (b"GPKG", b"GP10", b"GP11")
GPKG_APPLICATION_ID_OFFSET = 68
# More schema objects than any GeoPackage of incidents has (each layer brings ~15).
MAX_SCHEMA_OBJECTS = 2000
SHAPEFILE_FILE_CODE = (9994).to_bytes(4, "big")
# First byte of a .dbf: the dBase versions GDAL's shapelib reads.
DBF_VERSIONS = frozenset(b"\x02\x03\x04\x05\x30\x31\x32\x43\x63\x83\x8b\xcb\xe5\xf5\xfb")
# The parts of a Shapefile given to GDAL, and what else a zipped Shapefile may hold
# (indexes, metadata, notes: kept in the zip, never read).
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
SHAPEFILE_COMPANIONS = (".sbn", ".sbx", ".qix", ".fbn", ".fbx", ".ain", ".aih", ".atx",
                        ".ixs", ".mxs", ".xml", ".qpj", ".qmd", ".cst", ".txt")
MAX_PRJ_BYTES = 64 * 1024
_WKT_START = re.compile(r"\s*[A-Z][A-Z_]{2,30}\s*\[")
_CODE_PAGE = re.compile(r"[A-Za-z0-9_.\- ]{1,40}")
_RTREE_MODULE = re.compile(r"\bUSING\s+rtree\s*\(", re.IGNORECASE)

# An uploaded zip is unpacked by Python, parts only; still, its members must have
# plain names and expand to a bounded size.
MAX_UNZIPPED_BYTES = 1024 * 1024 * 1024
MAX_ZIP_MEMBERS = 64
NESTED_ARCHIVES = (".zip", ".gz", ".tgz", ".tar", ".7z", ".rar", ".bz2", ".xz")

# GDAL settings for the process. Every network file system (/vsicurl/, /vsis3/, ...)
# accepts only names with these extensions: none exists. Any other HTTP request of
# GDAL's goes to a proxy where nothing listens (port 1), without retry.
GDAL_OFFLINE = {
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".borderrisk-offline",
    "GDAL_HTTP_PROXY": "127.0.0.1:1",
    "GDAL_HTTP_MAX_RETRY": "0",
    "GDAL_HTTP_TIMEOUT": "1",
    "GDAL_HTTP_CONNECTTIMEOUT": "1",
    "AWS_NO_SIGN_REQUEST": "YES",
}


def gdal_offline() -> None:
    """Switch off GDAL's network access for this process (``GDAL_OFFLINE``)."""
    import pyogrio

    pyogrio.set_gdal_config_options(GDAL_OFFLINE)


def _head(path: Path, size: int = HEAD_BYTES) -> bytes:
    with open(path, "rb") as stream:
        return stream.read(size)


def looks_like(head: bytes) -> str:
    """What the first bytes of a file suggest it is, for an error message."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(SQLITE_HEADER):
        return "an SQLite database"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "a zip archive"
    if head.startswith(SHAPEFILE_FILE_CODE):
        return "a Shapefile .shp"
    if text.startswith(b"<"):
        what = "a GDAL VRT document" if b"<OGRVRTDataSource" in head else "an XML document"
        return what
    if text.startswith((b"{", b"[")):
        return "JSON"
    if not head:
        return "an empty file"
    if b"\x00" in head:
        return "binary data"
    return "text"


def _not_format(fmt: str, head: bytes, expected: str) -> ReadError:
    return ReadError(f"the file is not {FORMAT_NAMES[fmt]}: {expected}; it looks like "
                     f"{looks_like(head)}")


def check_geojson(path: Path) -> None:
    """ReadError unless the file starts like a JSON object (after a BOM, white space)."""
    head = _head(path)
    if not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        raise _not_format("geojson", head, "GeoJSON is JSON text starting with '{'")


def check_csv(path: Path) -> None:
    """ReadError when the file is binary (a NUL byte) or markup (starts with '<')."""
    head = _head(path)
    if b"\x00" in head or head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        raise _not_format("csv", head, "a CSV is text: a header line, then rows")


# ------------------------------------------------------------------------ GeoPackage
def _read_only_authorizer(action, arg1, arg2, database, trigger_or_view):
    """Allow reading and nothing else (no ATTACH, no function, no write, no pragma but
    table_xinfo)."""
    if action == sqlite3.SQLITE_SELECT:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_READ and database in ("main", None):
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_PRAGMA and arg1 == "table_xinfo":
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_UPDATE and arg1 == "sqlite_master" and database == "main":
        # Asked when pragma_table_xinfo (an eponymous virtual table) is first
        # prepared; ignored, it writes nothing (and the connection is read-only).
        return sqlite3.SQLITE_IGNORE
    return sqlite3.SQLITE_DENY


def _schema(path: Path) -> tuple[list[tuple], list[tuple], dict[str, list]]:
    """(sqlite_master rows, (table, geometry column, data type) of gpkg_contents'
    layers, computed columns by table), read with SQL of our own only."""
    # Immutable: no lock, no -wal/-shm file read or left next to it (GDAL opens it so too).
    uri = f"file:{quote(str(path.resolve()))}?mode=ro&immutable=1"
    connection = sqlite3.connect(uri, uri=True)
    try:
        # Functions in the schema (views, triggers, columns) may not run here at all.
        connection.execute("PRAGMA trusted_schema = OFF")
        connection.execute("PRAGMA query_only = ON")
        connection.set_authorizer(_read_only_authorizer)
        objects = connection.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master LIMIT ?",
            (MAX_SCHEMA_OBJECTS + 1,)).fetchall()
        if len(objects) > MAX_SCHEMA_OBJECTS:
            raise ReadError(f"the GeoPackage's schema holds more than {MAX_SCHEMA_OBJECTS} "
                            "objects")
        names = {name for kind, name, _, _ in objects if kind in ("table", "view")}
        if not {"gpkg_contents", "gpkg_geometry_columns"} <= names:
            raise ReadError("the file is not a GeoPackage: it has no gpkg_contents and "
                            "gpkg_geometry_columns tables")
        if any(kind == "view" for kind, *_ in objects):
            return objects, [], {}  # refused by the caller, before any other query
        layers = connection.execute(
            "SELECT c.table_name, g.column_name, c.data_type FROM gpkg_contents c "
            "LEFT JOIN gpkg_geometry_columns g ON g.table_name = c.table_name").fetchall()
        computed = {}
        for kind, name, _, sql in objects:
            if kind == "table" and not (sql or "").upper().startswith("CREATE VIRTUAL"):
                hidden = connection.execute(
                    "SELECT name FROM pragma_table_xinfo(?) WHERE hidden IN (2, 3)",
                    (name,)).fetchall()
                if hidden:
                    computed[name] = [column for (column,) in hidden]
        return objects, layers, computed
    except sqlite3.Error as exc:
        raise ReadError(f"the GeoPackage cannot be read as an SQLite database: "
                        f"{quoted(str(exc))}") from None
    finally:
        connection.close()


def _gpkg_trigger_allowed(name: str, table: str, geometry_columns: dict[str, str]) -> bool:
    """True for the triggers GeoPackage and GDAL write: the spec's own on its gpkg_*
    tables, GDAL's feature count's on a table, the R-tree index's on a feature table."""
    if name.startswith("gpkg_") and table.startswith("gpkg_"):
        return True
    if name in (f"trigger_insert_feature_count_{table}",
                f"trigger_delete_feature_count_{table}"):
        return True
    column = geometry_columns.get(table)
    return column is not None and bool(re.fullmatch(
        rf"rtree_{re.escape(table)}_{re.escape(column)}_(insert|update\d|delete)", name))


def geopackage_layer(path: Path) -> str:
    """The name of the one feature table of a GeoPackage that passes the checks of the
    module docstring; ReadError naming the first thing that does not."""
    head = _head(path, 100)
    if (not head.startswith(SQLITE_HEADER)
            or head[GPKG_APPLICATION_ID_OFFSET:GPKG_APPLICATION_ID_OFFSET + 4]
            not in GPKG_APPLICATION_IDS):
        raise _not_format("gpkg", head, "a GeoPackage is an SQLite database with the "
                                        "application id 'GPKG'")
    objects, layers, computed = _schema(path)
    views = [name for kind, name, _, _ in objects if kind == "view"]
    if views:
        raise ReadError(f"the GeoPackage holds a view ({quoted(views[0])}): a GeoPackage "
                        "whose SQL would run when it is read is not accepted; export its "
                        "layer as a table")
    geometry_columns = {table: column for table, column, _ in layers if column}
    tables = {name: sql or "" for kind, name, _, sql in objects if kind == "table"}
    for name, sql in tables.items():
        spatial_index = (_RTREE_MODULE.search(sql)
                         and any(name == f"rtree_{t}_{c}" for t, c in geometry_columns.items()))
        if sql.upper().startswith("CREATE VIRTUAL") and not spatial_index:
            raise ReadError(f"the GeoPackage holds a virtual table ({quoted(name)}) that is "
                            "not a spatial index: not accepted")
    for kind, name, table, _ in objects:
        if kind == "trigger" and not _gpkg_trigger_allowed(name, table, geometry_columns):
            raise ReadError(f"the GeoPackage holds a trigger ({quoted(name)} on "
                            f"{quoted(table)}) that is not GeoPackage's own: not accepted")
    for table, columns in computed.items():
        raise ReadError(f"the GeoPackage's table {quoted(table)} has a computed column "
                        f"({quoted(columns[0])}): not accepted")
    features = [table for table, column, kind in layers if kind == "features" and column]
    if not features:
        raise ReadError("the GeoPackage has no layer with a geometry column (a 'features' "
                        "table in gpkg_contents and gpkg_geometry_columns)")
    if len(features) > 1:
        raise ReadError(f"the GeoPackage holds {len(features)} layers with geometry ("
                        f"{', '.join(quoted(t) for t in features[:5])}): upload one")
    layer = features[0]
    if layer not in tables or tables[layer].upper().startswith("CREATE VIRTUAL"):
        raise ReadError(f"the GeoPackage's layer {quoted(layer)} is not a plain table")
    return layer


# ------------------------------------------------------------------------ Shapefile
def _check_zip_members(members: list[zipfile.ZipInfo], max_unzipped_bytes: int) -> None:
    """ReadError for a member that is a link, a path out of the archive, holds a NUL,
    is an archive itself or is not a Shapefile's file; ArchiveTooLargeError when the
    members expand beyond ``max_unzipped_bytes`` (the sizes the zip declares)."""
    if len(members) > MAX_ZIP_MEMBERS:
        raise ReadError(f"the zip holds {len(members)} files; a zipped Shapefile needs a "
                        f"few (.shp, .shx, .dbf, .prj, .cpg), at most {MAX_ZIP_MEMBERS}")
    for member in members:
        name = member.filename
        parts = name.replace("\\", "/").split("/")
        if ("\x00" in name or name.startswith(("/", "\\")) or ".." in parts
                or (len(name) > 1 and name[1] == ":")):
            raise ReadError(f"the zip holds a file named {quoted(name)}: names with a path "
                            "out of the archive are not accepted")
        if stat.S_ISLNK(member.external_attr >> 16):
            raise ReadError(f"the zip holds a symbolic link ({quoted(name)}): a zipped "
                            "ESRI Shapefile holds the Shapefile's files only")
        if name.lower().endswith(NESTED_ARCHIVES):
            raise ReadError(f"the zip holds another archive ({quoted(name)}): nested "
                            "archives are not accepted; zip the Shapefile's own files")
        if not (member.is_dir() or parts[0] == "__MACOSX"
                or name.lower().endswith(SHAPEFILE_PARTS + SHAPEFILE_COMPANIONS)):
            raise ReadError(f"the zip holds {quoted(name)}, which is not part of an ESRI "
                            f"Shapefile; zip the Shapefile's own files "
                            f"({', '.join(SHAPEFILE_PARTS)})")
    total = sum(member.file_size for member in members)
    if total > max_unzipped_bytes:
        raise ArchiveTooLargeError(
            f"the zip's files would expand to {total / 2**20:,.0f} MiB, more than the "
            f"limit of {max_unzipped_bytes / 2**20:,.0f} MiB (IMPORT_MAX_UNZIPPED_MB)")


def _unzip_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, target: Path) -> None:
    """Copy one member to ``target``, never more bytes than the zip declares."""
    left = member.file_size
    with archive.open(member) as source, open(target, "xb") as out:
        while chunk := source.read(min(1024 * 1024, left + 1)):
            left -= len(chunk)
            if left < 0:
                raise ReadError(f"the zip's {quoted(member.filename)} is larger than it "
                                "declares")
            out.write(chunk)


def _unzipped_parts(path: Path, workdir: Path, max_unzipped_bytes: int,
                    with_prj: bool) -> dict[str, Path]:
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            _check_zip_members(members, max_unzipped_bytes)
            shapefiles = [m for m in members if m.filename.lower().endswith(".shp")
                          and not m.filename.startswith("__MACOSX")]
            if len(shapefiles) != 1:
                raise ReadError(f"the zip must hold exactly one ESRI Shapefile (.shp file), "
                                f"it holds {len(shapefiles)}")
            stem = shapefiles[0].filename[:-4].lower()
            wanted = [p for p in SHAPEFILE_PARTS if with_prj or p != ".prj"]
            parts = {}
            for member in members:
                lowered = member.filename.lower()
                suffix = lowered[len(stem):]
                if lowered.startswith(stem) and suffix in wanted and suffix not in parts:
                    parts[suffix] = workdir / f"upload{suffix}"
                    _unzip_member(archive, member, parts[suffix])
            return parts
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, RuntimeError, OSError,
            EOFError) as exc:
        if isinstance(exc, ReadError):
            raise
        raise ReadError("the upload is not a valid zip file (ESRI Shapefile)") from None


def _linked_parts(path: Path, workdir: Path, with_prj: bool) -> dict[str, Path]:
    """A plain .shp and its sibling parts, linked under our names (nothing else)."""
    parts = {".shp": workdir / "upload.shp"}
    os.symlink(path.resolve(), parts[".shp"])
    for suffix in SHAPEFILE_PARTS[1:]:
        if suffix == ".prj" and not with_prj:
            continue
        for sibling in (path.with_suffix(suffix), path.with_suffix(suffix.upper())):
            if sibling.is_file():
                parts[suffix] = workdir / f"upload{suffix}"
                os.symlink(sibling.resolve(), parts[suffix])
                break
    return parts


def _check_part(suffix: str, path: Path) -> None:
    head = _head(path)
    name = f"the ESRI Shapefile's {suffix}"
    if suffix in (".shp", ".shx") and not head.startswith(SHAPEFILE_FILE_CODE):
        raise ReadError(f"{name} does not start with file code 9994; it looks like "
                        f"{looks_like(head)}")
    if suffix == ".dbf" and (not head or head[0] not in DBF_VERSIONS):
        raise ReadError(f"{name} is not a dBase file; it looks like {looks_like(head)}")
    if suffix == ".prj":
        data = _head(path, MAX_PRJ_BYTES + 1)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = ""
        if len(data) > MAX_PRJ_BYTES or not _WKT_START.match(text):
            raise ReadError(f"{name} is not WKT text (such as GEOGCS[...]); it starts "
                            f"{quoted(text.strip() or looks_like(head), 20)}: give the CRS "
                            "with crs=EPSG:nnnn to read the Shapefile without it")
    if suffix == ".cpg":
        try:
            text = head.decode("ascii").strip()
        except UnicodeDecodeError:
            text = None
        if text is None or not _CODE_PAGE.fullmatch(text):
            raise ReadError(f"{name} is not the name of a code page (such as UTF-8)")


def shapefile_source(path: Path, workdir: Path, *, max_unzipped_bytes: int = MAX_UNZIPPED_BYTES,
                     with_prj: bool = True) -> Path:
    """The .shp GDAL may open: a zip's (or a plain .shp's) parts, checked, in ``workdir``.

    Parameters
    ----------
    path : Path
        A zipped Shapefile or a .shp (its siblings .shx, .dbf, .prj, .cpg are used).
    workdir : Path
        An empty private directory that outlives the reading.
    max_unzipped_bytes : int
        Most bytes the zip's members may expand to (``ArchiveTooLargeError``).
    with_prj : bool
        False when the caller gives the CRS: the .prj is then neither checked nor read.
    """
    head = _head(path)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        parts = _unzipped_parts(path, workdir, max_unzipped_bytes, with_prj)
    elif head.startswith(SHAPEFILE_FILE_CODE):
        parts = _linked_parts(path, workdir, with_prj)
    else:
        raise _not_format("shapefile", head, "a zipped Shapefile is a zip archive and a "
                                             ".shp starts with file code 9994")
    for suffix, part in parts.items():
        _check_part(suffix, part)
    return parts[".shp"]

