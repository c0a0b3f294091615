"""List filters, sorting and paging, the same names on every layer."""

import csv
import io

import pytest
from sqlalchemy import text

from geo.scope import VIEWER_PARAMETER, visibility_condition
from geo.vocabulary import LEGACY_AGENCY


@pytest.fixture
def viewer(token_headers):
    return token_headers("viewer")


def external_ids(response):
    assert response.status_code == 200, response.get_json()
    return [f["properties"]["external_id"] for f in response.get_json()["features"]]


def test_bbox(client, sample_layers, viewer):
    east = client.get("/api/v1/incidents?bbox=45.3,41.3,45.6,41.6", headers=viewer)
    assert external_ids(east) == ["T-2"]
    segments = client.get("/api/v1/segments?bbox=44.8,41.2,45.0,41.3", headers=viewer)
    assert [f["properties"]["code"] for f in segments.get_json()["features"]] == ["T-AZ-001"]


def test_category_status_and_region(client, sample_layers, viewer):
    url = "/api/v1/incidents?category=smuggling_tobacco,refusal_of_entry"
    assert external_ids(client.get(url, headers=viewer)) == ["T-2", "T-3"]
    assert external_ids(client.get("/api/v1/incidents?status=validated",
                                   headers=viewer)) == ["T-1"]
    assert external_ids(client.get("/api/v1/incidents?region=T-KA", headers=viewer)) == ["T-2"]
    crossings = client.get("/api/v1/crossings?region=T-KK", headers=viewer).get_json()
    assert [f["properties"]["code"] for f in crossings["features"]] == ["T-BCP-1"]


@pytest.mark.parametrize("outcome", ["attempted", "actual", "attempted,actual"])
def test_outcome_filter_matches_the_database(client, db_session, sample_layers, viewer,
                                             outcome):
    wanted = outcome.split(",")
    expected = sorted(db_session.execute(
        text("SELECT external_id FROM incidents WHERE outcome = ANY(:wanted)"),
        {"wanted": wanted}).scalars())
    assert expected  # the sample layers hold both outcomes
    listed = client.get(f"/api/v1/incidents?outcome={outcome}&limit=10000", headers=viewer)
    assert sorted(external_ids(listed)) == expected
    assert listed.get_json()["numberMatched"] == len(expected)
    exported = client.get(f"/api/v1/incidents?outcome={outcome}&f=csv", headers=viewer)
    assert exported.status_code == 200
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert sorted(row["external_id"] for row in rows) == expected
    assert {row["outcome"] for row in rows} == set(wanted)


def test_outcome_combines_with_category(client, sample_layers, viewer):
    url = "/api/v1/incidents?category=smuggling_tobacco,refusal_of_entry&outcome=actual"
    assert external_ids(client.get(url, headers=viewer)) == ["T-3"]


def test_sortby(client, sample_layers, viewer):
    ascending = client.get("/api/v1/incidents?sortby=occurred_at", headers=viewer)
    assert external_ids(ascending) == ["T-3", "T-1", "T-2"]
    by_persons = client.get("/api/v1/incidents?sortby=-persons_count", headers=viewer)
    assert external_ids(by_persons) == ["T-1", "T-2", "T-3"]


def test_paging_with_next_links(client, sample_layers, viewer):
    seen, url = [], "/api/v1/incidents?limit=2"
    while url:
        body = client.get(url, headers=viewer).get_json()
        assert body["numberMatched"] == 3
        seen += [f["properties"]["external_id"] for f in body["features"]]
        nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
        url = nxt[0].replace("http://localhost", "") if nxt else None
    assert seen == ["T-2", "T-1", "T-3"]


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("bbox=45,41,44", "bbox", "needs four numbers"),
        ("bbox=46,41,45,42", "bbox", "minimum must not exceed"),
        ("bbox=0,0,200,10", "bbox", "within [-180, 180]"),
        ("category=jaywalking", "category", "unknown value 'jaywalking'; allowed:"),
        ("status=lost", "status", "unknown value 'lost'"),
        ("outcome=failed", "outcome", "unknown value 'failed'; allowed: attempted, actual"),
        ("outcome=actual,maybe", "outcome", "unknown value 'maybe'"),
        ("region=NOWHERE", "region", "unknown region code 'NOWHERE'"),
        ("sortby=colour", "sortby", "cannot sort by 'colour'"),
        ("f=xlsx", "f", "unknown format 'xlsx'"),
    ],
)
def test_bad_filters_are_422(client, viewer, query, field, message):
    response = client.get(f"/api/v1/incidents?{query}", headers=viewer)
    assert response.status_code == 422
    problem = response.get_json()
    assert problem["field"] == field
    assert message in problem["detail"]


def test_filter_that_does_not_apply_is_422(client, viewer):
    response = client.get("/api/v1/regions?category=illegal_stay", headers=viewer)
    assert response.status_code == 422
    assert response.get_json()["detail"] == "category: does not apply to regions; filters are bbox"


def test_file_exports_hold_the_whole_selection_beyond_one_page(demo_app):
    # 20,000 demo incidents: more than the largest page (10,000). A CSV or GeoPackage
    # without a limit carries no paging links, so it must hold every selected row.
    import sqlite3
    import tempfile

    from app.extensions import db

    app, headers, _ = demo_app
    with app.app_context():
        # What the demo user's agency (GBP) sees of the demo.
        expected = db.session.execute(text(
            f"SELECT count(*) FROM incidents WHERE outcome = 'actual' "
            f"AND {visibility_condition()}"), {VIEWER_PARAMETER: LEGACY_AGENCY}).scalar_one()
        db.session.remove()
    assert expected > 10_000
    client = app.test_client()
    url = "/api/v1/incidents?outcome=actual"
    exported = client.get(url + "&f=csv", headers=headers)
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert len(rows) == expected
    assert len({row["id"] for row in rows}) == expected
    paged = client.get(url + "&f=csv&limit=50", headers=headers)
    assert len(list(csv.DictReader(io.StringIO(paged.get_data(as_text=True))))) == 50
    package = client.get(url + "&f=gpkg", headers=headers)
    with tempfile.NamedTemporaryFile(suffix=".gpkg") as handle:
        handle.write(package.data)
        handle.flush()
        gpkg = sqlite3.connect(handle.name)
        try:
            table = gpkg.execute("SELECT table_name FROM gpkg_contents").fetchone()[0]
            assert gpkg.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] == expected
        finally:
            gpkg.close()
