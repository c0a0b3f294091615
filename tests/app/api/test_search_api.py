"""``GET /api/v1/search``: places by code or name, in the caller's scope, ranked; on the
SYNTHETIC regions and sections of ``testsupport.sections`` renamed here, and two
SYNTHETIC crossing points.
"""

import pytest
from sqlalchemy import text

from tests.app.api.test_region_scope_api import scoped_headers
from testsupport.sections import load_sections_case

URL = "/api/v1/search"
NAMES = {  # code: (name, name_ka)
    "T-SA": ("Sárpi coast (synthetic)", "სარფის სანაპირო"),
    "T-SB": ("Inland test region (synthetic)", "შიდა რეგიონი"),
    "T-S1": ("Sarpi north (synthetic)", "სარფი, ჩრდილოეთი"),
    "T-S2": ("Kvariati (synthetic)", "კვარიათი"),
    "T-S3": ("Lower Sarpi (synthetic)", None),
}
# code, name, name_ka, lon, lat (in T-SA: 42.9..43.5 E)
CROSSINGS = (("T-SARPI", "Sarpi (synthetic)", "სარფი", 43.2, 42.2),
             ("T-S1X", "Gonio (synthetic)", "გონიო", 43.3, 42.3))


@pytest.fixture
def places(db_session, analysis_srid):
    ids = load_sections_case(db_session, analysis_srid)
    for code, (name, name_ka) in NAMES.items():
        if code in ids["regions"]:
            db_session.execute(text("UPDATE regions SET name_en = :name, name_ka = :ka "
                                    "WHERE code = :code"),
                               {"name": name, "ka": name_ka, "code": code})
        else:
            db_session.execute(text("UPDATE border_segments SET name = :name, name_ka = :ka "
                                    "WHERE code = :code"),
                               {"name": name, "ka": name_ka, "code": code})
    ids["crossings"] = {}
    for code, name, name_ka, lon, lat in CROSSINGS:
        ids["crossings"][code] = db_session.execute(text(
            "INSERT INTO crossing_points (code, name, name_ka, kind, status, region_id, "
            "provenance, geom) VALUES (:code, :name, :ka, 'road', 'open', :region, 'synthetic', "
            "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) RETURNING id"),
            {"code": code, "name": name, "ka": name_ka, "lon": lon, "lat": lat,
             "region": ids["regions"]["T-SA"]}).scalar_one()
    db_session.flush()
    return ids


def found(client, headers, q, **query):
    response = client.get(URL, query_string={"q": q, **query}, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def codes(body):
    return [(p["kind"], p["code"], p["match"]) for p in body["places"]]


def test_exact_code_then_prefix_then_substring(client, places, analyst):
    assert codes(found(client, analyst, "t-s1")) == [
        ("section", "T-S1", "code"), ("crossing", "T-S1X", "prefix")]
    assert codes(found(client, analyst, "T-SA")) == [
        ("region", "T-SA", "code"), ("crossing", "T-SARPI", "prefix")]
    # within a rank: regions, sections, crossing points; "Lower Sarpi" only holds it
    assert codes(found(client, analyst, "sarpi")) == [
        ("region", "T-SA", "prefix"), ("section", "T-S1", "prefix"),
        ("crossing", "T-SARPI", "prefix"), ("section", "T-S3", "substring")]


def test_case_and_diacritics_are_ignored(client, places, analyst):
    expected = codes(found(client, analyst, "sarpi"))
    assert codes(found(client, analyst, "SÁRPI")) == expected
    assert codes(found(client, analyst, "  Sárpi ")) == expected


def test_a_georgian_query_finds_by_name_ka(client, places, analyst):
    body = found(client, analyst, "სარფ")
    assert codes(body) == [("region", "T-SA", "prefix"), ("section", "T-S1", "prefix"),
                           ("crossing", "T-SARPI", "prefix")]
    assert body["places"][1]["name_ka"] == "სარფი, ჩრდილოეთი"
    assert codes(found(client, analyst, "კვარიათ")) == [("section", "T-S2", "prefix")]
    # a substring of a Georgian name
    assert codes(found(client, analyst, "ჩრდილო")) == [("section", "T-S1", "substring")]


def test_where_each_place_lies(client, places, analyst, db_session):
    body = found(client, analyst, "T-S")
    by_code = {p["code"]: p for p in body["places"]}
    assert by_code["T-SARPI"]["bbox"] == pytest.approx([43.2, 42.2, 43.2, 42.2])
    assert by_code["T-SARPI"]["centroid"] == pytest.approx([43.2, 42.2])
    assert by_code["T-SA"]["bbox"] == pytest.approx([42.9, 41.9, 43.5, 42.5])
    assert by_code["T-SA"]["region"] == "T-SA" and by_code["T-S3"]["region"] == "T-SB"
    ends = db_session.execute(text(
        "SELECT ST_X(ST_StartPoint(geom)), ST_Y(ST_StartPoint(geom)), ST_X(ST_EndPoint(geom)), "
        "ST_Y(ST_EndPoint(geom)) FROM border_segments WHERE code = 'T-S2'")).one()
    section = by_code["T-S2"]
    assert section["bbox"] == pytest.approx([min(ends[0], ends[2]), min(ends[1], ends[3]),
                                             max(ends[0], ends[2]), max(ends[1], ends[3])])
    # the middle of a straight section: halfway between its ends
    assert section["centroid"] == pytest.approx([(ends[0] + ends[2]) / 2,
                                                 (ends[1] + ends[3]) / 2], abs=1e-3)
    assert section["id"] == places["sections"]["T-S2"]


def test_limit_and_counts(client, places, analyst):
    body = found(client, analyst, "T-S", limit=2)
    assert body["numberMatched"] == 7 and body["numberReturned"] == 2
    assert codes(body) == [("region", "T-SA", "prefix"), ("region", "T-SB", "prefix")]


def test_a_region_restricted_user_finds_only_their_regions_places(client, places,
                                                                  db_session):
    headers = scoped_headers(db_session, "viewer", ["T-SA"])
    # T-S3 ("Lower Sarpi") is T-SB's section: not found, nor is T-SB
    assert codes(found(client, headers, "sarpi")) == [
        ("region", "T-SA", "prefix"), ("section", "T-S1", "prefix"),
        ("crossing", "T-SARPI", "prefix")]
    assert found(client, headers, "T-S3")["places"] == []
    assert found(client, headers, "T-SB")["places"] == []
    assert found(client, headers, "შიდა")["numberMatched"] == 0
    other = scoped_headers(db_session, "viewer", ["T-SB"])
    assert codes(found(client, other, "sarpi")) == [("section", "T-S3", "substring")]


@pytest.mark.parametrize(("query", "field"), [
    ({}, "q"), ({"q": ""}, "q"), ({"q": "   "}, "q"), ({"q": "x" * 101}, "q"),
    ({"q": "T", "limit": "0"}, "limit"), ({"q": "T", "limit": "51"}, "limit"),
    ({"q": "T", "limit": "ten"}, "limit"),
])
def test_bad_input_is_400_naming_the_parameter(client, places, analyst, query, field):
    response = client.get(URL, query_string=query, headers=analyst)
    assert response.status_code == 400, response.get_json()
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["field"] == field and body["detail"].startswith(f"{field}: ")


def test_anonymous_is_refused(client, places):
    assert client.get(URL, query_string={"q": "T"}).status_code == 401
