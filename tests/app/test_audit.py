"""The audit trail: every write appends who, when, from where, what, before and after;
the application cannot change it; admins read, filter and export it."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import UTC, datetime, timedelta

import flask_migrate
import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app import audit, db_roles
from app import cli as app_cli
from app.extensions import db
from tests.app.api.test_api_write import incident
from tests.app.api.test_import_export import SMALL_CSV, big_csv, upload
from tests.conftest import committed_sample_layers, make_app, owner_connection, role_headers

OCTOBER = "2026-10-01T00:00:00Z/2026-10-31T23:59:59Z"


# What this file's writes touch (making users and tokens for a test is recorded too).
ENTITIES = ("regions", "border_segments", "crossing_points", "incidents", "assessment",
            "section")


def records(db_session, where: str = "true", **params) -> list:
    """Records of data writes (not of the users and tokens the fixtures make), oldest
    first."""
    return db_session.execute(text(
        f"SELECT * FROM audit_log WHERE entity = ANY(:entities) AND {where} ORDER BY id"),
        {"entities": list(ENTITIES), **params}).mappings().all()


def user_headers(db_session, make_user, role: str) -> tuple[dict, object]:
    from app.auth.tokens import create_token

    user = make_user(role)
    _, token = create_token(db_session, user, "test")
    return {"Authorization": f"Bearer {token}"}, user


@pytest.fixture
def analyst(db_session, make_user):
    return user_headers(db_session, make_user, "analyst")


@pytest.fixture
def statements(db_session):
    """The SQL statements the test's connection runs (a list that fills as they run)."""
    seen: list[str] = []
    connection = db_session.connection()

    def remember(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(connection, "before_cursor_execute", remember)
    yield seen
    event.remove(connection, "before_cursor_execute", remember)


# --- feature writes ----------------------------------------------------------------------

def test_a_created_collection_has_one_record_per_feature_from_one_statement(
        client, sample_layers, analyst, db_session, statements):
    headers, user = analyst
    body = {"type": "FeatureCollection",
            "features": [incident(external_id=f"AU-{i}", persons_count=i) for i in (1, 2, 3)]}
    response = client.post("/api/v1/incidents", json=body, headers=headers)
    assert response.status_code == 201
    created = {f["id"]: f for f in response.get_json()["features"]}

    rows = records(db_session, "action = 'create' AND entity = 'incidents'")
    assert sorted(int(r.entity_id) for r in rows) == sorted(created)
    for row in rows:
        served = created[int(row.entity_id)]
        assert row.before is None
        assert row.after["properties"] == served["properties"]
        assert row.after["geometry"] == {"type": "Point", "coordinates": [45.01, 41.32]}
        assert (row.user_id, row.username) == (user.id, user.username)
        assert (row.ip, row.method, row.path) == ("127.0.0.1", "POST", "/api/v1/incidents")
    # Set-based: one INSERT for the three records, not one per feature.
    assert sum(s.lstrip().startswith("INSERT INTO audit_log") for s in statements) == 1
    # The database's clock, inside the request's transaction.
    now = db_session.execute(text("SELECT clock_timestamp()")).scalar_one()
    assert all(now - timedelta(minutes=1) < r.at <= now for r in rows)


def test_an_update_records_the_values_before_and_after(client, sample_layers, analyst,
                                                       db_session):
    headers, user = analyst
    incident_id = sample_layers["incidents"]["T-2"]
    url = f"/api/v1/incidents/{incident_id}"
    old = client.get(url, headers=headers).get_json()
    patch = {"properties": {"persons_count": 17},
             "geometry": {"type": "Point", "coordinates": [45.02, 41.33]}}
    response = client.patch(url, json=patch, headers=headers)
    assert response.status_code == 200
    new = response.get_json()

    [row] = records(db_session, "action = 'update'")
    assert (row.entity, row.entity_id, row.username) == ("incidents", str(incident_id),
                                                         user.username)
    assert row.before["properties"] == old["properties"]
    assert row.before["geometry"] == old["geometry"]
    assert row.after["properties"]["persons_count"] == 17
    assert row.after["properties"] == new["properties"]
    assert row.after["geometry"]["coordinates"] == [45.02, 41.33]
    assert row.method == "PATCH" and row.path == url

    # A dry run and a PATCH that changes nothing write nothing, and record nothing.
    assert client.patch(url, json={"properties": {"persons_count": 3}}, headers=headers,
                        query_string={"dry_run": "true"}).status_code == 200
    assert client.patch(url, json={"properties": {"persons_count": 17}},
                        headers=headers).status_code == 200
    assert len(records(db_session, "action = 'update'")) == 1


def test_a_delete_records_the_feature_it_removed(client, sample_layers, token_headers,
                                                 db_session):
    supervisor = token_headers("supervisor")
    crossing_id = sample_layers["crossing_points"]["T-BCP-2"]
    url = f"/api/v1/crossings/{crossing_id}"
    old = client.get(url, headers=supervisor).get_json()
    assert client.delete(url, headers=supervisor).status_code == 204
    [row] = records(db_session, "action = 'delete'")
    assert (row.entity, row.entity_id, row.after) == (
        "crossing_points", str(crossing_id), None)
    assert row.before["properties"] == old["properties"]
    assert row.before["geometry"] == old["geometry"]
    assert row.before["properties"]["code"] == "T-BCP-2"
    assert row.method == "DELETE"
    # Deleting what is not there records nothing.
    assert client.delete(url, headers=supervisor).status_code == 404
    assert len(records(db_session, "action = 'delete'")) == 1


def test_a_refused_write_leaves_no_record(client, sample_layers, analyst, db_session):
    headers, _ = analyst
    bad = {"type": "FeatureCollection",
           "features": [incident(external_id="AU-OK"), incident(external_id="AU-BAD",
                                                                category="jaywalking")]}
    assert client.post("/api/v1/incidents", json=bad, headers=headers).status_code == 422
    taken = incident(source="test", external_id="T-2")  # a sample incident's key
    conflict = client.post("/api/v1/incidents", json=taken, headers=headers)
    assert conflict.status_code == 409, conflict.get_json()
    incident_id = sample_layers["incidents"]["T-2"]
    bad_patch = client.patch(f"/api/v1/incidents/{incident_id}",
                             json={"properties": {"persons_count": -4}}, headers=headers)
    assert bad_patch.status_code == 422
    assert records(db_session) == []
    assert db_session.execute(text(
        "SELECT count(*) FROM incidents WHERE external_id LIKE 'AU-%'")).scalar_one() == 0


# --- imports, risk -----------------------------------------------------------------------

def test_an_import_has_one_record_with_its_file_hash_and_counts(client, sample_layers,
                                                                 analyst, db_session):
    headers, user = analyst
    assert upload(client, headers, SMALL_CSV, dry_run="true").status_code == 200
    assert records(db_session) == []  # a dry run writes nothing

    assert upload(client, headers, SMALL_CSV, source="au-test").status_code == 200
    [row] = records(db_session)
    assert (row.action, row.entity, row.entity_id, row.username) == (
        "import", "incidents", None, user.username)
    assert row.detail == {
        "file": "incidents_small.csv",
        "sha256": hashlib.sha256(SMALL_CSV.read_bytes()).hexdigest(),
        "layer": "incidents", "source": "au-test", "format": "csv", "rows": 3,
        "inserted": 3, "updated": 0, "unchanged": 0, "rejected": 0, "dry_run": False}
    assert row.path == "/api/v1/import/incidents"

    # The same file again changes nothing: no record.
    assert upload(client, headers, SMALL_CSV, source="au-test").get_json()["unchanged"] == 3
    assert len(records(db_session)) == 1


def test_a_failed_import_leaves_no_record(client, sample_layers, analyst, db_session,
                                          tmp_path):
    headers, _ = analyst
    bad = big_csv(tmp_path / "bad.csv", 5, bad_lines=(3,))
    assert upload(client, headers, bad).status_code == 422
    assert records(db_session) == []


def test_a_cli_import_is_recorded_as_the_os_user(app, db_session, sample_layers, tmp_path,
                                                 monkeypatch):
    monkeypatch.setattr(app_cli, "DEMO_CREDENTIALS_FILE", tmp_path / "unused")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["import", str(SMALL_CSV), "--layer", "incidents",
                                 "--source", "cli-audit"])
    assert result.exit_code == 0, result.output
    [row] = records(db_session)
    assert row.username.startswith("cli:") and row.user_id is None
    assert row.ip is None and row.method is None
    assert row.detail["file"] == str(SMALL_CSV)
    assert row.detail["sha256"] == hashlib.sha256(SMALL_CSV.read_bytes()).hexdigest()
    assert (row.detail["inserted"], row.detail["source"]) == (3, "cli-audit")


def test_level_decisions_record_the_level_before_and_after(client, sample_layers,
                                                           token_headers, db_session):
    supervisor = token_headers("supervisor")
    section_id = sample_layers["border_segments"]["T-AZ-001"]
    url = f"/api/v1/risk/segments/{section_id}/level"
    set_critical = {"level": "critical", "justification": "Flooding washed out the fence."}
    lift = {"level": None, "justification": "Fence repaired, patrols back to normal."}
    assert client.patch(url, json=set_critical, headers=supervisor).status_code == 200
    assert client.patch(url, json={"level": "critical", "justification": "short"},
                        headers=supervisor).status_code == 422
    assert client.patch(url, json=lift, headers=supervisor).status_code == 200

    first, second = records(db_session, "action = 'level'")
    assert (first.entity, first.entity_id) == ("section", str(section_id))
    assert first.before == {"level": None}
    assert first.after == {"level": "critical", "justification": set_critical["justification"]}
    assert second.before["level"] == "critical"
    assert second.before["justification"] == set_critical["justification"]
    assert second.after == {"level": None, "justification": lift["justification"]}


def test_an_assessment_is_recorded(client, sample_layers, analyst, db_session):
    headers, user = analyst
    response = client.post("/api/v1/risk/assessments", headers=headers,
                           json={"region": "T-KK", "datetime": OCTOBER})
    assert response.status_code == 201, response.get_json()
    stored = response.get_json()
    [row] = records(db_session)
    assert (row.action, row.entity, row.entity_id, row.user_id) == (
        "create", "assessment", str(stored["id"]), user.id)
    assert row.after["region"] == "T-KK"
    assert row.after["config_sha256"] == stored["config_sha256"]
    assert row.after["sections"] == len(stored["sections"])


def test_secrets_never_enter_the_trail(app, db_session):
    with app.test_request_context("/"):
        row = audit.record(db_session, "user", "user", 7,
                           before={"role": "viewer", "password_hash": "scrypt:abc"},
                           after={"role": "analyst", "tokens": [{"token": "s3cret"}]},
                           detail={"Password": "hunter22"})
    stored = db_session.get(audit.AuditRecord, row.id)
    db_session.refresh(stored)
    assert stored.before == {"role": "viewer", "password_hash": "[redacted]"}
    assert stored.after == {"role": "analyst", "tokens": [{"token": "[redacted]"}]}
    assert stored.detail == {"Password": "[redacted]"}


# --- append-only -------------------------------------------------------------------------

REFUSED = {
    "update": "UPDATE audit_log SET action = 'forged'",
    "delete": "DELETE FROM audit_log",
    "truncate": "TRUNCATE audit_log",
}


def assert_refused(session, statement: str, message: str) -> None:
    savepoint = session.begin_nested()
    with pytest.raises(DBAPIError, match=message):
        session.execute(text(statement))
    savepoint.rollback()


# What only a table's owner may do: each refused to the app's role.
OWNER_ONLY = {
    "alter": ("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change",
              "must be owner of table audit_log"),
    "drop": ("DROP TABLE audit_log", "must be owner of table audit_log"),
    "drop trigger": ("DROP TRIGGER audit_log_chain ON audit_log",
                     "must be owner of (table|relation) audit_log"),
    "replace function": ("CREATE OR REPLACE FUNCTION audit_log_digest(text, text) RETURNS "
                         "char(64) LANGUAGE sql AS $$ SELECT repeat('0', 64) $$",
                         "permission denied for schema public|must be owner of function"),
}


def assert_owner_refused_by_the_triggers(owner) -> None:
    """The owner's connection (a session in a transaction the caller rolls back), once
    it grants itself the privileges, is refused by the triggers."""
    owner.execute(text("GRANT UPDATE, DELETE, TRUNCATE ON audit_log TO CURRENT_USER"))
    owner.execute(text("INSERT INTO audit_log (action, entity) VALUES ('test', 'test')"))
    for statement in REFUSED.values():
        assert_refused(owner, statement, "audit_log is append-only")


def assert_app_role_refused(session, owner_role: str) -> None:
    """The application's own connection can insert, but not change, delete or truncate,
    nor grant itself more, alter the table or become the owner."""
    session.execute(text("INSERT INTO audit_log (action, entity) VALUES ('test', 'test')"))
    for statement in REFUSED.values():
        assert_refused(session, statement, "permission denied")
    for statement, message in OWNER_ONLY.values():
        assert_refused(session, statement, message)
    assert_refused(session, f'SET ROLE "{owner_role}"', "permission denied to set role")
    savepoint = session.begin_nested()
    session.execute(text("GRANT UPDATE, DELETE, TRUNCATE ON audit_log TO CURRENT_USER"))
    granted = session.execute(text(
        "SELECT has_table_privilege('audit_log', 'UPDATE') "
        "OR has_table_privilege('audit_log', 'DELETE') "
        "OR has_table_privilege('audit_log', 'TRUNCATE')")).scalar_one()
    savepoint.rollback()
    assert granted is False  # a grant without the grant option grants nothing
    assert session.execute(text(
        "SELECT count(*) FROM audit_log WHERE action = 'forged'")).scalar_one() == 0


def test_the_application_cannot_change_the_trail(app, db_session):
    assert_app_role_refused(db_session, make_url(app.config["DATABASE_OWNER_URI"]).username)


def test_the_triggers_refuse_even_the_owner(owner_session):
    assert_owner_refused_by_the_triggers(owner_session)


def test_the_trail_stays_append_only_after_downgrade_and_upgrade(databases):
    scratch = make_app(databases.create())
    with scratch.app_context():
        flask_migrate.upgrade()
        flask_migrate.downgrade(revision="8b9c0d1e2f3a")  # before the audit trail
        assert "audit_log" not in db.inspect(db.engine).get_table_names()
        flask_migrate.upgrade()
        with owner_connection(scratch) as owner:
            assert_owner_refused_by_the_triggers(Session(bind=owner))
        with db.engine.connect() as connection:
            session = Session(bind=connection)
            assert_app_role_refused(
                session, make_url(scratch.config["DATABASE_OWNER_URI"]).username)
            session.rollback()
            session.close()
        db.engine.dispose()


# --- reading and exporting -----------------------------------------------------------------

@pytest.fixture
def trail(app, db_session):
    """Five records by two (made-up) users, oldest first, each a little later."""
    made = []
    with app.test_request_context("/"):
        for username, action, entity, entity_id in [
                ("au-alice", "create", "incidents", "1"), ("au-bob", "update", "incidents", "1"),
                ("au-alice", "delete", "crossings", "2"), ("au-alice", "import", "incidents", None),
                ("au-bob", "level", "section", "3")]:
            made.append(audit.record(db_session, action, entity, entity_id,
                                     after={"n": len(made)},
                                     actor={"user_id": None, "username": username}))
    return made


def get_audit(client, headers, **query):
    return client.get("/api/v1/audit", headers=headers, query_string=query)


def test_only_admins_read_the_trail(client, token_headers, trail):
    assert client.get("/api/v1/audit").status_code == 401
    for role in ("viewer", "analyst", "supervisor"):
        assert get_audit(client, token_headers(role)).status_code == 403, role
        assert get_audit(client, token_headers(role), f="csv").status_code == 403, role
    assert get_audit(client, token_headers("admin")).status_code == 200


def test_filters_paging_and_newest_first(client, token_headers, trail):
    admin = token_headers("admin")

    def ids(**query):
        body = get_audit(client, admin, **query).get_json()
        return [r["id"] for r in body["records"]], body["numberMatched"]

    alice = [r.id for r in trail if r.username == "au-alice"]
    assert ids(user="au-alice") == (alice[::-1], 3)
    assert ids(user="au-alice", action="delete") == ([trail[2].id], 1)
    assert ids(user="au-bob", entity="incidents") == ([trail[1].id], 1)
    assert ids(entity="incidents", entity_id="1", user="au-bob") == ([trail[1].id], 1)
    # A layer's records are found by its name and by its older name alike (the trail's
    # delete was written as "crossings", before the layer was named crossing_points).
    assert ids(user="au-alice", entity="crossing_points") == ([trail[2].id], 1)
    assert ids(user="au-alice", entity="crossings") == ([trail[2].id], 1)
    assert ids(user="nobody-at-all") == ([], 0)

    # datetime: the records' own times bound an interval.
    at = [r.at for r in trail]
    window = f"{at[1].isoformat()}/{at[3].isoformat()}"
    matched = ids(datetime=window, limit=100)[0]
    assert [i for i in matched if i in {r.id for r in trail}] == [
        trail[3].id, trail[2].id, trail[1].id]
    future = (datetime.now(UTC) + timedelta(days=365)).isoformat()
    assert ids(datetime=f"{future}/..", user="au-alice") == ([], 0)

    page = get_audit(client, admin, user="au-alice", limit=2).get_json()
    assert [r["id"] for r in page["records"]] == alice[::-1][:2]
    assert page["numberReturned"] == 2 and page["numberMatched"] == 3
    [link] = page["links"]
    assert link["rel"] == "next" and "offset=2" in link["href"]
    last = client.get(link["href"], headers=admin).get_json()
    assert [r["id"] for r in last["records"]] == [alice[0]] and last["links"] == []

    record = page["records"][0]
    assert record["username"] == "au-alice" and record["action"] == "import"
    assert datetime.fromisoformat(record["at"]) == trail[3].at


@pytest.mark.parametrize(("query", "field"), [
    ({"limit": "0"}, "limit"), ({"offset": "-1"}, "offset"), ({"datetime": "yesterday"},
                                                                "datetime"),
    ({"f": "xlsx"}, "f"), ({"user": "x" * 65}, "user"), ({"action": "a" * 33}, "action"),
])
def test_bad_parameters_are_named(client, token_headers, query, field):
    response = get_audit(client, token_headers("admin"), **query)
    assert response.status_code == 422
    assert response.get_json()["field"] == field


def test_csv_export_holds_the_whole_selection_and_neutralises_formulas(
        app, client, token_headers, db_session, trail):
    with app.test_request_context("/"):
        audit.record(db_session, "=HYPERLINK(\"http://evil\")", "incidents", "@SUM(A1)",
                     detail={"file": "-2+3.csv"},
                     actor={"username": "au-alice", "ip": "+1", "path": "-x"})
    response = get_audit(client, token_headers("admin"), f="csv", user="au-alice")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="audit.csv"'
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 4  # no page limit: every matching record
    evil = rows[0]
    assert evil["action"] == "'=HYPERLINK(\"http://evil\")"
    assert evil["entity_id"] == "'@SUM(A1)"
    assert evil["ip"] == "'+1" and evil["path"] == "'-x"
    assert json.loads(evil["detail"]) == {"file": "-2+3.csv"}  # JSON starts with {
    assert [r["action"] for r in rows[1:]] == ["import", "delete", "create"]
    assert json.loads(rows[3]["after"]) == {"n": 0}
    assert datetime.fromisoformat(rows[3]["at"]) == trail[0].at
    assert list(rows[0]) == list(audit.sql.COLUMNS)

    limited = get_audit(client, token_headers("admin"), f="csv", user="au-alice", limit=1)
    assert len(list(csv.DictReader(io.StringIO(limited.get_data(as_text=True))))) == 1


def test_query_function_for_the_admin_page(db_session, trail):
    rows, matched = audit.query(db_session, audit.AuditQuery(user="au-bob", limit=1))
    assert matched == 2
    assert [r["id"] for r in rows] == [trail[4].id]
    assert rows[0]["after"] == {"n": 4}


def test_answers_conform_to_the_openapi_document(app, client, token_headers, sample_layers,
                                                 trail):
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.generation.modes import GenerationMode
    from schemathesis.specs.openapi.checks import (
        response_schema_conformance,
        status_code_conformance,
    )

    from app.api.openapi import openapi_document

    admin = token_headers("admin")
    # A real feature record too (before and after are GeoJSON Features).
    crossing_id = sample_layers["crossing_points"]["T-BCP-1"]
    assert client.delete(f"/api/v1/crossings/{crossing_id}",
                         headers=token_headers("supervisor")).status_code == 204
    with app.test_request_context():
        schema = schemathesis.openapi.from_dict(openapi_document())
    operation = schema["/api/v1/audit"]["GET"]
    for query, status in [({"limit": 2}, 200), ({"entity": "crossings"}, 200),
                          ({"f": "csv"}, 200), ({"limit": 0}, 422)]:
        response = client.get("/api/v1/audit", query_string=query, headers=admin)
        assert response.status_code == status
        operation.validate_response(response)
    assert_refused_answer = client.get("/api/v1/audit", headers=token_headers("analyst"))
    operation.validate_response(assert_refused_answer)

    # Generated requests, as an admin: only documented answers, never a 5xx.
    served = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, headers=admin)
    strategy = served["/api/v1/audit"]["GET"].as_strategy(
        generation_mode=GenerationMode.POSITIVE)
    checks = [not_a_server_error, response_schema_conformance, status_code_conformance]
    statuses = []

    @settings(max_examples=25, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def call(case):
        statuses.append(case.call_and_validate(headers=admin, checks=checks).status_code)

    call()
    assert 200 in statuses


def as_owner(app, statement: str, params=None) -> None:
    """Run ``statement`` as the schema's owner, granting itself the privileges and with
    the no-change trigger off, committed:
    what an administrator, never the app's role, could do to the trail."""
    with db_roles.owner_connection(app.config) as connection:
        connection.execute(text("GRANT UPDATE, DELETE ON audit_log TO CURRENT_USER"))
        connection.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change"))
        connection.execute(text(statement), params or {})
        connection.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_change"))


def test_the_hash_chain_links_every_record_and_verify_finds_the_first_broken_one(databases):
    """Each record holds the SHA-256 of the previous one (set-based inserts too);
    `flask audit verify` names the first altered record, and the one after a deleted
    record (issue 14 item 3). The tampering runs as the table's owner, on committed
    records."""
    scratch, _ = committed_sample_layers(databases)
    headers = role_headers(scratch, "chain", roles=("analyst",))["analyst"]
    body = {"type": "FeatureCollection",
            "features": [incident(external_id=f"HC-{i}") for i in range(5)]}
    client = scratch.test_client()
    assert client.post("/api/v1/incidents", json=body, headers=headers).status_code == 201
    with scratch.app_context():
        audit.record(db.session, "password", "user", 1)
        db.session.commit()
        chain = db.session.execute(text(
            "SELECT id, prev_sha256, sha256, detail::text AS detail FROM audit_log "
            "ORDER BY id")).all()
        db.session.remove()
    assert len(chain) >= 6
    assert all(row.prev_sha256 == before.sha256 for before, row in zip(chain, chain[1:],
                                                                         strict=False))
    assert len({row.sha256 for row in chain}) == len(chain)
    runner = scratch.test_cli_runner()
    intact = runner.invoke(args=["audit", "verify"])
    assert intact.exit_code == 0 and f"{len(chain)} records chained" in intact.output

    altered, deleted = chain[2].id, chain[4].id
    as_owner(scratch, "UPDATE audit_log SET detail = '{\"forged\": true}' WHERE id = :id",
             {"id": altered})
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"audit record {altered} breaks the chain: its content" in result.output

    as_owner(scratch, "UPDATE audit_log SET detail = CAST(:detail AS jsonb) WHERE id = :id",
             {"detail": chain[2].detail, "id": altered})
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0  # restored exactly
    as_owner(scratch, "DELETE FROM audit_log WHERE id > :a AND id <= :d",
             {"a": altered, "d": deleted})
    after_gap = next(row.id for row in chain if row.id > deleted)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"audit record {after_gap} breaks the chain: its link" in result.output
    with scratch.app_context():
        db.engine.dispose()
