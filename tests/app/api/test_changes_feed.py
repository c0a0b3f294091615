"""The change feed on a committed database: every write's events, in commit order, as
each caller may see them; cursors resume, expire (410) and are opaque."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app.auth.tokens import create_token
from app.auth.users import create_user
from app.extensions import db
from geo.events.feed import encode_cursor
from testsupport.apps import TEST_PASSWORD, committed_sample_layers
from testsupport.feeds import FeedFollower

POINT = {"type": "Point", "coordinates": [45.01, 41.32]}


@pytest.fixture(scope="module")
def feed_app(databases):
    app, ids = committed_sample_layers(databases)
    headers = {}
    with app.app_context():
        for name, role, agency in (
                ("gbp-analyst", "analyst", "GBP"), ("ppd-analyst", "analyst", "PPD"),
                ("md-viewer", "viewer", "MD"), ("admin", "admin", "GBP")):
            user = create_user(db.session, f"feed-{name}", role, TEST_PASSWORD, agency=agency)
            _, token = create_token(db.session, user, "test")
            headers[name] = {"Authorization": f"Bearer {token}"}
        db.session.commit()
        db.session.remove()
    yield app, headers
    with app.app_context():
        db.engine.dispose()


def _getter(client, headers):
    def get(path, params):
        response = client.get(path, headers=headers, query_string=params)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()
    return get


def _incident(external_id: str, **properties) -> dict:
    return {"type": "Feature", "geometry": POINT, "properties": {
        "source": "feed-test", "external_id": external_id,
        "occurred_at": "2025-06-01T10:00:00Z", "category": "illegal_crossing_between_bcp",
        "persons_count": 2, **properties}}


def test_a_create_update_and_delete_reach_the_feed_once_each_in_order(feed_app):
    app, headers = feed_app
    client = app.test_client()
    follower = FeedFollower(_getter(client, headers["md-viewer"]))
    follower.start_at_head()
    gbp = headers["gbp-analyst"]
    created = client.post("/api/v1/incidents", headers=gbp, json=_incident("F-1"))
    assert created.status_code == 201, created.get_data(as_text=True)
    feature_id = created.get_json()["id"]
    patched = client.patch(f"/api/v1/incidents/{feature_id}", headers=gbp,
                           json={"properties": {"persons_count": 5}})
    assert patched.status_code == 200, patched.get_data(as_text=True)
    assert follower.follow() == 2
    assert client.delete(f"/api/v1/incidents/{feature_id}", headers=gbp).status_code == 204
    assert follower.follow() == 1
    types = [e["type"] for e in follower.events]
    assert types == ["incident.created", "incident.updated", "incident.deleted"]
    first = follower.events[0]
    assert first["specversion"] == "1.0" and first["source"] == "urn:borderrisk"
    assert first["subject"] == f"incidents/{feature_id}"
    assert first["datacontenttype"] == "application/geo+json"
    # The created event carries the derived links the write computed in its transaction.
    assert first["data"]["properties"]["region_id"] is not None
    assert first["data"]["properties"]["persons_count"] == 2
    assert follower.events[1]["data"]["properties"]["persons_count"] == 5
    assert follower.events[2]["data"] == {"id": feature_id}
    ids = [int(e["id"]) for e in follower.events]
    assert ids == sorted(ids) and len(set(ids)) == 3


def test_the_event_data_is_the_apis_feature_for_every_layer(feed_app):
    app, headers = feed_app
    client = app.test_client()
    follower = FeedFollower(_getter(client, headers["admin"]))
    follower.start_at_head()
    admin = headers["admin"]
    created = client.post("/api/v1/incidents", headers=admin, json=_incident("F-2"))
    assert created.status_code == 201
    region = client.get("/api/v1/regions", headers=admin,
                        query_string={"limit": 1}).get_json()["features"][0]
    patched = client.patch(f"/api/v1/regions/{region['id']}", headers=admin,
                           json={"properties": {"name_en": "Renamed (synthetic)"}})
    assert patched.status_code == 200, patched.get_data(as_text=True)
    follower.follow()
    by_subject = {e["subject"]: e for e in follower.events}
    for path in (f"incidents/{created.get_json()['id']}", f"regions/{region['id']}"):
        listed = client.get(f"/api/v1/{path}", headers=admin).get_json()
        assert by_subject[path]["data"] == listed


def test_a_rolled_back_write_emits_nothing(feed_app):
    app, headers = feed_app
    client = app.test_client()
    follower = FeedFollower(_getter(client, headers["admin"]))
    follower.start_at_head()
    with app.app_context():
        db.session.execute(text("UPDATE incidents SET persons_count = persons_count + 1"))
        db.session.rollback()
        db.session.remove()
    # An import refused for one bad row writes nothing either.
    bad = client.post("/api/v1/incidents", headers=headers["admin"],
                      json={"type": "FeatureCollection", "features": [
                          _incident("F-3"), _incident("F-4", persons_count=-1)]})
    assert bad.status_code == 422
    assert follower.follow() == 0


def test_releasability_changes_are_tombstones_and_creates_for_who_loses_or_gains(feed_app):
    app, headers = feed_app
    client = app.test_client()
    md = FeedFollower(_getter(client, headers["md-viewer"]))
    ppd = FeedFollower(_getter(client, headers["ppd-analyst"]))
    md.start_at_head()
    ppd.start_at_head()
    gbp = headers["gbp-analyst"]
    created = client.post("/api/v1/incidents", headers=gbp,
                          json=_incident("F-5", releasability=["MD"]))
    assert created.status_code == 201, created.get_data(as_text=True)
    feature_id = created.get_json()["id"]
    for release in (["PPD"], "all"):
        response = client.patch(f"/api/v1/incidents/{feature_id}", headers=gbp,
                                json={"properties": {"releasability": release}})
        assert response.status_code == 200, response.get_data(as_text=True)
    md.follow()
    ppd.follow()
    assert [e["type"] for e in md.events] == ["incident.created", "incident.deleted",
                                              "incident.created"]
    assert md.events[1]["data"] == {"id": feature_id}
    assert [e["type"] for e in ppd.events] == ["incident.created", "incident.updated"]
    assert md.store["incidents"][feature_id]["properties"]["releasability"] == "all"


def test_values_withdrawn_by_the_originator_are_not_replayed_from_old_events(feed_app):
    app, headers = feed_app
    client = app.test_client()
    md = FeedFollower(_getter(client, headers["md-viewer"]))
    md.start_at_head()
    start = md.cursor
    gbp = headers["gbp-analyst"]
    created = client.post("/api/v1/incidents", headers=gbp, json=_incident(
        "F-W1", description="SYNTHETIC withdrawn detail"))
    feature_id = created.get_json()["id"]
    client.patch(f"/api/v1/incidents/{feature_id}", headers=gbp,
                 json={"properties": {"persons_count": 7}})
    # Read as it happened: MD saw the record while it was released to all.
    live = FeedFollower(_getter(client, headers["md-viewer"]), cursor=start)
    live.follow()
    assert [e["type"] for e in live.events] == ["incident.created", "incident.updated"]
    client.patch(f"/api/v1/incidents/{feature_id}", headers=gbp,
                 json={"properties": {"releasability": "agency"}})
    # Read afterwards (a partner starting late, a replay): nothing of the record's values.
    late = client.get("/api/v1/changes", headers=headers["md-viewer"],
                      query_string={"since": start}).get_data(as_text=True)
    assert "withdrawn detail" not in late and "F-W1" not in late
    md.follow()
    assert [e["type"] for e in md.events] == ["incident.deleted"] * 3
    assert all(e["data"] == {"id": feature_id} for e in md.events)
    # The originator still gets every value.
    own = FeedFollower(_getter(client, gbp), cursor=start)
    own.follow()
    assert [e["type"] for e in own.events] == ["incident.created", "incident.updated",
                                               "incident.updated"]
    assert own.events[0]["data"]["properties"]["description"] == "SYNTHETIC withdrawn detail"


def test_cursors_resume_expire_and_refuse_what_the_feed_did_not_give(feed_app):
    app, headers = feed_app
    client = app.test_client()
    admin = headers["admin"]
    follower = FeedFollower(_getter(client, admin), limit=2)
    follower.start_at_head()
    start = follower.cursor
    for number in range(5):
        assert client.post("/api/v1/incidents", headers=admin,
                           json=_incident(f"F-C{number}")).status_code == 201
    assert follower.follow() == 5  # pages of 2: 2 + 2 + 1
    again = client.get("/api/v1/changes", headers=admin,
                       query_string={"since": start, "limit": 10}).get_json()
    assert [e["id"] for e in again["events"]] == [e["id"] for e in follower.events]
    assert again["links"][0]["rel"] == "next"
    empty = client.get("/api/v1/changes", headers=admin,
                       query_string={"since": again["cursor"]}).get_json()
    assert empty["events"] == [] and empty["cursor"] == again["cursor"]
    for bad in ("nonsense", "MTIz", encode_cursor(1)[:-2] + "!!"):
        response = client.get("/api/v1/changes", headers=admin, query_string={"since": bad})
        assert response.status_code == 422 and response.get_json()["field"] == "since"
    with app.app_context():
        db.session.execute(text("UPDATE events_horizon SET purged_through = :id"),
                           {"id": int(follower.events[2]["id"])})
        db.session.commit()
        try:
            gone = client.get("/api/v1/changes", headers=admin, query_string={"since": start})
            assert gone.status_code == 410
            assert "re-sync from the list endpoints" in gone.get_json()["detail"]
            kept = client.get("/api/v1/changes", headers=admin,
                              query_string={"limit": 10}).get_json()
            assert [e["id"] for e in kept["events"]][:2] == [
                e["id"] for e in follower.events[3:5]]
        finally:
            db.session.execute(text("UPDATE events_horizon SET purged_through = 0"))
            db.session.commit()
            db.session.remove()


def test_types_and_property_filters(feed_app):
    app, headers = feed_app
    client = app.test_client()
    admin = headers["admin"]
    follower = FeedFollower(_getter(client, admin))
    follower.start_at_head()
    cursor = follower.cursor
    created = client.post("/api/v1/incidents", headers=admin,
                          json=_incident("F-T1", category="smuggling_drugs"))
    client.post("/api/v1/incidents", headers=admin, json=_incident("F-T2"))
    page = client.get("/api/v1/changes", headers=admin, query_string={
        "since": cursor, "types": "incident.created", "category": "smuggling_drugs"}).get_json()
    assert [e["data"]["properties"]["external_id"] for e in page["events"]] == ["F-T1"]
    client.delete(f"/api/v1/incidents/{created.get_json()['id']}", headers=admin)
    # Once deleted, its old events are tombstones too, and tombstones pass the filters.
    deletes = client.get("/api/v1/changes", headers=admin, query_string={
        "since": cursor, "types": "incident.*", "category": "smuggling_drugs"}).get_json()
    assert [e["type"] for e in deletes["events"]] == ["incident.deleted", "incident.deleted"]
    response = client.get("/api/v1/changes", headers=admin,
                          query_string={"types": "incident.exploded"})
    assert response.status_code == 422 and response.get_json()["field"] == "types"


def test_schemas_are_published_and_validate_the_events(feed_app):
    import jsonschema

    app, headers = feed_app
    client = app.test_client()
    admin = headers["admin"]
    follower = FeedFollower(_getter(client, admin))
    follower.start_at_head()
    created = client.post("/api/v1/incidents", headers=admin, json=_incident("F-S1"))
    client.delete(f"/api/v1/incidents/{created.get_json()['id']}", headers=admin)
    follower.follow()
    listed = client.get("/api/v1/schemas", headers=admin).get_json()["types"]
    assert {"incident.created", "alert.raised", "bulletin.published"} <= {
        t["type"] for t in listed}
    for event in follower.events:
        response = client.get(f"/api/v1/schemas/{event['type']}", headers=admin)
        assert response.status_code == 200
        assert response.mimetype == "application/schema+json"
        jsonschema.validate(event["data"], response.get_json())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"id": "x"}, client.get("/api/v1/schemas/incident.deleted",
                                                    headers=admin).get_json())
    assert client.get("/api/v1/schemas/nope", headers=admin).status_code == 404
    assert client.get("/api/v1/changes").status_code == 401


def test_the_worker_purges_events_past_retention_and_their_cursors_expire(feed_app):
    from app.worker.retention import purge_events

    app, headers = feed_app
    client = app.test_client()
    admin = headers["admin"]
    follower = FeedFollower(_getter(client, admin))
    follower.start_at_head()
    start = follower.cursor
    for number in range(3):
        assert client.post("/api/v1/incidents", headers=admin,
                           json=_incident(f"F-R{number}")).status_code == 201
    follower.follow()
    old, kept = follower.events[:2], follower.events[2:]
    with app.app_context():
        # Every event up to the second is 91 days old; retention is 90 days.
        db.session.execute(text("UPDATE events SET time = time - interval '91 days' "
                                "WHERE id <= :id"), {"id": int(old[-1]["id"])})
        db.session.commit()
        assert purge_events(app) == 3600.0
        left = db.session.execute(text("SELECT min(id) FROM events")).scalar_one()
        db.session.remove()
    assert left == int(kept[0]["id"])
    gone = client.get("/api/v1/changes", headers=admin, query_string={"since": start})
    assert gone.status_code == 410 and gone.get_json()["field"] == "since"
    oldest = client.get("/api/v1/changes", headers=admin).get_json()
    assert [e["id"] for e in oldest["events"]][:1] == [kept[0]["id"]]
    resumed = client.get("/api/v1/changes", headers=admin,
                         query_string={"since": oldest["cursor"]})
    assert resumed.status_code == 200
