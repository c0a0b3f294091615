"""The regional risk bulletin: the monthly CIRAM product of a regional unit.

:func:`regional_bulletin` gathers everything the bulletin shows as plain data (no Flask,
no HTML): the region, the ranked sections with their reasons and supervisors' decisions,
the trends against the previous equal-length period and the same period last year, the
alerts, the method and configuration, how much of the data is synthetic, and a map image
of the region (``geo.maps.render.render_map``: sections coloured by level, crossing
points, Gi* hot-spots) with what the page draws around it: the region's and sections'
codes at their pixel positions and a scale bar in ground metres.
:func:`pdf_from_html` turns the bulletin's HTML (rendered by the web layer) into a PDF
with WeasyPrint.

Which assessment a bulletin shows
---------------------------------
A bulletin is the product of record of a region and period, so it shows the **latest
stored assessment** of exactly that region and period when one exists
(``POST /api/v1/risk/assessments``): its scores are what was signed off, computed with
the configuration stored in the record (whose SHA-256 and parameters the bulletin
prints), and the bulletin names who ran it and when. When none exists the bulletin
**computes the assessment live** with the running configuration and says so: nothing
is stored by reading a bulletin. In both cases the supervisors' current level decisions
(``PATCH /api/v1/risk/segments/{id}/level``) are applied and listed with who decided,
when and why; the computed level stays visible next to them.

Whose records it counts
-----------------------
The bulletin counts what its reader's agency may count (``geo.scope``: records it sees
in detail, and other agencies' records their originators let count in aggregates) and
says how many of them the reader does not see; a stored assessment was counted in the
view every agency shares (``geo.risk.assessments.SHARED_VIEW``), and the bulletin then
counts everything in that view. It shows no detail of any incident: no description,
and no incident on its map (sections, crossing points, regions and hot-spot cells only).

Times are timezone-aware UTC; lengths and distances in metres.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from geo.errors import ParameterError
from geo.forecast import service as forecast
from geo.queries import risk as risk_sql
from geo.risk import assessments, risk_config
from geo.scope import VIEWER_PARAMETER

#: Layers of the bulletin's map, bottom to top.
MAP_LAYERS = ("countries", "regions", "hotspots", "border_segments", "crossing_points")
#: Map width in pixels (the height follows the region's shape); about 17 cm at 150 dpi.
MAP_WIDTH_PX = 1000
MAP_MIN_HEIGHT_PX = 400
MAP_MAX_HEIGHT_PX = 1100
#: Share of the region's extent added around it on the map.
MAP_MARGIN = 0.06
#: CRS of the map: conformal, so the region keeps its shape at this latitude.
MAP_CRS = "EPSG:3857"
#: How many sections the "largest increases" list of the trends shows.
TOP_INCREASES = 5
#: Longest scale bar, as a share of the map's width.
SCALE_BAR_MAX_SHARE = 0.25
#: Radius of the sphere of EPSG:3857, metres.
WEB_MERCATOR_RADIUS_M = 6_378_137.0




def _region(session, region_code: str | None):
    if not region_code:
        raise ParameterError("region", "is required: the bulletin is the product of one "
                                       "regional unit (a region code such as GE-KA)")
    row = session.execute(risk_sql.REGION, {"code": region_code}).one_or_none()
    if row is None:
        raise ParameterError("region", f"unknown region code {region_code!r}")
    return row


def _stored_assessment(session, region_id: int, start: datetime, end: datetime):
    row = session.execute(risk_sql.STORED, {"region_id": region_id, "start": start,
                                    "end": end}).one_or_none()
    if row is None:
        return None, None
    return assessments.assessment_record(session, row.id), row.created_by


def _stored_view(stored: dict) -> str | None:
    """The view a stored assessment was counted in (``geo.risk.assessments``): the one
    its inputs name, else (records from before the agencies, when every record was
    released to all) the shared view."""
    inputs = stored["inputs"] if isinstance(stored["inputs"], dict) else {}
    return inputs.get("viewer_agency", assessments.SHARED_VIEW)


def _method(config: risk_config.RiskConfig) -> dict:
    """The model's parameters a reader needs to judge the ranking."""
    return {
        "config_sha256": risk_config.config_hash(config),
        "parsed": True,
        "note": None,
        "corridor_m": config.corridor_m,
        "reference_days": config.reference_days,
        "baseline_periods": config.baseline_periods,
        "impact_window": config.impact.window,
        "distribution": config.distribution,
        "alert_alpha": config.alert_alpha,
        "bands": {"low": [1, config.low_max], "medium": [config.low_max + 1, config.medium_max],
                  "high": [config.medium_max + 1, 125]},
        "weights": {
            "threat": dict(config.threat.factor_weights()),
            "vulnerability": dict(config.vulnerability.weights),
            "impact": dict(config.impact.weights),
        },
        "config_text": config.text,
    }


def _trends(sections: list[dict], summary: dict) -> dict:
    previous = sum(s["comparison"]["previous_period"] for s in sections)
    last_year = sum(s["comparison"]["same_period_last_year"] for s in sections)
    rising = [s for s in sections if s["comparison"]["change_previous_pct"] is not None
              and s["comparison"]["change_previous_pct"] > 0]
    rising.sort(key=lambda s: (-(s["incidents"] - s["comparison"]["previous_period"]),
                               s["code"]))
    new_activity = [s["code"] for s in sections
                    if s["incidents"] > 0 and s["comparison"]["previous_period"] == 0]
    return {
        "incidents": summary["incidents"],
        "previous_period": previous,
        "change_previous_pct": summary["change_previous_pct"],
        "same_period_last_year": last_year,
        "change_last_year_pct": summary["change_last_year_pct"],
        "concentration_top20_pct": summary["concentration_top20_pct"],
        "largest_increases": [
            {"code": s["code"], "name": s["name"], "name_ka": s.get("name_ka"),
             "incidents": s["incidents"],
             "previous_period": s["comparison"]["previous_period"],
             "change_previous_pct": s["comparison"]["change_previous_pct"]}
            for s in rising[:TOP_INCREASES]
        ],
        "new_activity": sorted(new_activity),
    }


def _map_size(row) -> tuple[tuple[float, float, float, float], int, int]:
    """The map's bbox (EPSG:3857 metres, with a margin) and its size in pixels."""
    width, height = row.maxx - row.minx, row.maxy - row.miny
    pad = MAP_MARGIN * max(width, height)
    bbox = (row.minx - pad, row.miny - pad, row.maxx + pad, row.maxy + pad)
    pixels_high = round(MAP_WIDTH_PX * (bbox[3] - bbox[1]) / (bbox[2] - bbox[0]))
    pixels_high = min(max(pixels_high, MAP_MIN_HEIGHT_PX), MAP_MAX_HEIGHT_PX)
    # Keep the aspect ratio of the pixels equal to that of the bbox: widen the bbox.
    wanted = (bbox[3] - bbox[1]) * MAP_WIDTH_PX / pixels_high
    grow = (wanted - (bbox[2] - bbox[0])) / 2
    if grow >= 0:
        bbox = (bbox[0] - grow, bbox[1], bbox[2] + grow, bbox[3])
    else:  # too wide for the smallest height: heighten the bbox instead (never cut it)
        wanted_y = (bbox[2] - bbox[0]) * pixels_high / MAP_WIDTH_PX
        grow_y = (wanted_y - (bbox[3] - bbox[1])) / 2
        bbox = (bbox[0], bbox[1] - grow_y, bbox[2], bbox[3] + grow_y)
    return bbox, MAP_WIDTH_PX, pixels_high


def scale_bar(bbox: tuple[float, float, float, float], width_px: int) -> dict:
    """A scale bar for a map of ``bbox`` (EPSG:3857 metres) drawn ``width_px`` wide.

    EPSG:3857 stretches distances by 1/cos(latitude): the ground metres per pixel are
    taken at the map's centre latitude (exact enough across one region).

    Returns
    -------
    dict
        ``metres`` (a round length on the ground: 1, 2 or 5 times a power of ten),
        ``pixels`` (its length on the map at ``width_px``, at most
        ``SCALE_BAR_MAX_SHARE`` of it) and ``metres_per_pixel`` (ground metres).
    """
    centre_y = (bbox[1] + bbox[3]) / 2
    latitude = math.atan(math.sinh(centre_y / WEB_MERCATOR_RADIUS_M))
    metres_per_pixel = (bbox[2] - bbox[0]) / width_px * math.cos(latitude)
    longest = SCALE_BAR_MAX_SHARE * width_px * metres_per_pixel
    power = 10 ** math.floor(math.log10(longest))
    metres = max(step * power for step in (1, 2, 5) if step * power <= longest)
    return {"metres": metres, "pixels": round(metres / metres_per_pixel, 1),
            "metres_per_pixel": metres_per_pixel}


def _map_labels(session, region_id: int, bbox: tuple[float, float, float, float],
                width: int, height: int) -> list[dict]:
    """The region's and its sections' labels on the map: ``kind`` ("region" or
    "section"), ``code`` and the pixel position ``x``, ``y`` (from the top left) of a
    point on the region and the middle of each section (a multi-part section has none)."""
    scale_x, scale_y = width / (bbox[2] - bbox[0]), height / (bbox[3] - bbox[1])
    return [{"kind": row.kind, "code": row.code,
             "x": round((row.x - bbox[0]) * scale_x, 1),
             "y": round((bbox[3] - row.y) * scale_y, 1)}
            for row in session.execute(risk_sql.MAP_LABELS, {"region_id": region_id})]


def _outlook(session, region_code: str, end: datetime, days: float, srid: int,
             view: str | None, corridor_m: float) -> dict:
    """The forecast of the period after the bulletin's per section
    (``geo.forecast.service.next_period``), from the incidents up to ``end``."""
    as_of, period = forecast.next_period(end, days)
    return forecast.section_outlooks(session, [region_code], as_of, period, srid, view,
                                     corridor_m)[region_code]


def _region_map(session, row, start: datetime, end: datetime,
                segment_levels: dict[int, str], scope: frozenset[int] | None,
                srid: int, view: str | None = None) -> dict:
    """The bulletin's map: PNG of the region, sections by level, hot-spots of the period
    (computed in the analysis CRS ``srid``, counted as ``view`` counts: an agency code,
    "" every agency's, None the system's); neighbouring regions' features only when
    ``scope`` (the reader's regions) allows. It draws no incident (``MAP_LAYERS``), so
    no point of a record its reader does not see."""
    from geo.maps import (
        map_request,
        render,  # mapnik: imported only where a map is drawn
    )

    bbox, width, height = _map_size(row)
    request = map_request.MapRequest(
        layers=MAP_LAYERS, bbox=bbox, crs=MAP_CRS, width=width, height=height, fmt="png",
        time=(start, end), region=row.code,
        segment_levels=segment_levels, scope=scope, analysis_srid=srid, agency=view,
    )
    url = session.get_bind().engine.url.render_as_string(hide_password=False)
    png = render.render_map(request, url)
    return {"png": png, "data_uri": "data:image/png;base64," + base64.b64encode(png).decode(),
            "width": width, "height": height, "crs": MAP_CRS, "bbox": list(bbox),
            "layers": list(MAP_LAYERS), "scale_bar": scale_bar(bbox, width),
            "labels": _map_labels(session, row.id, bbox, width, height)}


def _legend() -> dict:
    from geo.maps import palette

    return {"levels": dict(palette.RISK_LEVEL_COLOURS),
            "not_assessed": palette.NOT_ASSESSED_COLOUR,
            "crossing_point": {"fill": "#ffffff", "outline": palette.CROSSING_POINT_COLOUR},
            "hotspot_bins": {str(k): v for k, v in palette.HOTSPOT_BIN_COLOURS.items()}}


def regional_bulletin(session, config: risk_config.RiskConfig, region_code: str | None,
                      start: datetime, end: datetime, srid: int, *,
                      now: Callable[[], datetime] | None = None,
                      scope: frozenset[int] | None = None,
                      viewer_agency: str | None = None,
                      period_source: str = "datetime parameter",
                      partial: bool = False) -> dict:
    """Everything a regional risk bulletin shows, as plain data.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
    config : geo.risk.risk_config.RiskConfig
        The running configuration (used when the bulletin computes the assessment live).
    region_code : str
        Code of the regional unit (required).
    start, end : datetime
        The period, closed ``[start, end]``, timezone-aware (UTC).
    srid : int
        EPSG code of the metric analysis CRS.
    now : callable, optional
        Clock for ``generated_at`` (UTC); default ``datetime.now(UTC)``.
    scope : frozenset of int, optional
        The reader's region scope (region ids; None: unrestricted): the map draws no
        feature of a region outside it.
    viewer_agency : str, optional
        The reader's agency (None: the system). A live assessment, the provenance
        counts and the map's hot-spots count what it may count (``geo.scope``); a
        stored assessment was counted in the view it names (its ``inputs``'
        ``viewer_agency``; ``geo.risk.assessments.SHARED_VIEW`` for records that name
        none), and the bulletin's other counts then use that view too, so every
        count of one bulletin rests on the same records. The bulletin shows no
        incident's detail (no description, no incident on its map).
    period_source : str, optional
        Where the period came from (``geo.products.periods``: the request, or the
        default period), said in ``period.source``.
    partial : bool, optional
        The period is not over (``geo.products.periods.is_partial``): its percent
        changes are withheld (``geo.risk.assessments.withhold_comparisons``) and no
        increases or new activity are listed; ``period.partial`` says so.

    Returns
    -------
    dict
        ``region`` (code, name, provenance), ``period`` (ISO start/end, days),
        ``assessment`` (``source`` ``"stored"`` with id, author and time, or ``"live"``),
        ``counted`` (``viewer_agency``: the view counted, ``counted_not_visible``:
        how many of the period's incidents that view does not see in detail, None
        when a stored record does not say), ``summary`` and ``sections`` (ranked,
        with explanation, comparison, alert,
        ``computed_level`` and ``decision``), ``levels_in_force`` (sections per
        level after the decisions), ``alerts``, ``decisions``, ``trends``,
        ``method`` (configuration hash, parameters and text; ``parsed`` false, with a
        ``note``, for a stored configuration this version cannot read), ``data`` (incidents by
        provenance; ``synthetic`` true when any incident of the bulletin is synthetic,
        ``approximate_geography`` the provenances other than ``reported`` of the
        region and its sections), ``map`` (PNG bytes, data URI, size, bbox in
        EPSG:3857 metres, ``scale_bar``: :func:`scale_bar`, ``labels``: the region's and
        sections' codes at their pixel positions), ``legend`` (colours of
        ``geo.maps.render``) and ``generated_at``.

    Raises
    ------
    ParameterError
        ``region`` missing or unknown or without sections, ``datetime`` ending before
        it starts.
    """
    if end <= start:
        raise ParameterError("datetime", "the period must end after it starts")
    region = _region(session, region_code)
    stored, author = _stored_assessment(session, region.id, start, end)
    if stored is not None:
        try:
            used = risk_config.parse_risk_config(stored["config"], f"assessment {stored['id']}")
            method = _method(used)
        except risk_config.RiskConfigError as error:
            # A record made under an earlier version of the model's file: its text and
            # hash are still the record; the running corridor counts the provenance.
            used = config
            method = {"config_sha256": stored["config_sha256"], "parsed": False,
                      "config_text": stored["config"],
                      "note": "the stored configuration is from an earlier version of the "
                              f"model and is shown as stored ({error.reason})"}
        summary, sections = stored["summary"], stored["sections"]
        assessment = {"source": "stored", "id": stored["id"], "created_by": author,
                      "created_at": stored["created_at"]}
        view = _stored_view(stored)
    else:
        used, method = config, _method(config)
        evaluated = assessments.assess_region(session, config, region.code, start, end,
                                              srid, viewer_agency=viewer_agency)
        summary, sections = evaluated["summary"], evaluated["sections"]
        assessment = {"source": "live", "id": None, "created_by": None, "created_at": None}
        view = viewer_agency
    assessments.apply_decisions(session, sections)
    if partial:
        assessments.withhold_comparisons({"summary": summary, "sections": sections})
    trends = _trends(sections, summary)
    if partial:
        trends.update(largest_increases=[], new_activity=[])

    provenance = {row.provenance: int(row.incidents) for row in session.execute(
        risk_sql.PROVENANCE, {"region_id": region.id, "corridor_m": used.corridor_m,
                              "start": start, "end": end, VIEWER_PARAMETER: view})}
    section_provenance = {row[0]: int(row[1]) for row in session.execute(
        risk_sql.SECTION_PROVENANCE, {"region_id": region.id})}
    geography = sorted({region.provenance, *section_provenance} - {"reported"})

    levels = {int(s["section_id"]): s["level"] for s in sections}
    return {
        "region": {"code": region.code, "name": region.name, "name_ka": region.name_ka,
                   "provenance": region.provenance},
        "period": {"start": start.isoformat(), "end": end.isoformat(),
                   "days": round((end - start).total_seconds() / 86400, 2),
                   "source": period_source, "partial": partial},
        "assessment": assessment,
        "counted": {"viewer_agency": view,
                    "counted_not_visible": summary.get("counted_not_visible")},
        "summary": summary,
        "sections": sections,
        "levels_in_force": {level: sum(s["level"] == level for s in sections)
                            for level in (*risk_config.LEVELS, "critical")},
        "alerts": [s for s in sections if s["alert"]["alert"]],
        "decisions": [s for s in sections if s["decision"] is not None],
        "trends": trends,
        "method": method,
        "data": {"incidents_by_provenance": provenance,
                 "sections_by_provenance": section_provenance,
                 "synthetic": bool(provenance.get("synthetic")),
                 "approximate_geography": geography},
        "outlook": _outlook(session, region.code, end, (end - start).total_seconds() / 86400,
                            srid, view, used.corridor_m),
        "map": _region_map(session, region, start, end, levels, scope, srid, view),
        "legend": _legend(),
        "generated_at": (now or (lambda: datetime.now(UTC)))().isoformat(timespec="seconds"),
    }


def pdf_from_html(html: str, stylesheet: str | Path) -> bytes:
    """Print the bulletin's HTML to PDF (A4, as its ``@page`` rules say) with WeasyPrint.

    Parameters
    ----------
    html : str
        The complete bulletin page; its images are ``data:`` URIs.
    stylesheet : str or pathlib.Path
        The bulletin's CSS file (the page's own ``<link>`` is not fetched: WeasyPrint
        loads nothing but ``data:`` URIs).

    Returns
    -------
    bytes
        The PDF document.
    """
    from weasyprint import CSS, HTML
    from weasyprint.urls import URLFetcher

    # Only data: URIs (the map): the bulletin never makes the server fetch anything else.
    document = HTML(string=html, url_fetcher=URLFetcher(allowed_protocols=("data",)))
    return document.write_pdf(stylesheets=[CSS(filename=str(stylesheet))])
