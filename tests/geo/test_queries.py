"""Derived values: segment lengths and incident links, checked against pyproj + shapely."""

import json

import pytest
from pyproj import Transformer
from shapely.geometry import LineString, Point, shape
from shapely.ops import transform
from sqlalchemy import text

from geo.layers import INCIDENTS
from geo.models import BorderSegment, Incident
from geo.queries import FeatureQuery, features_geojson, link_incidents
from tests.conftest import DATA_DIR


@pytest.fixture(scope="module")
def fixture_features():
    features = json.loads((DATA_DIR / "sample_layers.geojson").read_text())["features"]
    return {f["properties"].get("code") or f["properties"]["external_id"]: f for f in features}


def to_utm(geometry):
    to_32638 = Transformer.from_crs(4326, 32638, always_xy=True).transform
    return transform(to_32638, geometry)


def test_segment_lengths_in_metres_of_the_analysis_crs(db_session, sample_layers,
                                                       fixture_features):
    for code, segment_id in sample_layers["segments"].items():
        expected = to_utm(shape(fixture_features[code]["geometry"])).length
        stored = db_session.get(BorderSegment, segment_id).length_m
        assert stored == pytest.approx(expected, abs=0.01)
        assert 10_000 < stored < 40_000  # the fixture lines are tens of km long


def test_incident_gets_region_and_nearest_segment_and_crossing(db_session, sample_layers,
                                                                fixture_features):
    incident = db_session.get(Incident, sample_layers["incidents"]["T-1"])
    point = to_utm(Point(45.00, 41.33))
    assert incident.region_id == sample_layers["regions"]["T-KK"]
    assert incident.nearest_segment_id == sample_layers["segments"]["T-AZ-001"]
    west = to_utm(LineString(fixture_features["T-AZ-001"]["geometry"]["coordinates"]))
    assert incident.segment_distance_m == pytest.approx(point.distance(west), abs=0.01)
    assert incident.nearest_crossing_id == sample_layers["crossings"]["T-BCP-1"]
    assert incident.crossing_distance_m == pytest.approx(
        point.distance(to_utm(Point(45.05, 41.30))), abs=0.01
    )

    east = db_session.get(Incident, sample_layers["incidents"]["T-2"])
    assert east.region_id == sample_layers["regions"]["T-KA"]
    assert east.nearest_segment_id == sample_layers["segments"]["T-AZ-002"]
    assert east.nearest_crossing_id == sample_layers["crossings"]["T-BCP-2"]


def test_incident_outside_every_region_has_no_region_but_still_a_nearest_segment(
    db_session, sample_layers
):
    outside = db_session.get(Incident, sample_layers["incidents"]["T-3"])
    assert outside.region_id is None
    assert outside.nearest_segment_id == sample_layers["segments"]["T-AZ-001"]
    assert outside.segment_distance_m > 10_000


def test_link_only_the_given_incidents(db_session, sample_layers, analysis_srid):
    ids = list(sample_layers["incidents"].values())
    db_session.execute(text("UPDATE incidents SET region_id = NULL, nearest_segment_id = NULL"))
    assert link_incidents(db_session, analysis_srid, ids=ids[:1]) == 1
    linked = db_session.execute(
        text("SELECT count(*) FROM incidents WHERE nearest_segment_id IS NOT NULL")
    ).scalar_one()
    assert linked == 1


def test_features_geojson_filters_by_closed_time_interval(db_session, sample_layers):
    from datetime import UTC, datetime

    collection = json.loads(features_geojson(db_session, INCIDENTS, FeatureQuery(
        start=datetime(2026, 10, 1, 2, 30, tzinfo=UTC),  # == T-1 (06:30+04:00), inclusive
        end=datetime(2026, 10, 15, 22, 10, tzinfo=UTC),  # == T-2, inclusive
    )))
    assert collection["numberMatched"] == 2
    assert [f["properties"]["external_id"] for f in collection["features"]] == ["T-2", "T-1"]
    first = collection["features"][0]
    assert first["id"] == sample_layers["incidents"]["T-2"]
    assert first["geometry"] == {"type": "Point", "coordinates": [45.42, 41.45]}
    assert "geom" not in first["properties"] and "id" not in first["properties"]
