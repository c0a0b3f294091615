"""Agency, reporting unit, releasability and aggregate survive an export and an import
unchanged in every format, and an import gives them as a write does (issue 16)."""

import csv
import io
import json

import pytest
from sqlalchemy import text

from app import cli as app_cli
from tests.app.api.test_import_export import SMALL_CSV, upload
from testsupport.agencies import SOURCE


def _stored(db_session, external_id):
    return db_session.execute(text(
        "SELECT agency, reporting_unit, releasability, aggregate FROM incidents "
        "WHERE external_id = :e"), {"e": external_id}).one()


@pytest.mark.parametrize("fmt", ["geojson", "csv", "gpkg"])
def test_an_agencys_export_imports_back_unchanged(client, four_agencies, token_headers,
                                                  tmp_path, fmt):
    ppd = token_headers("analyst", "PPD")
    exported = client.get("/api/v1/incidents", headers=ppd,
                          query_string={"f": fmt, "agency": "PPD", "limit": 1000})
    assert exported.status_code == 200
    path = tmp_path / f"ppd.{fmt}"
    path.write_bytes(exported.data)
    response = upload(client, ppd, path)
    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert (report["rows"], report["inserted"], report["updated"], report["unchanged"]) == (
        4, 0, 0, 4), report


def test_an_import_changes_releasability_of_its_own_records_only(client, four_agencies,
                                                                 token_headers, tmp_path,
                                                                 db_session):
    ppd = token_headers("analyst", "PPD")
    text_csv = client.get("/api/v1/incidents", headers=ppd,
                          query_string={"f": "csv", "limit": 1000}).get_data(as_text=True)
    rows = [r for r in csv.DictReader(io.StringIO(text_csv)) if r["source"] == SOURCE]
    own = [r for r in rows if r["agency"] == "PPD"]
    own[0]["releasability"] = "MD, GBP"
    own[0]["aggregate"] = "no"
    path = tmp_path / "own.csv"
    with path.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(own)
    report = upload(client, ppd, path).get_json()
    assert (report["updated"], report["unchanged"]) == (1, 3), report
    assert _stored(db_session, own[0]["external_id"])[2:] == (["GBP", "MD"], False)
    # Another agency's rows in the same file: refused, nothing written.
    other = next(r for r in rows if r["agency"] == "GBP")
    other["persons_count"] = "7"
    with path.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows([own[1], other])
    response = upload(client, ppd, path)
    assert response.status_code == 403, response.get_json()
    assert "GBP's" in json.dumps(response.get_json())


def test_cli_import_of_a_legacy_file_names_the_agency(app, db_session, sample_layers,
                                                      tmp_path, monkeypatch):
    monkeypatch.setattr(app_cli, "DEMO_CREDENTIALS_FILE", tmp_path / "unused")
    runner = app.test_cli_runner()
    changed = runner.invoke(args=["agencies", "set-defaults", "MD", "--releasability",
                                  "agency", "--no-aggregate"])
    assert changed.exit_code == 0, changed.output
    assert "MD\tactive" in changed.output and "releasability agency, not counted" \
        in changed.output
    done = runner.invoke(args=["import", str(SMALL_CSV), "--layer", "incidents",
                               "--source", "legacy", "--agency", "MD"])
    assert done.exit_code == 0, done.output
    stored = db_session.execute(text(
        "SELECT DISTINCT agency, releasability, aggregate FROM incidents "
        "WHERE source = 'legacy'")).all()
    assert stored == [("MD", "agency", False)]
    unknown = runner.invoke(args=["import", str(SMALL_CSV), "--layer", "incidents",
                                  "--source", "legacy2", "--agency", "ZZ"])
    assert unknown.exit_code == 1 and "unknown agency code 'ZZ'" in unknown.output
    listing = runner.invoke(args=["agencies", "list"]).output.splitlines()
    assert [line.split("\t")[0] for line in listing] == ["GBP", "IAD", "MD", "PPD"]
    created = runner.invoke(args=["agencies", "create", "RS", "--name-en", "Revenue Service",
                                  "--name-ka", "შემოსავლების სამსახური",
                                  "--releasability", "RS,GBP"])
    assert created.exit_code == 0, created.output
    assert "RS\tactive\tRevenue Service" in created.output
    bad = runner.invoke(args=["agencies", "create", "rs", "--name-en", "x", "--name-ka", "y"])
    assert bad.exit_code != 0 and "code:" in bad.output
