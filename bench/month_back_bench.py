"""The month slider's steps back, one month at a time with a pause at each as an analyst
looks at the map, with and without the page asking ahead for the month before
(``static/js/prefetch.js``, ``PREFETCH_NEXT_MONTH``; issue 19: any filter change under
1 s).

On a throwaway database with the demo ending today (50,000 incidents, the default
period the last complete month), each round, for each variant in turn on a freshly
started gunicorn (2 workers x 4 threads, as ``make run``) with the shared results
emptied:

- the worker's warm-up job (``app.worker.warmup.warm_default_view``) runs in this
  process with ``--previous-months`` (default :data:`app.worker.warmup.PREVIOUS_MONTHS`:
  the default view and the months before; steps further back are computed by nobody
  but the page);
- the server runs with ``PREFETCH_NEXT_MONTH`` false or true;
- an analyst signs in (headless Chromium) and, once the map is drawn, moves the month
  slider one step back with the keyboard (the left arrow), ``--steps`` times (default
  5), looking at each month ``--pause`` seconds (default 3) before the next step:
  seconds until the map and the panel are updated (the 300 ms debounce included), and
  the slowest requests of the first step back past the warmed months.

The two variants alternate (paired under the same load). Run:

    .venv/bin/python -m bench.month_back_bench [--repeat 3] [--incidents 50000]
        [--previous-months N] [--steps 5] [--pause 3]

(The comparison of the warm-up with and without the months before, docs/benchmarks.md,
was measured with this bench as of commit 976c20a.)
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from bench.emerging_bench import new_page, requests_of, sign_in
from bench.ui_bench import GOAL_UPDATE_S, served, setup, updates, wait_for_update
from testsupport.browser import CHROMIUM, CHROMIUM_ARGS


def warm(url: str, previous_months: int) -> float:
    """The worker's warm-up, once, into the emptied shared results (and this process's
    memory emptied: a result found there would not be stored again); its seconds."""
    from sqlalchemy import text

    from app.extensions import db
    from app.worker.warmup import warm_default_view
    from geo.hotspots import cache
    from testsupport.apps import make_app

    cache.CACHE.clear()

    worker_app = make_app(url, ANALYSIS_CACHE_MAX_MB=512, WARM_DEFAULT_VIEW=True,
                          STATEMENT_TIMEOUT_S=0)
    try:
        with worker_app.app_context():
            db.session.execute(text("DELETE FROM analysis_results"))
            db.session.commit()
            db.session.remove()
        report = warm_default_view(worker_app, previous_months=previous_months)
        if report.failed:
            raise RuntimeError(f"the warm-up failed: {report.failed}")
    finally:
        with worker_app.app_context():
            db.engine.dispose()
    return report.seconds


def steps_back(browser, base_url: str, steps: int, pause_s: float,
               first_cold: int) -> dict:
    """Sign in, then the month slider ``steps`` steps back, each timed, ``pause_s``
    seconds on each month; the requests of step ``first_cold`` (1-based)."""
    page = new_page(browser)
    page.add_init_script("performance.setResourceTimingBufferSize(5000)")
    sign_in(page, base_url)
    page.wait_for_timeout(pause_s * 1000)  # the default month looked at
    seconds, waterfall = [], None
    for step in range(1, steps + 1):
        page.evaluate("performance.clearResourceTimings()")
        before = updates(page)
        mark = page.evaluate("performance.now()")
        page.focus("#f-month")
        page.keyboard.press("ArrowLeft")
        seconds.append(wait_for_update(page, before, timeout_s=120))
        if step == min(first_cold, steps):
            waterfall = [(name, start - mark, duration)
                         for name, start, duration in requests_of(page)]
        page.wait_for_timeout(pause_s * 1000)
    page.close()
    return {"seconds": seconds, "requests": waterfall}


def main() -> None:
    from playwright.sync_api import sync_playwright

    from app.worker.warmup import PREVIOUS_MONTHS

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--incidents", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--previous-months", type=int, default=PREVIOUS_MONTHS,
                        help="the months before the default period the warm-up computes "
                             "(default: the warm-up's own, PREVIOUS_MONTHS)")
    parser.add_argument("--steps", type=int, default=5, help="steps back (default 5)")
    parser.add_argument("--pause", type=float, default=3.0,
                        help="seconds on each month before the next step (default 3)")
    args = parser.parse_args()
    variants = {"no prefetch": "false", "prefetch": "true"}
    databases, app, url = setup(args.incidents, today=True)
    results = {name: [] for name in variants}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                 args=CHROMIUM_ARGS)
            for _ in range(args.repeat):
                for name, prefetch in variants.items():
                    warmed_s = warm(url, args.previous_months)
                    with served(app, url, "gunicorn",
                                {"PREFETCH_NEXT_MONTH": prefetch}) as base_url:
                        started = time.perf_counter()
                        result = steps_back(browser, base_url, args.steps, args.pause,
                                            args.previous_months + 1)
                        result["warm-up"] = warmed_s
                        result["wall"] = time.perf_counter() - started
                        result["load"] = os.getloadavg()[0]
                    results[name].append(result)
            browser.close()
    finally:
        with app.app_context():
            from app.extensions import db

            db.engine.dispose()
        databases.drop_all()
    report(results, args)


def report(results: dict, args) -> None:
    print(f"gunicorn 2 workers x 4 threads; {len(next(iter(results.values())))} rounds, "
          "the variants alternating, each on a fresh server; the warm-up computes the "
          f"default month and {args.previous_months} month(s) before; {args.pause:g} s "
          "on each month")
    for name, runs in results.items():
        print(f"{name}: warm-up " + ", ".join(f"{r['warm-up']:.1f}" for r in runs)
              + " s; load average (1 min) after each run "
              + ", ".join(f"{r['load']:.1f}" for r in runs))
        for step in range(args.steps):
            values = [r["seconds"][step] for r in runs]
            warmed = " (warmed)" if step < args.previous_months else ""
            print(f"  step {step + 1} back{warmed} -> map and panel updated: "
                  + ", ".join(f"{v:.2f}" for v in values)
                  + f" s; median {statistics.median(values):.2f} s "
                  f"({statistics.median(values) / GOAL_UPDATE_S:.2f} x the 1 s goal)")
        cold = min(args.previous_months + 1, args.steps)
        print(f"  the slowest requests of the last run's step {cold} (start, duration; s):")
        for path, start, duration in sorted(runs[-1]["requests"], key=lambda r: -r[2])[:5]:
            print(f"    {start / 1000:5.2f} {duration / 1000:5.2f}  {path[:100]}")
    off, on = (results[name] for name in ("no prefetch", "prefetch"))
    print("prefetch / no prefetch, median per step: " + ", ".join(
        f"step {step + 1} {statistics.median(r['seconds'][step] for r in on) / statistics.median(r['seconds'][step] for r in off):.2f}x"  # noqa: E501
        for step in range(args.steps)))


if __name__ == "__main__":
    main()
