"""Bulk import (API and CLI) and export: all or nothing, idempotent, exact round trips."""

import csv
import io
import json
import shutil
import zipfile

import geopandas
import pyogrio
import pytest
import shapely
from sqlalchemy import text
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from app import cli as app_cli
from geo.crs import transform_xy
from tests.conftest import DATA_DIR

SMALL_CSV = DATA_DIR / "incidents_small.csv"



def upload(client, headers, path, layer="incidents", filename=None, **form):
    # Encoded in memory: the test client would spool a large body to an unclosed file.
    with open(path, "rb") as stream:
        file = FileStorage(stream, filename=filename or path.name)
        boundary, body = encode_multipart({"file": file, **form})
    return client.post(f"/api/v1/import/{layer}", data=body, headers=headers,
                       content_type=f"multipart/form-data; boundary={boundary}")


def count(db_session, where="true"):
    return db_session.execute(text(f"SELECT count(*) FROM incidents WHERE {where}")).scalar_one()


def test_csv_import_maps_columns_and_is_idempotent(client, sample_layers, analyst, db_session):
    first = upload(client, analyst, SMALL_CSV)
    assert first.status_code == 200, first.get_json()
    report = first.get_json()
    assert (report["inserted"], report["updated"], report["unchanged"]) == (3, 0, 0)
    assert report["ignored_columns"] == ["unused_column"]
    row = db_session.execute(text(
        "SELECT source, persons_count, description, occurred_at, region_id "
        "FROM incidents WHERE external_id = 'CSV-3'")).one()
    assert row.source == "incidents_small"  # the file name when no source is given
    assert row.description == 'SYNTHETIC "quoted" row'
    assert row.occurred_at.isoformat() == "2026-09-03T23:59:59.500000+00:00"
    assert row.region_id == sample_layers["regions"]["T-KK"]

    again = upload(client, analyst, SMALL_CSV).get_json()
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 3)
    assert count(db_session, "source = 'incidents_small'") == 3


def test_changed_row_is_updated(client, sample_layers, analyst, tmp_path):
    upload(client, analyst, SMALL_CSV)
    changed = tmp_path / "incidents_small.csv"
    changed.write_text(SMALL_CSV.read_text().replace(",4,45.01", ",6,45.01"))
    report = upload(client, analyst, changed).get_json()
    assert (report["inserted"], report["updated"], report["unchanged"]) == (0, 1, 2)


def big_csv(path, rows, bad_lines=()):
    with open(path, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["external_id", "occurred_at", "category", "persons_count", "lon",
                         "lat"])
        for i in range(rows):
            line = i + 2
            category = "jaywalking" if line in bad_lines else "illegal_stay"
            writer.writerow([f"B-{i}", "2026-01-01T00:00:00Z", category, i % 7,
                             45.0 + (i % 100) / 1000, 41.3 + (i // 100) / 10000])
    return path


def test_one_bad_row_in_ten_thousand_writes_nothing_and_all_are_listed(
        client, sample_layers, analyst, db_session, tmp_path):
    before = count(db_session)
    path = big_csv(tmp_path / "big.csv", 10_000, bad_lines=(5_002, 9_001))
    response = upload(client, analyst, path)
    assert response.status_code == 422
    problem = response.get_json()
    assert problem["detail"].startswith("line 5002, category: unknown value 'jaywalking'")
    assert problem["detail"].endswith("; nothing was written")
    report = problem["report"]
    assert [(e["line"], e["field"]) for e in report["errors"]] == [(5002, "category"),
                                                                    (9001, "category")]
    assert report["rejected"] == 2 and report["written"] is False
    assert count(db_session) == before


def test_dry_run_counts_and_writes_nothing(client, sample_layers, analyst, db_session):
    before = count(db_session)
    report = upload(client, analyst, SMALL_CSV, dry_run="true").get_json()
    assert report["dry_run"] is True and report["written"] is False
    assert report["inserted"] == 3
    assert count(db_session) == before


def test_path_in_the_file_name_is_ignored(client, sample_layers, analyst, tmp_path):
    path = tmp_path / "x.csv"
    shutil.copy(SMALL_CSV, path)
    response = upload(client, analyst, path, filename="../../../../etc/evil.csv")
    assert response.status_code == 200
    assert response.get_json()["inserted"] == 3


def test_unknown_extension_and_missing_file_are_422(client, analyst, tmp_path):
    path = tmp_path / "data.xlsx"
    path.write_bytes(b"PK")
    assert upload(client, analyst, path).status_code == 422
    response = client.post("/api/v1/import/incidents", headers=analyst, data={},
                           content_type="multipart/form-data")
    assert response.status_code == 422 and response.get_json()["field"] == "file"


def test_viewer_cannot_import_and_nothing_is_written(client, db_session, token_headers):
    def counts():
        return db_session.execute(text(
            "SELECT (SELECT count(*) FROM incidents), (SELECT count(*) FROM audit_log "
            "WHERE action = 'import'), (SELECT count(*) FROM import_jobs)")).one()

    before = counts()
    response = upload(client, token_headers("viewer"), SMALL_CSV)
    assert response.status_code == 403
    problem = response.get_json()
    assert response.mimetype == "application/problem+json" and problem["status"] == 403
    assert "viewer" in problem["detail"]
    assert counts() == before  # no row, no audit record, no job


def sample_frame():
    return geopandas.GeoDataFrame(
        {"external_id": ["G-1", "G-2"], "occurred_at": ["2026-08-01T10:00:00Z"] * 2,
         "category": ["facilitator", "smuggling_weapons"], "persons_count": [2, 0]},
        geometry=shapely.points([45.02, 45.41], [41.31, 41.46]), crs="EPSG:4326")


def test_geopackage_in_a_local_crs_is_transformed(client, sample_layers, analyst, tmp_path,
                                                  db_session):
    frame = sample_frame().to_crs(32638)
    path = tmp_path / "local.gpkg"
    pyogrio.write_dataframe(frame, path)
    report = upload(client, analyst, path, source="gpkg-test").get_json()
    assert report["source_crs"] == "EPSG:32638" and report["inserted"] == 2
    lon, lat = db_session.execute(text(
        "SELECT ST_X(geom), ST_Y(geom) FROM incidents WHERE external_id = 'G-1'")).one()
    assert lon == pytest.approx(45.02, abs=1e-9) and lat == pytest.approx(41.31, abs=1e-9)


def test_zipped_shapefile(client, sample_layers, analyst, tmp_path):
    folder = tmp_path / "shp"
    folder.mkdir()
    # Shapefile field names hold 10 characters: what ArcGIS writes for these properties.
    frame = sample_frame().rename(columns={"external_id": "external_i",
                                           "occurred_at": "occurred_a",
                                           "persons_count": "persons_co"})
    pyogrio.write_dataframe(frame, folder / "points.shp")
    archive = tmp_path / "points.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for part in folder.iterdir():
            zipped.write(part, part.name)
    report = upload(client, analyst, archive).get_json()
    assert report["inserted"] == 2, report


def test_geojson_file_with_feature_numbers(client, sample_layers, analyst, tmp_path):
    features = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [45.0, 41.3]},
                 "properties": {"external_id": f"J-{i}", "occurred_at": "2026-01-01T00:00:00Z",
                                "category": "other" if i != 2 else "unknown"}}
                for i in range(1, 4)]
    path = tmp_path / "events.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    problem = upload(client, analyst, path).get_json()
    assert problem["report"]["errors"][0]["feature"] == 2


def export_import_round_trip(client, headers, fmt, tmp_path, suffix):
    exported = client.get(f"/api/v1/incidents?f={fmt}&limit=10000", headers=headers)
    assert exported.status_code == 200
    path = tmp_path / f"export.{suffix}"
    path.write_bytes(exported.data)
    response = upload(client, headers, path)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.mark.parametrize(("fmt", "suffix"), [("geojson", "geojson"), ("csv", "csv"),
                                             ("gpkg", "gpkg")])
def test_every_export_imports_back_unchanged(client, sample_layers, analyst, tmp_path, fmt,
                                             suffix, db_session):
    # Awkward values: sub-second time, quotes and commas, full-precision coordinates.
    to_lonlat = transform_xy([500_123.456789], [4_575_321.987654], 32638, 4326)
    db_session.execute(text(
        "UPDATE incidents SET occurred_at = '2026-10-01T06:30:00.123456+00', "
        "description = 'SYNTHETIC, \"quoted\"\nsecond line', "
        "geom = ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) WHERE external_id = 'T-1'"),
        {"lon": float(to_lonlat[0][0]), "lat": float(to_lonlat[1][0])})
    report = export_import_round_trip(client, analyst, fmt, tmp_path, suffix)
    assert (report["rows"], report["inserted"], report["updated"], report["unchanged"]) == (
        3, 0, 0, 3), report


def test_csv_export_columns(client, sample_layers, analyst):
    body = client.get("/api/v1/crossings?f=csv", headers=analyst)
    assert body.headers["Content-Disposition"] == 'attachment; filename="crossing_points.csv"'
    rows = list(csv.DictReader(io.StringIO(body.get_data(as_text=True))))
    assert [r["code"] for r in rows] == ["T-BCP-1", "T-BCP-2"]
    assert rows[0]["wkt"] == "POINT (45.05 41.3)"
    assert (rows[0]["lon"], rows[0]["lat"]) == ("45.05", "41.3")


@pytest.mark.parametrize("fmt", ["csv", "geojson", "gpkg"])
def test_every_export_downloads_with_its_extension(client, sample_layers, analyst, fmt):
    answer = client.get(f"/api/v1/incidents?f={fmt}&limit=10", headers=analyst)
    assert answer.status_code == 200
    assert answer.headers["Content-Disposition"] == \
        f'attachment; filename="incidents.{fmt}"'


def test_the_api_page_of_geojson_is_no_attachment(client, sample_layers, analyst):
    answer = client.get("/api/v1/incidents?limit=10", headers=analyst)
    assert "Content-Disposition" not in answer.headers


def test_cli_import_dry_run_and_errors(app, db_session, sample_layers, tmp_path, monkeypatch):
    monkeypatch.setattr(app_cli, "DEMO_CREDENTIALS_FILE", tmp_path / "unused")
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["import", str(SMALL_CSV), "--layer", "incidents",
                              "--source", "cli", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "dry run, nothing written: 3 rows: 3 inserted" in dry.output
    assert count(db_session, "source = 'cli'") == 0

    done = runner.invoke(args=["import", str(SMALL_CSV), "--layer", "incidents",
                               "--source", "cli"])
    assert "imported: 3 rows: 3 inserted" in done.output
    assert count(db_session, "source = 'cli'") == 3

    bad = big_csv(tmp_path / "bad.csv", 5, bad_lines=(3,))
    failed = runner.invoke(args=["import", str(bad), "--layer", "incidents", "--source", "b"])
    assert failed.exit_code == 1
    assert "line 3: category: unknown value 'jaywalking'" in failed.output
    assert "nothing was written" in failed.output
    assert count(db_session, "source = 'b'") == 0
