"""Property: over random incidents (originating agency, releasability, aggregate flag,
region) and every agency with and without a region scope, what each read path shows is
exactly what the rule computed in Python (``testsupport.agencies.sees``) allows.

Each example writes its incidents and deletes them (all in the test's transaction,
rolled back at its end); the users are made once. The paths compared: the REST list,
get by id and CSV export, OGC API Features items and item, and the vector tiles.
"""

from __future__ import annotations

import csv
import io
import json

import mapbox_vector_tile
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from tests.app.ogc.test_tiles import tile_of
from testsupport.agencies import AGENCIES, Record, insert_records, sees

WINDOW = "2025-01-01T00:00:00Z/2025-01-31T23:59:59Z"
# Where a generated incident lies: in one of the sample layers' regions, or in none.
PLACES = {"T-KK": 44.95, "T-KA": 45.35, None: 46.5}

releasabilities = st.one_of(
    st.just("all"), st.just("agency"),
    st.lists(st.sampled_from(AGENCIES), min_size=1, max_size=4, unique=True).map(sorted))
incident = st.tuples(st.sampled_from(AGENCIES), releasabilities, st.booleans(),
                     st.sampled_from(list(PLACES)))


def _insert(session, rows) -> dict[str, tuple[int, Record]]:
    records = [Record(f"P-{number}", agency, release, aggregate, region,
                      PLACES[region] + 0.001 * number, 41.4,
                      f"2025-01-{1 + number % 28:02d}T10:00:00Z")
               for number, (agency, release, aggregate, region) in enumerate(rows)]
    ids = insert_records(session, records, 32638, source="property")
    return {record.external_id: (ids[record.external_id], record) for record in records}


@pytest.fixture
def viewers(db_session, sample_layers):
    """``[(agency, region code or None, headers)]``: a viewer of each agency, with
    every region and restricted to T-KK."""
    from app.auth.tokens import create_token
    from app.auth.users import create_user

    made = []
    for agency in AGENCIES:
        for region in (None, "T-KK"):
            user = create_user(db_session, f"p-{agency}-{region or 'all'}".lower(),
                               "viewer", "long-enough-pw",
                               [region] if region else [], all_regions=region is None,
                               agency=agency)
            _, token = create_token(db_session, user, "property")
            made.append((agency, region, {"Authorization": f"Bearer {token}"}))
    db_session.flush()
    return made


def _rest_list(client, headers) -> set[str]:
    body = client.get("/api/v1/incidents", headers=headers,
                      query_string={"datetime": WINDOW, "limit": 1000}).get_json()
    return {f["properties"]["external_id"] for f in body["features"]}


def _rest_csv(client, headers) -> set[str]:
    body = client.get("/api/v1/incidents", headers=headers,
                      query_string={"datetime": WINDOW, "f": "csv"}).get_data(as_text=True)
    return {row["external_id"] for row in csv.DictReader(io.StringIO(body))}


def _ogc_items(client, headers) -> set[str]:
    body = json.loads(client.get("/ogc/features/collections/incidents/items", headers=headers,
                                 query_string={"datetime": WINDOW, "limit": 1000,
                                               "f": "json"}).get_data())
    return {f["properties"]["external_id"] for f in body["features"]}


def _tile_ids(client, headers, records) -> set[int]:
    found = set()
    for x, y in {tile_of(r.lon, r.lat, 10) for r in records}:
        response = client.get(f"/ogc/tiles/incidents/10/{x}/{y}.mvt", headers=headers,
                              query_string={"datetime": WINDOW})
        if response.status_code == 200:
            layer = mapbox_vector_tile.decode(response.get_data()).get("incidents", {})
            found |= {f["id"] for f in layer.get("features", [])}
    return found


@pytest.mark.slow
def test_every_path_shows_what_the_rule_allows(client, db_session, viewers):
    @settings(max_examples=15, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(rows=st.lists(incident, min_size=1, max_size=10))
    def check(rows):
        try:
            stored = _insert(db_session, rows)
            for agency, region, headers in viewers:
                expected = {key for key, (_, record) in stored.items()
                            if sees(agency, record)
                            and (region is None or record.region == region)}
                assert _rest_list(client, headers) == expected, (agency, region)
                assert _rest_csv(client, headers) == expected, (agency, region)
                assert _ogc_items(client, headers) == expected, (agency, region)
                assert _tile_ids(client, headers, [r for _, r in stored.values()]) == {
                    stored[key][0] for key in expected}, (agency, region)
                for key, (new_id, _) in stored.items():
                    status = 200 if key in expected else 404
                    assert client.get(f"/api/v1/incidents/{new_id}",
                                      headers=headers).status_code == status
                    assert client.get(f"/ogc/features/collections/incidents/items/{new_id}",
                                      headers=headers).status_code == status
        finally:
            db_session.execute(text("DELETE FROM incidents WHERE source = 'property'"))
            db_session.flush()

    check()
