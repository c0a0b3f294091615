"""The REST API under the four-agency fixture: lists, items, exports and writes keep to
what each agency's users may see and change (``geo.scope``, ``testsupport.agencies``)."""

import csv
import io

import pytest

from testsupport.agencies import AGENCIES, SOURCE, counts, records, sees


def _listed(client, headers, **params) -> dict[str, dict]:
    response = client.get("/api/v1/incidents", headers=headers,
                          query_string={"limit": 1000, **params})
    assert response.status_code == 200, response.get_data(as_text=True)
    return {f["properties"]["external_id"]: f for f in response.get_json()["features"]
            if f["properties"]["source"] == SOURCE}


@pytest.mark.parametrize("agency", AGENCIES)
def test_each_agency_lists_exactly_what_is_released_to_it(client, four_agencies,
                                                          agency_headers, agency):
    headers = agency_headers("viewer")[agency]
    listed = _listed(client, headers)
    expected = {r.external_id for r in records() if sees(agency, r)}
    assert set(listed) == expected
    # Every agency is missing something, and counts something it does not see.
    assert len(expected) < len(records())
    assert any(counts(agency, r) and not sees(agency, r) for r in records())
    for record in records():
        response = client.get(f"/api/v1/incidents/{four_agencies[record.external_id]}",
                              headers=headers)
        assert response.status_code == (200 if sees(agency, record) else 404)
        if response.status_code == 404:
            assert record.external_id not in response.get_data(as_text=True)
    shown = listed[f"{agency}-OWN"]["properties"]
    assert shown["agency"] == agency and shown["releasability"] == "agency"
    assert shown["aggregate"] is True and shown["reporting_unit"] in ("T-KK", "T-KA")
    assert listed[f"{agency}-LIST"]["properties"]["releasability"] == [
        AGENCIES[(AGENCIES.index(agency) + 1) % 4]]


def test_exports_and_the_agency_filter_keep_to_the_rule(client, four_agencies,
                                                        agency_headers):
    headers = agency_headers("viewer")["PPD"]
    text = client.get("/api/v1/incidents", headers=headers,
                      query_string={"f": "csv"}).get_data(as_text=True)
    rows = [r for r in csv.DictReader(io.StringIO(text)) if r["source"] == SOURCE]
    assert {r["external_id"] for r in rows} == {r.external_id for r in records()
                                                if sees("PPD", r)}
    by_id = {r["external_id"]: r for r in rows}
    assert by_id["GBP-LIST"]["releasability"] == "PPD"
    assert by_id["PPD-OWN-NC"]["aggregate"] == "false"
    only_gbp = _listed(client, headers, agency="GBP")
    assert set(only_gbp) == {"GBP-ALL", "GBP-LIST"}
    assert client.get("/api/v1/incidents", headers=headers,
                      query_string={"agency": "gbp"}).status_code == 422


def test_writes_keep_to_the_writers_agency(client, four_agencies, agency_headers,
                                           token_headers):
    ppd = agency_headers("analyst")["PPD"]
    own, other = four_agencies["PPD-ALL"], four_agencies["GBP-ALL"]
    hidden = four_agencies["GBP-OWN"]
    # Another agency's visible record: 403 naming the agency; a hidden one: 404.
    response = client.patch(f"/api/v1/incidents/{other}", headers=ppd,
                            json={"properties": {"persons_count": 9}})
    assert response.status_code == 403 and response.get_json()["field"] == "agency"
    assert client.delete(f"/api/v1/incidents/{other}", headers=ppd).status_code == 403
    assert client.patch(f"/api/v1/incidents/{hidden}", headers=ppd,
                        json={"properties": {"persons_count": 9}}).status_code == 404
    assert client.delete(f"/api/v1/incidents/{hidden}", headers=ppd).status_code == 404
    # Its own record: the releasability changes, and the agency cannot.
    response = client.patch(f"/api/v1/incidents/{own}", headers=ppd,
                            json={"properties": {"releasability": ["MD", "GBP", "MD"],
                                                 "aggregate": False}})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["properties"]["releasability"] == ["GBP", "MD"]
    response = client.patch(f"/api/v1/incidents/{own}", headers=ppd,
                            json={"properties": {"agency": "GBP"}})
    assert response.status_code == 403 and response.get_json()["field"] == "agency"
    # A key that a hidden record holds: 409 without its id.
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [45.0, 41.4]},
               "properties": {"source": SOURCE, "external_id": "GBP-OWN",
                              "occurred_at": "2026-10-20T10:00:00Z",
                              "category": "illegal_stay"}}
    response = client.post("/api/v1/incidents", headers=ppd, json=feature)
    assert response.status_code == 409
    assert str(hidden) not in response.get_data(as_text=True)
    # A new record is the writer's agency's, with its agency's defaults.
    feature["properties"]["external_id"] = "PPD-NEW"
    response = client.post("/api/v1/incidents", headers=ppd, json=feature)
    assert response.status_code == 201, response.get_data(as_text=True)
    created = response.get_json()["properties"]
    new_id = response.get_json()["id"]
    assert (created["agency"], created["releasability"], created["aggregate"]) == (
        "PPD", "all", True)
    # An unknown agency in a releasability names the field.
    feature["properties"].update(external_id="PPD-NEW-2", releasability=["XX"])
    response = client.post("/api/v1/incidents", headers=ppd, json=feature)
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "releasability"
    # An admin of another agency writes for any agency but cannot re-release it.
    admin = token_headers("admin", "IAD")
    feature["properties"].update(external_id="MD-LEGACY", releasability="agency",
                                 agency="MD")
    assert client.post("/api/v1/incidents", headers=admin, json=feature).status_code == 201
    # (the record released to GBP and MD is not found by an IAD admin)
    assert client.patch(f"/api/v1/incidents/{own}", headers=admin,
                        json={"properties": {"persons_count": 1}}).status_code == 404
    response = client.patch(f"/api/v1/incidents/{new_id}", headers=admin,
                            json={"properties": {"releasability": "agency"}})
    assert response.status_code == 403
    assert response.get_json()["field"] == "releasability"


def test_the_change_history_keeps_to_the_rule(client, four_agencies, token_headers):
    ppd = token_headers("analyst", "PPD")
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [45.0, 41.4]},
               "properties": {"source": SOURCE, "external_id": "PPD-SECRET",
                              "occurred_at": "2026-10-20T10:00:00Z", "category": "other",
                              "releasability": "agency",
                              "description": "SYNTHETIC secret history"}}
    response = client.post("/api/v1/incidents", headers=ppd, json=feature)
    assert response.status_code == 201
    secret = response.get_json()["id"]
    assert client.patch(f"/api/v1/incidents/{secret}", headers=ppd,
                        json={"properties": {"persons_count": 4}}).status_code == 200

    def history(agency):
        response = client.get("/api/v1/audit", headers=token_headers("admin", agency),
                              query_string={"entity": "incidents",
                                            "entity_id": str(secret)})
        assert response.status_code == 200
        return response.get_json()

    assert [r["action"] for r in history("PPD")["records"]] == ["update", "create"]
    hidden = history("GBP")
    assert hidden["records"] == [] and hidden["numberMatched"] == 0
    # The whole trail of another agency's admin holds no trace of it either.
    response = client.get("/api/v1/audit", headers=token_headers("admin", "MD"),
                          query_string={"f": "csv"})
    assert "secret history" not in response.get_data(as_text=True)


def test_reporting_unit_is_a_region_code_and_a_restricted_writers_own(
        client, db_session, four_agencies, make_user):
    from app.auth.tokens import create_token
    from app.auth.users import create_user

    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [45.0, 41.4]},
               "properties": {"source": SOURCE, "external_id": "RU-1", "category": "other",
                              "occurred_at": "2026-10-20T10:00:00Z",
                              "reporting_unit": "T-KA"}}
    unrestricted = client.post("/api/v1/incidents", json=feature,
                               headers=_bearer(db_session, make_user("analyst")))
    assert unrestricted.status_code == 201
    assert unrestricted.get_json()["properties"]["reporting_unit"] == "T-KA"
    feature["properties"].update(external_id="RU-2", reporting_unit="NOWHERE")
    response = client.post("/api/v1/incidents", json=feature,
                           headers=_bearer(db_session, make_user("analyst")))
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "reporting_unit"
    kk = create_user(db_session, "kk-writer", "analyst", "long-enough-pw", ["T-KK"],
                     all_regions=False, agency="MD")
    _, token = create_token(db_session, kk, "t")
    for unit in ("T-KA", "NOWHERE"):  # the same refusal, whether the region exists or not
        feature["properties"].update(external_id="RU-3", reporting_unit=unit)
        response = client.post("/api/v1/incidents", json=feature,
                               headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 403, response.get_json()
        assert response.get_json()["field"] == "reporting_unit"
        assert "not one of your regions (T-KK)" in response.get_json()["detail"]


def _bearer(db_session, user) -> dict:
    from app.auth.tokens import create_token

    _, token = create_token(db_session, user, "t")
    return {"Authorization": f"Bearer {token}"}
