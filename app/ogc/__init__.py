"""OGC services: WMS (``wms``), OGC API Features (``features``), vector tiles
(``tiles``). ``wms`` and ``features`` are protocol functions without Flask (a
``context.ServiceContext`` and the parameters in, ``(headers, status, body)`` out);
``routes`` adapts them to Flask. Each parses its standard's request, calls one function
in ``geo/`` and writes the standard's response; none holds SQL or rendering code.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("ogc", __name__, url_prefix="/ogc")


def _register_modules() -> None:
    # Each adapter registers its routes on ``bp`` when imported; a module that does not
    # exist yet is simply not served.
    import importlib

    for name in ("routes", "tiles"):
        try:
            importlib.import_module(f"app.ogc.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"app.ogc.{name}":
                raise


_register_modules()
