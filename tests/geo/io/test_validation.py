"""``geo.io.validation``: properties and geometries checked column-wise, every problem
named by row and field. The rows are SYNTHETIC."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime

import pandas as pd
import pytest
import shapely

from geo.io import validation
from geo.layers import CROSSINGS, INCIDENTS, REGIONS, SEGMENTS

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _errors(batch_errors) -> list[tuple]:
    return [(e.row, e.field, e.message) for e in batch_errors]


@pytest.fixture
def incidents() -> pd.DataFrame:
    """Six rows, one problem or more each but the first."""
    return pd.DataFrame({
        "_row": [1, 2, 3, 4, 5, 6],
        "source": ["s", "s", "", "s", "s", "s"],
        "external_id": ["a", "b", "c", "d", "e", "f"],
        "occurred_at": ["2026-05-01T10:00:00Z", "2026-05-01T10:00:00",
                        "2027-01-01T00:00:00Z", "1800-01-01T00:00:00Z",
                        "2026-05-01T10:00:00+04:00", "not a date"],
        "category": ["smuggling_tobacco", "nope", "smuggling_tobacco", "smuggling_tobacco",
                     "smuggling_tobacco", "smuggling_tobacco"],
        "persons_count": [1, -1, "x", 100001, 2.5, "3"],
        "nationality": ["GE", "ge", None, "GEO", "TR", None],
        "information_credibility": [1, 5, None, 4, "2", None],
        "colour": [None, None, "red", None, None, None],
    })


def test_every_property_problem_is_named_by_row_and_field(incidents):
    batch = validation.validate_properties(incidents, INCIDENTS, now=NOW)
    assert sorted(_errors(batch.errors)) == sorted([
        (3, "colour", "unknown property for incidents; properties are "
         + ", ".join(INCIDENTS.writable_names)),
        (3, "source", "is required"),
        (6, "occurred_at", "'not a date' is not an RFC 3339 date-time such as "
                           "2026-05-01T14:30:00Z"),
        (2, "occurred_at", "'2026-05-01T10:00:00' has no time zone (add Z or +hh:mm)"),
        (3, "occurred_at", "'2027-01-01T00:00:00Z' is in the future"),
        (4, "occurred_at", "'1800-01-01T00:00:00Z' is before 1900-01-01"),
        (2, "category", "unknown value 'nope'; allowed: "
         + ", ".join(INCIDENTS.field("category").choices)),
        (3, "persons_count", "'x' is not a number"),
        (5, "persons_count", "2.5 is not a whole number"),
        (2, "persons_count", "-1 is negative"),
        (4, "persons_count", "100001 is above 100000"),
        (2, "nationality", "'ge' is not an ISO 3166-1 alpha-2 code such as GE"),
        (4, "nationality", "'GEO' is not an ISO 3166-1 alpha-2 code such as GE"),
        (2, "information_credibility", "5 is above 4"),
    ])


def test_valid_values_are_typed_and_defaults_filled(incidents):
    values = validation.validate_properties(incidents, INCIDENTS, now=NOW).values
    first = values.iloc[0]
    assert first["occurred_at"] == pd.Timestamp("2026-05-01T10:00:00Z")
    assert (first["persons_count"], first["information_credibility"]) == (1, 1)
    # defaults of the layer for what the row leaves out
    assert (first["outcome"], first["status"], first["source_reliability"]) == (
        "actual", "draft", "X")
    fifth = values.iloc[4]
    assert fifth["occurred_at"] == pd.Timestamp("2026-05-01T06:00:00Z")  # +04:00 as UTC
    assert fifth["information_credibility"] == 2  # "2" is the number 2
    assert values.iloc[5]["persons_count"] == 3


def test_unknown_properties_may_be_ignored_and_are_listed(incidents):
    batch = validation.validate_properties(incidents, INCIDENTS, unknown="ignore", now=NOW)
    assert batch.ignored_columns == ("colour",)
    assert all(e.field != "colour" for e in batch.errors)


def test_geometries_of_the_wrong_type_or_out_of_range_are_named():
    shapes = [shapely.Point(44.8, 41.7), shapely.LineString([(0, 0), (1, 1)]),
              shapely.Point(200, 10), None, shapely.Point(float("nan"), 1),
              shapely.MultiPoint([(1, 1), (2, 2)])]
    kept, errors = validation.validate_geometries(shapes, pd.Series([1, 2, 3, 4, 5, 6]),
                                                  INCIDENTS)
    assert [None if g is None else g.wkt for g in kept] == [
        "POINT (44.8 41.7)", None, None, None, None, None]
    assert sorted(_errors(errors)) == [
        (2, "geometry", "wrong geometry type LineString; incidents takes Point"),
        (3, "geometry", "coordinates out of range: longitude must be within [-180, 180] "
                        "and latitude within [-90, 90] (EPSG:4326, GeoJSON order is "
                        "longitude, latitude)"),
        (4, "geometry", "is required (missing or empty)"),
        (5, "geometry", "invalid geometry: Invalid Coordinate[nan 1]"),
        (6, "geometry", "wrong geometry type MultiPoint; incidents takes Point"),
    ]


@pytest.mark.parametrize("layer", [REGIONS, SEGMENTS, CROSSINGS, INCIDENTS])
def test_coordinates_near_the_float_limits_are_refused_not_an_error(layer):
    # GEOS's validity check overflows on such coordinates (a RuntimeWarning, an error
    # under the suite's warning filter: a 500 that schemathesis found for a region).
    huge = [(-3.818638502104995e16, -2.8200313752491976e16),
            (-1.175494351e-38, -4.424984220208701e-269),
            (9.433738156973746e-24, 4.451638178376359e238),
            (3.257191878243696e16, 3.664307474899605e-66), (2000.0, 1.7976931348623157e308),
            (1.4892773640327698e-107, 2.436452456325049e-145),
            (-1.2938068843224434e16, 1.120449952815844e213)]
    shape = {"MultiPolygon": shapely.Polygon(huge),
             "LineString": shapely.LineString(huge),
             "Point": shapely.Point(huge[4])}[layer.geometry_type]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kept, errors = validation.validate_geometries([shape], pd.Series([1]), layer)
    assert kept[0] is None
    assert [(e.row, e.field) for e in errors] == [(1, "geometry")]


def test_geometries_come_to_epsg_4326_and_single_part_multis_are_unwrapped():
    [point], errors = validation.validate_geometries(
        [shapely.Point(500000, 4600000)], pd.Series([1]), INCIDENTS, 32638)
    assert errors == []
    # UTM 38N's central meridian is 45 E; 4,600 km north is about 41.55 N
    assert point.x == pytest.approx(45.0, abs=1e-9)
    assert point.y == pytest.approx(41.5517, abs=1e-4)
    line = [(44, 41), (44.1, 41.1)]
    kept, errors = validation.validate_geometries(
        [shapely.LineString(line), shapely.MultiLineString([line]),
         shapely.MultiLineString([line, [(45, 41), (45.1, 41.1)]]),
         shapely.LineString([(44, 41), (44, 41)])], pd.Series([1, 2, 3, 4]), SEGMENTS)
    assert [None if g is None else g.wkt for g in kept] == [
        "LINESTRING (44 41, 44.1 41.1)", "LINESTRING (44 41, 44.1 41.1)", None, None]
    assert sorted(_errors(errors)) == [
        (3, "geometry", "wrong geometry type MultiLineString; border_segments takes "
                        "LineString"),
        (4, "geometry", "invalid geometry: Too few points in geometry component[44 41]"),
    ]


def test_values_in_messages_are_cut_short_and_escaped():
    assert validation.quoted("x" * 100) == "'" + "x" * 40 + "'…"
    assert validation.quoted("a\x00b") == "'a\\x00b'"


def test_json_values_of_the_wrong_type_are_named():
    """What a GeoJSON body may carry besides text: objects, lists, booleans, numbers too
    large for any field. SYNTHETIC rows."""
    frame = pd.DataFrame({
        "_row": [1, 2, 3, 4, 5, 6],
        "source": ["s", {"a": 1}, ["x"], "a\x00b", "\ud800", "s" * 65],
        "external_id": ["a", "b", "c", "d", "e", "f"],
        "occurred_at": ["2026-05-01T10:00:00Z"] * 6,
        "category": ["smuggling_tobacco"] * 6,
        "persons_count": [True, 1e999, 10**400, None, "", "1_000"],
        "source_reliability": ["Z", "a", "A", "A", "A", "A"],
    })
    batch = validation.validate_properties(frame, INCIDENTS, now=NOW)
    assert sorted(_errors(batch.errors)) == [
        (1, "persons_count", "True is not a number"),  # JSON true is no count
        (1, "source_reliability", "unknown value 'Z'; allowed: A, B, C, D, X"),
        (2, "persons_count", "inf is out of range"),
        (2, "source", "must be text, not an object or list"),
        (2, "source_reliability", "unknown value 'a'; allowed: A, B, C, D, X"),
        (3, "persons_count", "100000000000000000...0000000000000000000 is out of range"),
        (3, "source", "must be text, not an object or list"),
        (4, "source", "contains a NUL character (\\u0000)"),
        (5, "source", "contains a lone surrogate (\\ud800 to \\udfff), which is not a "
                      "character"),
        (6, "source", "is longer than 64 characters"),
    ]
    # absent and empty counts take the layer's default; "1_000" is Python's 1000
    assert batch.values["persons_count"].tolist()[3:] == [0, 0, 1000]


def test_a_row_without_its_required_properties_names_each():
    frame = pd.DataFrame({"_row": [7], "code": ["  "], "name": [None]})  # SYNTHETIC
    batch = validation.validate_properties(frame, SEGMENTS, now=NOW)
    assert sorted(_errors(batch.errors)) == [
        (7, "code", "is required"), (7, "kind", "is required"), (7, "name", "is required")]


def test_ids_and_derived_properties_of_an_export_are_not_unknown():
    """A file exported by BorderRisk imports again: its id, region_id and length_m are
    read-only, ignored without a word even when unknown properties are errors."""
    frame = pd.DataFrame({"_row": [1], "id": [5], "code": ["S-1"], "name": ["One"],
                          "kind": ["land"], "region_id": [3], "length_m": [1234.5]})
    batch = validation.validate_properties(frame, SEGMENTS, now=NOW)
    assert (batch.errors, batch.ignored_columns) == ([], ())
    assert "region_id" not in batch.values and "id" not in batch.values


def test_polygons_become_multipolygons_and_other_types_are_named():
    square = shapely.Polygon([(44.8, 41.2), (45.2, 41.2), (45.2, 41.6), (44.8, 41.2)])
    kept, errors = validation.validate_geometries(
        [square, shapely.Point(44.8, 41.2)], pd.Series([1, 2]), REGIONS)
    assert kept[0].geom_type == "MultiPolygon" and kept[0].geoms[0].equals(square)
    assert kept[1] is None
    assert _errors(errors) == [
        (2, "geometry", "wrong geometry type Point; regions takes MultiPolygon (or Polygon)")]


def test_an_altitude_is_dropped():
    [point], errors = validation.validate_geometries(
        [shapely.Point(44.8, 41.7, 350.0)], pd.Series([1]), INCIDENTS)
    assert (point.wkt, errors) == ("POINT (44.8 41.7)", [])


def test_coordinates_out_of_range_after_reprojection_are_named():
    """A UTM point 50,000 km east has no place on Earth; seen in EPSG:4326 only."""
    kept, errors = validation.validate_geometries(
        [shapely.Point(5e7, 4.6e6), shapely.Point(500000, 4600000)], pd.Series([1, 2]),
        INCIDENTS, 32638)
    assert kept[0] is None and kept[1] is not None
    assert [(e.row, e.message.split(":")[0]) for e in errors] == [
        (1, "coordinates out of range")]


def test_a_batch_is_its_properties_and_geometries_checked_together():
    frame = pd.DataFrame({"_row": [1, 2], "code": ["C-1", "C-2"], "name": ["One", "Two"],
                          "kind": ["road", "bridge"],
                          "geometry": [shapely.Point(45.0, 41.4), shapely.Point(45.0, 95.0)]})
    batch = validation.validate_batch(frame, CROSSINGS, now=NOW)
    assert sorted((e.row, e.field) for e in batch.errors) == [(2, "geometry"), (2, "kind")]
    first, second = batch.values["geometry"]
    assert first.wkt == "POINT (45 41.4)" and not isinstance(second, shapely.Geometry)
    assert batch.values["status"].tolist() == ["open", "open"]  # the layer's default
