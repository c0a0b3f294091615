"""``geo.io.ingest``: the one write of features, by itself on PostGIS (the routes that
use it are tested in tests/app/api). The features are SYNTHETIC."""

from __future__ import annotations

import pandas as pd
import pytest
import shapely
from sqlalchemy import text

from geo.io.ingest import ingest, patched_feature
from geo.layers import CROSSINGS


def _batch(rows: list[tuple]) -> list[tuple]:
    """One batch of crossing points: (code, name, kind, lon, lat) per row, from row 1."""
    frame = pd.DataFrame({
        "_row": list(range(1, len(rows) + 1)),
        "code": [r[0] for r in rows], "name": [r[1] for r in rows],
        "kind": [r[2] for r in rows],
        "geometry": [shapely.Point(r[3], r[4]) for r in rows],
    })
    return [(frame, 4326, [])]


def _stored(session) -> dict[str, tuple]:
    return {row.code: (row.name, row.region_id) for row in session.execute(text(
        "SELECT code, name, region_id FROM crossing_points WHERE code LIKE 'IN-%'"))}


def test_a_create_writes_rows_with_their_region(db_session, sample_layers, analysis_srid):
    report = ingest(db_session, CROSSINGS, _batch([
        ("IN-1", "One", "road", 45.0, 41.4), ("IN-2", "Two", "rail", 45.4, 41.4)]),
        mode="create", analysis_srid=analysis_srid)
    assert (report.inserted, report.updated, report.error_count, report.written) == (
        2, 0, 0, True)
    regions = sample_layers["regions"]
    assert _stored(db_session) == {"IN-1": ("One", regions["T-KK"]),
                                   "IN-2": ("Two", regions["T-KA"])}


def test_a_problem_in_any_row_writes_nothing(db_session, sample_layers, analysis_srid):
    report = ingest(db_session, CROSSINGS, _batch([
        ("IN-1", "One", "road", 45.0, 41.4), ("IN-1", "Again", "road", 45.1, 41.4),
        ("IN-3", "Three", "ferry-ish", 45.2, 41.4), ("IN-4", "Far", "road", 10.0, 50.0)]),
        mode="create", analysis_srid=analysis_srid)
    assert report.written is False and report.inserted == 0
    assert [(e.row, e.field) for e in sorted(report.errors, key=lambda e: e.row)] == [
        (2, "code"), (3, "kind"), (4, "geometry")]
    assert "repeats the code of row 1" in report.errors[0].message
    assert _stored(db_session) == {}


def test_a_create_over_a_stored_key_is_a_conflict(db_session, sample_layers, analysis_srid):
    stored = sample_layers["crossing_points"]["T-BCP-1"]
    report = ingest(db_session, CROSSINGS, _batch([("T-BCP-1", "Copy", "road", 45, 41.4)]),
                    mode="create", analysis_srid=analysis_srid)
    assert report.conflict and report.inserted == 0
    assert [(e.field, e.message) for e in report.errors] == [
        ("key", f"code already exists as id {stored}")]


def test_an_upsert_updates_what_changed_and_leaves_the_rest(db_session, sample_layers,
                                                            analysis_srid):
    ingest(db_session, CROSSINGS, _batch([("IN-1", "One", "road", 45.0, 41.4),
                                          ("IN-2", "Two", "road", 45.1, 41.4)]),
           mode="create", analysis_srid=analysis_srid)
    report = ingest(db_session, CROSSINGS, _batch([
        ("IN-1", "One", "road", 45.0, 41.4), ("IN-2", "Renamed", "road", 45.1, 41.4),
        ("IN-3", "Three", "road", 45.2, 41.4)]), mode="upsert", analysis_srid=analysis_srid)
    assert (report.inserted, report.updated, report.unchanged) == (1, 1, 1)
    assert {code: name for code, (name, _) in _stored(db_session).items()} == {
        "IN-1": "One", "IN-2": "Renamed", "IN-3": "Three"}


def test_a_dry_run_counts_and_writes_nothing(db_session, sample_layers, analysis_srid):
    report = ingest(db_session, CROSSINGS, _batch([("IN-1", "One", "road", 45.0, 41.4)]),
                    mode="upsert", analysis_srid=analysis_srid, dry_run=True)
    assert (report.dry_run, report.written, report.inserted) == (True, False, 1)
    assert _stored(db_session) == {}


@pytest.mark.parametrize(("changes", "geometry", "expected"), [
    ({"name": "New"}, None, {"code": "C", "name": "New", "kind": "road"}),
    ({}, {"type": "Point", "coordinates": [1, 2]}, {"code": "C", "name": "Old",
                                                    "kind": "road"}),
])
def test_a_patch_keeps_what_it_does_not_change(changes, geometry, expected):
    current = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [45, 41]},
               "properties": {"code": "C", "name": "Old", "kind": "road", "region_id": 7}}
    merged = patched_feature(CROSSINGS, current, changes, geometry)
    assert merged["properties"] == expected  # derived region_id is not written back
    assert merged["geometry"] == (geometry or current["geometry"])
