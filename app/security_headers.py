"""Security headers on every response, and which proxy headers to believe.

- A strict Content-Security-Policy without inline scripts or styles, no framing
  (``frame-ancestors 'none'`` and ``X-Frame-Options``), ``nosniff`` and a same-origin
  referrer policy.
- ``Strict-Transport-Security`` when the request came over TLS. Behind a TLS reverse
  proxy the app sees plain HTTP unless ``TRUSTED_PROXIES`` says how many proxies' ``X-
  Forwarded-*`` headers to believe (werkzeug's ProxyFix); without it those headers are
  ignored, so a client cannot fake its address (the login rate limit counts by it) or
  the scheme.
- ``Cache-Control: no-store`` on every response that set no cache policy of its own:
  pages, API answers and errors hold law-enforcement data, which no browser or proxy
  cache should keep. Vector tiles keep theirs (private, revalidated by ETag), static
  files Flask's, and WMS images are ``private`` (QGIS may keep them, a shared cache not).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, request
from werkzeug.middleware.proxy_fix import ProxyFix

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
# One year, the subdomains too (the preload lists' minimum); only ever sent over TLS.
STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"
NO_STORE = "no-store"
# Map images: the client may keep them, shared caches may not.
PRIVATE_ENDPOINTS = frozenset({"ogc.wms"})


def content_security_policy(basemap_url: str = "") -> str:
    """The policy; an online basemap (``BASEMAP_URL``) adds its origin to img-src only."""
    if not basemap_url:
        return CONTENT_SECURITY_POLICY
    parts = urlsplit(basemap_url)
    return CONTENT_SECURITY_POLICY.replace(
        "img-src 'self' data:", f"img-src 'self' data: {parts.scheme}://{parts.netloc}")


def init_app(app: Flask) -> None:
    policy = content_security_policy(app.config.get("BASEMAP_URL", ""))
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies,
                                x_host=proxies, x_port=proxies)

    @app.after_request
    def add_headers(response):
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security",
                                        STRICT_TRANSPORT_SECURITY)
        if "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = (
                "private" if request.endpoint in PRIVATE_ENDPOINTS else NO_STORE)
        return response
