"""``geo.io.readers``: each format's reader, by itself. The files are SYNTHETIC, a few
features made here; what a hostile file does is in test_file_checks.py."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from geo.io import readers


def _read(path: Path, **options) -> list[tuple]:
    """(srid, properties and _row per feature, WKT per feature, errors) per batch."""
    return [(srid, frame.drop(columns=["geometry"]).to_dict("records"),
             [None if g is None else g.wkt for g in frame["geometry"]],
             [(e.row, e.field, e.message) for e in errors])
            for frame, srid, errors in readers.read_batches(path, **options)]


@pytest.mark.parametrize(("name", "fmt"), [
    ("a.geojson", "geojson"), ("a.json", "geojson"), ("A.CSV", "csv"), ("b.gpkg", "gpkg"),
    ("c.zip", "shapefile"), ("d.shp", "shapefile")])
def test_the_extension_names_the_format(name, fmt):
    assert readers.detect_format(name) == fmt


def test_an_unknown_extension_is_refused_naming_the_file_not_its_path():
    with pytest.raises(readers.ReadError) as caught:
        readers.detect_format("../../etc/x.kml")
    assert str(caught.value) == ("cannot tell the format of 'x.kml': use one of .csv, "
                                 ".geojson, .gpkg, .json, .shp, .zip")


def test_geojson_features_are_numbered_from_one(tmp_path):
    path = tmp_path / "a.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "S-1", "name": "One"},
         "geometry": {"type": "Point", "coordinates": [44.5, 41.5]}},
        {"type": "Feature", "properties": {"code": "S-2", "name": "Two"},
         "geometry": {"type": "Point", "coordinates": [44.6, 41.6]}}]}))
    assert _read(path) == [(4326, [{"code": "S-1", "name": "One", "_row": 1},
                                   {"code": "S-2", "name": "Two", "_row": 2}],
                            ["POINT (44.5 41.5)", "POINT (44.6 41.6)"], [])]


def test_csv_rows_are_numbered_by_line_and_bad_coordinates_name_the_line(tmp_path):
    path = tmp_path / "b.csv"
    path.write_text("code,name,lon,lat\nS-1,One,44.5,41.5\nS-2,Two,x,41.6\nS-3,Three,,\n")
    [(srid, rows, shapes, errors)] = _read(path)
    assert srid == 4326
    assert [r["_row"] for r in rows] == [2, 3, 4]  # line numbers: the header is line 1
    assert shapes == ["POINT (44.5 41.5)", None, None]
    # An empty position is no error here: validation says the geometry is required.
    assert errors == [(3, "geometry", "'lon'/'lat': not numbers")]


def test_csv_wkt_column_by_mapping_and_a_crs_given_for_its_numbers(tmp_path):
    wkt = tmp_path / "c.csv"
    wkt.write_text("code,name,shape\nS-1,One,POINT(44.5 41.5)\nS-2,Two,POINT(bad)\n")
    [(_, _, shapes, errors)] = _read(wkt, mapping={"wkt": "shape"})
    assert shapes == ["POINT (44.5 41.5)", None]
    assert errors == [(3, "geometry", "'shape': not valid WKT")]
    utm = tmp_path / "e.csv"
    utm.write_text("code,name,x,y\nS-1,One,500000,4600000\n")
    [(srid, _, shapes, _)] = _read(utm, mapping={"lon": "x", "lat": "y"}, crs=32638)
    assert (srid, shapes) == (32638, ["POINT (500000 4600000)"])


@pytest.fixture
def utm_points(tmp_path) -> gpd.GeoDataFrame:
    """Two SYNTHETIC crossing points in EPSG:32638 (UTM 38N, metres)."""
    return gpd.GeoDataFrame({"code": ["G-1", "G-2"], "name": ["Gee", "Two"]},
                            geometry=[shapely.Point(500000, 4600000),
                                      shapely.Point(510000, 4610000)], crs=32638)


def test_geopackage_and_shapefiles_are_read_in_their_own_crs(tmp_path, utm_points):
    utm_points.to_file(tmp_path / "f.gpkg", driver="GPKG")
    utm_points.to_file(tmp_path / "s.shp")
    with zipfile.ZipFile(tmp_path / "z.zip", "w") as archive:
        for ext in ("shp", "shx", "dbf", "prj"):
            archive.write(tmp_path / f"s.{ext}", f"s.{ext}")
    expected = [(32638, [{"code": "G-1", "name": "Gee", "_row": 1},
                         {"code": "G-2", "name": "Two", "_row": 2}],
                 ["POINT (500000 4600000)", "POINT (510000 4610000)"], [])]
    for name in ("f.gpkg", "s.shp", "z.zip"):
        assert _read(tmp_path / name) == expected, name


def test_batches_are_cut_at_the_batch_size(tmp_path):
    path = tmp_path / "many.csv"
    path.write_text("code,name,lon,lat\n" + "".join(f"S-{k},N{k},44.{k},41.{k}\n"
                                                    for k in range(1, 6)))
    batches = _read(path, batch_rows=2)
    assert [[r["_row"] for r in rows] for _, rows, _, _ in batches] == [[2, 3], [4, 5], [6]]


@pytest.mark.parametrize(("name", "body", "fmt", "message"), [
    ("bad.geojson", b"{not json", None,
     "the file is not GeoJSON (not valid JSON: 'Expecting property name enclosed in "
     "double quotes: line 1 column 2 (char 1)')"),
    ("empty.csv", b"", None, "the CSV is empty: it needs a header line and rows"),
    ("a.geojson", b'{"type": "FeatureCollection", "features": []}', "gpkg",
     "the file is not GeoPackage: a GeoPackage is an SQLite database with the "
     "application id 'GPKG'; it looks like JSON"),
])
def test_a_file_that_is_not_its_format_is_a_read_error(tmp_path, name, body, fmt, message):
    """Only the declared format's driver opens a file: a GeoJSON named .gpkg is not
    handed to another driver."""
    path = tmp_path / name
    path.write_bytes(body)
    with pytest.raises(readers.ReadError) as caught:
        _read(path, fmt=fmt)
    assert str(caught.value) == message


def test_features_from_a_request_body_keep_their_problems_by_row():
    frame, errors = readers.rows_with_geometry([
        {"type": "Feature", "properties": {"code": "X"},
         "geometry": {"type": "Point", "coordinates": [44, 41]}},
        {"type": "Feature", "properties": [1], "geometry": None},
        {"type": "Nope"},
        {"type": "Feature", "properties": {}, "geometry": {"type": "Point",
                                                           "coordinates": "x"}},
    ], first_row=1)
    assert frame["_row"].tolist() == [1, 2, 3, 4]
    assert [None if g is None else g.wkt for g in frame["geometry"]] == [
        "POINT (44 41)", None, None, None]
    assert [(e.row, e.field, e.message) for e in errors] == [
        (2, "properties", "must be an object"), (3, "type", "is not a GeoJSON Feature"),
        (4, "geometry", "is not a GeoJSON geometry ('iteration over a 0-d array')")]
