"""Reader-level checks of untrusted files (geo.io.file_checks), without the web app."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import zipfile

import geopandas
import pyogrio
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo.io.file_checks import ReadError, gdal_offline, geopackage_layer, shapefile_source
from geo.io.readers import read_batches
from geo.io.validation import quoted, validate_batch
from geo.layers import LAYERS
from tests.app.api.test_upload_hardening import canary, listener  # noqa: F401 (fixtures)

INCIDENTS = LAYERS["incidents"]
# One incident, in EPSG:4326 degrees or in UTM zone 38N metres (about the same place).
POINTS = {"EPSG:4326": shapely.Point(45.02, 41.31), "EPSG:32638": shapely.Point(501_660, 4_572_700)}


def incidents_frame(crs: str = "EPSG:4326") -> geopandas.GeoDataFrame:
    return geopandas.GeoDataFrame({"ref": ["F-1"], "category": ["facilitator"]},
                                  geometry=[POINTS[crs]], crs=crs)


@pytest.mark.parametrize("path", ["/vsicurl/{url}/a.csv", "{url}/b.csv", "/vsis3/bucket/c.csv",
                                  "/vsicurl/{url}/noextension"])
def test_gdal_makes_no_request_once_offline(listener, path):  # noqa: F811
    url, requests = listener
    endpoint = url.removeprefix("http://")
    pyogrio.set_gdal_config_options({"AWS_S3_ENDPOINT": endpoint, "AWS_HTTPS": "NO",
                                     "AWS_VIRTUAL_HOSTING": "FALSE"})
    try:
        gdal_offline()
        with pytest.raises(pyogrio.errors.DataSourceError):
            pyogrio.read_info(path.format(url=url))
    finally:
        pyogrio.set_gdal_config_options({"AWS_S3_ENDPOINT": None, "AWS_HTTPS": None,
                                         "AWS_VIRTUAL_HOSTING": None})
    assert requests == []


@pytest.mark.parametrize("prj", ["{canary}", "{url}/x.prj", "/vsicurl/{url}/x.prj"])
def test_a_prj_naming_a_file_or_url_is_refused(tmp_path, canary, listener, prj):  # noqa: F811
    """GDAL itself treats such a .prj as no CRS (read as EPSG:4326 before: silently
    wrong); the reader refuses it, and nothing is fetched either way."""
    (path, _), (url, requests) = canary, listener
    folder = tmp_path / "shp"
    folder.mkdir()
    shp = folder / "incidents.shp"
    pyogrio.write_dataframe(incidents_frame("EPSG:32638"), shp)
    shp.with_suffix(".prj").write_text(prj.format(canary=path, url=url))
    assert pyogrio.read_info(shp)["crs"] is None
    with pytest.raises(ReadError, match=r"\.prj is not WKT text"):
        list(read_batches(shp))
    assert [srid for _, srid, _ in read_batches(shp, crs=32638)] == [32638]
    assert requests == []


def test_a_plain_shp_is_read_through_its_checked_parts_only(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    shp = folder / "incidents.shp"
    pyogrio.write_dataframe(incidents_frame("EPSG:32638"), shp)
    (folder / "incidents.shp.xml").write_text("<metadata/>")
    work = tmp_path / "work"
    work.mkdir()
    source = shapefile_source(shp, work)
    assert sorted(p.name for p in work.iterdir()) == [
        "upload.cpg", "upload.dbf", "upload.prj", "upload.shp", "upload.shx"]
    assert source == work / "upload.shp"
    [(frame, srid, errors)] = list(read_batches(shp))
    assert (srid, errors, list(frame["external_id"])) == (32638, [], ["F-1"])
    assert frame["geometry"].iloc[0].equals_exact(POINTS["EPSG:32638"], 1e-6)


@pytest.mark.skipif(shutil.which("ogr2ogr") is None, reason="needs GDAL's ogr2ogr")
def test_geopackages_written_by_two_gdal_versions_pass(tmp_path):
    """pyogrio's bundled GDAL and the system's ogr2ogr write different triggers."""
    ours = tmp_path / "ours.gpkg"
    pyogrio.write_dataframe(incidents_frame(), ours, layer="incidents")
    assert geopackage_layer(ours) == "incidents"
    system = tmp_path / "system.gpkg"
    subprocess.run(["ogr2ogr", "-f", "GPKG", str(system), str(ours), "-nln", "theirs"],
                   check=True, capture_output=True)
    assert geopackage_layer(system) == "theirs"


def test_two_feature_layers_are_refused(tmp_path):
    path = tmp_path / "two.gpkg"
    pyogrio.write_dataframe(incidents_frame(), path, layer="a")
    pyogrio.write_dataframe(incidents_frame(), path, layer="b", append=True)
    with pytest.raises(ReadError, match=r"holds 2 layers with geometry \('a', 'b'\)"):
        geopackage_layer(path)


def test_a_geopackage_is_inspected_and_read_read_only(tmp_path):
    """Even in WAL mode (as QGIS leaves them): nothing is written or left beside it."""
    path = tmp_path / "ro.gpkg"
    pyogrio.write_dataframe(incidents_frame(), path, layer="incidents")
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA journal_mode = WAL").fetchone() == ("wal",)
    connection.close()
    before = path.read_bytes()
    path.chmod(0o444)
    assert geopackage_layer(path) == "incidents"
    [(frame, srid, errors)] = list(read_batches(path))
    assert (list(frame["external_id"]), srid, errors) == (["F-1"], 4326, [])
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ro.gpkg"]


@pytest.mark.parametrize(("value", "shown"), [
    ("short", "'short'"),
    ("x" * 41, "'" + "x" * 40 + "'…"),
    ("a\x00b\n'\"", "'a\\x00b\\n\\'\"'"),
    ("\ud800", "'\\ud800'"),
])
def test_quoted_text_is_a_short_escaped_prefix(value, shown):
    assert quoted(value) == shown


def test_quoted_numbers_and_structures_are_bounded():
    assert quoted(10 ** 400).startswith("1000") and len(quoted(10 ** 400)) <= 41
    deep = [0]
    for _ in range(5000):
        deep = [deep]
    assert quoted(deep) == "[[[...]]]"
    assert len(quoted(list(range(10 ** 5)))) <= 41


def test_the_private_directory_goes_on_every_exit(tmp_path):
    temp = tmp_path / "temp"
    temp.mkdir()
    frame = geopandas.GeoDataFrame(
        {"ref": ["P-1", "P-2"]}, geometry=[POINTS["EPSG:4326"]] * 2, crs="EPSG:4326")
    pyogrio.write_dataframe(frame, tmp_path / "two.shp")
    archive = tmp_path / "two.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for part in tmp_path.glob("two.*"):
            if part != archive:
                out.write(part, part.name)
    batches = read_batches(archive, temp_dir=temp, batch_rows=1)
    next(batches)
    [private] = list(temp.iterdir())
    assert sorted(p.name for p in private.iterdir())[:2] == ["upload.cpg", "upload.dbf"]
    batches.close()  # what geo.io.ingest.import_file does on any exit
    assert list(temp.iterdir()) == []
    assert sum(len(f) for f, _, _ in read_batches(archive, temp_dir=temp)) == 2
    assert list(temp.iterdir()) == []
    with zipfile.ZipFile(archive, "a") as out:
        out.writestr("two.vrt", "<OGRVRTDataSource/>")
    with pytest.raises(ReadError, match="not part of an ESRI Shapefile"):
        list(read_batches(archive, temp_dir=temp))
    assert list(temp.iterdir()) == []


# --- any file: a ReadError, or rows whose every problem is a row error -----------------
FUZZ = settings(max_examples=120, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
EXTREMES = st.sampled_from([10 ** 400, -(10 ** 400), 2 ** 63, float("inf"), float("nan"),
                            1e308, "9" * 400, "1e999", "\ud800", "a\x00b", "x" * 5000, True,
                            "", " ", "2026-08-01T10:00:00Z", "facilitator", "-1"])
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20),
              EXTREMES),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=20)
FIELDS = st.sampled_from(["external_id", "occurred_at", "category", "persons_count",
                          "description", "source", "transport_means", "lon", "lat", "wkt"])


def geometries():
    point = st.fixed_dictionaries({"type": st.just("Point"), "coordinates": st.lists(
        st.one_of(st.floats(), EXTREMES), max_size=3)})
    return st.one_of(point, JSON_VALUES, st.recursive(
        point, lambda inner: st.fixed_dictionaries(
            {"type": st.just("GeometryCollection"), "geometries": st.lists(inner, max_size=2)}),
        max_leaves=5))


features = st.fixed_dictionaries({
    "type": st.sampled_from(["Feature", "Feature", "feature", 1]),
    "geometry": geometries(),
    "properties": st.one_of(st.dictionaries(FIELDS, JSON_VALUES, max_size=6), JSON_VALUES)})
geojson_files = st.one_of(
    st.builds(lambda f: json.dumps({"type": "FeatureCollection", "features": f}).encode(),
              st.lists(features, max_size=4)),
    st.builds(lambda depth: ("{" + '"a":[' * depth + "]" * depth + "}").encode(),
              st.integers(0, 6000)),
    st.binary(max_size=300))
csv_files = st.builds(
    lambda header, rows: "\n".join([",".join(header)] + [",".join(r) for r in rows]).encode(
        "utf-8", "surrogatepass"),
    st.lists(FIELDS, min_size=1, max_size=6),
    st.lists(st.lists(st.one_of(st.text(max_size=12), EXTREMES.map(str)), max_size=6),
             max_size=4))
PREFIXES = [b"", b"SQLite format 3\x00" + bytes(52) + b"GPKG", b"PK\x03\x04",
            (9994).to_bytes(4, "big"), b"<OGRVRTDataSource>", b"{"]
any_bytes = st.builds(lambda prefix, rest: prefix + rest, st.sampled_from(PREFIXES),
                      st.binary(max_size=400))


def assert_read_or_refused(tmp_path, data: bytes, fmt: str) -> None:
    path = tmp_path / f"fuzz.{ {'shapefile': 'zip'}.get(fmt, fmt) }"
    path.write_bytes(data)
    try:
        batches = list(read_batches(path, fmt, names=INCIDENTS.writable_names))
    except ReadError as exc:
        assert len(str(exc)) < 600
        return
    for frame, srid, parse_errors in batches:
        batch = validate_batch(frame, INCIDENTS, source_srid=srid, unknown="ignore")
        # What the COPY gets is UTF-8 text without NUL, and integers PostgreSQL holds.
        text = batch.values.drop(columns="geometry").to_csv(index=False)
        assert "\x00" not in text
        text.encode("utf-8")
        for spec in INCIDENTS.fields:
            if spec.kind == "int":
                assert batch.values[spec.name].dropna().abs().le(2 ** 31 - 1).all()
        for error in [*parse_errors, *batch.errors]:
            assert len(error.message) < 600  # (a choice's message lists the choices)


@FUZZ
@given(data=geojson_files)
def test_any_geojson_file_is_read_or_refused(tmp_path_factory, data):
    assert_read_or_refused(tmp_path_factory.mktemp("fuzz"), data, "geojson")


@FUZZ
@given(data=st.one_of(csv_files, any_bytes))
def test_any_csv_file_is_read_or_refused(tmp_path_factory, data):
    assert_read_or_refused(tmp_path_factory.mktemp("fuzz"), data, "csv")


@FUZZ
@given(data=any_bytes, fmt=st.sampled_from(["gpkg", "shapefile", "geojson", "csv"]))
def test_any_bytes_in_any_format_are_read_or_refused(tmp_path_factory, data, fmt):
    assert_read_or_refused(tmp_path_factory.mktemp("fuzz"), data, fmt)
