"""``GET /api/v1/hotspots/emerging?unit=section``: emerging hot-spots by border section on
the hand-checked SYNTHETIC case of ``testsupport.sections``.
"""

import numpy as np
import pytest

from geo.hotspots import cache, emerging
from tests.app.api.test_region_scope_api import scoped_headers
from testsupport.sections import EXPECTED_CATEGORIES, EXPECTED_COUNTS, load_sections_case

URL = "/api/v1/hotspots/emerging"
WINDOW = "2025-01-01T00:00:00Z/2025-04-30T23:59:59.999999Z"


@pytest.fixture
def case(db_session, analysis_srid):
    cache.CACHE.clear()  # results are keyed by data versions, which a rollback repeats
    yield load_sections_case(db_session, analysis_srid)
    cache.CACHE.clear()


def test_sections_with_their_categories_trends_and_counts(client, case, analyst):
    response = client.get(URL, query_string={"unit": "section", "datetime": WINDOW},
                          headers=analyst)
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == "application/geo+json"
    body = response.get_json()
    features = body["features"]
    assert [f["properties"]["code"] for f in features] == ["T-S1", "T-S2", "T-S3"]
    assert [f["id"] for f in features] == [case["sections"][c] for c in ("T-S1", "T-S2", "T-S3")]
    assert {f["geometry"]["type"] for f in features} == {"LineString"}
    assert [f["properties"]["category"] for f in features] == EXPECTED_CATEGORIES
    assert [f["properties"]["count_series"] for f in features] == EXPECTED_COUNTS.T.tolist()
    count_trend = emerging.mann_kendall(EXPECTED_COUNTS)
    np.testing.assert_allclose([f["properties"]["count_trend_z"] for f in features],
                               count_trend.z)
    np.testing.assert_allclose([f["properties"]["count_trend_tau"] for f in features],
                               count_trend.tau)
    meta = body["metadata"]
    # the corridor is the risk model's (geo/risk/risk.yaml), and so is the default band
    assert meta["corridor_m"] == meta["distance_band_m"] == 5000
    assert meta["time_steps"]["edges"][0] == "2025-01-01T00:00:00+00:00"
    assert meta["time_steps"]["edges"][-1] == "2025-05-01T00:00:00+00:00"
    assert meta["steps"] == 4 and meta["viewer_agency"] == "GBP"


def test_a_region_and_a_band(client, case, analyst):
    body = client.get(URL, query_string={"unit": "section", "datetime": WINDOW,
                                         "region": "T-SA", "distance_band": "1000"},
                      headers=analyst).get_json()
    assert [f["properties"]["code"] for f in body["features"]] == ["T-S1", "T-S2"]
    assert body["metadata"]["neighbours_per_section"] == [0, 0]
    assert body["metadata"]["distance_band_source"] == "given"


@pytest.mark.parametrize(("query", "field"), [
    ({"unit": "hexagon"}, "unit"),
    ({"unit": "section", "bbox": "43,42,44,42.5"}, "bbox"),
    ({"unit": "section", "cell_size": "5000"}, "cell_size"),
    ({"unit": "section", "step": "day"}, "step"),
    ({"unit": "section", "region": "T-NOWHERE"}, "region"),
    ({"unit": "section", "time_window": "13"}, "time_window"),
    ({"unit": "section", "datetime": "2025-01-01T00:00:00Z/2025-02-15T00:00:00Z"}, "datetime"),
])
def test_bad_parameters_are_422_naming_the_field(client, case, analyst, query, field):
    response = client.get(URL, query_string={"datetime": WINDOW, **query}, headers=analyst)
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["field"] == field
    if field == "unit":
        assert "'hexagon'" in response.get_json()["detail"]
        assert "cell, section" in response.get_json()["detail"]


def test_a_region_restricted_user_sees_only_their_sections(client, case, db_session):
    headers = scoped_headers(db_session, "viewer", ["T-SB"])
    response = client.get(URL, query_string={"unit": "section", "datetime": WINDOW},
                          headers=headers)
    assert response.status_code == 200, response.get_json()
    features = response.get_json()["features"]
    assert [f["properties"]["code"] for f in features] == ["T-S3"]
    assert features[0]["properties"]["count_series"] == [2, 0, 0, 0]
    other = client.get(URL, query_string={"unit": "section", "datetime": WINDOW,
                                          "region": "T-SA"}, headers=headers)
    assert other.status_code == 403 and other.get_json()["field"] == "region"
