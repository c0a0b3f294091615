"""The planner API: hot-spot maps, emerging hot-spots and their predictive evaluation.

Read-only, authenticated. Each route parses its parameters, runs one analysis of
``geo.hotspots.pipeline`` through its result cache, and answers GeoJSON. Emerging
hot-spots come by grid cell (``unit=cell``, the default) or by border section
(``unit=section``, ``geo.hotspots.sections``: the CIRAM locations, incidents counted for
their nearest section within the risk model's corridor).

The study area is one or several regions, a country (``region=GE``) or, without
``region``, every region, clipped to a ``bbox`` when given (``geo.hotspots.inputs.StudyArea``).
A user restricted to regions (``app.auth.scope``) analyses their own: a ``region`` must
be one of theirs (403 otherwise), the default is all of theirs, and only incidents of
their regions are counted.

Every analysis counts what the caller's agency may count (``geo.scope.counted_condition``:
the records it sees in detail, and other agencies' records their originators let count
in aggregates); the ``metadata`` says for which agency (``viewer_agency``) and how many
of the counted records it does not see (``counted_not_visible``). Results are cached per
agency.
"""

from __future__ import annotations

import json

from flask import Response, current_app, request

from app.api import bp
from app.api.params import (
    ParameterError,
    parse_bbox,
    parse_bool,
    parse_datetime_interval,
    parse_float,
    parse_instant,
    parse_int,
    parse_list,
)
from app.auth.scope import region_codes_in_scope, region_scope, viewer_agency
from app.extensions import db
from geo import clock
from geo.errors import OutOfScopeError
from geo.hotspots import cache, inputs, pipeline, sections
from geo.layers import INCIDENTS
from geo.products import periods
from geo.scope import check_region

GEOJSON_MIME = "application/geo+json"
EMERGING_UNITS = ("cell", "section")


def _area(args) -> inputs.StudyArea:
    """The study area: ``region`` (one code, several separated by commas, or a country
    code such as ``GE``; none: every region), clipped to ``bbox`` when given. A caller
    restricted to regions names only theirs (403 otherwise) and analyses only them."""
    codes = tuple(code.strip() for code in (args.get("region") or "").split(",")
                  if code.strip())
    in_scope = region_codes_in_scope()
    if in_scope is not None:
        if not in_scope:
            raise OutOfScopeError("region", "you are linked to no region: ask an admin")
        for code in codes:
            if "-" in code:  # a region, not a country code
                check_region(code, in_scope)
    scope = region_scope()
    return inputs.StudyArea(regions=codes, bbox=parse_bbox(args.get("bbox")),
                            region_ids=None if scope is None else tuple(sorted(scope)))


def _selection(args, window: str = "datetime",
               default: periods.AnalysisPeriod | None = None) -> inputs.Selection:
    """The incidents an analysis counts, in the ``window`` interval (open ends unbound);
    ``default``: the period used when ``window`` is absent (the hot-spot map's default
    period, ``geo.products.periods``)."""
    start, end = parse_datetime_interval(args.get(window))
    if default is not None and args.get(window) is None:
        start, end = default.start, default.end
    outcome = args.get("outcome") or None
    if outcome not in (None, "attempted", "actual"):
        raise ParameterError("outcome", f"unknown value {outcome!r}; allowed: attempted, actual")
    weight = args.get("weight", "count")
    if weight not in ("count", "persons"):
        raise ParameterError("weight", f"unknown value {weight!r}; allowed: count, persons")
    categories = parse_list("category", args.get("category"),
                            INCIDENTS.field("category").choices)
    scope = region_scope()
    return inputs.Selection(start, end, tuple(sorted(categories)), outcome, weight,
                            None if scope is None else tuple(sorted(scope)),
                            viewer_agency=viewer_agency())


def _closed_window(field: str) -> tuple:
    start, end = parse_datetime_interval(request.args.get(field))
    if start is None or end is None:
        raise ParameterError(field, "needs a closed interval start/end")
    return start, end


def _answer(kind: str, analysis_request, compute) -> Response:
    srid = current_app.config["ANALYSIS_SRID"]
    body = cache.cached(db.session, kind, analysis_request, srid,
                           lambda: compute(db.session, analysis_request, srid))
    return Response(body, mimetype=GEOJSON_MIME)


def _common(args) -> dict:
    return {
        "cell_size_m": parse_float("cell_size", args.get("cell_size"), 10, 1_000_000),
        "max_cells": current_app.config["HOTSPOT_MAX_CELLS"],
    }


def _with_period(response: Response, period: periods.AnalysisPeriod) -> Response:
    """The answer with its ``metadata`` saying the default period it used (``period``,
    ``period_source``, ``period_partial``); the cached body itself is the analysis'."""
    body = json.loads(response.get_data())
    body.setdefault("metadata", {}).update(period.describe(clock.utc_now()))
    response.set_data(json.dumps(body, separators=(",", ":")))
    return response


def _default_period(args) -> periods.AnalysisPeriod | None:
    """The default analysis period (``geo.products.periods``) when ``datetime`` is
    absent, else None."""
    if args.get("datetime") is not None:
        return None
    return periods.default_analysis_period(db.session, clock.utc_now(), viewer_agency())


@bp.get("/hotspots")
def hotspot_map():
    args = request.args
    default = _default_period(args)
    hotspot_request = pipeline.HotspotRequest(
        area=_area(args), selection=_selection(args, default=default),
        method=args.get("method", "gistar"),
        distance_band_m=parse_float("distance_band", args.get("distance_band"), 1, 1e7),
        fdr=parse_bool("fdr", args.get("fdr", "true")),
        neighbourhood=args.get("neighbourhood", "band"),
        k=parse_int("k", args.get("k"), 8, 1, 100),
        inference=args.get("inference", "analytic"),
        permutations=parse_int("permutations", args.get("permutations"), 999, 99, 9999),
        seed=parse_int("seed", args.get("seed"), 0, 0, 2**31 - 1),
        rate=args.get("rate") or None,
        significant_only=parse_bool("significant_only", args.get("significant_only")),
        **_common(args),
    )
    answer = _answer("hotspots", hotspot_request, pipeline.hotspot_cells)
    return answer if default is None else _with_period(answer, default)


def _emerging_options(args) -> dict:
    """The time options of an emerging analysis, by cell or by section."""
    reference = parse_instant("reference", args["reference"]) if args.get("reference") \
        else None
    return {"step": args.get("step", "month"),
            "time_window": parse_int("time_window", args.get("time_window"), 1, 0, 12),
            "alignment": args.get("alignment", "end"), "reference": reference,
            "global_window": args.get("global_window", "entire_cube")}


def _section_request(args, default: periods.AnalysisPeriod | None) -> sections.SectionRequest:
    """``unit=section``: the border sections of the study area's regions (the caller's,
    as for every analysis), incidents counted within the risk model's corridor
    (``RISK_MODEL.corridor_m``); no cells, so no ``cell_size``."""
    for field, given in (("cell_size", bool(args.get("cell_size"))),
                         ("patterns_only", parse_bool("patterns_only",
                                                      args.get("patterns_only")))):
        if given:
            raise ParameterError(field, f"unit=section analyses border sections, not "
                                        f"cells: leave {field} out")
    return sections.SectionRequest(
        area=_area(args), selection=_selection(args, default=default),
        corridor_m=current_app.config["RISK_MODEL"].corridor_m,
        distance_band_m=parse_float("distance_band", args.get("distance_band"), 1, 1e7),
        **_emerging_options(args))


@bp.get("/hotspots/emerging")
def emerging_hotspots():
    args = request.args
    unit = args.get("unit", "cell")
    if unit not in EMERGING_UNITS:
        raise ParameterError("unit", f"unknown unit {unit!r}; units: {', '.join(EMERGING_UNITS)}")
    default = _default_period(args)
    if default is not None:
        default = periods.emerging_period(default)
    if unit == "section":
        answer = _answer("emerging-sections", _section_request(args, default),
                         sections.emerging_sections)
    else:
        emerging_request = pipeline.EmergingRequest(
            area=_area(args), selection=_selection(args, default=default),
            distance_band_m=parse_float("distance_band", args.get("distance_band"), 1, 1e7),
            patterns_only=parse_bool("patterns_only", args.get("patterns_only")),
            **_emerging_options(args), **_common(args),
        )
        answer = _answer("emerging", emerging_request, pipeline.emerging_cells)
    return answer if default is None else _with_period(answer, default)


@bp.get("/hotspots/evaluate")
def evaluate_hotspots():
    args = request.args
    evaluation_request = pipeline.EvaluationRequest(
        area=_area(args), selection=_selection(args, window="train"),
        train=_closed_window("train"), test=_closed_window("test"),
        area_share=parse_float("area_share", args.get("area_share"), 0.0001, 0.9999) or 0.05,
        method=args.get("method", "gistar"), **_common(args),
    )
    return _answer("evaluate", evaluation_request, pipeline.evaluation_cells)
