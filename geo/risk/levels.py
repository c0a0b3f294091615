"""Section levels as the workspace shows them, for the map services (issue 20).

The analyst's workspace colours each border section by the live CIRAM assessment of its
region over the default period (``geo.products.periods.default_analysis_period``, the
last complete month), a supervisor's decision overriding it. The GIS services (WMS
``border_segments``, the OGC API ``risk`` collection) use one rule with that:

- a section a **stored assessment** covers has the level of the latest one
  (``level_source`` ``"assessment"``: a signed-off record);
- any other section has its **live** level, computed as the workspace computes it
  (:func:`live_sections`: ``geo.risk.assessments.assess_region`` of its region over the
  default period; ``level_source`` ``"live"``), counted, as a stored assessment is, in
  the view every agency shares (``assessments.SHARED_VIEW``: records released to all or
  let count): one computation serves every caller. The workspace counts the caller's
  own view, which differs only where another agency's records are neither released to
  the caller nor let count;
- on the WMS, a supervisor's decision overrides either (``level_source``
  ``"decision"``), as on the workspace; ``"none"``: a section of a region that cannot
  be assessed.

Live levels are computed only for the regions with a section no stored assessment
covers, and kept per database, data versions and period, in this process and in the
results every process shares (``geo.hotspots.cache``): a map asks again for them
without computing anything until the data, the assessments or the period change, and
only the first process to ask after a change computes them. The
computation is that of the workspace's ranking for every such region (about a second a
region on the demo, docs/benchmarks.md "Issue 20"): storing assessments
(``POST /api/v1/risk/assessments``, ``flask demo assess``) spares it.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime

import orjson

from geo import queries
from geo.errors import ParameterError
from geo.hotspots import cache
from geo.products import periods
from geo.queries import risk as risk_sql
from geo.risk import assessments, risk_config

ASSESSMENT = "assessment"
LIVE = "live"
DECISION = "decision"
NONE = "none"
# The scores a live section carries, as a stored result does.
SCORES = ("threat", "vulnerability", "impact", "risk", "level", "rank")

# (database, agency) -> (key of versions and period, {section id: live record})
_LIVE: dict[tuple, tuple[tuple, dict[int, dict]]] = {}
_LIVE_LOCK = threading.Lock()


def live_sections(session, config: risk_config.RiskConfig, srid: int,
                  now: datetime) -> dict[int, dict]:
    """The live scores of every section no stored assessment covers, by section id:
    ``threat``, ``vulnerability``, ``impact``, ``risk``, ``level``, ``rank`` and the
    ``period_start``/``period_end`` (UTC) they were computed over, as the workspace
    computes them at the data clock's ``now``, in the view every agency shares (see
    the module). Regions that cannot be assessed (no incidents yet, a period the data
    does not cover) are left out."""
    period = periods.default_analysis_period(session, now, assessments.SHARED_VIEW)
    key = (queries.result_versions(session), period.start, period.end)
    cache_key = (str(session.connection().engine.url), repr(config.text))
    with _LIVE_LOCK:
        cached = _LIVE.get(cache_key)
        if cached is not None and cached[0] == key:
            return cached[1]
    # Shared with the other worker processes and nodes (``geo.hotspots.cache``): the
    # first map of each process after a change reads them instead of assessing every
    # region again (21.9 s at ten years of history, docs/benchmarks.md). The arguments
    # name what the data stamps do not: the newest stored assessment and the model.
    arguments = {"results": key[0], "period": [period.start, period.end],
                 "model": risk_config.config_hash(config)}
    body = cache.cached(session, "live-levels", arguments, srid,
                        lambda: _assess_unassessed(session, config, srid, period))
    found = {int(section_id): {**record,
                               "period_start": datetime.fromisoformat(record["period_start"]),
                               "period_end": datetime.fromisoformat(record["period_end"])}
             for section_id, record in orjson.loads(body).items()}
    with _LIVE_LOCK:
        _LIVE[cache_key] = (key, found)
    return found


def _assess_unassessed(session, config: risk_config.RiskConfig, srid: int,
                       period: periods.AnalysisPeriod) -> dict[str, dict]:
    """:func:`live_sections`' records computed, by section id (text: a JSON object)."""
    found: dict[str, dict] = {}
    for (code,) in session.execute(risk_sql.REGIONS_NOT_ASSESSED):
        try:
            evaluated = assessments.assess_region(session, config, code, period.start,
                                                  period.end, srid,
                                                  viewer_agency=assessments.SHARED_VIEW)
        except ParameterError:
            continue
        for section in evaluated["sections"]:
            found[str(section["section_id"])] = {
                **{name: section[name] for name in SCORES},
                "period_start": period.start, "period_end": period.end}
    return found


def live_levels(session, config: risk_config.RiskConfig, srid: int,
                now: datetime) -> dict[int, str]:
    """Section id -> live level (:func:`live_sections`)."""
    return {section_id: record["level"] for section_id, record in
            live_sections(session, config, srid, now).items()}


def live_risk_json(session, config: risk_config.RiskConfig, srid: int,
                   now: datetime) -> str:
    """:func:`live_sections` as the JSON array the ``risk`` layer's table binds as
    ``live_risk`` (``geo.layers.RISK_RESULTS``): one record per section, ``id``, the
    scores and the period (RFC 3339)."""
    return json.dumps([
        {"id": section_id, **{name: (value.isoformat() if isinstance(value, datetime)
                                     else value if name == "level" else int(value))
                              for name, value in record.items()}}
        for section_id, record in live_sections(session, config, srid, now).items()])
