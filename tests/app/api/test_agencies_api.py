"""``/api/v1/agencies``: every user lists the agencies; admins add and change them, and
an agency's defaults are what its new incidents get (issue 16)."""

from sqlalchemy import text


def test_every_user_lists_the_four_agencies(client, token_headers):
    body = client.get("/api/v1/agencies", headers=token_headers("viewer", "MD")).get_json()
    by_code = {a["code"]: a for a in body["agencies"]}
    assert list(by_code) == ["GBP", "IAD", "MD", "PPD"]
    assert by_code["PPD"]["name_en"] == "Patrol Police Department"
    assert by_code["MD"]["name_ka"] == "მიგრაციის დეპარტამენტი"
    assert all(a["active"] and a["default_releasability"] == "all" for a in by_code.values())


def test_admins_add_and_change_agencies_and_the_defaults_apply(client, db_session,
                                                               token_headers, sample_layers):
    admin = token_headers("admin")
    analyst = token_headers("analyst")
    new = {"code": "RS", "name_en": "Revenue Service", "name_ka": "შემოსავლების სამსახური",
           "default_releasability": "agency", "default_aggregate": False}
    assert client.post("/api/v1/agencies", headers=analyst, json=new).status_code == 403
    response = client.post("/api/v1/agencies", headers=admin, json=new)
    assert response.status_code == 201, response.get_json()
    assert response.headers["Location"].endswith("/api/v1/agencies/RS")
    assert client.post("/api/v1/agencies", headers=admin, json=new).status_code == 409
    for body, field in (({**new, "code": "r"}, "code"),
                        ({**new, "code": "RT", "default_releasability": ["NOPE"]},
                         "default_releasability"),
                        ({**new, "code": "RT", "name_en": ""}, "name_en"),
                        ({**new, "code": "RT", "active": "yes"}, "active"),
                        ({**new, "code": "RT", "colour": "red"}, "colour")):
        response = client.post("/api/v1/agencies", headers=admin, json=body)
        assert response.status_code == 422, body
        assert response.get_json()["field"] == field, response.get_json()
    response = client.patch("/api/v1/agencies/PPD", headers=admin,
                            json={"default_releasability": ["MD"], "default_aggregate": False})
    assert response.status_code == 200
    assert response.get_json()["default_releasability"] == ["MD"]
    assert client.patch("/api/v1/agencies/XX", headers=admin,
                        json={"active": False}).status_code == 404
    assert client.patch("/api/v1/agencies/PPD", headers=admin,
                        json={"code": "PP"}).status_code == 422
    # A new incident of PPD gets PPD's defaults; the changes are audited.
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [45.0, 41.4]},
               "properties": {"source": "t", "external_id": "D-1", "category": "other",
                              "occurred_at": "2026-10-20T10:00:00Z"}}
    created = client.post("/api/v1/incidents", headers=token_headers("analyst", "PPD"),
                          json=feature)
    assert created.status_code == 201, created.get_json()
    assert (created.get_json()["properties"]["releasability"],
            created.get_json()["properties"]["aggregate"]) == (["MD"], False)
    actions = db_session.execute(text(
        "SELECT action, entity_id FROM audit_log WHERE entity = 'agency' ORDER BY id")).all()
    assert actions == [("create", "RS"), ("update", "PPD")]
