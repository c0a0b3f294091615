"""Errors as RFC 7807 ``application/problem+json`` for the API, HTML pages elsewhere."""

from __future__ import annotations

from flask import Flask, json, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

PROBLEM_MIME = "application/problem+json"


def problem(status: int, title: str, detail: str, headers: dict | None = None, **extra):
    """A problem+json response (RFC 7807) with ``detail`` that names the cause."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    response_headers = {"Content-Type": PROBLEM_MIME, **(headers or {})}
    return json.dumps(body), status, response_headers


def _is_api_request() -> bool:
    return request.path.startswith("/api/")


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return problem(400, "Bad Request", f"CSRF check failed: {exc.description}")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if not _is_api_request():
            return exc
        return problem(exc.code or 500, exc.name, exc.description or exc.name)

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception):
        # Never a stack trace to the client; the log has it.
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return problem(500, "Internal Server Error", "an unexpected error occurred; "
                       "it has been logged")
