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
    for code, segment_id in sample_layers["border_segments"].items():
        expected = to_utm(shape(fixture_features[code]["geometry"])).length
        stored = db_session.get(BorderSegment, segment_id).length_m
        assert stored == pytest.approx(expected, abs=0.01)
        assert 10_000 < stored < 40_000  # the fixture lines are tens of km long


def test_incident_gets_region_and_nearest_segment_and_crossing(db_session, sample_layers,
                                                                fixture_features):
    incident = db_session.get(Incident, sample_layers["incidents"]["T-1"])
    point = to_utm(Point(45.00, 41.33))
    assert incident.region_id == sample_layers["regions"]["T-KK"]
    assert incident.nearest_segment_id == sample_layers["border_segments"]["T-AZ-001"]
    west = to_utm(LineString(fixture_features["T-AZ-001"]["geometry"]["coordinates"]))
    assert incident.segment_distance_m == pytest.approx(point.distance(west), abs=0.01)
    assert incident.nearest_crossing_id == sample_layers["crossing_points"]["T-BCP-1"]
    assert incident.crossing_distance_m == pytest.approx(
        point.distance(to_utm(Point(45.05, 41.30))), abs=0.01
    )

    east = db_session.get(Incident, sample_layers["incidents"]["T-2"])
    assert east.region_id == sample_layers["regions"]["T-KA"]
    assert east.nearest_segment_id == sample_layers["border_segments"]["T-AZ-002"]
    assert east.nearest_crossing_id == sample_layers["crossing_points"]["T-BCP-2"]


def test_incident_outside_every_region_has_no_region_but_still_a_nearest_segment(
    db_session, sample_layers
):
    outside = db_session.get(Incident, sample_layers["incidents"]["T-3"])
    assert outside.region_id is None
    assert outside.nearest_segment_id == sample_layers["border_segments"]["T-AZ-001"]
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


def test_links_of_many_points_match_a_brute_force_search(db_session, sample_layers,
                                                        fixture_features, analysis_srid):
    """Every link equals an exhaustive search with pyproj + shapely (synthetic points).

    The points cover cells with one and with several candidate sections, cells inside
    one region, cells on the boundary between the two regions and on their outline, and
    points outside every region; a few lie exactly on the shared boundary (longitude
    45.2), where the region with the lower id is chosen.
    """
    import numpy as np

    rng = np.random.default_rng(7)
    points = [(float(x), float(y)) for x, y in zip(rng.uniform(44.6, 45.8, 400),
                                                    rng.uniform(41.0, 41.8, 400), strict=True)]
    points += [(45.2, 41.25), (45.2, 41.45), (44.8, 41.4), (45.6, 41.3)]
    ids = []
    for n, (x, y) in enumerate(points):
        ids.append(db_session.execute(text(
            "INSERT INTO incidents (source, external_id, occurred_at, category, outcome, "
            "persons_count, source_reliability, information_credibility, status, geom) "
            "VALUES ('brute', :ref, '2026-01-01T00:00:00Z', 'other', 'actual', 0, 'X', 4, "
            "'draft', "
            "ST_SetSRID(ST_MakePoint(:x, :y), 4326)) RETURNING id"),
            {"ref": f"B-{n}", "x": x, "y": y}).scalar_one())
    assert link_incidents(db_session, analysis_srid, ids=ids) == len(ids)

    regions = sorted((sample_layers["regions"][code], shape(fixture_features[code]["geometry"]))
                     for code in sample_layers["regions"])
    def in_utm(layer: str) -> dict:
        return {sample_layers[layer][code]: to_utm(shape(fixture_features[code]["geometry"]))
                for code in sample_layers[layer]}

    segments, crossings = in_utm("border_segments"), in_utm("crossing_points")
    for incident_id, (x, y) in zip(ids, points, strict=True):
        incident = db_session.get(Incident, incident_id)
        db_session.refresh(incident)
        expected_region = next((rid for rid, geom in regions if geom.intersects(Point(x, y))),
                               None)
        assert incident.region_id == expected_region, (x, y)
        here = to_utm(Point(x, y))
        for stored_id, stored_m, candidates in (
            (incident.nearest_segment_id, incident.segment_distance_m, segments),
            (incident.nearest_crossing_id, incident.crossing_distance_m, crossings),
        ):
            best = min(here.distance(g) for g in candidates.values())
            assert stored_m == pytest.approx(best, abs=0.01), (x, y)
            assert candidates[stored_id].distance(here) == pytest.approx(best, abs=0.01)


@pytest.mark.parametrize("autocommit", [False, True])
def test_local_settings_hold_inside_and_leave_nothing_on_the_connection(app, autocommit):
    """Inside, every statement runs with the setting, with or without a transaction
    (the tile endpoints run without one: a transaction-local setting would end with its
    own statement); after, the connection has its own value again, after an error too."""
    from app.connections import run_without_transaction
    from app.extensions import db
    from geo.queries import local_settings, window_reads

    show = text("SELECT current_setting('enable_indexscan')")
    with app.app_context():
        session = db.session
        try:
            if autocommit:
                run_without_transaction(session)
            dbapi = session.connection().connection.dbapi_connection
            assert dbapi.autocommit is autocommit
            bitmap = text("SELECT current_setting('enable_bitmapscan')")
            with window_reads(session):
                assert session.execute(show).scalar_one() == "off"
                assert session.execute(show).scalar_one() == "off"  # the next one too
            assert session.execute(show).scalar_one() == "on"
            with pytest.raises(RuntimeError):
                with local_settings(session, enable_indexscan="off", enable_bitmapscan="off"):
                    assert session.execute(show).scalar_one() == "off"
                    assert session.execute(bitmap).scalar_one() == "off"
                    raise RuntimeError("the read failed")
            if not autocommit:
                session.rollback()  # as a request's error handling does
            assert session.execute(show).scalar_one() == "on"
            assert session.execute(bitmap).scalar_one() == "on"
        finally:
            session.rollback()
            db.session.remove()
