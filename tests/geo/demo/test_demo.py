"""The demo data set: Natural Earth borders, approximate regions, synthetic incidents.

Pure-builder tests need no database; the ``db_session`` tests load the demo into PostGIS
(rolled back after each test).
"""

import itertools
from datetime import UTC, datetime
from types import SimpleNamespace

import numpy as np
import pytest
import shapely
from shapely.geometry import Point
from sqlalchemy import func, select, text

from geo import releasability, vocabulary
from geo.demo import agencies, geography, loader, period, planted, synthetic
from geo.models import Incident, Region
from testsupport.agencies import AGENCIES, counts, sees

END = datetime(2025, 11, 28, tzinfo=UTC)
N_SMALL = 20_000
# Natural Earth 1:10m shared arcs (shared/DOMAIN.md), kilometres.
EXPECTED_LENGTHS_KM = {"RU": 704, "AZ": 302, "TR": 236, "AM": 160, "SEA": 308}


@pytest.fixture(scope="module")
def borders():
    return geography.georgia_borders()


@pytest.fixture(scope="module")
def built():
    return synthetic.build_demo(seed=7, n_incidents=N_SMALL, end=END)


def to_utm(geometry):
    return geography.to_metric(geometry, 32638)


def counts_by_year(incidents, code, start):
    """Incidents of a planted hot-spot in each of the three years after ``start``."""
    times = incidents.occurred_at[incidents.hotspot_code == code]
    edges = [np.datetime64(start.replace(year=start.year + k, tzinfo=None)) for k in range(4)]
    return [int(((times >= a) & (times < b)).sum()) for a, b in itertools.pairwise(edges)]


# --------------------------------------------------------------------------- geography


def test_missing_world_atlas_names_make_assets(tmp_path):
    with pytest.raises(FileNotFoundError, match="make assets"):
        geography.georgia_borders(tmp_path / "countries-10m.json")


def test_border_lengths_per_neighbour_match_natural_earth(borders):
    lengths_km = {k: v / 1000 for k, v in geography.border_lengths_m(borders).items()}
    assert set(lengths_km) == set(EXPECTED_LENGTHS_KM)
    for key, expected in EXPECTED_LENGTHS_KM.items():
        assert lengths_km[key] == pytest.approx(expected, rel=0.10), key


def test_border_lines_are_continuous_and_make_up_the_outline(borders):
    for key, line in borders.lines.items():
        assert line.geom_type == "LineString", key
    total = sum(to_utm(line).length for line in borders.lines.values())
    assert total == pytest.approx(to_utm(borders.outline.exterior).length, abs=1.0)
    # Neighbours meet at tripoints: Russia's line ends where Azerbaijan's does.
    assert Point(borders.lines["RU"].coords[-1]).equals(Point(borders.lines["AZ"].coords[-1]))
    assert Point(borders.lines["SEA"].coords[-1]).equals(Point(borders.lines["TR"].coords[0]))


def test_sections_are_10_to_20_km_and_cover_each_line(built, borders):
    sections = built.sections
    assert len({s.code for s in sections}) == len(sections)
    for key in geography.BORDER_KEYS:
        own = [s for s in sections if s.code.startswith(f"GE-{key}-")]
        assert [s.code for s in own] == [f"GE-{key}-{i:03d}" for i in range(1, len(own) + 1)]
        assert sum(s.length_m for s in own) == pytest.approx(
            to_utm(borders.lines[key]).length, abs=1.0
        )
    for section in sections:
        assert 10_000 <= section.length_m <= 20_000, section.code
        assert to_utm(section.geom).length == pytest.approx(section.length_m, abs=0.5)
        assert section.geom.is_valid
        assert section.terrain_class in vocabulary.TERRAIN_CLASSES
        assert 0 <= section.surveillance_level <= 5
        assert section.provenance == "generalised"
        assert section.region_code is not None
    sea = [s for s in sections if s.code.startswith("GE-SEA-")]
    assert {(s.kind, s.neighbour_country, s.terrain_class) for s in sea} == {("sea", None, "coast")}
    land = [s for s in sections if not s.code.startswith("GE-SEA-")]
    assert {s.kind for s in land} == {"land"}
    assert {s.neighbour_country for s in land} == set(vocabulary.DEMO_NEIGHBOURS)
    russia = [s for s in land if s.neighbour_country == "RU"]
    assert sum(s.terrain_class == "high_mountain" for s in russia) > 0.8 * len(russia)


def test_regions_tile_georgia(built, borders):
    regions = {r.code: r for r in built.regions}
    assert set(regions) == {
        "GE-AB", "GE-AJ", "GE-GU", "GE-IM", "GE-KA", "GE-KK", "GE-MM", "GE-RL", "GE-SJ",
        "GE-SK", "GE-SZ", "GE-TB",
    }  # fmt: skip
    for region in regions.values():
        assert region.geom.geom_type == "MultiPolygon"
        assert region.geom.is_valid and not region.geom.is_empty
        assert region.name_en.endswith("(approximate boundary)")
        assert all("\u10d0" <= ch <= "\u10ff" for ch in region.name_ka if ch.isalpha())
        assert region.provenance == "approximate"
    assert regions["GE-AJ"].name_ka == "აჭარა"
    union = shapely.union_all([r.geom for r in regions.values()])
    assert union.symmetric_difference(borders.outline).area < 1e-9 * borders.outline.area
    total = sum(r.geom.area for r in regions.values())
    assert total == pytest.approx(borders.outline.area, rel=1e-9)  # no overlaps
    # Towns in the right region (approximate positions).
    assert regions["GE-AJ"].geom.contains(Point(41.64, 41.64))  # Batumi
    assert regions["GE-KA"].geom.contains(Point(45.47, 41.92))  # Telavi
    assert regions["GE-TB"].geom.contains(Point(44.80, 41.72))  # Tbilisi
    assert to_utm(regions["GE-TB"].geom).area < 1_500e6  # square metres


def test_crossing_points_at_approximate_locations(built, borders):
    crossings = {c.code: c for c in built.crossings}
    assert 14 <= len(crossings) <= 17
    assert {c.kind for c in crossings.values()} <= set(vocabulary.CROSSING_KINDS)
    assert {"road", "sea_port", "airport"} <= {c.kind for c in crossings.values()}
    for crossing in crossings.values():
        assert crossing.name.endswith("(approximate location)")
        assert crossing.provenance == "approximate"
        assert crossing.region_code is not None
        if crossing.neighbour_country:
            line = to_utm(borders.lines[crossing.neighbour_country])
            assert line.distance(to_utm(crossing.geom)) < 1.0, crossing.code
        elif crossing.kind == "sea_port":
            assert to_utm(borders.lines["SEA"]).distance(to_utm(crossing.geom)) < 1.0
        else:
            assert borders.outline.contains(crossing.geom), crossing.code
    assert crossings["BCP-SARPI"].neighbour_country == "TR"
    assert crossings["BCP-KAZBEGI"].neighbour_country == "RU"
    assert crossings["BCP-KAZBEGI"].region_code == "GE-MM"
    assert crossings["BCP-TBILISI-AIRPORT"].region_code == "GE-TB"


# --------------------------------------------------------------------------- incidents


def test_incidents_lie_inside_georgia_within_the_three_years(built, borders):
    incidents = built.incidents
    assert len(incidents) == N_SMALL
    assert shapely.contains_xy(borders.outline, incidents.lon, incidents.lat).all()
    assert built.start == datetime(2022, 11, 28, tzinfo=UTC)
    assert built.end == END
    assert incidents.occurred_at.min() >= np.datetime64("2022-11-28T00:00:00")
    assert incidents.occurred_at.max() < np.datetime64("2025-11-28T00:00:00")
    assert (np.diff(incidents.occurred_at.astype(np.int64)) >= 0).all()


def test_incident_columns_follow_the_vocabularies(built):
    incidents = built.incidents
    assert set(incidents.category) == set(vocabulary.INCIDENT_CATEGORIES)
    assert set(incidents.outcome) == set(vocabulary.INCIDENT_OUTCOMES)
    assert set(incidents.direction) - {None} == set(vocabulary.DIRECTIONS)
    assert set(incidents.detection_method) <= set(vocabulary.DETECTION_METHODS)
    assert set(incidents.transport_means) <= set(vocabulary.TRANSPORT_MEANS)
    assert set(incidents.source_reliability) == set(vocabulary.SOURCE_RELIABILITY)
    assert set(incidents.information_credibility) == set(vocabulary.INFORMATION_CREDIBILITY)
    assert set(incidents.status) == set(vocabulary.INCIDENT_STATUSES)
    assert (incidents.persons_count >= 0).all()
    nationalities = {n for n in incidents.nationality if n is not None}
    assert all(len(n) == 2 and n.isupper() for n in nationalities)
    assert {"GE", "RU", "AZ", "TR", "AM"} <= nationalities
    assert all(n is None for n in incidents.nationality[incidents.persons_count == 0])
    assert all(d.startswith("SYNTHETIC demo record") for d in incidents.description)
    assert len(set(incidents.external_id)) == len(incidents)
    assert incidents.external_id[0] == "SYN-0000001"
    refusals = incidents.category == "refusal_of_entry"
    assert set(incidents.direction[refusals]) == {"entry"}


def test_same_seed_same_data_other_seed_other_data(built):
    again = synthetic.build_demo(seed=7, n_incidents=N_SMALL, end=END).incidents
    for name in ("lon", "lat", "occurred_at", "category", "nationality", "external_id",
                 "agency", "reporting_unit", "releasability", "aggregate"):
        assert np.array_equal(getattr(again, name), getattr(built.incidents, name)), name
    other = synthetic.build_demo(seed=8, n_incidents=N_SMALL, end=END).incidents
    assert not np.array_equal(other.lon, built.incidents.lon)


def test_background_peaks_in_summer(built):
    months = built.incidents.occurred_at.astype("datetime64[M]").astype(int) % 12 + 1
    per_month = np.bincount(months, minlength=13)
    assert per_month[[7, 8]].sum() > 1.3 * per_month[[1, 2]].sum()


@pytest.mark.clock
def test_end_must_be_time_zone_aware():
    with pytest.raises(ValueError, match="time zone"):
        period.demo_period(datetime(2025, 1, 1))
    start, end = period.demo_period()
    assert end.tzinfo is not None and (end.hour, end.minute, end.second) == (0, 0, 0)
    assert (end - start).days in (1095, 1096)


# --------------------------------------------------------------------------- agencies

MIGRATION_CATEGORIES = ["illegal_stay", "asylum_application", "fraudulent_document",
                        "refusal_of_entry"]


def share(mask) -> float:
    return float(np.mean(mask))


def test_every_agency_reports_its_share_of_its_kind_of_work(built):
    incidents = built.incidents
    agency, detection = incidents.agency, incidents.detection_method
    assert set(agency) == set(AGENCIES) == set(agencies.AGENCIES)
    for code, expected in zip(agencies.AGENCIES, agencies.AGENCY_SHARES, strict=True):
        assert share(agency == code) == pytest.approx(expected, abs=0.015), code
    gbp, ppd, md, iad = (agency == code for code in ("GBP", "PPD", "MD", "IAD"))
    # The Border Police at the border, the Patrol Police inland, the Migration
    # Department on migration cases, the Analytical Department from analysis.
    assert share(np.isin(detection[gbp], ["border_surveillance", "bcp_check"])) > 0.8
    assert share(detection[ppd] == "inland") > 0.8
    assert share(np.isin(incidents.category[md], MIGRATION_CATEGORIES)) > 0.8
    assert share(md[np.isin(incidents.category, MIGRATION_CATEGORIES)]) > 0.6
    assert share(detection[iad] == "other") > 0.7
    assert share(agency[incidents.category == "asylum_application"] == "PPD") == 0


def test_a_few_records_are_released_to_one_or_named_agencies(built):
    incidents = built.incidents
    release = incidents.releasability
    restricted = np.array([value != "all" for value in release])
    named = np.array([isinstance(value, list) for value in release])
    assert 0.01 <= share(restricted) <= 0.025
    assert 0.003 <= share(named) and 0.003 <= share(release == "agency")
    for value, origin in zip(release[named], incidents.agency[named], strict=True):
        assert value == sorted(set(value)) and 1 <= len(value) <= 2
        assert set(value) <= set(AGENCIES) - {origin}
        assert releasability.parse(releasability.as_text(value)) == value  # exports back
    not_counted = ~incidents.aggregate
    assert 0.002 <= share(not_counted) and restricted[not_counted].all()
    # Every agency misses some others' records in detail, and counts some of them.
    records = [SimpleNamespace(agency=a, releasability=r, aggregate=bool(g))
               for a, r, g in zip(incidents.agency, release, incidents.aggregate,
                                  strict=True)]
    for code in AGENCIES:
        hidden = [r for r in records if not sees(code, r)]
        assert hidden and any(counts(code, r) for r in hidden), code
        assert not any(counts(code, r) for r in hidden if not r.aggregate)


def test_reporting_unit_is_the_region_or_for_a_few_a_neighbour(built):
    incidents = built.incidents
    lying_in = agencies.region_codes(incidents.lon, incidents.lat, built.regions)
    assert set(lying_in) <= {r.code for r in built.regions} and None not in set(lying_in)
    other = incidents.reporting_unit != lying_in
    assert 0.01 < share(other) < 0.05
    neighbours = agencies.neighbouring_regions(built.regions)
    assert "GE-KK" in neighbours["GE-TB"] and "GE-AJ" in neighbours["GE-GU"]
    assert "GE-AJ" not in neighbours["GE-KA"]
    for unit, region in zip(incidents.reporting_unit[other], lying_in[other], strict=True):
        assert unit in neighbours[region], (unit, region)


def test_agency_probabilities_meet_the_shares_and_refuse_unknown_codes():
    category = np.array(["illegal_stay", "smuggling_tobacco", "other"] * 100, dtype=object)
    detection = np.array(["inland", "border_surveillance", "bcp_check"] * 100, dtype=object)
    probabilities = agencies.agency_probabilities(category, detection)
    assert probabilities.sum(axis=1) == pytest.approx(np.ones(300))
    assert probabilities.mean(axis=0) == pytest.approx(agencies.AGENCY_SHARES, abs=1e-6)
    # An illegal stay found inland: the Migration Department more than anywhere else.
    assert probabilities[0, 2] > 2 * max(probabilities[1, 2], probabilities[2, 2])
    with pytest.raises(KeyError):
        agencies.agency_probabilities(np.array(["piracy"], dtype=object),
                                      np.array(["inland"], dtype=object))


# --------------------------------------------------------------------------- hot-spots


def test_planted_hotspots_cover_every_kind_and_stay_apart(built, borders):
    hotspots = built.hotspots
    assert {h.kind for h in hotspots} == set(planted.HOTSPOT_KINDS)
    for hotspot in hotspots:
        assert borders.outline.contains(hotspot.geom)
        assert 3_000 <= hotspot.radius_m <= 8_000
        assert hotspot.active_to == END
        assert hotspot.incident_count == int((built.incidents.hotspot_code == hotspot.code).sum())
        assert hotspot.incident_count > 0
        assert hotspot.description.startswith("SYNTHETIC")
    centres = [to_utm(h.geom) for h in hotspots]
    for i, a in enumerate(centres):
        for b in centres[i + 1 :]:
            assert a.distance(b) > 20_000
    drawn = sum(h.incident_count for h in hotspots)
    assert 0.15 * N_SMALL < drawn < 0.3 * N_SMALL


def test_planted_incidents_lie_within_their_radius(built):
    incidents = built.incidents
    for hotspot in built.hotspots:
        rows = incidents.hotspot_code == hotspot.code
        x, y = geography.xy_to_metric(incidents.lon[rows], incidents.lat[rows])
        centre = to_utm(hotspot.geom)
        assert np.hypot(x - centre.x, y - centre.y).max() <= hotspot.radius_m
        share = np.mean(incidents.category[rows] == hotspot.category)
        assert share > 0.7


def test_hotspots_have_their_kinds_temporal_shape(built):
    incidents = built.incidents
    for hotspot in built.hotspots:
        years = counts_by_year(incidents, hotspot.code, built.start)
        if hotspot.kind == "new":
            times = incidents.occurred_at[incidents.hotspot_code == hotspot.code]
            active_from = np.datetime64(hotspot.active_from.replace(tzinfo=None))
            assert times.min() >= active_from
            assert np.datetime64("2025-08-01") <= active_from <= np.datetime64("2025-09-30")
            assert hotspot.active_from.day == 1
            assert years[:2] == [0, 0] and years[2] > 0
        elif hotspot.kind == "persistent":
            assert max(years) < 1.3 * min(years), years
            assert hotspot.active_from == built.start
        elif hotspot.kind == "intensifying":
            assert years[2] > 2 * years[0], years
        else:
            assert years[0] > 2 * years[2], years


# --------------------------------------------------------------------------- database


def scalar(session, sql, **params):
    return session.execute(text(sql), params).scalar_one()


def test_load_demo_inserts_labelled_and_linked_rows(db_session, analysis_srid):
    result = loader.load_demo(db_session, analysis_srid, seed=3, n_incidents=5_000, end=END)
    expected = synthetic.build_demo(seed=3, n_incidents=5_000, end=END, metric_epsg=analysis_srid)
    assert result["loaded"] is True
    assert result["regions"] == 12
    assert result["border_segments"] == len(expected.sections)
    assert result["crossing_points"] == len(expected.crossings)
    assert result["incidents"] == 5_000
    assert result["synthetic_hotspots"] == len(expected.hotspots)

    s = db_session
    assert scalar(s, "SELECT count(*) FROM incidents WHERE region_id IS NULL") == 0
    assert scalar(s, "SELECT count(*) FROM incidents WHERE nearest_segment_id IS NULL") == 0
    assert scalar(s, "SELECT count(*) FROM incidents WHERE nearest_crossing_id IS NULL") == 0
    assert scalar(
        s, "SELECT count(*) FROM incidents WHERE provenance = 'synthetic' "
        "AND source = 'demo-synthetic' AND description LIKE 'SYNTHETIC demo record%'"
    ) == 5_000  # fmt: skip
    # Background along the border: at most 15 km (plus 50 m) off its section.
    near_line = scalar(
        s, "SELECT max(segment_distance_m) FROM incidents "
        "WHERE description LIKE '%background near border section%'"
    )  # fmt: skip
    assert 1_000 < near_line <= 15_050
    assert scalar(s, "SELECT count(DISTINCT provenance) FROM regions") == 1
    assert scalar(s, "SELECT min(provenance) FROM regions") == "approximate"
    assert scalar(s, "SELECT min(provenance) FROM crossing_points") == "approximate"
    assert scalar(s, "SELECT min(provenance) FROM border_segments") == "generalised"
    assert scalar(s, "SELECT count(*) FROM border_segments WHERE region_id IS NULL") == 0
    assert scalar(s, "SELECT min(length_m) FROM border_segments") >= 10_000
    assert scalar(s, "SELECT max(length_m) FROM border_segments") <= 20_000
    total_km = scalar(s, "SELECT sum(length_m) / 1000 FROM border_segments WHERE kind = 'land'")
    assert total_km == pytest.approx(sum(EXPECTED_LENGTHS_KM.values()) - 308, rel=0.05)

    # The ground truth: counts, and every planted incident within the radius, in metres.
    rows = s.execute(text(
        "SELECT h.code, h.incident_count, count(i.id) AS found, "
        "       max(ST_Distance(ST_Transform(i.geom, :srid), ST_Transform(h.geom, :srid))"
        "           - h.radius_m) AS overshoot_m "
        "  FROM synthetic_hotspots AS h "
        "  JOIN incidents AS i ON i.description LIKE '%planted hot-spot ' || h.code || '.' "
        " GROUP BY h.code, h.incident_count"
    ), {"srid": analysis_srid}).all()  # fmt: skip
    assert len(rows) == len(expected.hotspots)
    for code, incident_count, found, overshoot_m in rows:
        assert incident_count == found > 0, code
        assert overshoot_m <= 0.01, code
    new = s.execute(text(
        "SELECT count(*) FROM incidents AS i JOIN synthetic_hotspots AS h "
        "  ON i.description LIKE '%planted hot-spot ' || h.code || '.' "
        " WHERE h.kind = 'new' AND i.occurred_at < h.active_from"
    )).scalar_one()  # fmt: skip
    assert new == 0


def test_loaded_incidents_keep_agency_unit_and_releasability(db_session, analysis_srid):
    """The rule in SQL (geo.scope) over the loaded demo sees and counts for each agency
    what the rule in Python does over the generated records."""
    from geo.scope import VIEWER_PARAMETER, counted_condition, visibility_condition

    loader.load_demo(db_session, analysis_srid, seed=5, n_incidents=3_000, end=END)
    built = synthetic.build_demo(seed=5, n_incidents=3_000, end=END,
                                 metric_epsg=analysis_srid).incidents
    stored = {row.external_id: row for row in db_session.execute(text(
        "SELECT external_id, agency, reporting_unit, releasability, aggregate "
        "FROM incidents"))}
    for i, external_id in enumerate(built.external_id):
        row = stored[external_id]
        assert (row.agency, row.reporting_unit, row.releasability, row.aggregate) == (
            built.agency[i], built.reporting_unit[i], built.releasability[i],
            bool(built.aggregate[i])), external_id
    assert any(isinstance(row.releasability, list) for row in stored.values())
    same_region = scalar(db_session, "SELECT avg((r.code = i.reporting_unit)::int) "
                         "FROM incidents i JOIN regions r ON r.id = i.region_id")
    assert 0.95 < same_region < 1
    for agency in AGENCIES:
        seen, counted = db_session.execute(text(
            f"SELECT count(*) FILTER (WHERE {visibility_condition()}), "
            f"count(*) FILTER (WHERE {counted_condition()}) FROM incidents"),
            {VIEWER_PARAMETER: agency}).one()
        assert seen == sum(sees(agency, row) for row in stored.values()) < 3_000
        assert seen < counted == sum(counts(agency, row) for row in stored.values()) < 3_000


def test_load_demo_is_idempotent(db_session, analysis_srid):
    first = loader.load_demo(db_session, analysis_srid, seed=3, n_incidents=2_000, end=END)
    second = loader.load_demo(db_session, analysis_srid, seed=4, n_incidents=3_000, end=END)
    assert second["loaded"] is False
    keys = ("regions", "border_segments", "crossing_points", "incidents", "synthetic_hotspots")
    assert {k: second[k] for k in keys} == {k: first[k] for k in keys}
    assert db_session.scalar(select(func.count()).select_from(Incident)) == 2_000


def test_reset_demo_replaces_demo_rows_and_keeps_reported_ones(db_session, analysis_srid):
    reported = Region(
        code="T-REPORTED",
        name_en="Reported region",
        name_ka="ტესტი",
        provenance="reported",
        geom="SRID=4326;MULTIPOLYGON(((50 50, 50.1 50, 50.1 50.1, 50 50)))",
    )
    db_session.add(reported)
    db_session.flush()
    loader.load_demo(db_session, analysis_srid, seed=3, n_incidents=2_000, end=END)
    before = scalar(db_session, "SELECT min(occurred_at) FROM incidents")

    result = loader.reset_demo(db_session, analysis_srid, seed=4, n_incidents=1_500, end=END)
    assert result["loaded"] is True
    assert result["deleted"]["incidents"] == 2_000
    assert result["deleted"]["regions"] == 12
    assert result["incidents"] == 1_500
    assert result["regions"] == 12
    assert db_session.get(Region, reported.id).code == "T-REPORTED"
    assert scalar(db_session, "SELECT count(*) FROM incidents") == 1_500
    assert scalar(db_session, "SELECT count(*) FROM incidents WHERE region_id IS NULL") == 0
    assert scalar(db_session, "SELECT min(occurred_at) FROM incidents") != before


@pytest.mark.slow
def test_full_default_load_links_every_incident(db_session, analysis_srid):
    result = loader.load_demo(db_session, analysis_srid)
    assert result["loaded"] is True
    assert result["incidents"] == synthetic.DEFAULT_N_INCIDENTS
    assert scalar(
        db_session,
        "SELECT count(*) FROM incidents WHERE region_id IS NULL OR nearest_segment_id IS NULL",
    ) == 0  # fmt: skip
