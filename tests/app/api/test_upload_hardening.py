"""Hostile uploads (issue 14, items 1 and 5): a file is read only as its declared format.

Each hostile file points at a canary (a file outside the upload holding a random
secret) and at a local HTTP server. Each must be answered 422 naming the format, the
secret must appear in no answer and the server must receive no request.
"""

from __future__ import annotations

import http.server
import io
import json
import secrets
import sqlite3
import stat
import threading
import zipfile
from pathlib import Path

import geopandas
import pyogrio
import pytest
import shapely

from tests.app.test_attacks import shapefile_zip

TEXT_LIMIT = 40  # characters of a value a message may quote (geo.io.validation.QUOTE_LIMIT)
ROW_HEADER = "category,external_id,occurred_at,lon,lat"
ROW_VALUES = "C-1,2026-08-01T10:00:00Z,45.02,41.31"


@pytest.fixture
def canary(tmp_path):
    """A CSV outside every upload whose category is a secret (as a VRT would read it)."""
    secret = f"CANARY-{secrets.token_hex(12)}"
    path = tmp_path / "canary" / "pg-password.csv"
    path.parent.mkdir()
    path.write_text(f"{ROW_HEADER}\n{secret},{ROW_VALUES}\n")
    return path, secret


@pytest.fixture
def listener():
    """A local HTTP server that records every request it gets (it must get none)."""
    requests = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the http.server API)
            requests.append(self.path)
            body = f"{ROW_HEADER}\nFROM-THE-NETWORK,{ROW_VALUES}\n".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command == "GET":
                self.wfile.write(body)

        do_HEAD = do_GET  # noqa: N815

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", requests
    server.shutdown()
    server.server_close()


def vrt(canary_path: Path, url: str, source: str = "canary") -> bytes:
    """A GDAL VRT document of one layer of incidents read from the canary file
    (``source="canary"``, or through the ``CSV:`` prefix with ``"csv"``) or from the
    local server (``"web"``, through ``/vsicurl/``)."""
    sources = {"canary": str(canary_path), "csv": f"CSV:{canary_path}",
               "web": f"/vsicurl/{url}/healthz.csv"}
    return (f'<OGRVRTDataSource><OGRVRTLayer name="incidents">'
            f"<SrcDataSource>{sources[source]}</SrcDataSource>"
            f"<SrcLayer>{'healthz' if source == 'web' else 'pg-password'}</SrcLayer>"
            f"<GeometryType>wkbPoint</GeometryType>"
            f'<GeometryField encoding="PointFromColumns" x="lon" y="lat"/>'
            f"</OGRVRTLayer></OGRVRTDataSource>").encode()


def post(client, headers, data: bytes, name: str, **form):
    return client.post("/api/v1/import/incidents", headers=headers, data={
        "file": (io.BytesIO(data), name), "dry_run": "true", **form})


def assert_refused(response, fmt_name: str, secret: str, requests: list) -> dict:
    text = response.get_data(as_text=True)
    assert secret not in text
    assert "FROM-THE-NETWORK" not in text
    assert requests == []
    assert response.status_code == 422, text
    assert response.content_type == "application/problem+json"
    body = response.get_json()
    assert body["field"] == "file"
    assert fmt_name in body["detail"], body["detail"]
    return body


def frame_file(tmp_path: Path, driver: str, suffix: str, **columns) -> Path:
    """A small incidents frame written by GDAL with ``driver``."""
    frame = geopandas.GeoDataFrame(
        {"external_id": ["H-1"], "occurred_at": ["2026-08-01T10:00:00Z"],
         "category": ["facilitator"], **columns},
        geometry=[shapely.Point(45.02, 41.31)], crs="EPSG:4326")
    path = tmp_path / f"frame{suffix}"
    pyogrio.write_dataframe(frame, path, driver=driver)
    return path


def zipped(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    """A zip of ``members`` (name -> bytes) and symbolic ``links`` (name -> target)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3  # Unix: external_attr holds the mode
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return buffer.getvalue()


def incidents_zip(replace: dict[str, bytes] | None = None,
                  links: dict[str, str] | None = None) -> bytes:
    """The zipped Shapefile of one incident with members replaced or added."""
    with zipfile.ZipFile(io.BytesIO(shapefile_zip())) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    return zipped(members | (replace or {}), links)


# ----------------------------------------------------------------- the three carriers
@pytest.mark.parametrize("first", ["canary", "csv", "web"])
def test_a_vrt_named_gpkg_is_refused(client, sample_layers, analyst, canary, listener, first):
    (path, secret), (url, requests) = canary, listener
    response = post(client, analyst, vrt(path, url, first), "incidents.gpkg")
    body = assert_refused(response, "GeoPackage", secret, requests)
    assert "GDAL VRT document" in body["detail"]


@pytest.mark.parametrize("first", ["canary", "csv", "web"])
def test_a_vrt_as_the_shp_of_a_zip_is_refused(client, sample_layers, analyst, canary,
                                               listener, first):
    (path, secret), (url, requests) = canary, listener
    response = post(client, analyst, zipped({"a.shp": vrt(path, url, first)}), "a.zip")
    body = assert_refused(response, "ESRI Shapefile", secret, requests)
    assert "file code 9994" in body["detail"]
    response = post(client, analyst, vrt(path, url, first), "a.shp")  # a bare .shp
    assert_refused(response, "ESRI Shapefile", secret, requests)


@pytest.mark.parametrize("first", ["canary", "csv", "web"])
def test_a_vrt_sent_as_csv_with_format_gpkg_is_refused(client, sample_layers, analyst,
                                                       canary, listener, first):
    (path, secret), (url, requests) = canary, listener
    response = post(client, analyst, vrt(path, url, first), "a.csv", format="gpkg")
    assert_refused(response, "GeoPackage", secret, requests)
    response = post(client, analyst, vrt(path, url, first), "a.csv")  # as CSV: markup, not CSV
    assert_refused(response, "CSV", secret, requests)
    response = post(client, analyst, vrt(path, url, first), "a.geojson")
    assert_refused(response, "GeoJSON", secret, requests)


# ----------------------------------------------------------------- GeoPackage
def test_a_vrt_behind_a_geopackage_header_is_refused(client, sample_layers, analyst,
                                                     canary, listener):
    """SQLite magic and the GPKG application id, then a VRT (GDAL's VRT driver looks for
    its tag anywhere in the first kilobyte): not an SQLite database."""
    (path, secret), (url, requests) = canary, listener
    header = bytearray(b"SQLite format 3\x00".ljust(100, b"\x00"))
    header[68:72] = b"GPKG"
    response = post(client, analyst, bytes(header) + vrt(path, url), "incidents.gpkg")
    body = assert_refused(response, "GeoPackage", secret, requests)
    assert "cannot be read as an SQLite database" in body["detail"]


@pytest.mark.parametrize(("driver", "suffix", "looks"), [
    ("KML", ".kml", "an XML document"), ("GML", ".gml", "an XML document"),
    ("FlatGeobuf", ".fgb", "binary data"), ("GeoJSON", ".geojson", "JSON"),
    ("ESRI Shapefile", ".shp", "a Shapefile .shp")])
def test_other_formats_renamed_gpkg_are_refused(client, sample_layers, analyst, tmp_path,
                                                listener, driver, suffix, looks):
    url, requests = listener
    if driver == "ESRI Shapefile":  # (GDAL would shorten the frame's column names)
        data = zipfile.ZipFile(io.BytesIO(shapefile_zip())).read("incidents.shp")
    else:
        data = frame_file(tmp_path, driver, suffix).read_bytes()
    response = post(client, analyst, data, "incidents.gpkg")
    body = assert_refused(response, "GeoPackage", "no secret here", requests)
    assert f"it looks like {looks}" in body["detail"]


def geopackage(tmp_path: Path, *statements: str, **columns) -> Path:
    """A valid GeoPackage of one incident, then ``statements`` run on it."""
    path = frame_file(tmp_path, "GPKG", ".gpkg", **columns)
    with sqlite3.connect(path) as connection:
        for statement in statements:
            connection.execute(statement)
    connection.close()
    return path


def test_a_clean_geopackage_imports(client, sample_layers, analyst, tmp_path):
    response = post(client, analyst, geopackage(tmp_path).read_bytes(), "a.gpkg")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["inserted"] == 1


@pytest.mark.parametrize(("statements", "reason"), [
    (["CREATE VIEW v AS SELECT * FROM frame",
      "UPDATE gpkg_contents SET table_name = 'v'",
      "UPDATE gpkg_geometry_columns SET table_name = 'v'"], "holds a view ('v')"),
    (["CREATE VIEW gpkg_other AS SELECT 1"], "holds a view"),
    (["CREATE TRIGGER t AFTER INSERT ON frame BEGIN DELETE FROM gpkg_contents; END"],
     "trigger ('t' on 'frame')"),
    (["CREATE VIRTUAL TABLE idx USING rtree(id, minx, maxx)"], "virtual table ('idx')"),
    (["DROP TABLE rtree_frame_geom", "CREATE VIRTUAL TABLE rtree_frame_geom USING fts5(x)"],
     "virtual table ('rtree_frame_geom')"),
    (["ALTER TABLE frame ADD COLUMN late TEXT AS (upper(category))"],
     "computed column ('late')"),
])
def test_geopackage_sql_is_never_run(client, sample_layers, analyst, tmp_path, statements,
                                     reason):
    path = geopackage(tmp_path, *statements)
    response = post(client, analyst, path.read_bytes(), "a.gpkg")
    body = assert_refused(response, "GeoPackage", "no secret here", [])
    assert reason in body["detail"]


def test_a_geopackage_without_geometry_column_is_422_not_500(client, sample_layers, analyst,
                                                             tmp_path):
    """An attributes-only GeoPackage (GDAL writes a table without geometry)."""
    frame = geopandas.pd.DataFrame({"external_id": ["N-1"], "category": ["facilitator"]})
    path = tmp_path / "attributes.gpkg"
    pyogrio.write_dataframe(frame, path, driver="GPKG")
    response = post(client, analyst, path.read_bytes(), "attributes.gpkg")
    body = assert_refused(response, "GeoPackage", "no secret here", [])
    assert "no layer with a geometry column" in body["detail"]


def test_a_geopackage_field_holding_a_vrt_is_data(client, sample_layers, analyst, tmp_path,
                                                  canary, listener):
    (path, secret), (url, requests) = canary, listener
    document = vrt(path, url).decode()
    gpkg = geopackage(tmp_path, "UPDATE gpkg_spatial_ref_sys SET definition = "
                                f"'{path}' WHERE srs_id = 4326", description=[document])
    response = post(client, analyst, gpkg.read_bytes(), "a.gpkg")
    text = response.get_data(as_text=True)
    assert response.status_code in (200, 422), text
    assert secret not in text and requests == []


# ----------------------------------------------------------------- zipped Shapefile
def test_a_zip_with_a_vrt_member_is_refused(client, sample_layers, analyst, canary,
                                            listener):
    (path, secret), (url, requests) = canary, listener
    data = shapefile_zip({"incidents.vrt": vrt(path, url)})
    body = assert_refused(post(client, analyst, data, "a.zip"), "ESRI Shapefile", secret,
                          requests)
    assert "'incidents.vrt', which is not part of an ESRI Shapefile" in body["detail"]


def test_a_symlink_in_a_zip_is_refused(client, sample_layers, analyst, canary, listener):
    (path, secret), (_, requests) = canary, listener
    for links in ({"incidents.sbn": str(path)}, {"notes.txt": str(path)}):
        data = incidents_zip(links=links)
        body = assert_refused(post(client, analyst, data, "a.zip"), "ESRI Shapefile",
                              secret, requests)
        assert "symbolic link" in body["detail"]


@pytest.mark.parametrize("prj", ["{canary}", "http://{host}/x.prj", "/vsicurl/{url}/x.prj",
                                 "EPSG:4326", "+init={canary}"])
def test_a_prj_that_is_not_wkt_is_refused(client, sample_layers, analyst, canary, listener,
                                          prj):
    (path, secret), (url, requests) = canary, listener
    text = prj.format(canary=path, url=url, host=url.removeprefix("http://"))
    data = incidents_zip({"incidents.prj": text.encode()})
    body = assert_refused(post(client, analyst, data, "a.zip"), "ESRI Shapefile", secret,
                          requests)
    assert "the ESRI Shapefile's .prj is not WKT text" in body["detail"]
    # With the CRS given, the .prj is not read at all.
    response = post(client, analyst, data, "a.zip", crs="EPSG:4326",
                    mapping="external_id=ext_id")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert requests == []


def test_a_cpg_that_is_a_path_is_refused(client, sample_layers, analyst, canary):
    path, secret = canary
    data = incidents_zip({"incidents.cpg": str(path).encode()})
    body = assert_refused(post(client, analyst, data, "a.zip"), "ESRI Shapefile", secret, [])
    assert "code page" in body["detail"]


def test_the_shp_xml_is_never_read(client, sample_layers, analyst, canary, listener):
    (path, secret), (url, requests) = canary, listener
    data = shapefile_zip({"incidents.shp.xml": vrt(path, url)})
    response = post(client, analyst, data, "a.zip", mapping="external_id=ext_id")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert secret not in response.get_data(as_text=True) and requests == []


# ----------------------------------------------------------------- values in messages
def test_errors_quote_a_short_escaped_prefix(client, sample_layers, analyst, canary):
    """A file's field (here a whole secret document) is never echoed whole."""
    path, secret = canary
    document = f"{secret}\x00<script>" + "x" * 5000
    data = json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [45.02, 41.31]},
        "properties": {"external_id": "Q-1", "occurred_at": document,
                       "category": document, "persons_count": document}}]}).encode()
    response = post(client, analyst, data, "q.geojson")
    assert response.status_code == 422
    errors = response.get_json()["report"]["errors"]
    assert {e["field"] for e in errors} == {"occurred_at", "category", "persons_count"}
    for error in errors:
        assert repr(document[:TEXT_LIMIT]) + "…" in error["message"], error
        assert "x" * (TEXT_LIMIT + 1) not in error["message"]
        assert "\x00" not in error["message"] and "\\x00" in error["message"]


# ----------------------------------------------------------------- item 5, file-borne
HUGE = "9" * 400


def test_a_400_digit_number_in_a_csv_is_422(client, sample_layers, analyst):
    data = ("external_id,occurred_at,category,persons_count,lon,lat\n"
            f"D-1,2026-08-01T10:00:00Z,facilitator,{HUGE},45.02,41.31\n").encode()
    response = post(client, analyst, data, "d.csv")
    assert response.status_code == 422, response.get_data(as_text=True)
    [error] = response.get_json()["report"]["errors"]
    assert (error["line"], error["field"]) == (2, "persons_count")
    assert error["message"] == f"'{HUGE[:TEXT_LIMIT]}'… is out of range"


def test_a_400_digit_number_in_geojson_and_geopackage_is_422(client, sample_layers, analyst,
                                                             tmp_path):
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [45.02, 41.31]},
               "properties": {"external_id": "D-2", "occurred_at": "2026-08-01T10:00:00Z",
                              "category": "facilitator", "persons_count": 0}}
    text = json.dumps(feature).replace('"persons_count": 0', f'"persons_count": {HUGE}')
    response = post(client, analyst, text.encode(), "d.geojson")
    assert response.status_code == 422, response.get_data(as_text=True)
    [error] = response.get_json()["report"]["errors"]
    assert error["field"] == "persons_count" and error["message"].endswith("is out of range")
    gpkg = geopackage(tmp_path, persons_count=[HUGE])
    response = post(client, analyst, gpkg.read_bytes(), "d.gpkg")
    assert response.status_code == 422, response.get_data(as_text=True)
    [error] = response.get_json()["report"]["errors"]
    assert error["field"] == "persons_count" and error["message"].endswith("is out of range")


def test_json_nested_5000_levels_in_a_file_is_422(client, sample_layers, analyst):
    deep = "[" * 5000 + "]" * 5000
    for document in (deep, '{"type": "FeatureCollection", "features": ' + deep + "}",
                     '{"type": "Feature", "properties": {}, "geometry": {"type": "Point", '
                     '"coordinates": ' + deep + "}}"):
        response = post(client, analyst, document.encode(), "deep.geojson")
        assert response.status_code == 422, response.get_data(as_text=True)
        body = response.get_json()
        assert body["field"] == "file" and "GeoJSON" in body["detail"]


def test_a_geometry_nested_too_deeply_is_422_naming_it(client, sample_layers, analyst):
    geometry = {"type": "Point", "coordinates": [45.02, 41.31]}
    for _ in range(300):
        geometry = {"type": "GeometryCollection", "geometries": [geometry]}
    data = json.dumps({"type": "Feature", "geometry": geometry, "properties": {
        "external_id": "N-1", "occurred_at": "2026-08-01T10:00:00Z",
        "category": "facilitator"}}).encode()
    response = post(client, analyst, data, "nested.geojson")
    assert response.status_code == 422, response.get_data(as_text=True)
    [error] = response.get_json()["report"]["errors"]
    assert error["field"] == "geometry"


def test_a_lone_surrogate_in_a_file_is_422_naming_the_field(client, sample_layers, analyst):
    """JSON's "\\ud800" decodes to a lone surrogate, which UTF-8 (and PostgreSQL)
    cannot hold: the row's field is refused (it was 503 from the COPY)."""
    data = json.dumps({"type": "Feature", "geometry": {"type": "Point", "coordinates": [
        45.02, 41.31]}, "properties": {"external_id": "S-1", "category": "facilitator",
                                       "occurred_at": "2026-08-01T10:00:00Z",
                                       "description": "a\ud800b"}}).encode()
    assert b"\\ud800" in data
    response = post(client, analyst, data, "s.geojson")
    assert response.status_code == 422, response.get_data(as_text=True)
    [error] = response.get_json()["report"]["errors"]
    assert (error["feature"], error["field"]) == (1, "description")
    assert "lone surrogate" in error["message"]


def test_text_not_in_the_files_encoding_is_422_naming_the_format(client, sample_layers,
                                                                 analyst, tmp_path):
    gpkg = geopackage(tmp_path).read_bytes()
    assert gpkg.count(b"facilitator") == 1  # (the one value, patched in place below)
    response = post(client, analyst, gpkg.replace(b"facilitator", b"facilit\xff\xfeor"),
                    "bad.gpkg")
    body = assert_refused(response, "GeoPackage", "no secret here", [])
    assert "not valid UTF-8" in body["detail"]
    with zipfile.ZipFile(io.BytesIO(incidents_zip())) as archive:
        dbf = archive.read("incidents.dbf").replace(b"illegal", b"ill\xff\xfeal")
    response = post(client, analyst, incidents_zip({"incidents.dbf": dbf}), "bad.zip",
                    mapping="external_id=ext_id")
    body = assert_refused(response, "ESRI Shapefile", "no secret here", [])
    assert "not valid UTF-8" in body["detail"]


# ----------------------------------------------------------------- the CLI
def test_the_cli_import_refuses_the_same_files(app, db_session, tmp_path, canary, listener):
    (path, secret), (url, requests) = canary, listener
    runner = app.test_cli_runner()
    hostile = tmp_path / "incidents.gpkg"
    hostile.write_bytes(vrt(path, url))
    result = runner.invoke(args=["import", str(hostile), "--layer", "incidents", "--dry-run"])
    assert result.exit_code == 1, result.output
    assert "not GeoPackage" in result.output and "GDAL VRT document" in result.output
    archive = tmp_path / "incidents.zip"
    archive.write_bytes(zipped({"a.shp": vrt(path, url)}))
    result = runner.invoke(args=["import", str(archive), "--layer", "incidents", "--dry-run"])
    assert result.exit_code == 1 and "ESRI Shapefile's .shp" in result.output
    assert secret not in result.output and requests == []
