"""Security headers on every response: a strict CSP without inline scripts, and friends."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def content_security_policy(basemap_url: str = "") -> str:
    """The policy; an online basemap (``BASEMAP_URL``) adds its origin to img-src only."""
    if not basemap_url:
        return CONTENT_SECURITY_POLICY
    parts = urlsplit(basemap_url)
    return CONTENT_SECURITY_POLICY.replace(
        "img-src 'self' data:", f"img-src 'self' data: {parts.scheme}://{parts.netloc}")


def init_app(app: Flask) -> None:
    policy = content_security_policy(app.config.get("BASEMAP_URL", ""))

    @app.after_request
    def add_headers(response):
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response
