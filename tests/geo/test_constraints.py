"""What the database itself refuses, whoever writes: Python checks are not enough."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DataError, IntegrityError, InternalError

INSERT_INCIDENT = text(
    """
    INSERT INTO incidents (source, external_id, occurred_at, category, outcome,
                           persons_count, source_reliability, information_credibility,
                           status, geom)
    VALUES (:source, :external_id, :occurred_at, :category, :outcome, :persons_count,
            :source_reliability, :information_credibility, :status,
            ST_GeomFromEWKT(:geom))
    """
)
VALID = {
    "source": "test", "external_id": "c-1", "occurred_at": "2026-01-01T00:00:00Z",
    "category": "illegal_stay", "outcome": "actual", "persons_count": 2,
    "source_reliability": "B", "information_credibility": 2, "status": "draft",
    "geom": "SRID=4326;POINT(44.8 41.7)",
}


def insert_incident(session, **changes):
    with session.begin_nested():
        session.execute(INSERT_INCIDENT, {**VALID, **changes})


def test_valid_incident_is_accepted(db_session):
    insert_incident(db_session)
    count = db_session.execute(text("SELECT count(*) FROM incidents")).scalar_one()
    assert count == 1


@pytest.mark.parametrize(
    ("changes", "constraint"),
    [
        ({"category": "jaywalking"}, "ck_incidents_category"),
        ({"outcome": "maybe"}, "ck_incidents_outcome"),
        ({"persons_count": -1}, "ck_incidents_persons_count"),
        ({"source_reliability": "E"}, "ck_incidents_source_reliability"),
        ({"information_credibility": 5}, "ck_incidents_information_credibility"),
        ({"status": "deleted"}, "ck_incidents_status"),
        ({"geom": "SRID=4326;POINT(200 41)"}, "ck_incidents_geom_lonlat_range"),
    ],
)
def test_check_constraints_reject_bad_values(db_session, changes, constraint):
    with pytest.raises(IntegrityError) as info:
        insert_incident(db_session, **changes)
    assert constraint in str(info.value)


def test_duplicate_source_and_external_id_is_rejected(db_session):
    insert_incident(db_session)
    with pytest.raises(IntegrityError, match="uq_incidents_source_external_id"):
        insert_incident(db_session)
    insert_incident(db_session, source="other")  # same external id, other source: fine


def test_wrong_srid_is_rejected(db_session):
    with pytest.raises((DataError, InternalError), match="SRID"):
        insert_incident(db_session, geom="SRID=32638;POINT(500000 4600000)")


def test_wrong_geometry_type_is_rejected(db_session):
    with pytest.raises((DataError, InternalError), match="Geometry type"):
        insert_incident(db_session, geom="SRID=4326;LINESTRING(44 41, 45 42)")


def test_invalid_geometry_is_rejected(db_session):
    bowtie = "SRID=4326;MULTIPOLYGON(((44 41, 45 42, 45 41, 44 42, 44 41)))"
    with pytest.raises(IntegrityError, match="ck_regions_geom_valid"), \
            db_session.begin_nested():
        db_session.execute(
            text("INSERT INTO regions (code, name_en, name_ka, geom) "
                 "VALUES ('X', 'Bow tie', 'X', ST_GeomFromEWKT(:g))"),
            {"g": bowtie},
        )


@pytest.mark.parametrize(
    ("column", "value", "constraint"),
    [
        ("surveillance_level", 6, "ck_border_segments_surveillance_level"),
        ("kind", "air", "ck_border_segments_kind"),
        ("terrain_class", "lava", "ck_border_segments_terrain_class"),
        ("neighbour_country", "ru", "ck_border_segments_neighbour"),
    ],
)
def test_segment_vocabularies(db_session, column, value, constraint):
    values = {"code": "S", "name": "S", "kind": "land", "surveillance_level": 2,
              "terrain_class": "hills", "neighbour_country": "RU", column: value}
    with pytest.raises(IntegrityError, match=constraint), db_session.begin_nested():
        db_session.execute(
            text("INSERT INTO border_segments (code, name, kind, surveillance_level, "
                 "terrain_class, neighbour_country, geom) VALUES (:code, :name, :kind, "
                 ":surveillance_level, :terrain_class, :neighbour_country, "
                 "ST_GeomFromEWKT('SRID=4326;LINESTRING(44 42, 44.1 42.1)'))"),
            values,
        )


def test_crossing_kind_vocabulary(db_session):
    with pytest.raises(IntegrityError, match="ck_crossing_points_kind"), \
            db_session.begin_nested():
        db_session.execute(
            text("INSERT INTO crossing_points (code, name, kind, status, geom) VALUES "
                 "('C', 'C', 'tunnel', 'open', ST_GeomFromEWKT('SRID=4326;POINT(44 42)'))")
        )
