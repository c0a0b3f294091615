"""gunicorn settings of ``make run`` (``--config python:app.gunicorn_conf``).

By default gunicorn believes ``X-Forwarded-Proto``/``-Protocol``/``-Ssl`` from the
addresses in ``forwarded_allow_ips`` (127.0.0.1), so any client on the machine, or a
proxy that passes such headers through, could make a plain HTTP request look like HTTPS
(HSTS sent, ``https://`` links made). Which forwarded headers count is the app's
decision alone: ``TRUSTED_PROXIES=N`` makes werkzeug's ProxyFix believe exactly N
proxies (``app/security_headers.py``), and ``0`` makes no forwarded header have any
effect. So gunicorn believes none from anybody.

``post_worker_init`` makes each worker's map renderer ready before its first request.
"""

forwarded_allow_ips = ""
secure_scheme_headers: dict[str, str] = {}


def post_worker_init(worker) -> None:
    """Each worker, once it has loaded the app (after the fork) and before it accepts a
    request: the renderer's countries basemap made ready (``geo.maps.render.warm_up``),
    so the first map of a fresh worker does not read the basemap's file (0.2-0.3 s). It
    opens no database connection. A failure is logged and left to the first map."""
    from geo.maps.render import warm_up

    try:
        warm_up(worker.wsgi.config["SQLALCHEMY_DATABASE_URI"])
    except Exception:  # noqa: BLE001 - the worker serves anyway; the first map says why
        worker.log.exception("the map renderer's warm-up failed")
