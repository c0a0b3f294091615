"""Rolling-origin backtest of the forecast against naive baselines.

For each of the last ``folds`` complete periods before ``as_of``, the model is fitted on
the incidents before that period (``geo.forecast.model.fit``) and predicts it; so do
three baselines computed from the same incidents:

- ``last_period``: each location's count in the period before;
- ``long_run``: each location's count over the whole history before;
- ``kde``: quartic kernel density of the incidents before, at the location's centre
  (spatial Silverman bandwidth, ``geo.hotspots.density``).

Each is scored by hit rate and PAI of its top locations at 1, 5 and 10 % of the area
(``geo.hotspots.evaluation``; locations count as equal shares of the area); the
forecast's intervals by their coverage: the share of held-out location counts inside
the 80 % and 95 % intervals.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from geo.forecast import model, periods
from geo.hotspots import density, evaluation

AREA_SHARES = (0.01, 0.05, 0.10)
BASELINES = ("last_period", "long_run", "kde")


def period_start(moment: datetime, period: str) -> datetime:
    """Start of the calendar month (``next_month``) or ISO week, Monday 00:00 UTC
    (``next_week``) holding ``moment``."""
    start = periods.month_start(moment)
    if period == "next_week":
        day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        start = day - timedelta(days=day.weekday())
    return start


def fold_origins(as_of: datetime, period: str, folds: int) -> list[datetime]:
    """Starts of the last ``folds`` complete periods before ``as_of``, oldest first."""
    latest = period_start(as_of, period)
    return [periods.shift(latest, period, -k) for k in range(folds, 0, -1)]


def baseline_scores(builder: model.FeatureBuilder, locations: model.Locations,
                    origin: datetime) -> dict[str, np.ndarray]:
    """The baselines' scores per location at ``origin`` (higher = more expected)."""
    past = builder.history(origin).past
    before = builder.incidents.before(origin.timestamp())
    on = before.location >= 0
    if on.sum() >= 2:
        kde = density.kernel_density_at(before.x[on], before.y[on], locations.cx, locations.cy)
    else:
        kde = np.zeros(len(locations))
    return {"last_period": past[-1], "long_run": past.sum(axis=0), "kde": kde}


def ranking(scores: np.ndarray, observed: np.ndarray) -> dict[str, float | None]:
    """Hit rate and PAI of the top locations at each of :data:`AREA_SHARES` (None when
    the period holds no incident)."""
    out: dict[str, float | None] = {}
    for share in AREA_SHARES:
        name = f"{round(share * 100)}pct"
        if observed.sum() <= 0:
            out[f"hit_rate_{name}"] = out[f"pai_{name}"] = None
            continue
        top = evaluation.top_cells(scores, share)
        out[f"hit_rate_{name}"] = evaluation.hit_rate(observed, top)
        out[f"pai_{name}"] = evaluation.pai(observed, top)
    return out


def best_possible(observed: np.ndarray) -> dict[str, float | None]:
    """PAI* at each of :data:`AREA_SHARES`: the PAI of the locations that really held the
    most incidents (Hunt 2016), the ceiling of any forecast (None without incidents)."""
    out: dict[str, float | None] = {}
    for share in AREA_SHARES:
        n_top = int(evaluation.top_cells(observed, share).sum())
        out[f"pai_{round(share * 100)}pct"] = (evaluation.pai_star(observed, n_top)
                                               if observed.sum() > 0 else None)
    return out


def coverage(observed: np.ndarray, bounds: dict[str, np.ndarray]) -> dict[str, float]:
    """Share of the locations whose count lies inside each interval."""
    return {f"coverage_{level}": float(np.mean((observed >= bounds[f"lower_{level}"])
                                               & (observed <= bounds[f"upper_{level}"])))
            for level in ("80", "95")}


def run_fold(builder: model.FeatureBuilder, locations: model.Locations,
             origin: datetime) -> dict:
    """Fit before ``origin``, predict the period it starts, score forecast and baselines."""
    fitted = model.fit(builder, origin)
    features = builder.at(origin, fitted.decay_days)
    mu = fitted.mean(features)
    observed = features.target
    bounds = model.intervals(mu, fitted.size)
    return {
        "start": origin.isoformat(),
        "end": periods.shift(origin, builder.period, 1).isoformat(),
        "incidents": int(observed.sum()),
        "expected": float(mu.sum()),
        "forecast": ranking(mu, observed),
        "baselines": {name: ranking(scores, observed) for name, scores
                      in baseline_scores(builder, locations, origin).items()},
        "best_possible": best_possible(observed),
        **coverage(observed, bounds),
        "model": {"weights": dict(zip(model.TERMS, fitted.weights.tolist(), strict=True)),
                  "decay_days": fitted.decay_days, "nb_size": fitted.size},
    }


def _mean(values) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def average(folds: list[dict]) -> dict:
    """The folds' metrics averaged (folds without incidents left out of rankings)."""
    keys = folds[0]["forecast"].keys() if folds else ()
    return {
        "forecast": {k: _mean(f["forecast"][k] for f in folds) for k in keys},
        "baselines": {name: {k: _mean(f["baselines"][name][k] for f in folds) for k in keys}
                      for name in BASELINES},
        "best_possible": {k: _mean(f["best_possible"][k] for f in folds)
                          for k in (folds[0]["best_possible"] if folds else ())},
        "coverage_80": _mean(f["coverage_80"] for f in folds),
        "coverage_95": _mean(f["coverage_95"] for f in folds),
    }


def backtest(incidents: model.Incidents, locations: model.Locations, period: str,
             origins: list[datetime]) -> dict:
    """Every fold at ``origins`` and their average: ``{"folds": [...], "mean": {...}}``."""
    builder = model.FeatureBuilder(incidents, locations, period)
    folds = [run_fold(builder, locations, origin) for origin in origins]
    return {"folds": folds, "mean": average(folds)}
