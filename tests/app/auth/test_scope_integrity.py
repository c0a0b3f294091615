"""A user's region scope never widens as a side effect (issue 14, item 2).

"Every region" is a flag (``users.all_regions``), never the absence of links: a user
linked to no region sees nothing. A region that users are linked to cannot be deleted,
by the API (409 naming them) or by any statement (``ON DELETE RESTRICT``); renaming a
region (its code) keeps its users' scope and is audited for each of them; merging two
regions (an import that redraws one over both, then deleting the other) is refused
while users hold the other; ``flask demo reset`` gives users their regions back by
code. Every scope change is an audit record with before and after.
"""

import io
import json
import uuid

import flask_migrate
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from app.audit.models import AuditRecord
from app.auth.models import User
from app.auth.tokens import create_token
from app.auth.users import create_user, regions_kept_by_code
from app.extensions import db
from tests.conftest import TEST_PASSWORD, make_app


def _user(session, region_codes=(), role="viewer", **options):
    user = create_user(session, f"{role}-{uuid.uuid4().hex[:6]}", role, TEST_PASSWORD,
                       list(region_codes), **options)
    _, token = create_token(session, user, "test")
    session.flush()
    return user, {"Authorization": f"Bearer {token}"}


def _incident_ids(client, headers) -> list[int]:
    response = client.get("/api/v1/incidents", headers=headers)
    assert response.status_code == 200, response.get_json()
    return sorted(f["id"] for f in response.get_json()["features"])


def _scope_records(session, user_id: int) -> list[AuditRecord]:
    return session.scalars(select(AuditRecord).where(
        AuditRecord.entity == "user", AuditRecord.entity_id == str(user_id),
        AuditRecord.action == "update").order_by(AuditRecord.id)).all()


def test_deleting_a_region_with_linked_users_is_409_naming_them(client, db_session,
                                                                 sample_layers, supervisor):
    ka = sample_layers["regions"]["T-KA"]
    viewer, viewer_headers = _user(db_session, ["T-KA"])
    analyst, _ = _user(db_session, ["T-KA", "T-KK"], role="analyst")
    before = _incident_ids(client, viewer_headers)
    assert before == [sample_layers["incidents"]["T-2"]]

    refused = client.delete(f"/api/v1/regions/{ka}", headers=supervisor)
    assert refused.status_code == 409
    assert refused.mimetype == "application/problem+json"
    problem = refused.get_json()
    assert problem["users"] == sorted([viewer.username, analyst.username])
    assert problem["detail"] == (f"regions feature {ka} is the region of users "
                                 f"{', '.join(problem['users'])}: give them other regions "
                                 "first; nothing was deleted")
    assert db_session.scalar(text("SELECT count(*) FROM regions WHERE id = :id"),
                             {"id": ka}) == 1
    assert _incident_ids(client, viewer_headers) == before  # the scope is unchanged

    # Once nobody holds it, the region goes; users of other regions are untouched.
    db_session.execute(text("DELETE FROM user_regions WHERE region_id = :id"), {"id": ka})
    assert client.delete(f"/api/v1/regions/{ka}", headers=supervisor).status_code == 204
    # The viewer, now linked to no region, sees nothing (not everything).
    db_session.expire_all()
    assert _incident_ids(client, viewer_headers) == []


def test_no_statement_can_delete_a_region_users_hold(db_session, sample_layers):
    """The database refuses it too (ON DELETE RESTRICT): the demo reset, a script or a
    future code path cannot widen a scope by deleting its region."""
    _user(db_session, ["T-KK"])
    with pytest.raises(IntegrityError, match="user_regions"):
        with db_session.begin_nested():
            db_session.execute(text("DELETE FROM regions WHERE code = 'T-KK'"))


def test_renaming_a_region_keeps_the_scope_and_audits_it(client, db_session, sample_layers,
                                                         supervisor):
    ka = sample_layers["regions"]["T-KA"]
    viewer, viewer_headers = _user(db_session, ["T-KA"])
    everyone, _ = _user(db_session, all_regions=True)
    response = client.patch(f"/api/v1/regions/{ka}", headers=supervisor,
                            json={"properties": {"code": "T-KX"}})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["properties"]["code"] == "T-KX"
    assert _incident_ids(client, viewer_headers) == [sample_layers["incidents"]["T-2"]]
    (record,) = _scope_records(db_session, viewer.id)
    assert (record.before["regions"], record.after["regions"]) == (["T-KA"], ["T-KX"])
    assert record.detail == {"cause": f"regions feature {ka} changed"}
    assert _scope_records(db_session, everyone.id) == []  # no region of theirs changed
    # A change that is no rename (the name) records nothing.
    client.patch(f"/api/v1/regions/{ka}", headers=supervisor,
                 json={"properties": {"name_en": "Renamed (synthetic)"}})
    assert len(_scope_records(db_session, viewer.id)) == 1


def test_merging_two_regions_keeps_each_users_scope(client, db_session, sample_layers,
                                                    supervisor):
    """A merge is an import that redraws one region over both, then the deletion of
    the other: the import changes no one's scope, the deletion is refused while a
    user holds the region."""
    kk, ka = sample_layers["regions"]["T-KK"], sample_layers["regions"]["T-KA"]
    viewer, viewer_headers = _user(db_session, ["T-KA"])
    union = json.loads(db_session.scalar(text(
        "SELECT ST_AsGeoJSON(ST_Multi(ST_Union(geom))) FROM regions WHERE id IN (:a, :b)"),
        {"a": kk, "b": ka}))
    merged = {"type": "FeatureCollection", "features": [{
        "type": "Feature", "geometry": union,
        "properties": {"code": "T-KK", "name_en": "Merged (synthetic)",
                       "name_ka": "Merged (synthetic)"}}]}
    imported = client.post("/api/v1/import/regions", headers=supervisor, data={
        "file": (io.BytesIO(json.dumps(merged).encode()), "merged.geojson")})
    assert imported.status_code == 200, imported.get_json()
    assert imported.get_json()["updated"] == 1
    refused = client.delete(f"/api/v1/regions/{ka}", headers=supervisor)
    assert refused.status_code == 409 and refused.get_json()["users"] == [viewer.username]
    db_session.expire_all()
    assert [r.id for r in db_session.get(User, viewer.id).regions] == [ka]
    assert _scope_records(db_session, viewer.id) == []
    assert client.get(f"/api/v1/regions/{kk}", headers=viewer_headers).status_code == 404


def test_regions_kept_by_code_across_a_reload(db_session, sample_layers):
    """What ``flask demo reset`` does around deleting and loading the demo regions:
    a region that comes back (same code, new id) keeps its users; one that does not
    is lost from their scope (narrower, never wider), and that change is audited."""
    kk_user, _ = _user(db_session, ["T-KK"])
    both_user, _ = _user(db_session, ["T-KA", "T-KK"])
    with regions_kept_by_code(db_session, "demo reset"):
        db_session.execute(text(
            "INSERT INTO regions (code, name_en, name_ka, geom, provenance) "
            "SELECT 'T-KK-NEW', name_en, name_ka, geom, provenance FROM regions "
            "WHERE code = 'T-KK'"))
        db_session.execute(text("UPDATE incidents SET region_id = NULL"))
        db_session.execute(text("UPDATE border_segments SET region_id = NULL"))
        db_session.execute(text("UPDATE crossing_points SET region_id = NULL"))
        db_session.execute(text("DELETE FROM regions WHERE code IN ('T-KK', 'T-KA')"))
        db_session.execute(text("UPDATE regions SET code = 'T-KK' WHERE code = 'T-KK-NEW'"))
    db_session.expire_all()
    new_kk = db_session.scalar(text("SELECT id FROM regions WHERE code = 'T-KK'"))
    assert new_kk != sample_layers["regions"]["T-KK"]
    assert [r.id for r in db_session.get(User, kk_user.id).regions] == [new_kk]
    assert [r.code for r in db_session.get(User, both_user.id).regions] == ["T-KK"]
    assert not db_session.get(User, both_user.id).all_regions
    assert _scope_records(db_session, kk_user.id) == []  # same codes: same scope
    (record,) = _scope_records(db_session, both_user.id)
    assert (record.before["regions"], record.after["regions"]) == (["T-KA", "T-KK"],
                                                                   ["T-KK"])
    assert record.detail == {"cause": "demo reset"}


def test_every_scope_change_by_the_admin_is_audited(db_session, sample_layers):
    from app.auth.users import update_user

    user, _ = _user(db_session, ["T-KK"])
    update_user(db_session, user, all_regions=True)
    update_user(db_session, user, region_codes=["T-KA"])
    update_user(db_session, user, all_regions=False, region_codes=[])
    changes = [(r.before["all_regions"], r.before["regions"], r.after["all_regions"],
                r.after["regions"]) for r in _scope_records(db_session, user.id)]
    assert changes == [(False, ["T-KK"], True, []), (True, [], False, ["T-KA"]),
                       (False, ["T-KA"], False, [])]


def test_admin_page_scope_choice(client, db_session, sample_layers, make_user):
    from tests.app.admin.test_admin import post, sign_in

    admin = make_user("admin")
    assert sign_in(client, admin.username).status_code == 302
    form = {"role": "viewer", "password": "long-enough-pw"}
    neither = post(client, "/admin/users", {"username": "scope-none", **form})
    assert neither.status_code == 422
    assert "choose the user&#39;s regions or all regions" in neither.get_data(as_text=True)
    both = post(client, "/admin/users", {"username": "scope-both", **form,
                                         "regions": ["T-KK"], "all_regions": "1"})
    assert both.status_code == 422
    every = post(client, "/admin/users", {"username": "scope-all", **form,
                                          "all_regions": "1"})
    assert every.status_code == 303
    user = db_session.scalar(select(User).where(User.username == "scope-all"))
    assert user.all_regions and user.regions == []
    page = client.get(f"/admin/users/{user.id}").get_data(as_text=True)
    assert 'name="all_regions" value="1" checked' in page
    # Unticking with no region selected leaves the user with no region, not every one.
    saved = post(client, f"/admin/users/{user.id}", {"role": "viewer", "active": "active"})
    assert saved.status_code == 303
    db_session.expire_all()
    assert not user.all_regions and user.regions == []
    listed = client.get("/admin").get_data(as_text=True)
    assert '<td class="regions">No region</td>' in listed


def test_migration_keeps_current_access_and_restricts_deletes(databases):
    """Users linked to no region before the flag existed saw every region: they get the
    flag; users with regions keep exactly those. The downgrade refuses to turn a
    no-region user into an everything user."""
    scratch = make_app(databases.create())
    with scratch.app_context():
        flask_migrate.upgrade(revision="9c0d1e2f3a4b")
        db.session.execute(text(
            "INSERT INTO regions (code, name_en, name_ka, geom, provenance) VALUES "
            "('M-1', 'M', 'M', ST_GeomFromText('MULTIPOLYGON(((44 41,45 41,45 42,44 41)))', "
            "4326), 'synthetic')"))
        db.session.execute(text(
            "INSERT INTO users (username, password_hash, role, active, failed_logins) VALUES "
            "('open', 'x', 'viewer', true, 0), ('kept', 'x', 'viewer', true, 0)"))
        db.session.execute(text(
            "INSERT INTO user_regions SELECT u.id, r.id FROM users u, regions r "
            "WHERE u.username = 'kept'"))
        db.session.commit()
        flask_migrate.upgrade(revision="a2a7b180d7ef")  # the region scope flag
        flags = dict(db.session.execute(text("SELECT username, all_regions FROM users")).all())
        assert flags == {"open": True, "kept": False}
        rule = db.session.scalar(text(
            "SELECT confdeltype FROM pg_constraint WHERE conname = "
            "'user_regions_region_id_fkey'"))
        assert rule == "r"  # RESTRICT
        db.session.execute(text("INSERT INTO users (username, password_hash, role, active, "
                                "failed_logins, all_regions) VALUES "
                                "('nothing', 'x', 'viewer', true, 0, false)"))
        db.session.commit()
        with pytest.raises(Exception, match="users with no region and no all_regions flag"):
            flask_migrate.downgrade(revision="9c0d1e2f3a4b")
        db.session.rollback()
        db.session.execute(text("DELETE FROM users WHERE username = 'nothing'"))
        db.session.commit()
        flask_migrate.downgrade(revision="9c0d1e2f3a4b")
        assert db.session.scalar(text("SELECT count(*) FROM user_regions")) == 1
        db.session.remove()
        db.engine.dispose()


def test_demo_reset_gives_users_their_regions_back(db_session, analysis_srid):
    """``flask demo reset`` deletes the demo regions and loads them again (new ids): the
    database refuses that while users hold them, and the command's wrapper gives the
    users the reloaded regions of the same codes, with no scope change to audit."""
    from datetime import UTC, datetime

    from geo.demo import loader

    end = datetime(2025, 11, 28, tzinfo=UTC)
    loader.load_demo(db_session, analysis_srid, seed=3, n_incidents=1_000, end=end)
    code = db_session.scalar(text("SELECT min(code) FROM regions"))
    old_id = db_session.scalar(text("SELECT id FROM regions WHERE code = :c"), {"c": code})
    user, _ = _user(db_session, [code])
    with pytest.raises(IntegrityError, match="user_regions"):
        with db_session.begin_nested():
            loader.reset_demo(db_session, analysis_srid, seed=4, n_incidents=500, end=end)
    db_session.expire_all()
    with regions_kept_by_code(db_session, "demo reset"):
        loader.reset_demo(db_session, analysis_srid, seed=4, n_incidents=500, end=end)
    db_session.expire_all()
    (region,) = db_session.get(User, user.id).regions
    assert region.code == code and region.id != old_id
    assert _scope_records(db_session, user.id) == []
