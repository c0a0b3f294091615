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


def test_an_unknown_format_name_is_refused_listing_the_formats(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("code,lon,lat\nS-1,44.5,41.5\n")
    with pytest.raises(readers.ReadError) as caught:
        _read(path, fmt="kml")
    assert str(caught.value) == "unknown format 'kml'; formats: geojson, csv, gpkg, shapefile"


def test_columns_are_matched_to_properties_by_their_usual_names(tmp_path):
    """Case-insensitive, the first accepted name wins; a column matching nothing keeps
    its name (validation says it is unknown)."""
    path = tmp_path / "synthetic.csv"
    path.write_text("Ref,Date,TYPE,People,Longitude,Latitude,Colour\n"
                    "R-1,2026-05-01T10:00:00Z,smuggling_tobacco,2,44.5,41.5,red\n")
    [(srid, [row], shapes, errors)] = _read(path)
    assert row == {"external_id": "R-1", "occurred_at": "2026-05-01T10:00:00Z",
                   "category": "smuggling_tobacco", "persons_count": "2", "Colour": "red",
                   "_row": 2}  # CSV values stay text: validation types them
    assert (srid, shapes, errors) == (4326, ["POINT (44.5 41.5)"], [])


def test_a_mapping_wins_over_the_usual_names_and_must_name_a_column(tmp_path):
    path = tmp_path / "synthetic.csv"
    path.write_text("ref,label,lon,lat\nR-1,L-1,44.5,41.5\n")
    [(_, [row], _, _)] = _read(path, mapping={"external_id": "label"})
    assert (row["external_id"], row["ref"]) == ("L-1", "R-1")
    with pytest.raises(readers.ReadError) as caught:
        _read(path, mapping={"external_id": "Label"})  # names are exact in a mapping
    # (the columns listed are those left for properties: lon and lat are the geometry)
    assert str(caught.value) == ("mapping external_id=Label: no column 'Label' in the "
                                 "file; columns are 'ref', 'label'")


def test_a_csv_without_geometry_columns_is_a_read_error(tmp_path):
    path = tmp_path / "synthetic.csv"
    path.write_text("code,name,east,north\nS-1,One,44.5,41.5\n")
    with pytest.raises(readers.ReadError) as caught:
        _read(path)
    assert str(caught.value) == ("no geometry columns: the CSV needs a WKT column (wkt, "
                                 "geometry) or longitude/latitude columns (lon, lat)")


@pytest.mark.parametrize(("body", "message"), [
    ({"type": "FeatureCollection", "features": {"type": "Feature"}},
     "the FeatureCollection's features must be an array"),
    ({"type": "Point", "coordinates": [44.5, 41.5]},
     "the file is not a GeoJSON Feature or FeatureCollection"),
    ({"features": []}, "the file is not a GeoJSON Feature or FeatureCollection"),
])
def test_geojson_that_is_no_feature_collection_is_a_read_error(tmp_path, body, message):
    path = tmp_path / "a.geojson"
    path.write_text(json.dumps(body))
    with pytest.raises(readers.ReadError) as caught:
        _read(path)
    assert str(caught.value) == message


def test_one_geojson_feature_is_one_row_in_the_crs_given(tmp_path):
    """GeoJSON has no CRS member of its own here: EPSG:4326 unless ``crs`` says."""
    path = tmp_path / "a.geojson"
    path.write_text(json.dumps({"type": "Feature", "properties": {"code": "S-1"},
                                "geometry": {"type": "Point",
                                             "coordinates": [500000, 4600000]}}))
    assert _read(path, crs=32638) == [(32638, [{"code": "S-1", "_row": 1}],
                                       ["POINT (500000 4600000)"], [])]


def test_shapefile_names_cut_to_ten_characters_still_match(tmp_path, utm_points):
    """A Shapefile's .dbf keeps 10 characters of a name: persons_count is persons_co."""
    utm_points["persons_co"] = [3, 0]
    utm_points["informatio"] = [2, 4]
    utm_points.to_file(tmp_path / "s.shp")
    names = ("code", "persons_count", "information_credibility")
    [(srid, rows, _, errors)] = _read(tmp_path / "s.shp", names=names)
    assert (srid, errors) == (32638, [])
    assert [(r["persons_count"], r["information_credibility"]) for r in rows] == [
        (3, 2), (0, 4)]


def test_a_crs_without_an_epsg_code_is_refused_unless_one_is_given(tmp_path, utm_points):
    """A SYNTHETIC transverse Mercator (central meridian 44.3 E) that no EPSG code is."""
    custom = ("+proj=tmerc +lat_0=0 +lon_0=44.3 +k=1 +x_0=500000 +y_0=0 +ellps=GRS80 "
              "+units=m +no_defs")
    utm_points.set_crs(custom, allow_override=True).to_file(tmp_path / "t.shp")
    with pytest.raises(readers.ReadError) as caught:
        _read(tmp_path / "t.shp")
    assert str(caught.value) == ("the file's CRS has no EPSG code (unknown); give it with "
                                 "crs=EPSG:nnnn")
    # Given, it is used as is (the .prj is then neither checked nor read).
    [(srid, _, shapes, _)] = _read(tmp_path / "t.shp", crs=32638)
    assert (srid, shapes) == (32638, ["POINT (500000 4600000)", "POINT (510000 4610000)"])


def test_a_shapefile_without_prj_is_read_as_epsg_4326(tmp_path):
    frame = gpd.GeoDataFrame({"code": ["G-1"]}, geometry=[shapely.Point(44.5, 41.5)],
                             crs=4326)
    frame.to_file(tmp_path / "n.shp")
    (tmp_path / "n.prj").unlink()
    assert _read(tmp_path / "n.shp") == [(4326, [{"code": "G-1", "_row": 1}],
                                          ["POINT (44.5 41.5)"], [])]


def test_a_zip_with_two_shapefiles_is_refused(tmp_path, utm_points):
    utm_points.to_file(tmp_path / "a.shp")
    utm_points.to_file(tmp_path / "b.shp")
    with zipfile.ZipFile(tmp_path / "two.zip", "w") as archive:
        for stem in ("a", "b"):
            for ext in ("shp", "shx", "dbf", "prj"):
                archive.write(tmp_path / f"{stem}.{ext}", f"{stem}.{ext}")
    with pytest.raises(readers.ReadError) as caught:
        _read(tmp_path / "two.zip")
    assert str(caught.value) == ("the zip must hold exactly one ESRI Shapefile (.shp file), "
                                 "it holds 2")
