"""A border section's incidents per calendar month, against the band its count model
expects, and by incident category: the section's trend in the workspace's panel.

The months are calendar months in UTC (``[first day 00:00, next first day)``): the last
``months`` complete ones and the current one, partial (counted up to ``now``). Incidents
count as in the CIRAM ranking (``geo.queries.risk.SECTION_COUNTED``: the section is the
incident's nearest within the corridor of ``geo/risk/risk.yaml``, and the viewer's agency
may count it).

The expected band of a month is the ranking's alert model applied to that month
(``geo.risk.ciram.count_alerts`` and ``expected_range``): the mean of the section's
counts in the ``baseline_periods`` months before it (12 in ``risk.yaml``), Poisson or
negative binomial with the size from those months' variance, from the ``alpha``
quantile to the highest count that does not alert. A trailing year, so every season
weighs the same; not the forecast model (``geo.forecast``), which would need one fit
per month. For the current, partial month the band is a whole month's: the count so
far is not yet comparable, and ``expected_to_date`` scales the mean by the share of the
month elapsed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from geo import queries
from geo.errors import ParameterError
from geo.forecast.periods import month_start, shift
from geo.models import BorderSegment
from geo.queries import risk as risk_sql
from geo.risk import ciram, risk_config
from geo.risk.assessments import SECTION_COUNT_RULE
from geo.scope import VIEWER_PARAMETER

DEFAULT_MONTHS = 24
MAX_MONTHS = 60
MONTH = "next_month"  # geo.forecast.periods' calendar month
BAND_METHOD = ("the ranking's alert model per month: mean of the {k} months before, "
               "Poisson or negative binomial (size from their variance), from the "
               "{alpha:g} quantile to the highest count that does not alert")


def month_starts(now: datetime, months: int, before: int = 0) -> list[datetime]:
    """Midnight UTC of the first day of ``before + months`` months before ``now``'s and
    of ``now``'s own, oldest first (``before + months + 1`` moments)."""
    current = month_start(now)
    return [shift(current, MONTH, -k) for k in range(before + months, -1, -1)]


def section_months(session, config: risk_config.RiskConfig, section_id: int, now: datetime,
                   months: int = DEFAULT_MONTHS, viewer_agency: str | None = None) -> dict:
    """The section's incidents per calendar month (UTC) with their expected band and
    categories.

    Parameters
    ----------
    section_id : int
        A border section (it must exist: the caller checks its scope).
    now : datetime
        Aware; its month is the partial one.
    months : int
        Complete months before the current one, 1 .. :data:`MAX_MONTHS`.
    viewer_agency : str, optional
        Whose view is counted (``geo.scope.counted_condition``); None: every incident.

    Returns
    -------
    dict
        ``section_id``, ``code``, ``name``, ``name_ka``; ``months``, oldest first, each
        ``month`` ("YYYY-MM"), ``start`` and ``end`` (closed, UTC; the partial month's end
        is ``now``), ``incidents``, ``expected`` (incidents per month),
        ``expected_range`` ``[low, high]`` (both included), ``partial``, ``categories``
        (category: incidents, none at zero), and for the partial month
        ``elapsed_share`` and ``expected_to_date``; ``categories`` (totals over the
        months shown), ``band`` (the method, ``baseline_months``, ``alpha``),
        ``counts`` (the rule), ``corridor_m``, ``viewer_agency`` and
        ``counted_not_visible`` (incidents shown that the viewer does not see in
        detail).
    """
    if not 1 <= months <= MAX_MONTHS:
        raise ParameterError("months", f"must be between 1 and {MAX_MONTHS}")
    section = session.get(BorderSegment, section_id)
    if section is None:
        raise ParameterError("section_id", f"no border section with id {section_id}")
    k = config.baseline_periods
    starts = month_starts(now, months, before=k)
    index = {start.replace(tzinfo=None): j for j, start in enumerate(starts)}
    categories = {c: j for j, c in enumerate(risk_config.CATEGORY_ORDER)}
    counts = np.zeros((len(starts), len(categories)), dtype=np.int64)
    not_visible = np.zeros(len(starts), dtype=np.int64)
    with queries.window_reads(session):  # 3 years of a section's incidents
        rows = session.execute(risk_sql.MONTHLY, {
            "section_ids": [section_id], "corridor_m": config.corridor_m,
            "start": starts[0], "end": now, VIEWER_PARAMETER: viewer_agency}).all()
    for row in rows:
        j = index[row.month]
        counts[j, categories[row.category]] += row.incidents
        not_visible[j] += row.not_visible
    totals = counts.sum(axis=1)
    shown = np.arange(k, len(starts))
    history = np.stack([totals[j - k:j] for j in shown])
    alerts = ciram.count_alerts(totals[shown], history.mean(axis=1), history, config)
    low, high = ciram.expected_range(alerts, config.alert_alpha)
    series = []
    for n, j in enumerate(shown.tolist()):
        partial = j == len(starts) - 1
        end = now if partial else shift(starts[j], MONTH, 1) - timedelta(microseconds=1)
        entry = {"month": f"{starts[j]:%Y-%m}", "start": starts[j].isoformat(),
                 "end": end.astimezone(UTC).isoformat(), "incidents": int(totals[j]),
                 "expected": float(alerts.expected[n]),
                 "expected_range": [int(low[n]), int(high[n])], "partial": partial,
                 "categories": {c: int(counts[j, i]) for c, i in categories.items()
                                if counts[j, i]}}
        if partial:
            length = (shift(starts[j], MONTH, 1) - starts[j]).total_seconds()
            share = min(1.0, (now - starts[j]).total_seconds() / length)
            entry.update(elapsed_share=share, expected_to_date=float(alerts.expected[n]) * share)
        series.append(entry)
    category_totals = counts[k:].sum(axis=0)
    return {
        "section_id": section.id, "code": section.code, "name": section.name,
        "name_ka": section.name_ka, "as_of": now.astimezone(UTC).isoformat(),
        "months": series,
        "categories": {c: int(category_totals[i]) for c, i in categories.items()
                       if category_totals[i]},
        "band": {"method": BAND_METHOD.format(k=k, alpha=config.alert_alpha),
                 "baseline_months": k, "alpha": config.alert_alpha},
        "counts": SECTION_COUNT_RULE.format(corridor_m=config.corridor_m),
        "corridor_m": config.corridor_m, "viewer_agency": viewer_agency,
        "counted_not_visible": int(not_visible[k:].sum()),
    }
