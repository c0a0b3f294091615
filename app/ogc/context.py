"""What the OGC protocol functions need of the request's world, passed in explicitly.

The protocol functions of the WMS (``app.ogc.wms``) and OGC API Features
(``app.ogc.features``) take a :class:`ServiceContext` and the request's parameters and
return ``(headers, status, body)``, as pygeoapi's API does; they import no Flask.
``app.ogc.routes`` builds the context from the Flask request and adapts the answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# (headers, HTTP status, body) of a protocol function.
Answer = tuple[dict[str, str], int, str | bytes]


@dataclass(frozen=True)
class ServiceContext:
    """The caller and the settings a protocol function works with.

    Attributes
    ----------
    session : sqlalchemy.orm.Session
        The request's database session.
    database_url : str
        SQLAlchemy URL of the database (the renderer pools its own connections).
    service_root : str
        The application's root URL, ending in ``/`` (links are built on it).
    scope : frozenset of int or None
        The caller's region scope (``app.auth.scope.region_scope``); None: unrestricted.
    scope_codes : tuple of str or None
        The codes of those regions, sorted; None: unrestricted.
    agency : str or None
        The caller's agency (``app.auth.scope.viewer_agency``): the incidents it sees
        in detail, and counts in aggregates (``geo.scope``); None: every record.
    analysis_srid : int
        EPSG code of the metric analysis CRS, e.g. 32638.
    max_cells : int
        Cap of a hot-spot grid (``HOTSPOT_MAX_CELLS``).
    wms_max_size : int
        Largest WMS WIDTH and HEIGHT, pixels.
    render_html : callable
        ``render_html(template, **context) -> str``: an HTML page of ``templates/``.
    risk_model : geo.risk.risk_config.RiskConfig or None
        The CIRAM model (``RISK_MODEL``) the live section levels are computed with
        (``geo.risk.levels``); None: sections no stored assessment covers are grey.
    """

    session: object
    database_url: str
    service_root: str
    scope: frozenset[int] | None
    scope_codes: tuple[str, ...] | None
    agency: str | None
    analysis_srid: int
    max_cells: int
    wms_max_size: int
    render_html: Callable[..., str]
    risk_model: object = None
