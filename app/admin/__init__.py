"""The admin page: users (roles, agencies, regions, passwords, lock-outs), their API
tokens and browser sessions, the agencies and their release defaults, and the audit
trail.

HTML forms only (CSRF-checked like every session write, ``app.auth``), no script. Each
route parses the form, calls one function of ``app.auth.users``, ``.tokens`` or
``.sessions`` (which audits the change in the same transaction), commits, and redirects
(303) to the page it came from; an error the admin can fix is shown on that page with
status 422 and nothing written.
Agencies are created and changed with ``app.auth.agencies`` (which audits, entity
``agency``). Every endpoint needs the admin role (``app.auth.permissions``).

The pages and their messages are in the request's language (``app.ui.i18n``): messages
are translated here, when flashed, with ``%(name)s`` placeholders for what varies. The
reason an ``AuthError`` gives for a refusal is translated where it is raised
(``app.auth``), and shown after a translated lead-in.
"""

from __future__ import annotations

from datetime import timedelta

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from app.auth import agencies as auth_agencies
from app.auth import sessions as auth_sessions
from app.auth import tokens as auth_tokens
from app.auth import users as auth_users
from app.auth.models import User
from app.auth.users import AuthError
from app.extensions import db
from geo.releasability import AGENCY as RELEASE_AGENCY
from geo.releasability import ALL as RELEASE_ALL
from geo.vocabulary import LEGACY_AGENCY, ROLES

bp = Blueprint("admin", __name__, url_prefix="/admin")

TOKEN_DAYS_DEFAULT = 90
TOKEN_DAYS_MAX = 3650


def _idle() -> timedelta:
    return timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404, f"no user with id {user_id}")
    return user


def _flash(message: str, category: str) -> None:
    """Flash a message already in the request's language (``templates/base.html``
    shows flashed messages as they are, escaped)."""
    flash(message, category)


def _done(message: str, endpoint: str, **values):
    db.session.commit()
    _flash(message, "info")
    return redirect(url_for(endpoint, **values), code=303)


def _users_page(status: int = 200):
    return render_template("admin/users.html", users=auth_users.list_users(db.session),
                           regions=auth_users.all_regions(db.session), roles=ROLES,
                           agencies=auth_agencies.list_agencies(db.session),
                           default_agency=LEGACY_AGENCY, now=auth_users.utc_now(),
                           form=request.form), status


def _user_page(user: User, status: int = 200, new_token: str | None = None,
               new_token_row=None):
    page = render_template(
        "admin/user.html", user=user, roles=ROLES, regions=auth_users.all_regions(db.session),
        agencies=auth_agencies.list_agencies(db.session),
        tokens=auth_tokens.list_tokens(db.session, user.username),
        sessions=auth_sessions.active_sessions(db.session, _idle(), user.id),
        now=auth_users.utc_now(), new_token=new_token, new_token_row=new_token_row,
        token_days=TOKEN_DAYS_DEFAULT, token_days_max=TOKEN_DAYS_MAX)
    # A page that shows a token once must not be kept by the browser or a proxy.
    return page, status, {"Cache-Control": "no-store"}


def _refused(exc: AuthError, page):
    db.session.rollback()
    _flash(_("Nothing was saved: %(reason)s", reason=str(exc)), "error")
    return page()


@bp.get("")
def users():
    return _users_page()


@bp.post("/users")
def create_user():
    form = request.form
    try:
        user = auth_users.create_user(db.session, form.get("username", "").strip(),
                                      form.get("role", ""), form.get("password", ""),
                                      form.getlist("regions"),
                                      all_regions=bool(form.get("all_regions")),
                                      # The form always names one; a script's
                                      # POST without it gets create_user's default.
                                      agency=form.get("agency", LEGACY_AGENCY))
    except AuthError as exc:
        return _refused(exc, lambda: _users_page(422))
    return _done(_("Created user %(name)s.", name=user.username), "admin.user",
                 user_id=user.id)


@bp.get("/users/<int:user_id>")
def user(user_id: int):
    return _user_page(_user_or_404(user_id))


@bp.post("/users/<int:user_id>")
def update_user(user_id: int):
    target = _user_or_404(user_id)
    form = request.form
    active = form.get("active")
    try:
        if active not in ("active", "inactive"):
            raise AuthError(_("active: choose active or inactive"))
        changed = auth_users.update_user(db.session, target, role=form.get("role", ""),
                                         active=active == "active",
                                         region_codes=form.getlist("regions"),
                                         all_regions=bool(form.get("all_regions")),
                                         agency=form.get("agency") or None,
                                         by=current_user)
    except AuthError as exc:
        return _refused(exc, lambda: _user_page(_user_or_404(user_id), 422))
    message = _("Saved %(name)s.", name=target.username) if changed else _("Nothing changed.")
    return _done(message, "admin.user", user_id=user_id)


@bp.post("/users/<int:user_id>/password")
def reset_password(user_id: int):
    target = _user_or_404(user_id)
    try:
        auth_users.reset_password(db.session, target, request.form.get("password", ""))
    except AuthError as exc:
        return _refused(exc, lambda: _user_page(_user_or_404(user_id), 422))
    return _done(_("New password set for %(name)s; their sessions were ended.",
                   name=target.username), "admin.user", user_id=user_id)


@bp.post("/users/<int:user_id>/unlock")
def unlock_user(user_id: int):
    target = _user_or_404(user_id)
    changed = auth_users.unlock_user(db.session, target)
    message = _("Unlocked %(name)s.", name=target.username) if changed else _("Not locked.")
    return _done(message, "admin.user", user_id=user_id)


@bp.post("/users/<int:user_id>/sessions/revoke")
def revoke_user_sessions(user_id: int):
    target = _user_or_404(user_id)
    ended = auth_sessions.revoke_sessions(db.session, user_id=target.id)
    return _done(ngettext("Ended %(num)d session of %(name)s.",
                          "Ended %(num)d sessions of %(name)s.", ended,
                          name=target.username), "admin.user", user_id=user_id)


@bp.post("/users/<int:user_id>/tokens")
def create_token(user_id: int):
    target = _user_or_404(user_id)
    days = request.form.get("expires_days", "").strip()
    try:
        if not days.isdigit() or not 1 <= int(days) <= TOKEN_DAYS_MAX:
            raise AuthError(_("expires_days: a whole number of days, 1-%(max)d",
                              max=TOKEN_DAYS_MAX))
        row, token = auth_tokens.create_token(db.session, target,
                                              request.form.get("name", ""),
                                              timedelta(days=int(days)))
    except AuthError as exc:
        return _refused(exc, lambda: _user_page(_user_or_404(user_id), 422))
    db.session.commit()
    # Shown in this response only: the database keeps its SHA-256.
    return _user_page(target, 201, new_token=token, new_token_row=row)


@bp.post("/tokens/<int:token_id>/revoke")
def revoke_token(token_id: int):
    try:
        row = auth_tokens.revoke_token(db.session, token_id)
    except AuthError as exc:
        abort(404, str(exc))
    return _done(_("Revoked token '%(token)s' of %(name)s.", token=row.name,
                   name=row.user.username), "admin.user", user_id=row.user_id)


def _agencies_page(status: int = 200, form=None):
    return render_template("admin/agencies.html",
                           agencies=auth_agencies.list_agencies(db.session),
                           form=form if form is not None else MultiDict()), status


def _release_choice(form):
    """The default releasability an agency form gives: ``"all"``, ``"agency"`` or the
    agency codes ticked (``release_to``); AuthError (field ``default_releasability``)
    for anything else."""
    choice = form.get("default_releasability", "")
    if choice in (RELEASE_ALL, RELEASE_AGENCY):
        return choice
    if choice != "list":
        raise AuthError(_("default_releasability: choose all agencies, the agency only "
                          "or the agencies ticked"))
    codes = form.getlist("release_to")
    if not codes:
        raise AuthError(_("default_releasability: tick at least one agency, or choose "
                          "the agency only"))
    return codes


@bp.get("/agencies")
def agencies():
    return _agencies_page()


@bp.post("/agencies")
def create_agency():
    form = request.form
    try:
        agency = auth_agencies.create_agency(
            db.session, form.get("code", "").strip().upper(), form.get("name_en", ""),
            form.get("name_ka", ""), default_releasability=_release_choice(form),
            default_aggregate=bool(form.get("default_aggregate")),
            active=bool(form.get("active")))
    except AuthError as exc:
        return _refused(exc, lambda: _agencies_page(422, form))
    return _done(_("Created agency %(code)s.", code=agency.code), "admin.agencies")


@bp.post("/agencies/<code>")
def update_agency(code: str):
    form = request.form
    try:
        agency = auth_agencies.agency_by_code(db.session, code)
    except AuthError as exc:
        abort(404, str(exc))
    try:
        changed = auth_agencies.update_agency(
            db.session, agency, name_en=form.get("name_en", ""),
            name_ka=form.get("name_ka", ""), active=bool(form.get("active")),
            default_releasability=_release_choice(form),
            default_aggregate=bool(form.get("default_aggregate")))
    except AuthError as exc:
        return _refused(exc, lambda: _agencies_page(422))
    message = _("Saved agency %(code)s.", code=code) if changed else _("Nothing changed.")
    return _done(message, "admin.agencies")


@bp.get("/sessions")
def sessions():
    return render_template("admin/sessions.html",
                           sessions=auth_sessions.active_sessions(db.session, _idle()),
                           idle_minutes=current_app.config["SESSION_IDLE_MINUTES"])


@bp.post("/sessions/<int:session_id>/revoke")
def revoke_session(session_id: int):
    ended = auth_sessions.revoke_sessions(db.session, session_id=session_id)
    if not ended:
        abort(404, f"no live session with id {session_id}")
    back = request.form.get("back")
    if back and back.isdigit():
        return _done(_("Session ended."), "admin.user", user_id=int(back))
    return _done(_("Session ended."), "admin.sessions")


@bp.get("/audit")
def audit():
    from app import audit as trail
    from app.api.audit import parse_audit_query
    from geo.errors import ParameterError

    try:
        query = parse_audit_query(request.args)
    except ParameterError as exc:
        _flash(_("The filter was not applied: %(reason)s", reason=str(exc)), "error")
        return render_template("admin/audit.html", records=[], matched=0, query=None,
                               filters={}), 422
    records, matched = trail.query(db.session, query)
    filters = {k: v for k, v in request.args.items()
               if k in ("user", "action", "entity", "entity_id", "datetime") and v}
    return render_template("admin/audit.html", records=records, matched=matched,
                           query=query, filters=filters)


@bp.app_template_filter("audit_words")
def audit_words(value: str | None, kind: str) -> str:
    """An audit record's ``action`` or ``entity`` (``kind``) in the page's language; a
    value without a label as it is stored."""
    from app.ui.messages import AUDIT_ACTION_LABELS, AUDIT_ENTITY_LABELS

    labels = AUDIT_ACTION_LABELS if kind == "action" else AUDIT_ENTITY_LABELS
    return _(labels[value]) if value in labels else (value or "")
