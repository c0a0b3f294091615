"""Flask commands: ``users``, ``agencies``, ``tokens``, ``demo``, ``import`` and
``db-maintenance`` (``.venv/bin/flask --app app ...``).

Changes to users, agencies and tokens are audited like the admin page's, with the actor
``cli:<os user>``.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from app import audit, db_roles
from app.auth.agencies import agency_by_code, create_agency, list_agencies, update_agency
from app.auth.models import User
from app.auth.tokens import create_token, list_tokens, revoke_token
from app.auth.users import (
    AuthError,
    create_user,
    list_users,
    regions_kept_by_code,
    set_password,
    unlock_user,
    update_user,
    user_by_name,
    utc_now,
)
from app.errors import client_data_error
from app.extensions import db
from config import INSTANCE_DIR
from geo import releasability
from geo.io.ingest import import_file
from geo.io.readers import FORMATS, ReadError, detect_format
from geo.layers import LAYER_ALIASES, LAYERS, get_layer
from geo.queries.audit import file_sha256
from geo.queries.staging import cluster
from geo.transactions import unit_of_work
from geo.vocabulary import LEGACY_AGENCY, ROLES


class CommandGroup(AppGroup):
    """A group whose commands end in one-line errors, not tracebacks, when the database
    refuses an argument (a NUL character, text that is not UTF-8, a number out of range):
    the operator's mistake, as a client's is a 4xx (``app.errors.client_data_error``)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except Exception as exc:
            reason = client_data_error(exc)
            if reason is None:
                raise
            db.session.rollback()
            raise click.ClickException(f"{reason.replace('a value', 'an argument', 1)}; "
                                       "nothing was changed") from None


users_cli = CommandGroup("users", help="Manage users.")
agencies_cli = CommandGroup("agencies", help="Manage agencies and their release defaults.")
tokens_cli = CommandGroup("tokens", help="Manage API tokens.")
demo_cli = CommandGroup("demo", help="The synthetic demo data set.")
maintenance_cli = CommandGroup("db-maintenance", help="Database maintenance that locks tables.")
audit_cli = CommandGroup("audit", help="The audit trail.")

# The demo analysts (every region), all with the one generated password kept in
# DEMO_CREDENTIALS_FILE: `demo` of the Border Police (the demo's user before issue 16,
# which the README and `make run` name) and one per agency of the ministry.
DEMO_USERS = {"demo": "GBP", "demo-gbp": "GBP", "demo-ppd": "PPD", "demo-md": "MD",
              "demo-iad": "IAD"}
DEMO_ROLE = "analyst"
DEMO_CREDENTIALS_FILE = INSTANCE_DIR / "demo-password"


@users_cli.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--region", "regions", multiple=True, metavar="CODE",
              help="Restrict the user to this region (repeatable).")
@click.option("--all-regions", is_flag=True, help="Let the user read and write every region.")
@click.option("--agency", default=LEGACY_AGENCY, show_default=True, metavar="CODE",
              help="The user's agency (flask agencies list).")
def users_create(name: str, role: str, password: str, regions: tuple[str, ...],
                 all_regions: bool, agency: str) -> None:
    """Create user NAME with ROLE in an agency; give --region CODE... or --all-regions."""
    with unit_of_work(db.session):
        _run(create_user, name, role, password, regions, all_regions=all_regions,
             agency=agency)
    scope = ", ".join(sorted(regions)) if regions else "every region"
    click.echo(f"created user {name} ({role}; {agency}; {scope})")


def _scope_text(user) -> str:
    if user.all_regions:
        return "all regions"
    return ",".join(region.code for region in user.regions) or "no region"


@users_cli.command("list")
def users_list() -> None:
    """List users with their roles, state and regions."""
    now = utc_now()
    for user in list_users(db.session):
        state = "active" if user.active else "disabled"
        if user.locked_until is not None and user.locked_until > now:
            state += f" (locked until {user.locked_until.isoformat(timespec='seconds')})"
        click.echo(f"{user.username}\t{user.role}\t{user.agency}\t{state}\t"
                   f"{_scope_text(user)}")


def _run(change, *args, **kwargs):
    """Call a user or token function; an AuthError becomes the command's error message."""
    try:
        return change(db.session, *args, **kwargs)
    except AuthError as exc:
        raise click.ClickException(str(exc)) from None


@users_cli.command("set-regions")
@click.argument("name")
@click.argument("codes", nargs=-1, metavar="[CODE]...")
@click.option("--all-regions", is_flag=True, help="Every region instead.")
@click.option("--none", "no_region", is_flag=True,
              help="No region: the user sees nothing until given some.")
def users_set_regions(name: str, codes: tuple[str, ...], all_regions: bool,
                      no_region: bool) -> None:
    """Restrict user NAME to the regions CODE..., or give --all-regions or --none."""
    if (bool(codes) + all_regions + no_region) != 1:
        raise click.UsageError("give region codes, --all-regions or --none (one of them)")
    with unit_of_work(db.session):
        user = _run(user_by_name, name)
        changed = _run(update_user, user, region_codes=list(codes), all_regions=all_regions)
    click.echo(f"{name}: {_scope_text(user)}" + ("" if changed else " (unchanged)"))


@users_cli.command("set-agency")
@click.argument("name")
@click.argument("code")
def users_set_agency(name: str, code: str) -> None:
    """Move user NAME to the agency CODE."""
    with unit_of_work(db.session):
        user = _run(user_by_name, name)
        changed = _run(update_user, user, agency=code)
    click.echo(f"{name}: {code}" + ("" if changed else " (unchanged)"))


@users_cli.command("set-email")
@click.argument("name")
@click.argument("email", required=False)
@click.option("--alerts/--no-alerts", default=None,
              help="E-mail the user their alerts (or stop).")
@click.option("--bulletins/--no-bulletins", default=None,
              help="E-mail the user their bulletins (or stop).")
def users_set_email(name: str, email: str | None, alerts: bool | None,
                    bulletins: bool | None) -> None:
    """Set user NAME's e-mail address (EMAIL; '' removes it and the subscriptions) and
    what is e-mailed to it (sent when SMTP_URL is set)."""
    from app.api.notifications import check_email, mail_settings_of, set_mail_settings
    from app.api.params import ParameterError

    changes: dict = {}
    try:
        if email is not None:
            changes["email"] = check_email(email)
    except ParameterError as exc:
        raise click.ClickException(str(exc)) from None
    if alerts is not None:
        changes["email_alerts"] = alerts
    if bulletins is not None:
        changes["email_bulletins"] = bulletins
    with unit_of_work(db.session):
        user = _run(user_by_name, name)
        address = changes.get("email", user.email)
        if address is None:
            if changes.get("email_alerts") or changes.get("email_bulletins") or (
                    "email" not in changes and (user.email_alerts or user.email_bulletins)):
                raise click.ClickException(f"{name} has no e-mail address: give one")
            changes |= {"email_alerts": False, "email_bulletins": False}
        changed = set_mail_settings(db.session, user, changes)
        settings = mail_settings_of(user)
    kinds = [k for k in ("alerts", "bulletins") if settings[f"email_{k}"]]
    click.echo(f"{name}: {settings['email'] or 'no e-mail address'}; e-mailed: "
               f"{', '.join(kinds) or 'nothing'}" + ("" if changed else " (unchanged)"))
    if kinds and not current_app.config.get("SMTP_URL"):
        click.echo("note: SMTP_URL is not set, so nothing is e-mailed yet")


def _agency_line(agency) -> str:
    release = releasability.as_text(agency.default_releasability)
    counted = "counted" if agency.default_aggregate else "not counted"
    state = "active" if agency.active else "inactive"
    return (f"{agency.code}\t{state}\t{agency.name_en}\t{agency.name_ka}\t"
            f"releasability {release}, {counted} in aggregates")


@agencies_cli.command("list")
def agencies_list() -> None:
    """List agencies with their release defaults."""
    for agency in list_agencies(db.session):
        click.echo(_agency_line(agency))


@agencies_cli.command("create")
@click.argument("code")
@click.option("--name-en", required=True, help="Name in English.")
@click.option("--name-ka", required=True, help="Name in Georgian.")
@click.option("--releasability", default="all", show_default=True,
              help='Default of its new incidents: "all", "agency" or codes such as PPD,MD.')
@click.option("--aggregate/--no-aggregate", default=True, show_default=True,
              help="Whether its incidents not released in detail count in aggregates.")
def agencies_create(code: str, name_en: str, name_ka: str, releasability: str,
                    aggregate: bool) -> None:
    """Add the agency CODE (e.g. RS for the Revenue Service)."""
    with unit_of_work(db.session):
        agency = _run(create_agency, code, name_en, name_ka,
                      default_releasability=releasability, default_aggregate=aggregate)
        line = _agency_line(agency)
    click.echo(f"created {line}")


@agencies_cli.command("set-defaults")
@click.argument("code")
@click.option("--releasability", default=None,
              help='"all", "agency" or codes such as PPD,MD.')
@click.option("--aggregate/--no-aggregate", default=None,
              help="Whether its incidents not released in detail count in aggregates.")
@click.option("--active/--inactive", default=None, help="Whether it takes new users.")
def agencies_set_defaults(code: str, releasability: str | None, aggregate: bool | None,
                          active: bool | None) -> None:
    """Change the release defaults of agency CODE for its new incidents."""
    if releasability is None and aggregate is None and active is None:
        raise click.UsageError("give --releasability, --aggregate/--no-aggregate or "
                               "--active/--inactive")
    with unit_of_work(db.session):
        agency = _run(agency_by_code, code)
        changed = _run(update_agency, agency, default_releasability=releasability,
                       default_aggregate=aggregate, active=active)
        line = _agency_line(agency)
    click.echo(line + ("" if changed else " (unchanged)"))


@users_cli.command("unlock")
@click.argument("name")
def users_unlock(name: str) -> None:
    """Lift NAME's sign-in lock-out and reset the failure count."""
    with unit_of_work(db.session):
        user = _run(user_by_name, name)
        changed = _run(unlock_user, user)
    click.echo(f"unlocked {name}" if changed else f"{name} was not locked")


@tokens_cli.command("create")
@click.argument("name")
@click.option("--label", default="cli", show_default=True, help="What the token is for.")
@click.option("--expires-days", type=click.IntRange(min=1), default=None,
              help="Days until the token expires (default: never).")
def tokens_create(name: str, label: str, expires_days: int | None) -> None:
    """Create an API token for user NAME; the token is the last line of output."""
    user = db.session.scalar(select(User).where(User.username == name))
    if user is None:
        raise click.ClickException(f"no user named {name!r}")
    expires = timedelta(days=expires_days) if expires_days else None
    with unit_of_work(db.session):
        row, token = _run(create_token, user, label, expires)
    until = row.expires_at.isoformat() if row.expires_at else "never"
    click.echo(f"token {row.id} for {name} ({label}), expires {until}; it is shown only once:")
    click.echo(token)


def _when(value) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "-"


@tokens_cli.command("list")
@click.option("--user", "username", default=None, help="Only this user's tokens.")
def tokens_list(username: str | None) -> None:
    """List tokens (never the tokens themselves): id, user, name, created, expires,
    last use, revoked."""
    click.echo("id\tuser\tname\tcreated\texpires\tlast_used\trevoked")
    for row in list_tokens(db.session, username):
        expires = _when(row.expires_at) if row.expires_at else "never"
        click.echo(f"{row.id}\t{row.user.username}\t{row.name}\t{_when(row.created_at)}\t"
                   f"{expires}\t{_when(row.last_used_at)}\t{_when(row.revoked_at)}")


@tokens_cli.command("revoke")
@click.argument("token_id", type=int, metavar="ID")
def tokens_revoke(token_id: int) -> None:
    """Revoke token ID (see ``tokens list``); it stops working at once."""
    with unit_of_work(db.session):
        row = _run(revoke_token, token_id)
    click.echo(f"revoked token {row.id} ({row.name}) of {row.user.username} "
               f"at {_when(row.revoked_at)}")


def _demo_counts_line(counts: dict) -> str:
    keys = ("regions", "border_segments", "crossing_points", "incidents", "synthetic_hotspots")
    return ", ".join(f"{counts[k]} {k}" for k in keys if k in counts)


def _demo_users() -> dict[str, User]:
    """The demo users that exist, by name."""
    users = db.session.scalars(select(User).where(User.username.in_(DEMO_USERS)))
    return {user.username: user for user in users}


def _ensure_demo_users() -> str:
    """Create the missing demo users (``DEMO_USERS``: ``demo`` and an analyst of each
    agency, every region) with the demo password kept in instance/, generated the first time (and
    anew, for every demo user, when the file is gone)."""
    existing = _demo_users()
    if DEMO_CREDENTIALS_FILE.exists():
        password = DEMO_CREDENTIALS_FILE.read_text().strip()
    else:
        password = secrets.token_urlsafe(12)
        for user in existing.values():
            set_password(user, password)
        DEMO_CREDENTIALS_FILE.parent.mkdir(parents=True, exist_ok=True)
        DEMO_CREDENTIALS_FILE.write_text(password)
        DEMO_CREDENTIALS_FILE.chmod(0o600)
    for name, agency in DEMO_USERS.items():
        if name not in existing:
            _run(create_user, name, DEMO_ROLE, password, all_regions=True, agency=agency)
    return password


def _echo_demo_logins(password: str) -> None:
    """One line per demo user that exists: name, agency and the password."""
    names = {agency.code: agency.name_en for agency in list_agencies(db.session)}
    users = _demo_users()
    for name in (name for name in DEMO_USERS if name in users):
        agency = users[name].agency
        click.echo(f"demo login: user {name} ({names.get(agency, agency)} analyst), "
                   f"password {password}")


def _has_data() -> bool:
    from geo.models import BorderSegment, Incident, Region

    return any(
        db.session.scalar(select(model.id).limit(1)) is not None
        for model in (Region, BorderSegment, Incident)
    )


@demo_cli.command("load")
@click.option("--if-empty", is_flag=True,
              help="Load only when the database holds no regions, segments or incidents.")
@click.option("--assess", is_flag=True,
              help="When the demo is loaded now, also store one synthetic risk assessment "
                   "per region (as `demo assess`; `demo reset` is refused afterwards).")
def demo_load(if_empty: bool, assess: bool) -> None:
    """Load the synthetic demo data set (idempotent) and create the demo users (``demo``
    and an analyst of each agency); with ``--assess``, a fresh load also stores one
    assessment per region, so the map services show stored levels (``make run``)."""
    from geo.demo.loader import demo_present, load_demo

    if if_empty and _has_data():
        if demo_present(db.session):  # a demo of before: its users of every agency
            with unit_of_work(db.session):
                _ensure_demo_users()
        click.echo("database already holds data: demo data not loaded")
        return
    with unit_of_work(db.session):
        counts = load_demo(db.session, current_app.config["ANALYSIS_SRID"])
        password = _ensure_demo_users()
        if counts.get("loaded"):
            audit.record(db.session, "import", "demo",
                         detail={"command": "demo load", **counts})
    verb = "loaded" if counts.get("loaded") else "already present"
    click.echo(f"demo data {verb}: {_demo_counts_line(counts)} (synthetic/approximate)")
    if assess and counts.get("loaded"):
        _store_demo_assessments()
    _echo_demo_logins(password)


@demo_cli.command("reset")
@click.confirmation_option(prompt="Delete the demo data and load it anew?")
def demo_reset() -> None:
    """Delete the demo data and load it again."""
    from geo.demo.loader import DemoResetRefusedError, refuse_reset_over_records, reset_demo

    # Users keep their regions by code: the demo regions are deleted and come back.
    try:
        refuse_reset_over_records(db.session)  # before anything is deleted
    except DemoResetRefusedError as exc:
        raise click.ClickException(str(exc)) from None
    with unit_of_work(db.session):
        with regions_kept_by_code(db.session, "demo reset"):
            counts = reset_demo(db.session, current_app.config["ANALYSIS_SRID"])
        _ensure_demo_users()
        audit.record(db.session, "import", "demo", detail={"command": "demo reset", **counts})
    click.echo(f"demo data reset: {_demo_counts_line(counts)}")


@demo_cli.command("assess")
@click.confirmation_option(prompt="Store one risk assessment per region? Stored assessments "
                                  "are immutable: `demo reset` is refused afterwards.")
def demo_assess() -> None:
    """Store one risk assessment per region with border sections (default period),
    labelled synthetic, by the demo user: the WMS and the OGC API then show stored
    levels (level_source "assessment")."""
    _store_demo_assessments()


def _store_demo_assessments() -> None:
    """What ``demo assess`` does, with its events and audit records; commits."""
    from app.auth.models import User
    from geo import clock
    from geo.demo.assessments import store_demo_assessments
    from geo.events import application as events

    with unit_of_work(db.session):
        _ensure_demo_users()
        user = db.session.scalar(select(User).where(User.username == "demo"))
        stored = store_demo_assessments(db.session, current_app.config["RISK_MODEL"],
                                        current_app.config["ANALYSIS_SRID"], clock.utc_now(),
                                        user.id)
        for record, evaluated in stored:
            events.assessment_stored(db.session, record, evaluated)
            audit.record(db.session, "create", "assessment", record.id,
                         after={"region_id": record.region_id,
                                "period": [record.period_start.isoformat(),
                                           record.period_end.isoformat()],
                                "config_sha256": record.config_sha256,
                                "sections": len(evaluated["sections"])},
                         detail={"command": "demo assess", "provenance": "synthetic demo"})
    click.echo(f"stored {len(stored)} synthetic demo assessments (one per region with "
               "border sections); `demo reset` is now refused")


@demo_cli.command("credentials")
def demo_credentials() -> None:
    """Print the demo logins (``demo`` and an analyst of each agency), if the demo
    users exist."""
    if not _demo_users() or not DEMO_CREDENTIALS_FILE.exists():
        click.echo("no demo user (run `flask --app app demo load`)")
        return
    _echo_demo_logins(DEMO_CREDENTIALS_FILE.read_text().strip())


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--layer", type=click.Choice([*LAYERS, *LAYER_ALIASES]), required=True)
@click.option("--source", default=None, help="Source of incidents that name none "
              "(default: the file name without extension).")
@click.option("--crs", default=None, help="EPSG:nnnn of the coordinates (default: the "
              "file's own CRS, else EPSG:4326).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="Default: from the file name's extension.")
@click.option("--map", "mapping", multiple=True, metavar="PROPERTY=COLUMN",
              help="CSV column for a property (repeatable), e.g. --map external_id=ref.")
@click.option("--dry-run", is_flag=True, help="Check and count; write nothing.")
@click.option("--allow-outside", is_flag=True, help="Accept points far from every region.")
@click.option("--agency", default=LEGACY_AGENCY, show_default=True, metavar="CODE",
              help="Originating agency of incidents that name none (a legacy file).")
def import_command(file, layer, source, crs, fmt, mapping, dry_run, allow_outside,
                   agency) -> None:
    """Import FILE into LAYER: all or nothing, upserting on the natural key."""
    from app.api.imports import parse_mapping
    from app.api.params import ParameterError, parse_crs
    from geo.io.import_jobs import owned_upload_dir

    try:
        srid = parse_crs("crs", crs, default=None)
        columns = parse_mapping(",".join(mapping))
    except ParameterError as exc:
        raise click.BadParameter(str(exc)) from None
    default_source = source or Path(file).stem

    def progress(rows: int) -> None:
        click.echo(f"  {rows:,} rows read", err=True)

    try:
        with unit_of_work(db.session) as work:
            report = import_file(db.session, get_layer(layer), file, fmt=fmt, crs=srid,
                                 mapping=columns, source=default_source, dry_run=dry_run,
                                 allow_outside=allow_outside, agency=agency,
                                 analysis_srid=current_app.config["ANALYSIS_SRID"],
                                 progress=progress,
                                 temp_dir=owned_upload_dir(current_app.config["UPLOAD_DIR"]))
            if report.error_count or dry_run:
                work.discard()
            else:
                audit.record_import(db.session, report, file=str(file),
                                    sha256=file_sha256(file), source=default_source,
                                    fmt=fmt or detect_format(file))
    except ReadError as exc:
        raise click.ClickException(str(exc)) from None
    label = "line" if (fmt or Path(file).suffix.lower()) in ("csv", ".csv") else "feature"
    for error in report.errors:
        click.echo(f"{label} {error.row}: {error.field}: {error.message}")
    if report.error_count > len(report.errors):
        click.echo(f"... and {report.error_count - len(report.errors)} more problems")
    summary = (f"{report.rows} rows: {report.inserted} inserted, {report.updated} updated, "
               f"{report.unchanged} unchanged, {report.rejected} rejected "
               f"({report.seconds:.1f} s)")
    if report.ignored_columns:
        click.echo(f"ignored columns: {', '.join(report.ignored_columns)}")
    if report.error_count:
        raise click.ClickException(f"{summary}; nothing was written")
    if dry_run:
        click.echo(f"dry run, nothing written: {summary}")
        return
    click.echo(f"imported: {summary}")


@maintenance_cli.command("cluster")
@click.confirmation_option(prompt="CLUSTER locks the incidents table against every read "
                                  "and write while it runs. Go on?")
def maintenance_cluster() -> None:
    """Rewrite the incidents in spatial order (CLUSTER on the geometry index, ANALYZE),
    as the schema's owner (only a table's owner may CLUSTER it)."""
    with db_roles.owner_connection(current_app.config) as connection:
        cluster(connection, "incidents")
    click.echo("incidents clustered on idx_incidents_geom and analysed")


@audit_cli.command("verify")
def audit_verify() -> None:
    """Recompute the audit trail's hash chain; exit 1 naming the first broken record."""
    from geo.queries.audit import first_broken_link

    checked, broken, why = first_broken_link(db.session)
    if broken is not None:
        raise click.ClickException(f"audit record {broken} breaks the chain: {why} "
                                   f"({checked} records checked)")
    click.echo(f"audit trail intact: {checked} records chained")


def init_app(app: Flask) -> None:
    for group in (users_cli, agencies_cli, tokens_cli, demo_cli, maintenance_cli, audit_cli):
        app.cli.add_command(group)
    app.cli.add_command(import_command)
    app.cli.add_command(worker_command)


@click.command("worker")
@click.option("--with-parent", "parent_pid", type=int, default=None,
              help="Stop when the process of this id (the web server) is gone.")
@with_appcontext
def worker_command(parent_pid: int | None) -> None:
    """Deliver webhooks, run the schedules, raise alerts, send e-mail (until Ctrl-C)."""
    from app.worker import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(message)s")
    run_worker(current_app._get_current_object(), parent_pid=parent_pid)
