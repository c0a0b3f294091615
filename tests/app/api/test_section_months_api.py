"""``GET /api/v1/risk/segments/<id>/months``: a section's incidents per calendar month,
its expected band and categories, on the SYNTHETIC sections of ``testsupport.sections``
with incidents planted here at month boundaries and of another agency; every count
checked against an independent count in SQL (half-open month bounds computed in Python,
the ranking's rule written out) and by hand.
"""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from scipy import stats
from sqlalchemy import text

from geo.risk.risk_config import load_risk_config
from tests.app.api.test_region_scope_api import scoped_headers
from testsupport.sections import _lonlat, load_sections_case

NOW = datetime(2025, 6, 10, 12, 0, tzinfo=UTC)
# SYNTHETIC incidents 500 m from S1: (time, category, agency, releasability, aggregate)
PLANTED = (
    (datetime(2025, 1, 31, 23, 59, 59, 999999, tzinfo=UTC), "illegal_crossing_between_bcp",
     "GBP", '"all"', True),
    (datetime(2025, 5, 31, 23, 59, 59, tzinfo=UTC), "smuggling_tobacco", "GBP", '"all"', True),
    (datetime(2025, 6, 1, 0, 0, 0, tzinfo=UTC), "facilitator", "GBP", '"all"', True),
    (datetime(2025, 6, 10, 12, 30, tzinfo=UTC), "facilitator", "GBP", '"all"', True),  # after now
    # the Patrol Police's own: counted in aggregates, not seen by the Border Police ...
    (datetime(2025, 5, 15, 8, 0, tzinfo=UTC), "refusal_of_entry", "PPD", '"agency"', True),
    # ... and not counted by them either
    (datetime(2025, 5, 16, 8, 0, tzinfo=UTC), "fraudulent_document", "PPD", '"agency"', False),
)


@pytest.fixture
def case(db_session, analysis_srid, freeze_clock):
    ids = load_sections_case(db_session, analysis_srid)
    lon, lat = _lonlat(analysis_srid, [6_000], [500])
    for n, (at, category, agency, releasability, aggregate) in enumerate(PLANTED):
        db_session.execute(text(
            "INSERT INTO incidents (source, external_id, occurred_at, category, outcome, "
            "persons_count, source_reliability, information_credibility, status, provenance, "
            "agency, releasability, aggregate, geom) VALUES ('months-test', :external_id, :at, "
            ":category, 'actual', 1, 'B', 2, 'validated', 'synthetic', :agency, "
            "CAST(:releasability AS jsonb), :aggregate, "
            "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))"),
            {"external_id": f"M-{n}", "at": at, "category": category, "agency": agency,
             "releasability": releasability, "aggregate": aggregate,
             "lon": float(lon[0]), "lat": float(lat[0])})
    from geo import queries
    queries.link_incidents(db_session, analysis_srid)
    db_session.flush()
    freeze_clock(NOW)
    return ids


def month_starts(first: datetime, n: int) -> list[datetime]:
    starts = [first]
    for _ in range(n):
        y, m = starts[-1].year, starts[-1].month
        starts.append(datetime(y + m // 12, m % 12 + 1, 1, tzinfo=UTC))
    return starts


def independent_counts(session, section_id: int, starts, agency: str) -> list[int]:
    """Per month ``[start, next start)`` (the last: up to NOW), the incidents counting
    for the section as the ranking counts them for ``agency``."""
    counts = []
    for k, start in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else NOW + timedelta(microseconds=1)
        counts.append(session.execute(text(
            "SELECT count(*) FROM incidents WHERE nearest_segment_id = :s "
            "AND segment_distance_m <= 5000 AND occurred_at >= :start AND occurred_at < :end "
            "AND (aggregate OR releasability = '\"all\"'::jsonb OR agency = :agency "
            "OR releasability ? :agency)"),
            {"s": section_id, "start": start, "end": end, "agency": agency}).scalar_one())
    return counts


def get(client, headers, section_id, **query):
    response = client.get(f"/api/v1/risk/segments/{section_id}/months", query_string=query,
                          headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_counts_per_calendar_month(client, case, analyst, db_session):
    s1 = case["sections"]["T-S1"]
    body = get(client, analyst, s1)
    months = body["months"]
    starts = month_starts(datetime(2023, 6, 1, tzinfo=UTC), 24)
    assert [m["month"] for m in months] == [f"{s:%Y-%m}" for s in starts]
    assert len(months) == 25
    assert [m["incidents"] for m in months] == independent_counts(db_session, s1, starts, "GBP")
    by_month = {m["month"]: m for m in months}
    # by hand: December 2024 one; January one on the 15th and one at 23:59:59.999999 of
    # the 31st; March two (one 4.9 km away); April five; May the 31st at 23:59:59 and
    # the Patrol Police's counted one; June the one at 00:00 of the 1st, not the one
    # after now
    assert {k: m["incidents"] for k, m in by_month.items() if m["incidents"]} == {
        "2024-12": 1, "2025-01": 2, "2025-03": 2, "2025-04": 5, "2025-05": 2, "2025-06": 1}
    assert by_month["2025-05"]["categories"] == {"refusal_of_entry": 1, "smuggling_tobacco": 1}
    assert by_month["2025-06"]["categories"] == {"facilitator": 1}
    assert body["categories"] == {"illegal_crossing_between_bcp": 10, "refusal_of_entry": 1,
                                  "smuggling_tobacco": 1, "facilitator": 1}
    assert body["counted_not_visible"] == 1 and body["viewer_agency"] == "GBP"
    assert [m["partial"] for m in months] == [False] * 24 + [True]
    june = by_month["2025-06"]
    assert june["start"] == "2025-06-01T00:00:00+00:00" and june["end"] == NOW.isoformat()
    assert june["elapsed_share"] == pytest.approx(9.5 / 30)
    assert by_month["2025-05"]["end"] == "2025-05-31T23:59:59.999999+00:00"
    assert body["code"] == "T-S1" and body["corridor_m"] == 5000


def test_another_agency_counts_its_own(client, case, token_headers, db_session):
    s1 = case["sections"]["T-S1"]
    body = get(client, token_headers("viewer", "PPD"), s1)
    starts = month_starts(datetime(2023, 6, 1, tzinfo=UTC), 24)
    assert [m["incidents"] for m in body["months"]] == independent_counts(db_session, s1, starts,
                                                                          "PPD")
    assert body["months"][-2]["incidents"] == 3  # May: its record not let count is its own
    assert body["counted_not_visible"] == 0


def test_the_expected_band_is_the_alert_model_over_the_year_before(client, case, analyst):
    body = get(client, analyst, case["sections"]["T-S1"], months=3)
    assert [m["month"] for m in body["months"]] == ["2025-03", "2025-04", "2025-05", "2025-06"]
    config = load_risk_config()
    # June 2025: the twelve months June 2024 .. May 2025 held 0 x 6, 1, 2, 0, 2, 5, 2
    history = np.array([0] * 6 + [1, 2, 0, 2, 5, 2])
    mean, variance = history.mean(), history.var(ddof=1)
    assert mean == 1.0 and variance > mean
    size = mean ** 2 / (variance - mean)
    p = size / (size + mean)
    low = stats.nbinom.ppf(config.alert_alpha, size, p)
    k = stats.nbinom.ppf(1 - config.alert_alpha, size, p)
    high = k + (stats.nbinom.sf(k, size, p) >= config.alert_alpha)
    june = body["months"][-1]
    assert june["expected"] == pytest.approx(1.0)
    assert june["expected_range"] == [int(low), int(high)]
    assert june["expected_to_date"] == pytest.approx(9.5 / 30)
    # March 2025: the year before held only December's and January's (1 and 1 on S1's
    # corridor before the planted ones: 1, 2) -> mean 0.25, raised to min_expected
    march = body["months"][0]
    assert march["expected"] == pytest.approx(max((1 + 2) / 12, config.min_expected))
    assert body["band"]["baseline_months"] == 12 and body["band"]["alpha"] == config.alert_alpha


def test_a_section_of_another_region_is_not_found(client, case, db_session):
    headers = scoped_headers(db_session, "viewer", ["T-SB"])
    response = client.get(f"/api/v1/risk/segments/{case['sections']['T-S1']}/months",
                          headers=headers)
    assert response.status_code == 404
    assert get(client, headers, case["sections"]["T-S3"])["months"][-1]["incidents"] == 0


@pytest.mark.parametrize("months", ["0", "61", "many"])
def test_bad_months_are_422_naming_it(client, case, analyst, months):
    response = client.get(f"/api/v1/risk/segments/{case['sections']['T-S1']}/months",
                          query_string={"months": months}, headers=analyst)
    assert response.status_code == 422
    assert response.get_json()["field"] == "months"
