"""Forecast benchmark (issue 18): one region's forecast and 6-fold backtest over 1,000,000
incidents, and the backtest's numbers against the baselines.

Run: ``.venv/bin/python -m bench.forecast_bench [--incidents 1000000] [--region GE-KA]``
or, on an existing demo database (read only, nothing written; e.g. the dev database's
50,000 incidents): ``.venv/bin/python -m bench.forecast_bench --existing``; or on the
SYNTHETIC Hawkes generator alone: ``.venv/bin/python -m bench.forecast_bench --hawkes``.

In one run, on a throwaway database with the demo's reference layers and N synthetic
incidents (``geo.demo.synthetic``, loaded as ``bench.hotspot_bench.setup`` does):

1. the API calls ``/api/v1/forecast`` and ``/api/v1/forecast/backtest?folds=6`` for
   ``--region``, unit cell and unit section, cold (empty result cache), with the time
   spent reading the incidents measured apart: the goal is under 10 s for a forecast
   plus its backtest;
2. for every region with border sections, the backtest's mean over 6 monthly folds:
   PAI at 1/5/10 % of the forecast, of each baseline (last period, long-run counts,
   KDE) and PAI* (the best possible), the forecast over the best baseline at 5 % (the
   goal is 1.2), and the coverage of the 80 % and 95 % intervals (goals 75-85 % and
   92-98 % of section counts).

Prints tables; docs/benchmarks.md ("Issue 18: forecast") records the numbers.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import UTC, datetime

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from bench.hotspot_bench import DEMO_END, setup, timed

AS_OF = datetime(2026, 7, 1, tzinfo=UTC)  # the month after the bench demo's last day
UNITS = ("cell", "section")


def api_timings(app, headers, region: str, as_of: datetime) -> None:
    """Cold API calls: forecast and 6-fold backtest for each unit, seconds."""
    from geo.hotspots.cache import CACHE
    from geo.hotspots.inputs import GRIDS

    client = app.test_client()
    print(f"\nAPI, region {region}, as_of {as_of.date()}, cold (result and grid caches empty)")
    print(f"{'unit':8} {'forecast s':>11} {'backtest s':>11} {'total s':>8} {'features':>9}")
    for unit in UNITS:
        CACHE.clear()
        GRIDS.clear()
        query = f"region={region}&unit={unit}&as_of={as_of.date()}"
        response, forecast_s = timed(client.get, f"/api/v1/forecast?{query}", headers=headers)
        assert response.status_code == 200, response.get_json()
        backtest, backtest_s = timed(client.get, f"/api/v1/forecast/backtest?{query}&folds=6",
                                     headers=headers)
        assert backtest.status_code == 200, backtest.get_json()
        print(f"{unit:8} {forecast_s:11.2f} {backtest_s:11.2f} {forecast_s + backtest_s:8.2f} "
              f"{len(response.get_json()['features']):9,}")


def read_timings(session, region: str, as_of: datetime, srid: int) -> None:
    """How much of a call is reading the incidents, and how many there are."""
    from geo.forecast import service
    from geo.hotspots.inputs import Selection, StudyArea

    for unit in UNITS:
        request = service.ForecastRequest(StudyArea(regions=(region,)), Selection(),
                                          as_of=as_of, unit=unit)
        units, read_s = timed(service._units, session, request, as_of, srid)
        _, fit_s = timed(service.predict, session, request, srid)
        on = int((units.incidents.location >= 0).sum())
        print(f"  {unit}: {len(units.incidents.time):,} incidents read "
              f"({on:,} on the {unit}s) in {read_s:.2f} s; read + fit + predict {fit_s:.2f} s")


def backtest_table(session, as_of: datetime, srid: int) -> None:
    """The backtest's mean over 6 monthly folds for every region with sections."""
    from geo.forecast import service
    from geo.hotspots.inputs import Selection, StudyArea

    regions = session.execute(text(
        "SELECT r.code FROM regions r WHERE EXISTS (SELECT 1 FROM border_segments s "
        "WHERE s.region_id = r.id) ORDER BY r.code")).scalars().all()
    print(f"\nBacktest, 6 monthly folds before {as_of.date()}, mean (PAI at 1/5/10 % of the "
          "locations; best baseline at 5 %; coverage of held-out counts)")
    print(f"{'region':7} {'unit':8} {'n/fold':>7} {'forecast':>17} {'last':>17} "
          f"{'long-run':>17} {'kde':>17} {'PAI*':>17} {'5%: fc/best':>11} "
          f"{'cov80':>6} {'cov95':>6} {'s':>5}")
    for region in regions:
        for unit in UNITS:
            request = service.ForecastRequest(StudyArea(regions=(region,)), Selection(),
                                              as_of=as_of, unit=unit, folds=6)
            start = time.perf_counter()
            try:
                result = service.backtest(session, request, srid)
            except ValueError as exc:  # ParameterError: e.g. too few incidents
                print(f"{region:7} {unit:8} skipped: {exc}")
                continue
            seconds = time.perf_counter() - start
            mean = result["mean"]
            per_fold = sum(f["incidents"] for f in result["folds"]) / len(result["folds"])

            def pais(block):
                return "/".join("-" if block[f"pai_{p}pct"] is None
                                else f"{block[f'pai_{p}pct']:.1f}" for p in (1, 5, 10))

            best = max((b["pai_5pct"] or 0) for b in mean["baselines"].values())
            ratio = (mean["forecast"]["pai_5pct"] or 0) / best if best else float("nan")
            print(f"{region:7} {unit:8} {per_fold:7.0f} {pais(mean['forecast']):>17} "
                  f"{pais(mean['baselines']['last_period']):>17} "
                  f"{pais(mean['baselines']['long_run']):>17} "
                  f"{pais(mean['baselines']['kde']):>17} {pais(mean['best_possible']):>17} "
                  f"{ratio:11.3f} {mean['coverage_80']:6.3f} {mean['coverage_95']:6.3f} "
                  f"{seconds:5.2f}")


def hawkes_table(seeds=(1, 2, 3), folds=(6, 12)) -> None:
    """The backtest on SYNTHETIC Hawkes incidents (``geo.forecast.synthetic``, the tests'
    generator): cells of 2 km and 20 strips 3 km wide as sections, as in
    ``tests/geo/forecast/test_model.py``; no database."""
    import numpy as np
    import shapely

    from geo.forecast import backtest, model, synthetic
    from geo.hotspots.inputs import build_grid

    p = synthetic.HawkesParameters()
    start, end = datetime(2024, 1, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    grid = build_grid(shapely.box(p.x0, p.y0, p.x0 + p.side_m, p.y0 + p.side_m), 2000.0,
                      32638)
    cells = model.Locations(grid.cx, grid.cy, grid.size * np.sqrt(3) / 2)
    strips = model.Locations(p.x0 + 1500 + 3000 * np.arange(20),
                             np.full(20, p.y0 + p.side_m / 2), 3000.0)
    print("\nSYNTHETIC Hawkes data: PAI at 5 %, forecast / best baseline, coverage 80 / 95")
    print("| folds | seed | incidents | forecast | last | long-run | KDE | PAI* | fc / best "
          "| cells cov 80 / 95 | strips cov 80 / 95 |")
    for n_folds in folds:
        origins = backtest.fold_origins(end, "next_month", n_folds)
        for seed in seeds:
            h = synthetic.hawkes_incidents(start.timestamp(), end.timestamp(), p, seed=seed)
            on_cells = model.Incidents(grid.locate(h.x, h.y), h.time, h.x, h.y)
            strip = np.floor((h.x - p.x0) / 3000).astype(np.int64)
            strip[(strip < 0) | (strip >= 20) | (h.y < p.y0) | (h.y > p.y0 + p.side_m)] = -1
            on_strips = model.Incidents(strip, h.time, h.x, h.y)
            c = backtest.backtest(on_cells, cells, "next_month", origins)["mean"]
            s = backtest.backtest(on_strips, strips, "next_month", origins)["mean"]
            b = {name: v["pai_5pct"] for name, v in c["baselines"].items()}
            fc = c["forecast"]["pai_5pct"]
            print(f"| {n_folds} | {seed} | {len(h.x):,} | {fc:.2f} | {b['last_period']:.2f} "
                  f"| {b['long_run']:.2f} | {b['kde']:.2f} | {c['best_possible']['pai_5pct']:.2f}"
                  f" | {fc / max(b.values()):.3f} | {c['coverage_80']:.3f} / "
                  f"{c['coverage_95']:.3f} | {s['coverage_80']:.3f} / {s['coverage_95']:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--region", default="GE-KA")
    parser.add_argument("--existing", action="store_true",
                        help="read the demo of DATABASE_URL (nothing written) instead of "
                             "loading a throwaway database")
    parser.add_argument("--as-of", default=None, help="default 2026-07-01; with --existing "
                                                      "the first day of this month")
    parser.add_argument("--hawkes", action="store_true",
                        help="only the backtest on the SYNTHETIC Hawkes generator (no "
                             "database)")
    args = parser.parse_args()
    srid = 32638
    if args.hawkes:
        hawkes_table()
        return
    if args.existing:
        as_of = (datetime.fromisoformat(args.as_of).replace(tzinfo=UTC) if args.as_of
                 else datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0,
                                                microsecond=0))
        url = os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg2://", 1)
        with Session(create_engine(url)) as session:
            session.execute(text("SET TRANSACTION READ ONLY"))
            count = session.execute(text("SELECT count(*) FROM incidents")).scalar_one()
            print(f"existing database: {count:,} incidents")
            read_timings(session, args.region, as_of, srid)
            backtest_table(session, as_of, srid)
            session.rollback()
        return
    as_of = datetime.fromisoformat(args.as_of).replace(tzinfo=UTC) if args.as_of else AS_OF
    assert as_of > DEMO_END
    databases, app, headers = setup(args.incidents)
    try:
        from app.extensions import db

        api_timings(app, headers, args.region, as_of)
        with app.app_context():
            read_timings(db.session, args.region, as_of, app.config["ANALYSIS_SRID"])
            backtest_table(db.session, as_of, app.config["ANALYSIS_SRID"])
            db.session.remove()
    finally:
        databases.drop_all()


if __name__ == "__main__":
    main()
