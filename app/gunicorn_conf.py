"""gunicorn settings of ``make run`` (``--config python:app.gunicorn_conf``).

By default gunicorn believes ``X-Forwarded-Proto``/``-Protocol``/``-Ssl`` from the
addresses in ``forwarded_allow_ips`` (127.0.0.1), so any client on the machine, or a
proxy that passes such headers through, could make a plain HTTP request look like HTTPS
(HSTS sent, ``https://`` links made). Which forwarded headers count is the app's
decision alone: ``TRUSTED_PROXIES=N`` makes werkzeug's ProxyFix believe exactly N
proxies (``app/security_headers.py``), and ``0`` makes no forwarded header have any
effect. So gunicorn believes none from anybody.
"""

forwarded_allow_ips = ""
secure_scheme_headers: dict[str, str] = {}
