"""Stored risk assessments for the demo (issue 20): one per region with border sections,
over the default analysis period, so that the map services have signed-off levels to
show (``geo.risk.levels``: ``level_source`` "assessment") as a real installation would.

They are computed from the synthetic incidents and say so: each record's ``inputs``
carry ``provenance`` :data:`PROVENANCE`. Stored assessments are immutable records, so
once stored ``flask demo reset`` is refused (``geo.demo.loader.DemoResetRefusedError``);
this is why they are stored by their own command (``flask demo assess``), not by
``flask demo load``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text

from geo.errors import ParameterError
from geo.products import periods
from geo.risk import assessments, risk_config

PROVENANCE = "synthetic demo: computed from the synthetic demo incidents by `flask demo assess`"

_REGIONS_WITH_SECTIONS = text(
    "SELECT DISTINCT r.code FROM regions AS r JOIN border_segments AS s "
    "ON s.region_id = r.id ORDER BY r.code")


def store_demo_assessments(session, config: risk_config.RiskConfig, srid: int,
                           now: datetime, user_id: int) -> list[tuple]:
    """Assess and store every region that has border sections, over the default period
    at the data clock's ``now`` (counted in the view every agency shares, as a stored
    assessment is), by ``user_id``; does not commit. Returns ``(record, evaluated)``
    per stored assessment; regions that cannot be assessed are skipped."""
    view = assessments.SHARED_VIEW
    period = periods.default_analysis_period(session, now, view)
    stored = []
    for (code,) in session.execute(_REGIONS_WITH_SECTIONS):
        try:
            evaluated = assessments.assess_region(session, config, code, period.start,
                                                  period.end, srid, viewer_agency=view)
        except ParameterError:
            continue
        record = assessments.store_assessment(
            session, config, code, period.start, period.end, evaluated,
            {"region": code, "datetime": f"{period.start.isoformat()}/"
                                         f"{period.end.isoformat()}",
             "viewer_agency": view, "provenance": PROVENANCE,
             "sections": evaluated["inputs"]}, user_id)
        stored.append((record, evaluated))
    return stored
