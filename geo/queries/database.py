"""Session-level helpers and small lookups: transaction-local server settings,
the data versions, the PostGIS version, a region's id by code.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

_GET_SETTING = text("SELECT current_setting(:name)")
_SET_SETTING = text("SELECT set_config(:name, :value, :local)")


@contextmanager
def local_settings(session, **settings: str) -> Iterator[None]:
    """Run the statements inside with these server settings, then restore them.

    Local to the transaction (``set_config(..., true)``): an error inside rolls them
    back with it. On a connection without a transaction (psycopg2's autocommit, which
    ``app.connections`` turns on for the tile endpoints) a local setting would end with
    its own statement, so there they are set for the session and restored on the way
    out, error or not: the pooled connection keeps none of them.
    """
    dbapi = session.connection().connection.dbapi_connection
    local = not getattr(dbapi, "autocommit", False)
    previous = {name: session.execute(_GET_SETTING, {"name": name}).scalar_one()
                for name in settings}
    for name, value in settings.items():
        session.execute(_SET_SETTING, {"name": name, "value": value, "local": local})
    try:
        yield
    except BaseException:
        if not local:  # nothing rolls them back
            _restore(session, previous, local)
        raise  # else the rollback undoes set_config too
    _restore(session, previous, local)


def _restore(session, previous: dict[str, str], local: bool) -> None:
    for name, value in previous.items():
        session.execute(_SET_SETTING, {"name": name, "value": value, "local": local})


@contextmanager
def without_jit(session) -> Iterator[None]:
    """Run the statements inside with PostgreSQL's JIT off, then restore the setting.

    The per-row lookups of the link statements cost many times the planner's
    estimate; over ~10,000 rows JIT kicks in and LLVM's inlining and optimisation of
    PostGIS calls made ``link_incidents`` of 20,000 incidents take minutes instead of a
    second (PostgreSQL 15, PostGIS 3.3). Restored after (:func:`local_settings`).
    """
    with local_settings(session, jit="off"):
        yield


@contextmanager
def window_reads(session) -> Iterator[None]:
    """Run an analysis's reads of a time window narrowed by place or section without
    plain index scans (``enable_indexscan`` off), then restore the setting.

    Such a read (a region's box over 3 years, a region's sections over 3.5 years) is
    served by the bitmap of ``ix_incidents_geom_time`` or ``ix_incidents_segment_time``,
    which fetches the place's or sections' rows of the window. With years of history
    behind the window the planner prices that bitmap by the whole heap and scans the
    window of every region through ``ix_incidents_occurred_at`` instead (its correlation
    with the heap -0.99), filtering out the other regions' rows: at 10 years of 1 M a
    year, 2.0-3.0 M rows removed and 3.9-9.5 s a read against 1.0-2.6 s for the bitmap
    of the same rows (docs/benchmarks.md, issue 21, "the long windows' plan"; at one
    year no read is slower with it). Plain index scans are what goes wrong
    there, and none of these reads needs one (no order, no LIMIT): bitmaps and
    sequential scans stay open. Restored after, with or without a transaction
    (:func:`local_settings`).
    """
    with local_settings(session, enable_indexscan="off"):
        yield


_POSTGIS_VERSION = text("SELECT postgis_lib_version()")


def data_versions(session) -> dict[str, int]:
    """Current data version per table (bumped by a trigger on every change): the key of
    every cache of derived data (hot-spot maps, map points, tiles' ETags)."""
    rows = session.execute(text("SELECT table_name, version FROM data_versions")).all()
    return {row.table_name: row.version for row in rows}


def postgis_version(session) -> str:
    """Version string of the PostGIS library in the connected database."""
    return session.execute(_POSTGIS_VERSION).scalar_one()


def region_id_for_code(session, code: str) -> int | None:
    """Id of the region with this code, or None."""
    return session.execute(
        text("SELECT id FROM regions WHERE code = :code"), {"code": code}
    ).scalar_one_or_none()


# The version and the transaction that last bumped it (``xmin``), as the tiles' ETags:
# a bump rolled back repeats a version number, never that pair. And whether this
# session's transaction has written anything (then it may see data nobody else does).
_DATA_STAMPS = text("SELECT table_name, version::text || '.' || xmin::text, "
                    "pg_current_xact_id_if_assigned() IS NOT NULL FROM data_versions")


def data_stamps(session) -> tuple[dict[str, str], bool]:
    """``({table: "version.xmin"}, wrote)``: the state of the data a result of this
    session is computed from (the key of the analyses' caches), and whether the
    session's transaction has written (its results must not be shared)."""
    rows = session.execute(_DATA_STAMPS).all()
    return {row[0]: row[1] for row in rows}, any(row[2] for row in rows)


# Writes bump data_versions; a new risk assessment bumps nothing, so its id counts too.
_RESULT_VERSIONS = text("SELECT (SELECT coalesce(sum(version), 0) FROM data_versions), "
                        "(SELECT coalesce(max(id), 0) FROM risk_assessments)")


def result_versions(session) -> tuple[int, int]:
    """``(sum of the data versions, newest risk assessment id)``: changes whenever any
    data or the latest stored assessment does (the key of cached collection metadata)."""
    return tuple(session.execute(_RESULT_VERSIONS).one())


_STUDY_AREA_REGIONS = text(
    "SELECT code, ST_AsBinary(geom) FROM regions "
    "WHERE (CAST(:codes AS text[]) IS NULL OR code = ANY(CAST(:codes AS text[])) "
    "       OR (position('-' in code) > 0 "
    "           AND split_part(code, '-', 1) = ANY(CAST(:codes AS text[])))) "
    "AND (CAST(:ids AS integer[]) IS NULL OR id = ANY(CAST(:ids AS integer[]))) "
    "ORDER BY code")


def study_area_regions(session, codes: tuple[str, ...] = (),
                       region_ids: tuple[int, ...] | None = None) -> list[tuple[str, bytes]]:
    """``(code, WKB in EPSG:4326)`` of the regions a study area names, by code.

    ``codes`` are region codes or country codes: a country code (the ISO 3166-1 part of
    ISO 3166-2 region codes, e.g. ``GE``) names every region whose code starts with it
    and a hyphen (``GE-KK``, ...). No codes: every region. ``region_ids`` keeps only
    those regions (a caller's region scope); None keeps all.
    """
    rows = session.execute(_STUDY_AREA_REGIONS, {
        "codes": list(codes) or None,
        "ids": None if region_ids is None else [int(i) for i in region_ids]}).all()
    return [(code, bytes(wkb)) for code, wkb in rows]


_BORDER_LINES = text(
    "SELECT ST_AsBinary(ST_Transform(geom, CAST(:srid AS integer))) FROM border_segments "
    "WHERE geom && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326) "
    "AND (CAST(:ids AS integer[]) IS NULL OR region_id = ANY(CAST(:ids AS integer[]))) "
    "ORDER BY id")


def border_lines_wkb(session, lonlat_bounds, srid: int,
                     region_ids: tuple[int, ...] | None = None) -> list[bytes]:
    """The border sections whose bounding box meets ``lonlat_bounds`` (min lon, min lat,
    max lon, max lat; EPSG:4326), as WKB in metres of ``srid``; only those of
    ``region_ids`` when given."""
    minx, miny, maxx, maxy = (float(v) for v in lonlat_bounds)
    rows = session.execute(_BORDER_LINES, {
        "srid": int(srid), "minx": minx, "miny": miny, "maxx": maxx, "maxy": maxy,
        "ids": None if region_ids is None else [int(i) for i in region_ids]}).scalars()
    return [bytes(wkb) for wkb in rows]


def regions_extent(session, code: str | None = None, scope: tuple[int, ...] | None = None
                   ) -> tuple[float, float, float, float] | None:
    """(min lon, min lat, max lon, max lat) of the region ``code``, else of the regions
    of ``scope`` (region ids; None: of all regions); None when there is none."""
    row = session.execute(text(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
        "FROM (SELECT ST_Extent(geom) AS e FROM regions "
        "WHERE (CAST(:code AS text) IS NULL OR code = :code) "
        "AND (CAST(:scope AS integer[]) IS NULL OR id = ANY(CAST(:scope AS integer[])))"
        ") AS x"),
        {"code": code, "scope": None if scope is None else list(scope)}).one()
    return None if row[0] is None else tuple(float(v) for v in row)
