"""Writing features: one pipeline for an API create, a PATCH and a bulk import.

Batches of raw features are validated column-wise (``geo.io.validation``), the valid rows
are loaded with ``COPY`` into a temporary staging table, the checks that need the
database run in SQL over the whole staging table (a key given twice, a key already
taken on create, a point far from every region), and only when no row has a problem
are the rows moved into the layer's table in one statement (insert, or upsert on the
layer's natural key) and their derived links computed set-based. Nothing is committed
here: the caller commits, or rolls back to leave the database untouched.

Memory stays bounded by the batch size: rows are validated and copied batch by batch,
and only the report (counts and up to ``max_errors`` problems) grows.
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd
import shapely

from geo import queries
from geo.crs import STORAGE_SRID
from geo.io import readers
from geo.io.readers import ReadError
from geo.io.validation import RowError, validate_batch
from geo.layers import Layer
from geo.queries import agency_checks, staging
from geo.vocabulary import LEGACY_AGENCY

# A point farther than this from every region is "outside" (metres, on the spheroid):
# generous enough for generalised boundaries and territorial waters (12 nmi).
OUTSIDE_TOLERANCE_M = 25_000.0
# The pseudo-field of a row that would write outside the caller's region scope.
SCOPE_FIELD = "scope"


@dataclass
class IngestReport:
    """What an ingestion did or, when ``written`` is False, would do."""

    layer: str
    mode: str
    dry_run: bool = False
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    written: bool = False
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    ignored_columns: tuple[str, ...] = ()
    source_crs: str = f"EPSG:{STORAGE_SRID}"
    seconds: float = 0.0
    ids: list[int] = field(default_factory=list)
    # The problems (also in ``errors``) that the caller may not do rather than that are
    # wrong: a feature outside its region scope, a status above its role (HTTP 403).
    permission_errors: list[RowError] = field(default_factory=list)

    @property
    def conflict(self) -> bool:
        """True when the only problems are keys that already exist (HTTP 409)."""
        return bool(self.errors) and all(e.field == "key" for e in self.errors)

    @property
    def forbidden(self) -> bool:
        """True when a row is beyond the caller's rights (HTTP 403)."""
        return bool(self.permission_errors)

    def as_dict(self, row_label: str = "row") -> dict:
        return {
            "layer": self.layer, "mode": self.mode, "dry_run": self.dry_run,
            "written": self.written, "rows": self.rows, "inserted": self.inserted,
            "updated": self.updated, "unchanged": self.unchanged, "rejected": self.rejected,
            "error_count": self.error_count,
            "errors": [{row_label: e.row, "field": e.field, "message": e.message}
                       for e in self.errors],
            "ignored_columns": list(self.ignored_columns), "source_crs": self.source_crs,
            "seconds": round(self.seconds, 3),
        }


def _timestamp_text(values: pd.Series) -> pd.Series:
    """ISO 8601 text of UTC timestamps for COPY (None where there is none)."""
    if (pd.api.types.is_datetime64_any_dtype(values)
            and not (values.dt.nanosecond.fillna(0) != 0).any()):
        # Vectorised; microseconds are all PostgreSQL keeps.
        return values.dt.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00").astype(object).where(
            values.notna(), None)
    return values.map(lambda t: t.isoformat() if isinstance(t, pd.Timestamp) else None)


class Ingestion:
    """Collects batches for one layer, then checks and writes them in ``finish``.

    Parameters
    ----------
    session : sqlalchemy Session
        Its transaction holds the staging table and every write.
    layer : Layer
    mode : {"create", "upsert", "update"}
        ``create`` refuses a key that exists (a conflict), ``upsert`` inserts or updates
        by the natural key and leaves identical rows unchanged, ``update`` rewrites the
        row whose id is ``target_id``.
    analysis_srid : int
        EPSG code of the metric CRS for derived distances (metres).
    dry_run : bool
        Check and count, write nothing.
    allow_outside : bool
        Accept points far from every region.
    unknown : {"error", "ignore"}
        Unknown properties are errors (API) or ignored and reported (files).
    scope_region_ids : frozenset of int, optional
        The caller's region scope (ids of regions; None: unrestricted). A row whose
        derived region (computed by the write itself, then checked; a region by its own
        id) is not one of them, or is none, is a permission error
        (``IngestReport.forbidden``), field ``SCOPE_FIELD``; the write is then undone (a
        savepoint), dry run or not. A row whose key is a stored feature outside them is
        a conflict (field ``key``, "already exists") that names neither that feature's
        id nor its region.
    forbidden_statuses : mapping of str to str, optional
        Incidents: statuses the caller may not set, or change a stored incident from,
        each with the role that may (``app.auth.permissions.INCIDENT_STATUS_ROLES``
        above the caller's role); such a row is a permission error, field ``status``.
    agency : str, optional
        Incidents: the originating agency of a new row that gives none (the writer's;
        an import's ``--agency``); by default ``geo.vocabulary.LEGACY_AGENCY``.
    viewer_agency : str, optional
        Incidents: the writer's agency as a reader (``geo.scope``): a row over a record
        it does not see is a conflict on its key, as one outside the region scope.
    edit_agency : str, optional
        Incidents: the only agency whose records the writer may write, and give
        (analysts and supervisors: their own); None: any (an admin, the CLI).
    release_agency : str, optional
        Incidents: the only agency whose records' releasability and aggregate flag the
        writer may change (every user: their own; None: the CLI).
    """

    def __init__(self, session, layer: Layer, *, mode: str = "upsert", analysis_srid: int,
                 dry_run: bool = False, allow_outside: bool = False, unknown: str = "error",
                 target_id: int | None = None, max_errors: int = 1000,
                 scope_region_ids: frozenset[int] | None = None,
                 forbidden_statuses: Mapping[str, str] | None = None,
                 agency: str = LEGACY_AGENCY, viewer_agency: str | None = None,
                 edit_agency: str | None = None, release_agency: str | None = None):
        if mode not in ("create", "upsert", "update"):
            raise ValueError(f"mode must be create, upsert or update, got {mode!r}")
        self.session = session
        self.layer = layer
        self.mode = mode
        self.analysis_srid = analysis_srid
        self.allow_outside = allow_outside
        self.unknown = unknown
        self.target_id = target_id
        self.max_errors = max_errors
        self.scope_region_ids = scope_region_ids
        self.forbidden_statuses = dict(forbidden_statuses or {})
        self.agency = agency
        self.viewer_agency = viewer_agency
        self.edit_agency = edit_agency
        self.release_agency = release_agency
        self.report = IngestReport(layer.name, mode, dry_run=dry_run)
        self._rejected_rows: set[int] = set()
        self._started = time.perf_counter()
        staging.create_staging(session, layer)

    def _record(self, errors: Iterable[RowError], *, permission: bool = False) -> None:
        for error in errors:
            self.report.error_count += 1
            self._rejected_rows.add(error.row)
            if len(self.report.errors) < self.max_errors:
                self.report.errors.append(error)
            if permission and len(self.report.permission_errors) < self.max_errors:
                self.report.permission_errors.append(error)

    def add(self, frame: pd.DataFrame, *, source_srid: int = STORAGE_SRID,
            parse_errors: Iterable[RowError] = ()) -> None:
        """Validate a batch (raw properties, ``geometry``, ``_row``) and stage its valid rows.

        ``parse_errors`` are problems found while reading the batch (e.g. bad WKT); their
        rows count as rejected too.
        """
        self.report.source_crs = f"EPSG:{source_srid}"
        self.report.rows += len(frame)
        batch = validate_batch(frame, self.layer, source_srid=source_srid, unknown=self.unknown)
        parse_errors = list(parse_errors)
        self._record(parse_errors)
        # A geometry that could not be read is reported once, not again as "missing".
        unreadable = {(e.row, e.field) for e in parse_errors}
        self._record(e for e in batch.errors if (e.row, e.field) not in unreadable)
        if batch.ignored_columns:
            merged = dict.fromkeys(self.report.ignored_columns + batch.ignored_columns)
            self.report.ignored_columns = tuple(merged)
        bad_rows = {e.row for e in batch.errors} | {e.row for e in parse_errors}
        good = batch.values[~batch.values["_row"].isin(bad_rows)]
        if not good.empty:
            self._copy(good)

    def _copy(self, values: pd.DataFrame) -> None:
        names = ["_row", *self.layer.writable_names]
        out = values[names].copy()
        for spec in self.layer.fields:
            if spec.kind == "timestamp":
                out[spec.name] = _timestamp_text(out[spec.name])
        geoms = shapely.set_srid(values["geometry"].to_numpy(), STORAGE_SRID)
        out["geom"] = shapely.to_wkb(geoms, hex=True, include_srid=True)
        buffer = io.StringIO()
        out.to_csv(buffer, index=False, header=False)
        buffer.seek(0)
        staging.copy_into_staging(self.session, [*names, "geom"], buffer)

    # ------------------------------------------------------------------ checks in SQL
    def _check_keys(self) -> None:
        label = " + ".join(self.layer.key)
        self._record(RowError(r._row, label, f"repeats the {label} of row {r.first_row}")
                     for r in staging.repeated_keys(self.session, self.layer))
        if self.mode in ("create", "update"):
            taken = staging.taken_keys(self.session, self.layer, self.mode, self.target_id,
                                       self.scope_region_ids, self.viewer_agency)
            # A stored row outside the caller's scope is a conflict described by its key
            # alone: neither its id nor its region is revealed.
            self._record(RowError(r._row, "key", f"{label} already exists"
                                  + (f" as id {r.id}" if r.visible else ""))
                         for r in taken)

    def _check_outside(self) -> None:
        if self.allow_outside or self.layer.geometry_type != "Point":
            return
        rows = staging.points_outside_regions(self.session, OUTSIDE_TOLERANCE_M)
        km = OUTSIDE_TOLERANCE_M / 1000
        self._record(
            RowError(r._row, "geometry",
                     "coordinates appear swapped: GeoJSON and WKT order is longitude, "
                     "latitude" if r.swapped else
                     f"point is more than {km:g} km from every region; send "
                     "allow_outside=true if that is intended")
            for r in rows
        )

    # ------------------------------------------------------------------ rights
    def _scope_codes(self) -> str:
        return ", ".join(staging.region_codes(self.session, self.scope_region_ids)) or "none"

    def _check_statuses(self) -> None:
        if not self.forbidden_statuses or self.layer.name != "incidents":
            return
        rows = staging.status_changes(self.session, self.layer, self.mode, self.target_id,
                                      list(self.forbidden_statuses))
        self._record((
            RowError(r._row, "status",
                     f"setting the status to {r.new!r} needs the "
                     f"{self.forbidden_statuses[r.new]} role or higher"
                     if r.new in self.forbidden_statuses else
                     f"changing the status of a {r.old} incident needs the "
                     f"{self.forbidden_statuses[r.old]} role or higher")
            for r in rows), permission=True)

    def _check_stored_scope(self) -> None:
        """A row that would overwrite a stored feature outside the scope: a conflict
        on its key (HTTP 409), saying nothing of that feature (not its id, not its
        region), as a create that meets it; so is a row over a record the writer's
        agency does not see."""
        if self.mode == "create" or (self.scope_region_ids is None
                                     and self.viewer_agency is None):
            return
        rows = staging.stored_outside_scope(self.session, self.layer, self.mode,
                                            self.target_id, self.scope_region_ids,
                                            self.viewer_agency)
        label = " + ".join(self.layer.key)
        self._record(RowError(r._row, "key", f"{label} already exists") for r in rows)

    def _check_agencies(self) -> None:
        """Incidents: fill the agency and releasability a row does not give, and check
        the codes it names and the writer's rights over other agencies' records."""
        if not self.layer.releasable:
            return
        session, layer, mode, target = self.session, self.layer, self.mode, self.target_id
        seen = staging.visible(layer, "t", self.scope_region_ids, self.viewer_agency)
        agency_checks.fill_defaults(session, layer, mode, target, self.agency, *seen)
        unknown = agency_checks.unknown_codes(session)
        if unknown:
            known = ", ".join(agency_checks.agency_codes(session))
            self._record(RowError(r._row, r.field, f"unknown agency code {r.code!r}; "
                                                   f"agencies are {known}")
                         if r.code is not None else
                         RowError(r._row, r.field, "is required: give the originating "
                                                   f"agency's code, one of {known}")
                         for r in unknown)
        if self.edit_agency is not None:
            self._record((
                RowError(r._row, "agency",
                         f"the incident is {r.stored}'s: only its agency (or an admin) "
                         "may change it" if r.stored not in (None, self.edit_agency) else
                         f"{r.given!r} is not your agency ({self.edit_agency}): only an "
                         "admin may record an incident for another agency")
                for r in agency_checks.other_agencies_rows(
                    session, layer, mode, target, self.edit_agency, *seen)),
                permission=True)
        if self.release_agency is not None:
            self._record((
                RowError(r._row, "releasability",
                         f"only its originating agency ({r.stored}) may change who sees "
                         "it (releasability, aggregate)")
                for r in agency_checks.release_changes(
                    session, layer, mode, target, self.release_agency, *seen)),
                permission=True)
        self._check_reporting_units()

    def _check_reporting_units(self) -> None:
        """A reporting unit is a region's code; a writer restricted to regions names
        one of theirs (the refusal is the same whether the code exists or not)."""
        rows = agency_checks.reporting_units(self.session, self.layer, self.mode,
                                             self.target_id)
        scope = self.scope_region_ids
        for r in rows:
            if scope is not None and r.region_id not in scope:
                self._record([RowError(r._row, "reporting_unit",
                                       f"{r.code!r} is not one of your regions "
                                       f"({self._scope_codes()})")], permission=True)
            elif r.region_id is None:
                self._record([RowError(r._row, "reporting_unit",
                                       f"unknown region code {r.code!r}")])

    def _check_written_scope(self) -> None:
        """A written row whose derived region is outside the scope (or none)."""
        rows = staging.written_outside_scope(self.session, self.layer, self.mode,
                                             self.target_id, self.report.ids,
                                             self.scope_region_ids)
        if rows:
            codes = self._scope_codes()
            self._record((
                RowError(r._row, SCOPE_FIELD,
                         f"lies in no region, so outside your regions ({codes})"
                         if r.unlinked else f"lies outside your regions ({codes})")
                for r in rows), permission=True)

    def _write_within_scope(self) -> None:
        """Write in a savepoint, check the derived regions, and keep the write only when
        every row is in scope and this is no dry run."""
        savepoint = self.session.begin_nested()
        self._write()
        self._check_written_scope()
        if self.report.error_count or self.report.dry_run:
            savepoint.rollback()
            report = self.report
            report.written, report.ids = False, []
            report.inserted = report.updated = report.unchanged = 0
        else:
            savepoint.commit()

    # ------------------------------------------------------------------ writing
    def _write(self) -> None:
        rows = staging.write_staged(self.session, self.layer, self.mode, self.target_id,
                                    self.analysis_srid)
        self.report.ids = sorted(r.id for r in rows)
        self.report.inserted = sum(1 for r in rows if r.inserted)
        self.report.updated = len(rows) - self.report.inserted
        self.report.unchanged = staging.staged_count(self.session) - len(rows)
        self.report.written = True

    def _count_dry_run(self) -> None:
        row = staging.dry_run_counts(self.session, self.layer)
        self.report.inserted = row.inserted
        self.report.updated = row.updated
        self.report.unchanged = row.staged - row.inserted - row.updated

    def finish(self) -> IngestReport:
        """Run the SQL checks, then write (unless a row failed or this is a dry run)."""
        self._check_keys()
        self._check_outside()
        self._check_statuses()
        self._check_stored_scope()
        self._check_agencies()
        report = self.report
        if report.rows == 0:
            raise ReadError("no features to write")
        if report.error_count == 0 and self.scope_region_ids is not None:
            self._write_within_scope()
            if report.dry_run and report.error_count == 0:
                self._count_dry_run()
        elif report.error_count == 0:
            if report.dry_run:
                self._count_dry_run()
            else:
                self._write()
        report.rejected = len(self._rejected_rows)
        report.errors.sort(key=lambda e: (e.row, e.field))
        report.permission_errors.sort(key=lambda e: (e.row, e.field))
        staging.drop_staging(self.session)
        report.seconds = time.perf_counter() - self._started
        return report


def patched_feature(layer: Layer, current: dict, patch: dict) -> dict:
    """The feature a PATCH asks for: the stored one (``current``, a GeoJSON Feature as
    read) with the patch's ``properties`` over its writable properties, and the patch's
    ``geometry`` when it has that key (a null there stays null: validation refuses it),
    else the stored one."""
    writable = {k: v for k, v in current["properties"].items() if k in layer.writable_names}
    return {"type": "Feature", "properties": {**writable, **patch.get("properties", {})},
            "geometry": patch["geometry"] if "geometry" in patch else current["geometry"]}


def ingest(session, layer: Layer, batches: Iterable, **options) -> IngestReport:
    """Run an :class:`Ingestion` over ``(frame, source_srid, parse_errors)`` batches:
    the one write of features (a create, a PATCH as ``mode="update"``). Does not
    commit (``geo.transactions.unit_of_work`` does)."""
    ingestion = Ingestion(session, layer, **options)
    for frame, source_srid, parse_errors in batches:
        ingestion.add(frame, source_srid=source_srid, parse_errors=parse_errors)
    return ingestion.finish()


def import_file(session, layer: Layer, path, *, analysis_srid: int, fmt: str | None = None,
                crs: int | None = None, mapping: dict[str, str] | None = None,
                source: str | None = None, dry_run: bool = False,
                allow_outside: bool = False, progress=None,
                max_unzipped_bytes: int = readers.MAX_UNZIPPED_BYTES,
                statement_timeout_s: int | None = None,
                temp_dir=None, **rights) -> IngestReport:
    """Import a file into ``layer``: all or nothing, upserting on the natural key.

    ``source`` fills the incidents' ``source`` where the file has none. ``progress``, if
    given, is called with the number of rows read so far after each batch. Unknown
    columns are ignored and listed in the report. Does not commit.
    ``max_unzipped_bytes`` bounds what a zipped Shapefile may expand to;
    ``statement_timeout_s`` (seconds, 0 = none), when given, replaces the connection's
    PostgreSQL ``statement_timeout`` for this import's transaction.
    ``rights`` (``scope_region_ids``, ``forbidden_statuses``, ``agency`` and the
    other agencies): the caller's rights, as in :class:`Ingestion`. ``temp_dir``: where
    the reader keeps its private files (see ``geo.io.readers.read_batches``).
    """
    time_limit = (contextlib.nullcontext() if statement_timeout_s is None else
                  queries.local_settings(session, statement_timeout=f"{statement_timeout_s}s"))
    with time_limit:
        ingestion = Ingestion(session, layer, mode="upsert", analysis_srid=analysis_srid,
                              dry_run=dry_run, allow_outside=allow_outside, unknown="ignore",
                              **rights)
        # Closed on any exit, so a reader's private files go with a failed import too.
        batches = contextlib.closing(readers.read_batches(
            path, fmt, crs=crs, mapping=mapping, names=layer.writable_names,
            max_unzipped_bytes=max_unzipped_bytes, temp_dir=temp_dir))
        with batches as reading:
            for frame, source_srid, parse_errors in reading:
                if source is not None and "source" in layer.writable_names:
                    given = (frame["source"] if "source" in frame
                             else pd.Series(None, index=frame.index))
                    frame["source"] = given.where(
                        given.notna() & (given.astype(str).str.strip() != ""), source)
                ingestion.add(frame, source_srid=source_srid, parse_errors=parse_errors)
                if progress is not None:
                    progress(ingestion.report.rows)
        return ingestion.finish()
