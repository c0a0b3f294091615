"""Emerging hot-spots by border section (``geo.hotspots.sections``) on a hand-checked
case (``testsupport.sections``): three SYNTHETIC sections, incidents at known distances.
"""

from dataclasses import replace

import numpy as np
import pytest
import shapely
from sqlalchemy import text

from geo.errors import ParameterError
from geo.hotspots import emerging
from geo.hotspots.inputs import Selection, StudyArea
from geo.hotspots.sections import (
    SectionRequest,
    emerging_sections,
    section_cube,
    section_neighbours,
)
from testsupport.sections import (
    CORRIDOR_M,
    EXPECTED_CATEGORIES,
    EXPECTED_COUNTS,
    EXPECTED_NEIGHBOURS,
    WINDOW,
    load_sections_case,
)


@pytest.fixture
def case(db_session, analysis_srid):
    return load_sections_case(db_session, analysis_srid)


def request(**changes) -> SectionRequest:
    return replace(SectionRequest(area=StudyArea(), selection=Selection(*WINDOW),
                                  corridor_m=CORRIDOR_M), **changes)


def test_neighbours_are_measured_between_the_lines_not_their_centres():
    # centres 12 km apart, lines 2 km apart; the third 18 km from the second
    lines = shapely.linestrings([[(0, 0), (10_000, 0)], [(12_000, 0), (22_000, 0)],
                                 [(40_000, 0), (50_000, 0)]])
    assert (section_neighbours(lines, 5_000).toarray() == EXPECTED_NEIGHBOURS).all()
    assert (section_neighbours(lines, 2_000).toarray() == EXPECTED_NEIGHBOURS).all()
    assert (section_neighbours(lines, 1_999).toarray() == np.eye(3)).all()
    # a section alone is still its own neighbour
    assert (section_neighbours(lines[:1], 5_000).toarray() == [[1]]).all()


def test_each_incident_counts_for_its_nearest_section_within_the_corridor(db_session, case,
                                                                          analysis_srid):
    cube = section_cube(db_session, request(), analysis_srid)
    assert cube.codes == ["T-S1", "T-S2", "T-S3"]
    assert len(cube.steps) == 4
    assert [str(e) for e in cube.steps.edges] == [
        f"2025-0{m}-01T00:00:00.000000" for m in range(1, 6)]
    assert cube.counts.tolist() == EXPECTED_COUNTS.tolist()
    # 18 in corridors and steps; the one 6 km out and the one in December are not
    assert cube.incidents == 18 == EXPECTED_COUNTS.sum()
    # a wider corridor takes in the one 6 km from S1 (March)
    wider = section_cube(db_session, request(corridor_m=6_500.0), analysis_srid)
    assert (wider.counts - EXPECTED_COUNTS).tolist() == [[0, 0, 0], [0, 0, 0], [1, 0, 0],
                                                         [0, 0, 0]]


def test_persons_weigh_each_incident_by_its_persons(db_session, case, analysis_srid):
    persons = request(selection=Selection(*WINDOW, weight="persons"))
    assert section_cube(db_session, persons, analysis_srid).counts.tolist() == (
        2 * EXPECTED_COUNTS).tolist()


def test_categories_and_trends_are_those_of_the_hand_built_cube(db_session, case,
                                                                analysis_srid):
    body = emerging_sections(db_session, request(), analysis_srid)
    expected = emerging.emerging_hot_spots(EXPECTED_COUNTS, EXPECTED_NEIGHBOURS)
    counts_trend = emerging.mann_kendall(EXPECTED_COUNTS)
    properties = [f["properties"] for f in body["features"]]
    assert [p["code"] for p in properties] == ["T-S1", "T-S2", "T-S3"]
    assert [f["id"] for f in body["features"]] == [p["section_id"] for p in properties]
    assert [p["count_series"] for p in properties] == EXPECTED_COUNTS.T.tolist()
    assert [p["count"] for p in properties] == [8, 8, 2]
    assert [p["category"] for p in properties] == EXPECTED_CATEGORIES
    assert EXPECTED_CATEGORIES == emerging.classify_emerging(
        expected.spot, expected.trend.z, expected.trend.p).tolist()
    np.testing.assert_allclose([p["z_series"] for p in properties], expected.z.T)
    np.testing.assert_allclose([p["trend_z"] for p in properties], expected.trend.z)
    np.testing.assert_allclose([p["trend_p"] for p in properties], expected.trend.p)
    np.testing.assert_allclose([p["count_trend_z"] for p in properties], counts_trend.z)
    np.testing.assert_allclose([p["count_trend_p"] for p in properties], counts_trend.p)
    np.testing.assert_allclose([p["count_trend_tau"] for p in properties], counts_trend.tau)
    # S2 rises 0, 1, 1, 6: S = 5 with one tied pair, tau-b = 5 / sqrt(5 * 6)
    assert properties[1]["count_trend_tau"] == pytest.approx(5 / np.sqrt(30))
    assert body["features"][0]["geometry"]["type"] == "LineString"
    meta = body["metadata"]
    assert meta["unit"] == "section" and meta["corridor_m"] == CORRIDOR_M
    assert meta["distance_band_m"] == CORRIDOR_M
    assert meta["distance_band_source"] == "corridor width (corridor_m)"
    assert meta["neighbours_per_section"] == [1, 1, 0]
    assert meta["steps"] == 4 and len(meta["time_steps"]["edges"]) == 5
    assert meta["incidents"] == 18 and meta["sections_with_data"] == 3
    assert set(meta["fields"]) == set(properties[0])


def test_a_narrower_band_leaves_every_section_alone(db_session, case, analysis_srid):
    body = emerging_sections(db_session, request(distance_band_m=1_000.0), analysis_srid)
    expected = emerging.emerging_hot_spots(EXPECTED_COUNTS, np.eye(3))
    assert body["metadata"]["neighbours_per_section"] == [0, 0, 0]
    np.testing.assert_allclose([f["properties"]["z_series"] for f in body["features"]],
                               expected.z.T)


def test_the_region_scope_keeps_its_sections_and_its_incidents(db_session, case,
                                                                analysis_srid):
    scope = (case["regions"]["T-SB"],)
    scoped = request(area=StudyArea(region_ids=scope),
                     selection=Selection(*WINDOW, region_ids=scope))
    cube = section_cube(db_session, scoped, analysis_srid)
    assert cube.codes == ["T-S3"] and cube.counts[:, 0].tolist() == [2, 0, 0, 0]
    assert cube.incidents == 2
    # the incidents of the scope only, even at the sections of every region
    everywhere = section_cube(db_session, request(selection=scoped.selection), analysis_srid)
    assert everywhere.counts.sum(axis=0).tolist() == [0, 0, 2]
    by_region = section_cube(db_session, request(area=StudyArea(regions=("T-SA",))),
                             analysis_srid)
    assert by_region.codes == ["T-S1", "T-S2"]
    assert by_region.counts.tolist() == EXPECTED_COUNTS[:, :2].tolist()


@pytest.mark.parametrize(("changes", "field"), [
    ({"area": StudyArea(regions=("T-NOWHERE",))}, "region"),
    ({"area": StudyArea(bbox=(43.0, 42.0, 43.5, 42.4))}, "bbox"),
    ({"step": "day"}, "step"),
    ({"global_window": "galaxy"}, "global_window"),
    ({"selection": Selection(WINDOW[0], None)}, "datetime"),
    ({"selection": Selection(WINDOW[0], WINDOW[0].replace(month=2, day=15))}, "datetime"),
])
def test_bad_requests_name_their_field(db_session, case, analysis_srid, changes, field):
    with pytest.raises(ParameterError) as raised:
        emerging_sections(db_session, request(**changes), analysis_srid)
    assert raised.value.field == field


def test_sections_without_incidents_have_no_pattern(db_session, case, analysis_srid):
    quiet = request(selection=Selection(*WINDOW, categories=("stolen_vehicle",)))
    body = emerging_sections(db_session, quiet, analysis_srid)
    properties = [f["properties"] for f in body["features"]]
    assert [p["category"] for p in properties] == ["no pattern"] * 3
    assert [p["count_series"] for p in properties] == [[0, 0, 0, 0]] * 3
    assert properties[0]["trend_z"] is None or np.isnan(properties[0]["trend_z"])
    assert properties[0]["count_trend_p"] == 1.0  # a constant series has no trend


def test_a_region_without_sections_has_none(db_session, case, analysis_srid):
    db_session.execute(text("UPDATE border_segments SET region_id = NULL"))
    body = emerging_sections(db_session, request(area=StudyArea(regions=("T-SA",))),
                             analysis_srid)
    assert body["features"] == [] and body["metadata"]["sections"] == 0


def test_an_agency_counts_what_it_may_and_learns_how_much_it_does_not_see(db_session, case,
                                                                           analysis_srid):
    # S3's two January incidents: the Patrol Police's own, one still counted in
    # aggregates, the other not
    db_session.execute(text(
        "UPDATE incidents SET agency = 'PPD', releasability = '\"agency\"', "
        "aggregate = (external_id = 'SEC-17') WHERE external_id IN ('SEC-17', 'SEC-18')"))
    border_police = request(selection=Selection(*WINDOW, viewer_agency="GBP"))
    cube = section_cube(db_session, border_police, analysis_srid)
    assert cube.counts[:, 2].tolist() == [1, 0, 0, 0]
    assert cube.agency == {"viewer_agency": "GBP", "counted_not_visible": 1}
    patrol = section_cube(db_session, request(selection=Selection(*WINDOW, viewer_agency="PPD")),
                          analysis_srid)
    assert patrol.counts.tolist() == EXPECTED_COUNTS.tolist()
    assert patrol.agency == {"viewer_agency": "PPD", "counted_not_visible": 0}
