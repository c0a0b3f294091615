"""The flask commands: users, tokens, demo."""

import pytest
from sqlalchemy import select, text

from app import cli as app_cli
from app.auth.models import ApiToken, User


@pytest.fixture
def runner(app, db_session, tmp_path, monkeypatch):
    # Never touch the real instance/ directory from tests.
    monkeypatch.setattr(app_cli, "DEMO_CREDENTIALS_FILE", tmp_path / "demo-password")
    return app.test_cli_runner()


def test_users_create_and_list(runner, db_session):
    result = runner.invoke(args=["users", "create", "carol", "--role", "supervisor",
                                 "--password", "long-enough-pw", "--all-regions",
                                 "--agency", "PPD"])
    assert result.exit_code == 0, result.output
    user = db_session.scalar(select(User).where(User.username == "carol"))
    assert user.role == "supervisor" and user.password_hash.startswith("$argon2id$")
    assert user.all_regions and user.regions == [] and user.agency == "PPD"
    listing = runner.invoke(args=["users", "list"])
    assert "carol\tsupervisor\tPPD\tactive\tall regions" in listing.output
    refused = runner.invoke(args=["users", "create", "dan", "--role", "viewer", "--password",
                                  "long-enough-pw", "--all-regions", "--agency", "XYZ"])
    assert refused.exit_code != 0 and "unknown code 'XYZ'" in refused.output


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--role", "analyst", "--password", "short"], "at least 8 characters"),
     (["--role", "king", "--password", "long-enough-pw"], "Invalid value for '--role'")],
)
def test_users_create_refuses_bad_input(runner, args, message):
    result = runner.invoke(args=["users", "create", "dave", *args])
    assert result.exit_code != 0
    assert message in result.output


def test_users_create_refuses_a_taken_name(runner, make_user):
    user = make_user("viewer")
    result = runner.invoke(args=["users", "create", user.username, "--role", "viewer",
                                 "--password", "long-enough-pw"])
    assert result.exit_code == 1 and "is taken" in result.output


def test_tokens_create_prints_a_working_token_last(runner, client, make_user, db_session):
    user = make_user("viewer")
    result = runner.invoke(args=["tokens", "create", user.username, "--label", "qgis",
                                 "--expires-days", "30"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("br_") and len(token) > 40
    row = db_session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    assert row.name == "qgis" and row.expires_at is not None
    ok = client.get("/api/v1/regions", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200


def test_tokens_create_for_unknown_user_fails(runner):
    result = runner.invoke(args=["tokens", "create", "ghost"])
    assert result.exit_code == 1 and "no user named 'ghost'" in result.output


DEMO_AGENCIES = {"demo": ("GBP", "Border Police"),
                 "demo-gbp": ("GBP", "Border Police"),
                 "demo-ppd": ("PPD", "Patrol Police Department"),
                 "demo-md": ("MD", "Migration Department"),
                 "demo-iad": ("IAD", "Information-Analytical Department")}


def demo_login_lines(password: str) -> list[str]:
    return [f"demo login: user {name} ({agency_name} analyst), password {password}"
            for name, (_, agency_name) in DEMO_AGENCIES.items()]


@pytest.mark.slow
def test_demo_load_is_idempotent_and_creates_demo_and_a_demo_user_per_agency(runner, db_session,
                                                                     tmp_path):
    first = runner.invoke(args=["demo", "load", "--if-empty", "--assess"])  # as make run
    assert first.exit_code == 0, first.output
    assert "demo data loaded: 12 regions" in first.output
    assessed = db_session.execute(text(
        "SELECT count(*) FROM risk_assessments "
        "WHERE inputs->>'provenance' LIKE 'synthetic demo%'")).scalar_one()
    with_sections = db_session.execute(text(
        "SELECT count(DISTINCT region_id) FROM border_segments")).scalar_one()
    assert assessed == with_sections > 0
    assert f"stored {assessed} synthetic demo assessments" in first.output
    assert "50000 incidents" in first.output and "(synthetic/approximate)" in first.output
    password = (tmp_path / "demo-password").read_text()
    assert len(password) >= 16
    assert first.output.strip().splitlines()[-5:] == demo_login_lines(password)
    users = db_session.scalars(select(User).where(User.username.in_(DEMO_AGENCIES))).all()
    assert {(u.username, u.agency, u.role, u.all_regions) for u in users} == {
        (name, code, "analyst", True) for name, (code, _) in DEMO_AGENCIES.items()}
    assert db_session.execute(text(
        "SELECT count(DISTINCT agency) FROM incidents WHERE source = 'demo-synthetic' "
        "AND releasability <> '\"all\"'::jsonb")).scalar_one() == 4

    again = runner.invoke(args=["demo", "load", "--assess"])
    assert "demo data already present" in again.output
    assert db_session.execute(text(  # not loaded now: nothing more stored
        "SELECT count(*) FROM risk_assessments")).scalar_one() == assessed
    assert again.output.strip().splitlines()[-5:] == demo_login_lines(password)  # the same
    skipped = runner.invoke(args=["demo", "load", "--if-empty"])
    assert "database already holds data" in skipped.output
    credentials = runner.invoke(args=["demo", "credentials"])
    assert credentials.output.strip().splitlines() == demo_login_lines(password)


def signs_in(username: str, password: str) -> bool:
    """Whether the sign-in's password check accepts the user (no sign-in limits)."""
    from app.auth.signin import authenticate
    from app.extensions import db

    return authenticate(db.session, username, password) is not None


def test_demo_users_sign_in_with_the_kept_password_and_come_back_when_missing(
        runner, db_session, tmp_path):
    """`demo` and the users of every agency come with the password of the file (an
    install that had the one `demo` user keeps its password); a lost file gives them all
    a new one."""
    from app.cli import _ensure_demo_users

    assert runner.invoke(args=["demo", "credentials"]).output.startswith("no demo user")
    (tmp_path / "demo-password").write_text("kept-demo-password\n")
    assert _ensure_demo_users() == "kept-demo-password"
    for name in DEMO_AGENCIES:
        assert signs_in(name, "kept-demo-password"), name
    assert not signs_in("demo-gbp", "another-password")
    printed = runner.invoke(args=["demo", "credentials"]).output.strip().splitlines()
    assert printed == demo_login_lines("kept-demo-password")

    (tmp_path / "demo-password").unlink()
    fresh = _ensure_demo_users()
    assert fresh != "kept-demo-password" and (tmp_path / "demo-password").read_text() == fresh
    assert oct((tmp_path / "demo-password").stat().st_mode & 0o777) == "0o600"
    assert runner.invoke(args=["demo", "credentials"]).output.strip().splitlines() == (
        demo_login_lines(fresh))
    assert signs_in("demo-md", fresh) and not signs_in("demo-md", "kept-demo-password")
    assert signs_in("demo", fresh) and not signs_in("demo", "kept-demo-password")


def test_an_install_with_the_one_demo_user_gets_the_agencies_users_with_its_password(
        runner, db_session, tmp_path):
    """A database of before issue 16 (the `demo` user and its password file): the next
    `demo load` adds the users of every agency with that password and leaves `demo` as
    it was."""
    from app.auth.users import create_user
    from app.cli import _ensure_demo_users

    create_user(db_session, "demo", "analyst", "the-old-password", all_regions=True)
    (tmp_path / "demo-password").write_text("the-old-password\n")
    assert _ensure_demo_users() == "the-old-password"
    for name in DEMO_AGENCIES:
        assert signs_in(name, "the-old-password"), name
    printed = runner.invoke(args=["demo", "credentials"]).output.strip().splitlines()
    assert printed == demo_login_lines("the-old-password")
    assert db_session.scalar(select(User.agency).where(User.username == "demo")) == "GBP"


def test_demo_reset_is_refused_while_assessments_or_decisions_hold_demo_rows(
        runner, db_session, analysis_srid, make_user):
    """Stored assessments and level decisions are immutable: a reset that would delete
    the sections they refer to is refused with their ids, and deletes nothing."""
    from tests.conftest import load_sample_layers

    load_sample_layers(db_session, analysis_srid)
    supervisor = make_user("supervisor")
    segment = db_session.execute(text(
        "SELECT id FROM border_segments WHERE provenance <> 'reported' ORDER BY id LIMIT 1"
    )).scalar_one()
    decision = db_session.execute(text(
        "INSERT INTO risk_level_decisions (segment_id, level, justification, decided_by) "
        "VALUES (:segment, 'high', 'Patrols report a new route here.', :user) RETURNING id"
    ), {"segment": segment, "user": supervisor.id}).scalar_one()
    before = db_session.execute(text(
        "SELECT (SELECT count(*) FROM incidents), (SELECT count(*) FROM border_segments), "
        "(SELECT count(*) FROM regions)")).one()

    result = runner.invoke(args=["demo", "reset", "--yes"])

    assert result.exit_code == 1
    assert f"1 level decisions (id {decision})" in result.output
    assert "nothing was deleted" in result.output and "Traceback" not in result.output
    after = db_session.execute(text(
        "SELECT (SELECT count(*) FROM incidents), (SELECT count(*) FROM border_segments), "
        "(SELECT count(*) FROM regions)")).one()
    assert after == before


@pytest.mark.parametrize(("args", "message"), [
    (["tokens", "create", "ghost\x00"], "an argument holds a NUL character"),
    (["tokens", "create", "ghost\ud800"], "an argument is not valid UTF-8 text"),
    (["tokens", "list", "--user", "a\x00"], "an argument holds a NUL character"),
    (["users", "unlock", "a\x00"], "an argument holds a NUL character"),
    (["users", "set-regions", "a\ud800", "T-KK"], "an argument is not valid UTF-8 text"),
    (["users", "create", "erin", "--role", "viewer", "--password", "long-enough-pw",
      "--region", "T-\x00"], "an argument holds a NUL character"),
])
def test_arguments_the_database_refuses_are_one_line_errors(runner, db_session, args,
                                                            message):
    """Was a raw ValueError/UnicodeEncodeError traceback from psycopg2."""
    result = runner.invoke(args=args)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # click's error exit, no traceback
    assert f"Error: {message}" in result.output and "nothing was changed" in result.output
    assert db_session.scalar(select(User).where(User.username == "erin")) is None


@pytest.mark.parametrize("token_id", ["424242", "9" * 30])
def test_tokens_revoke_of_an_unknown_id_is_a_one_line_error(runner, token_id):
    result = runner.invoke(args=["tokens", "revoke", token_id])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert result.output.startswith(f"Error: no token with id {token_id}")


def test_demo_assess_stores_one_labelled_assessment_per_region_with_sections(
        runner, client, db_session, sample_layers, token_headers):
    """``flask demo assess`` (issue 20): the map services then show stored levels."""
    result = runner.invoke(args=["demo", "assess", "--yes"])
    assert result.exit_code == 0, result.output
    regions = db_session.execute(text(
        "SELECT DISTINCT region_id FROM border_segments")).scalars().all()
    stored = db_session.execute(text(
        "SELECT region_id, inputs->>'provenance' AS provenance, u.username "
        "FROM risk_assessments AS a JOIN users AS u ON u.id = a.created_by")).all()
    assert sorted(r.region_id for r in stored) == sorted(regions)
    assert all(r.provenance.startswith("synthetic demo") and r.username == "demo"
               for r in stored)
    assert f"stored {len(stored)} synthetic demo assessments" in result.output
    items = client.get("/ogc/features/collections/risk/items", headers=token_headers("viewer"),
                       query_string={"level_source": "assessment", "limit": 100}).get_json()
    sections = db_session.execute(text("SELECT count(*) FROM border_segments")).scalar_one()
    assert items["numberMatched"] == sections
    refused = runner.invoke(args=["demo", "reset", "--yes"])
    assert refused.exit_code != 0 and "stored risk assessments" in refused.output
