"""``geo.io.ingest``: the one write of features, by itself on PostGIS (the routes that
use it are tested in tests/app/api). The features are SYNTHETIC."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest
import shapely
from sqlalchemy import text

from geo.io.ingest import import_file, ingest, patched_feature
from geo.io.readers import ReadError
from geo.layers import CROSSINGS, INCIDENTS


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


@pytest.mark.parametrize(("patch", "geometry", "expected"), [
    ({"properties": {"name": "New"}}, "stored", {"code": "C", "name": "New", "kind": "road"}),
    ({"geometry": {"type": "Point", "coordinates": [1, 2]}},
     {"type": "Point", "coordinates": [1, 2]}, {"code": "C", "name": "Old", "kind": "road"}),
    ({"geometry": None}, None, {"code": "C", "name": "Old", "kind": "road"}),
])
def test_a_patch_keeps_what_it_does_not_change(patch, geometry, expected):
    current = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [45, 41]},
               "properties": {"code": "C", "name": "Old", "kind": "road", "region_id": 7}}
    merged = patched_feature(CROSSINGS, current, patch)
    assert merged["properties"] == expected  # derived region_id is not written back
    # a null geometry stays null (validation refuses it), never the stored one
    assert merged["geometry"] == (current["geometry"] if geometry == "stored" else geometry)


def test_a_point_far_from_every_region_is_named_and_allowed_when_asked(
        db_session, sample_layers, analysis_srid):
    rows = [("IN-1", "Far", "road", 10.0, 50.0), ("IN-2", "Swapped", "road", 41.4, 45.0)]
    report = ingest(db_session, CROSSINGS, _batch(rows), mode="create",
                    analysis_srid=analysis_srid)
    assert [(e.row, e.field, e.message) for e in report.errors] == [
        (1, "geometry", "point is more than 25 km from every region; send "
                        "allow_outside=true if that is intended"),
        (2, "geometry", "coordinates appear swapped: GeoJSON and WKT order is longitude, "
                        "latitude")]
    assert (report.written, report.rejected) == (False, 2)
    allowed = ingest(db_session, CROSSINGS, _batch(rows[:1]), mode="create",
                     analysis_srid=analysis_srid, allow_outside=True)
    assert (allowed.written, allowed.inserted) == (True, 1)
    assert _stored(db_session) == {"IN-1": ("Far", None)}  # in no region


def test_an_update_rewrites_its_target_and_not_onto_another_key(db_session, sample_layers,
                                                                analysis_srid):
    ids = sample_layers["crossing_points"]
    target = ids["T-BCP-1"]
    report = ingest(db_session, CROSSINGS, _batch([("T-BCP-1", "Renamed", "road", 45.05,
                                                    41.3)]),
                    mode="update", target_id=target, analysis_srid=analysis_srid)
    assert (report.updated, report.inserted, report.ids) == (1, 0, [target])
    name = db_session.execute(text("SELECT name FROM crossing_points WHERE id = :id"),
                              {"id": target}).scalar_one()
    assert name == "Renamed"
    # giving it the code of the other crossing point is a conflict naming that one
    taken = ingest(db_session, CROSSINGS, _batch([("T-BCP-2", "Renamed", "road", 45.05,
                                                   41.3)]),
                   mode="update", target_id=target, analysis_srid=analysis_srid)
    assert taken.conflict and not taken.written
    assert [(e.field, e.message) for e in taken.errors] == [
        ("key", f"code already exists as id {ids['T-BCP-2']}")]


def test_a_row_outside_the_scope_is_forbidden_and_nothing_is_written(
        db_session, sample_layers, analysis_srid):
    regions = sample_layers["regions"]
    scope = frozenset({regions["T-KK"]})
    report = ingest(db_session, CROSSINGS, _batch([
        ("IN-1", "In", "road", 45.0, 41.4), ("IN-2", "Out", "road", 45.4, 41.4)]),
        mode="create", analysis_srid=analysis_srid, scope_region_ids=scope)
    assert report.forbidden and not report.written
    assert [(e.row, e.field, e.message) for e in report.permission_errors] == [
        (2, "scope", "lies outside your regions (T-KK)")]
    assert (report.inserted, report.ids) == (0, [])
    assert _stored(db_session) == {}
    # a stored feature of another region is a conflict on its key, naming nothing of it
    over = ingest(db_session, CROSSINGS, _batch([("T-BCP-2", "Mine", "road", 45.0, 41.4)]),
                  mode="upsert", analysis_srid=analysis_srid, scope_region_ids=scope)
    assert over.conflict and [(e.field, e.message) for e in over.errors] == [
        ("key", "code already exists")]


def test_a_status_above_the_callers_role_is_forbidden(db_session, sample_layers,
                                                      analysis_srid):
    frame = pd.DataFrame({  # a SYNTHETIC incident
        "_row": [1], "source": ["in"], "external_id": ["IN-1"],
        "occurred_at": ["2026-05-01T10:00:00Z"], "category": ["smuggling_tobacco"],
        "status": ["validated"], "geometry": [shapely.Point(45.0, 41.4)]})
    report = ingest(db_session, INCIDENTS, [(frame, 4326, [])], mode="create",
                    analysis_srid=analysis_srid,
                    forbidden_statuses={"validated": "supervisor"})
    assert report.forbidden and not report.written
    assert [(e.field, e.message) for e in report.errors] == [
        ("status", "setting the status to 'validated' needs the supervisor role or higher")]


def test_errors_beyond_the_limit_are_counted_not_listed(db_session, sample_layers,
                                                        analysis_srid):
    rows = [(f"IN-{k}", "Bad", "bridge", 45.0, 41.4) for k in range(1, 6)]
    report = ingest(db_session, CROSSINGS, _batch(rows), mode="create",
                    analysis_srid=analysis_srid, max_errors=2)
    assert (report.error_count, report.rejected, len(report.errors)) == (5, 5, 2)
    assert [e.row for e in report.errors] == [1, 2]


def test_nothing_to_write_and_an_unknown_mode_are_refused(db_session, sample_layers,
                                                          analysis_srid):
    with pytest.raises(ReadError) as caught:
        ingest(db_session, CROSSINGS, [], mode="create", analysis_srid=analysis_srid)
    assert str(caught.value) == "no features to write"
    with pytest.raises(ValueError) as caught:
        ingest(db_session, CROSSINGS, [], mode="replace", analysis_srid=analysis_srid)
    assert str(caught.value) == "mode must be create, upsert or update, got 'replace'"


def test_a_file_import_fills_the_source_and_reports_a_bad_geometry_once(
        db_session, sample_layers, analysis_srid, tmp_path):
    path = tmp_path / "synthetic.csv"  # SYNTHETIC incidents, in UTM 38N
    path.write_text("external_id,occurred_at,category,x,y,colour\n"
                    "F-1,2026-05-01T10:00:00Z,smuggling_tobacco,500000,4580000,red\n"
                    "F-2,2026-05-01T11:00:00Z,smuggling_tobacco,east,4580000,red\n")
    report = import_file(db_session, INCIDENTS, path, analysis_srid=analysis_srid,
                         crs=32638, mapping={"lon": "x", "lat": "y"}, source="import-test")
    assert [(e.row, e.field, e.message) for e in report.errors] == [
        (3, "geometry", "'x'/'y': not numbers")]  # not also "is required"
    assert (report.source_crs, report.ignored_columns, report.written) == (
        "EPSG:32638", ("colour",), False)
    fixed = path.read_text().replace(",east,", ",500100,")
    path.write_text(fixed)
    report = import_file(db_session, INCIDENTS, path, analysis_srid=analysis_srid,
                         crs=32638, mapping={"lon": "x", "lat": "y"}, source="import-test")
    assert (report.inserted, report.written) == (2, True)
    stored = db_session.execute(text(
        "SELECT external_id, source, round(ST_X(geom)::numeric, 4) FROM incidents "
        "WHERE source = 'import-test' ORDER BY external_id")).all()
    # 500,000 m east in UTM 38N is its central meridian, 45 E
    assert [tuple(r) for r in stored] == [("F-1", "import-test", Decimal("45.0000")),
                                         ("F-2", "import-test", Decimal("45.0012"))]
