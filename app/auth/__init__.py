"""Authentication: session login for the browser, bearer tokens for scripts and GIS tools,
HTTP Basic (a password, or an API token as the password) for GIS tools that can send
nothing else (QGIS 3.22).

Every endpoint requires an authenticated user with the role that
``app.auth.permissions`` declares for it (public ones: health and login). The check
runs once, before every request, so a new route is protected by default, and refused
to everyone until its role is declared.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Flask, current_app, g, redirect, request, session, url_for
from flask_login import current_user
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import Forbidden

from app.auth.models import TokenCaller, User
from app.auth.permissions import ENDPOINT_ROLES, PUBLIC, UndeclaredEndpointError, required_role
from app.auth.sessions import session_user
from app.auth.signin import LoginPolicy, SignInRefusedError, user_for_basic
from app.auth.token_cache import TokenCache
from app.auth.tokens import caller_for_token, record_token_use, token_use_due
from app.errors import problem
from app.extensions import csrf, db, login_manager
from config import on_unless_testing

bp = Blueprint("auth", __name__)

# Health for monitors, the login page, and our own CSS/JS (public code, no data).
PUBLIC_ENDPOINTS = frozenset(e for e, role in ENDPOINT_ROLES.items() if role == PUBLIC)
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def bearer_token() -> str | None:
    """The token of an ``Authorization: Bearer`` header, '' when malformed, None if absent."""
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def basic_credentials() -> tuple[str, str] | None:
    """(user name, password) of an ``Authorization: Basic`` header, None otherwise."""
    auth = request.authorization
    if auth is None or auth.type != "basic" or auth.username is None:
        return None
    return auth.username, auth.password or ""


# GIS clients (QGIS, GDAL, OWSLib) speak HTTP authentication, not the login page.
CHALLENGE_401 = {"WWW-Authenticate": 'Basic realm="BorderRisk", Bearer'}


def _is_gis_request() -> bool:
    return request.path.startswith("/ogc/")


def _wants_json() -> bool:
    return (
        request.path.startswith("/api/")
        or request.accept_mimetypes.best in ("application/json", "application/geo+json")
    )


# The key of the session cookie that holds the server-side session's id.
SESSION_ID_KEY = "_sid"
# The header of a page's background poll (static/js/inbox.js): it does not count as the
# user's activity for SESSION_IDLE_MINUTES.
POLL_HEADER = "X-BorderRisk-Poll"


@login_manager.user_loader
def _load_session_user(user_id: str) -> User | None:
    """The user of the cookie's server-side session (``user_sessions``): revoked,
    expired, idle or unknown sessions, and cookies without one (e.g. Flask-Login's
    remember-me cookie), are anonymous."""
    sid = session.get(SESSION_ID_KEY)
    if not user_id.isdigit() or not isinstance(sid, str):
        return None
    idle = timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])
    # A page's background poll (the inbox's count) is no activity of the user's.
    touch = request.headers.get(POLL_HEADER) != "1"
    return session_user(db.session, sid, int(user_id), idle, touch=touch)


def login_policy() -> LoginPolicy:
    return LoginPolicy.from_config(current_app.config)


def too_many_attempts(exc: SignInRefusedError) -> dict:
    """Headers of a refused sign-in: Retry-After when the address must wait."""
    return {} if exc.retry_after is None else {"Retry-After": str(exc.retry_after)}


def _require_login():
    """Authenticate the caller, then refuse (403) one whose role ranks below the
    endpoint's (``app.auth.permissions``)."""
    # Who the caller is is decided anew for every request, even when an app context
    # (and its ``g``) outlives one request, as under the test client.
    g.pop("_login_user", None)
    role = None
    if request.endpoint is not None:  # None: no route matched (404/405 follow)
        try:
            role = required_role(request.endpoint, request.view_args)
        except UndeclaredEndpointError:
            role = None
        if role == PUBLIC:
            return None
    refusal = _authenticate()
    if refusal is not None or request.endpoint is None:
        return refusal
    if role is None:
        raise Forbidden(f"no permission is declared for {request.endpoint}; "
                        "refused to everyone")
    if not current_user.has_role(role):
        raise Forbidden(f"this needs the {role} role or higher; you are {current_user.role}")
    return None


# SQLSTATEs of a database that answers but cannot write: read-only (25006) and disk
# full / out of memory / too many files (class 53).
_CANNOT_WRITE = ("25006", "53")


def _save_bookkeeping(write=None) -> None:
    """Commit the sign-in bookkeeping (last use, last seen, attempts), after running
    ``write`` (a function of no argument) when given, best effort: a database that is
    read-only or full still serves reads, so the request goes on without it. Any other
    failure (the database is down) propagates: a 503."""
    try:
        if write is not None:
            write()
        db.session.commit()
    except DBAPIError as exc:
        db.session.rollback()
        code = getattr(exc.orig, "pgcode", None) or ""
        if not code.startswith(_CANNOT_WRITE):
            raise


def _save_sign_in(caller: User | TokenCaller) -> None:
    """Commit what a sign-in by HTTP Basic or token left in the session (attempt,
    audit record, rehashed password), and a token's last use once a minute."""
    due = isinstance(caller, TokenCaller) and token_use_due(caller)
    if due or db.session.dirty or db.session.new:
        _save_bookkeeping((lambda: record_token_use(db.session, caller.token_id))
                          if due else None)


def _authenticate():
    """Establish the caller (HTTP Basic, bearer token or session); None when done, else
    the response that refuses them."""
    credentials = basic_credentials()
    if credentials is not None and request.method in UNSAFE_METHODS:
        # Browsers replay cached Basic credentials on cross-site requests, so Basic
        # only reads (what GIS clients do); writes need a bearer token or a session.
        return problem(401, "Unauthorized", "HTTP Basic is accepted for reading only; "
                       "send Authorization: Bearer <token> to write",
                       headers={"WWW-Authenticate": "Bearer"})
    if credentials is not None:
        try:
            user = user_for_basic(db.session, *credentials, ip=request.remote_addr,
                                  policy=login_policy())
        except SignInRefusedError as exc:
            db.session.commit()  # the refusal's audit record
            status = 401 if exc.retry_after is None else 429
            return problem(status, "Unauthorized" if status == 401 else "Too Many Requests",
                           f"{exc} (HTTP Basic)",
                           headers={**CHALLENGE_401, **too_many_attempts(exc)})
        if user is None:
            db.session.commit()  # the failed attempt, and a lock-out it caused
            return problem(401, "Unauthorized", "wrong user name or password, or an unknown, "
                           "expired or revoked token (HTTP Basic)", headers=CHALLENGE_401)
        # The attempt, a rehashed password, the last sign-in time; a token's last use.
        _save_sign_in(user)
        g._login_user = user
        return None
    token = bearer_token()
    if token is not None:
        # A token that is sent must be valid, even alongside a session cookie, and it
        # alone decides who the caller is.
        caller = caller_for_token(db.session, token) if token else None
        if caller is None:
            return problem(401, "Unauthorized", "the bearer token is missing, malformed, "
                           "unknown, expired or revoked", headers={"WWW-Authenticate": "Bearer"})
        _save_sign_in(caller)
        g._login_user = caller  # Flask-Login's per-request user, without touching the session
        return None
    if current_user.is_authenticated:
        if db.session.dirty:
            _save_bookkeeping()  # the session's last-seen time (once a minute)
        if request.method in UNSAFE_METHODS:
            csrf.protect()  # cookie sessions need a CSRF token; bearer tokens do not
        return None
    if _is_gis_request():
        return problem(401, "Unauthorized", "send HTTP Basic credentials (user name and "
                       "password, or an API token as the password) or Authorization: "
                       "Bearer <token>", headers=CHALLENGE_401)
    if _wants_json():
        return problem(401, "Unauthorized", "sign in or send Authorization: Bearer <token>",
                       headers={"WWW-Authenticate": "Bearer"})
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def init_app(app: Flask) -> None:
    from app.auth import views  # noqa: F401  (registers routes on bp)

    if on_unless_testing(app.config, "TOKEN_CACHE"):
        app.extensions["token_cache"] = TokenCache(app.config["SQLALCHEMY_DATABASE_URI"])

    login_manager.login_view = "auth.login"
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.before_request(_require_login)
    app.register_blueprint(bp)
