"""Errors as RFC 7807 ``application/problem+json`` for the API, HTML pages elsewhere.

A database that is down, restarting, full or read-only is not a bug of ours: such a
failure (:func:`database_failure`) is answered with **503 and ``Retry-After``** in the
format of the part of the service that was asked (problem+json for ``/api/``, an OGC API
exception for ``/ogc/features`` and ``/ogc/tiles``, a ``ServiceExceptionReport`` for
``/ogc/wms``, a plain page for the browser), after rolling the session's transaction
back, so nothing half-written stays. The engine options in ``config.py``
(``connect_timeout``, ``pool_timeout``) and the checkout check of ``app.connections``
make such a request fail
within about a second and the next one reconnect once the database is back; a
connection that dies after a request's last query does not turn its answer into a 500
(``_remove_session``). docs/reliability.md says what is guaranteed and how it is tested.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from html import escape

import psycopg2
from flask import Flask, Response, json, request
from flask_wtf.csrf import CSRFError
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from geo.io.validation import quoted, unreadable_reason

PROBLEM_MIME = "application/problem+json"
# Seconds a client should wait before retrying after a 503 (a restart takes a few).
RETRY_AFTER_S = 5

UNAVAILABLE = ("the database is unavailable (down, restarting or unreachable); "
               "nothing was changed, try again shortly")
_BY_SQLSTATE = {
    "53100": "the database is out of disk space; nothing was written",
    "53200": "the database is out of memory; nothing was written, try again shortly",
    "53300": "the database accepts no more connections; nothing was written, try again "
             "shortly",
    "25006": "the database is read-only (maintenance or a standby server); nothing was "
             "written",
    "57014": "the database did not answer in time; nothing was written",
    "40001": "the database could not serialise this transaction with another; nothing "
             "was written, try again",
    "40P01": "the database found a deadlock with another transaction; nothing was "
             "written, try again",
}
# libpq's words when mapnik's PostGIS plugin loses or cannot open its connection (it
# reports them as a RuntimeError, without an SQLSTATE).
_CONNECTION_WORDS = ("could not connect", "connection refused", "server closed the connection",
                     "terminating connection", "the database system is",
                     "no connection to the server", "connection to server",
                     "connection not open", "connection already closed")


def problem(status: int, title: str, detail: str, headers: dict | None = None, **extra):
    """A problem+json response (RFC 7807) with ``detail`` that names the cause."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    response_headers = {"Content-Type": PROBLEM_MIME, **(headers or {})}
    return json.dumps(body), status, response_headers


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (the driver's, when SQLAlchemy wraps one),
    or its type's name: what a log line says of a failure, not a traceback."""
    return (str(getattr(exc, "orig", None) or exc).strip().splitlines()
            or [type(exc).__name__])[0]


def database_failure(exc: BaseException) -> str | None:
    """Why the database could not serve the request, for the client; None when ``exc``
    is not a database failure (a bug, answered with 500).

    Failures: connection errors (no SQLSTATE, or class 08), the server shutting down or
    restarting (57P01-57P03), insufficient resources (class 53: disk full, out of memory,
    too many connections), a read-only transaction (25006), a statement timeout (57014),
    a serialisation failure or deadlock (40001, 40P01), no free pooled connection within
    ``pool_timeout`` and mapnik's PostGIS plugin losing its connection.
    """
    if isinstance(exc, sa_exc.TimeoutError):  # the pool's, not a statement's
        return "the service is busy: no database connection became free in time; try again"
    if isinstance(exc, sa_exc.DisconnectionError):
        return UNAVAILABLE
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return UNAVAILABLE
        driver_error = exc.orig
    elif isinstance(exc, psycopg2.Error):  # raw driver use (COPY) outside SQLAlchemy
        driver_error = exc
    elif isinstance(exc, RuntimeError):  # mapnik
        text = str(exc).lower()
        return UNAVAILABLE if any(words in text for words in _CONNECTION_WORDS) else None
    else:
        return None
    code = getattr(driver_error, "pgcode", None) or ""
    if code in _BY_SQLSTATE:
        return _BY_SQLSTATE[code]
    if code.startswith("53"):
        return "the database is out of resources; nothing was written, try again later"
    if code.startswith("08") or code in ("57P01", "57P02", "57P03"):
        return UNAVAILABLE
    if not code and isinstance(driver_error, (psycopg2.OperationalError,
                                              psycopg2.InterfaceError)):
        return UNAVAILABLE  # libpq's own (connection) errors carry no SQLSTATE
    if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)):
        return UNAVAILABLE
    return None


def _is_api_request() -> bool:
    return request.path.startswith("/api/")


# How each part of the service words an error, by URL prefix (the longest prefix that
# matches wins): registered by the blueprints' modules (``register_error_format``), so
# this module knows no service's internals.
ErrorFormat = Callable[[int, str, str, "str | None"], Response]
_ERROR_FORMATS: dict[str, ErrorFormat] = {}


def register_error_format(prefix: str, answer: ErrorFormat) -> None:
    """Word the errors of requests whose path starts with ``prefix`` with ``answer(status,
    reason, code, locator)`` (status: the HTTP status; code: the service's exception
    code; locator: the parameter or field at fault, or None)."""
    _ERROR_FORMATS[prefix] = answer


def _problem_response(status: int, reason: str, code: str, locator: str | None) -> Response:
    extra = {"field": locator} if locator else {}
    body, status, problem_headers = problem(
        status, HTTP_STATUS_CODES.get(status, "Error"), reason, **extra)
    return Response(body, status=status, headers=problem_headers)


register_error_format("/api/", _problem_response)
register_error_format("/healthz", _problem_response)


def service_error_response(status: int, reason: str, *, code: str,
                           locator: str | None = None) -> Response:
    """An error in the format of the part of the service asked (a WMS
    ``ServiceExceptionReport``, an OGC API exception, RFC 7807 problem+json: see
    ``register_error_format``), else a plain page (no template, no session user: both
    could need the database)."""
    path = request.path
    prefixes = [prefix for prefix in _ERROR_FORMATS if path.startswith(prefix)]
    if prefixes:
        response = _ERROR_FORMATS[max(prefixes, key=len)](status, reason, code, locator)
        response.status_code = status
        return response
    heading = escape(HTTP_STATUS_CODES.get(status, "Error").capitalize())
    page = ("<!doctype html><html><head><meta charset=\"utf-8\">"
            f"<title>{heading}</title></head><body><h1>{heading}</h1>"
            f"<p>{escape(reason[0].upper() + reason[1:])}.</p>"
            + (f"<p>Reload this page in {RETRY_AFTER_S} seconds.</p>" if status == 503
               else "") + "</body></html>")
    return Response(page, status=status, mimetype="text/html")


def _has_error_format(path: str) -> bool:
    """Whether a part of the service words the errors of ``path`` itself (the API, the
    OGC services: ``register_error_format``)."""
    return any(path.startswith(prefix) for prefix in _ERROR_FORMATS)


def _error_page(status: int) -> str:
    """A browser's 403 or 404 page in the page's language, with a way on (the map; the
    sign-in page for someone not signed in)."""
    from flask import render_template
    from flask_babel import gettext

    if status == 403:
        heading = gettext("Not allowed")
        reason = gettext("Your role does not give access to this page. Ask an "
                         "administrator if you need it.")
    else:
        heading = gettext("Page not found")
        reason = gettext("There is no page at this address: the link may be mistyped or "
                         "out of date.")
    return render_template("error.html", heading=heading, reason=reason, status=status)


def _unavailable_response(reason: str) -> Response:
    """503 with ``Retry-After``, in the format of the part of the service asked."""
    response = service_error_response(503, reason, code="ServiceUnavailable")
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


def unreadable_parameter(args) -> tuple[str, str] | None:
    """``(name, reason)`` of the first query parameter (name or value) whose text
    :func:`unreadable_reason` refuses; None when all are readable."""
    for name, value in args.items(multi=True):
        for text in (name, value):
            reason = unreadable_reason(text)
            if reason is not None:
                return name, reason
    return None


# Text a client sent that the database refused, or that its driver could not encode:
# the client's error, never a 5xx (a 503 would have clients retry forever). SQLSTATEs:
# character not in repertoire, untranslatable character, numeric value out of range.
_CLIENT_DATA_SQLSTATES = ("22021", "22P05", "22003")


def client_data_error(exc: BaseException) -> str | None:
    """Why the database refused a value of the request (what reached it unchecked), or
    None when ``exc`` is not such an error.

    A lone surrogate fails the driver's UTF-8 encoding (``UnicodeEncodeError``), a NUL
    character psycopg2's quoting (``ValueError``), a number beyond a column's type
    PostgreSQL (22003).
    """
    error = getattr(exc, "orig", None) or exc
    if isinstance(error, UnicodeEncodeError):
        return "a value is not valid UTF-8 text (a lone surrogate)"
    if type(error) is ValueError and "NUL (0x00)" in str(error):
        return "a value holds a NUL character"
    if getattr(error, "pgcode", None) in _CLIENT_DATA_SQLSTATES:
        return f"a value was refused by the database: {quoted(first_line(exc), 120)}"
    return None


def _roll_back() -> None:
    """Roll the request's transaction back; a dead connection is discarded quietly (the
    server has already rolled back what it held)."""
    from app.extensions import db

    with contextlib.suppress(Exception):
        db.session.rollback()


def _remove_session(exc: BaseException | None) -> None:
    """End the request's session; when its connection died meanwhile (the database
    restarted after the last query), SQLAlchemy has discarded that connection and the
    rollback that fails is not the client's concern: their answer stands."""
    from app.extensions import db

    try:
        db.session.remove()
    except sa_exc.DBAPIError as error:
        if database_failure(error) is None:
            raise
        db.session.registry.clear()


def init_app(app: Flask) -> None:
    # Registered after Flask-SQLAlchemy's own teardown, so it runs first (teardowns run
    # in reverse order) and leaves that one nothing to close.
    app.teardown_appcontext(_remove_session)

    @app.before_request
    def refuse_unreadable_parameters():
        # Every parameter of every route: such text would otherwise reach PostgreSQL
        # (which refuses it: a 500) or an XML answer.
        bad = unreadable_parameter(request.args)
        if bad is not None:
            name, reason = bad
            # 422 as every other parameter error of the REST API; 400 for OGC services.
            status = 422 if _is_api_request() else 400
            return service_error_response(
                status, f"parameter {quoted(name)} {reason}", code="InvalidParameterValue",
                locator=name)
        return None

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return problem(400, "Bad Request", f"CSRF check failed: {exc.description}")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if _is_api_request():
            return problem(exc.code or 500, exc.name, exc.description or exc.name)
        if exc.code in (403, 404) and not _has_error_format(request.path):
            return _error_page(exc.code), exc.code
        return exc

    from app.request_json import UnreadableJSONTextError

    @app.errorhandler(UnreadableJSONTextError)
    def unreadable_json_text(exc: UnreadableJSONTextError):
        return service_error_response(
            422 if _is_api_request() else 400, str(exc), code="InvalidParameterValue",
            locator=exc.field)

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception):
        refused = client_data_error(exc)
        if refused is not None:
            _roll_back()
            status = 422 if _is_api_request() else 400
            app.logger.warning("%d on %s %s: %s", status, request.method, request.path,
                               first_line(exc))
            return service_error_response(status, refused, code="InvalidParameterValue")
        reason = database_failure(exc)
        if reason is not None:
            _roll_back()
            # One line, not a traceback: an outage would otherwise flood the log.
            app.logger.warning("503 on %s %s: database failure: %s", request.method,
                               request.path, first_line(exc))
            return _unavailable_response(reason)
        # Never a stack trace to the client; the log has it.
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return problem(500, "Internal Server Error", "an unexpected error occurred; "
                       "it has been logged")
