"""The month slider's first steps back, with and without the worker's warm-up of the
months before the default period (issue 19: any filter change under 1 s).

On a throwaway database with the demo ending today (50,000 incidents, the default
period the last complete month), each round, for each variant in turn on a freshly
started gunicorn (2 workers x 4 threads, as ``make run``) with the shared results
emptied:

- the worker's warm-up job (``app.worker.warmup.warm_default_view``) runs in this
  process with ``previous_months`` 0 (the default view alone) or
  ``--previous-months`` (default :data:`app.worker.warmup.PREVIOUS_MONTHS`: the
  default view and the months before);
- an analyst signs in (headless Chromium) and, once the map is drawn, moves the month
  slider one step back with the keyboard (the left arrow), then another: seconds until
  the map and the panel are updated (the 250 ms debounce included), and the slowest
  requests of the first step.

The two variants alternate (paired under the same load). Run:

    .venv/bin/python -m bench.month_back_bench [--repeat 3] [--incidents 50000]
        [--previous-months N]
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench.emerging_bench import new_page, requests_of, sign_in
from bench.ui_bench import GOAL_UPDATE_S, served, setup, updates, wait_for_update
from testsupport.browser import CHROMIUM, CHROMIUM_ARGS

STEPS = 2  # steps back measured after each sign-in


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


def steps_back(browser, base_url: str) -> dict:
    """Sign in, then the month slider ``STEPS`` steps back, each timed."""
    page = new_page(browser)
    page.add_init_script("performance.setResourceTimingBufferSize(5000)")
    sign_in(page, base_url)
    seconds, waterfall = [], None
    for step in range(STEPS):
        page.evaluate("performance.clearResourceTimings()")
        before = updates(page)
        mark = page.evaluate("performance.now()")
        page.focus("#f-month")
        page.keyboard.press("ArrowLeft")
        seconds.append(wait_for_update(page, before, timeout_s=120))
        if step == 0:
            waterfall = [(name, start - mark, duration)
                         for name, start, duration in requests_of(page)]
    page.close()
    return {"seconds": seconds, "requests": waterfall}


def main() -> None:
    from playwright.sync_api import sync_playwright

    from app.worker.warmup import PREVIOUS_MONTHS

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--incidents", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--previous-months", type=int, default=PREVIOUS_MONTHS,
                        help="the months before warmed in the second variant (default: "
                             "the warm-up's own, PREVIOUS_MONTHS)")
    args = parser.parse_args()
    months = args.previous_months
    variants = {"default view": 0, f"default view and {months} month(s) before": months}
    databases, app, url = setup(args.incidents, today=True)
    results = {name: [] for name in variants}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                 args=CHROMIUM_ARGS)
            for _ in range(args.repeat):
                for name, months in variants.items():
                    warmed_s = warm(url, months)
                    with served(app, url, "gunicorn") as base_url:
                        started = time.perf_counter()
                        result = steps_back(browser, base_url)
                        result["warm-up"] = warmed_s
                        result["wall"] = time.perf_counter() - started
                    results[name].append(result)
            browser.close()
    finally:
        with app.app_context():
            from app.extensions import db

            db.engine.dispose()
        databases.drop_all()
    report(results)


def report(results: dict) -> None:
    print(f"gunicorn 2 workers x 4 threads; {len(next(iter(results.values())))} rounds, "
          "the variants alternating, each on a fresh server")
    for name, runs in results.items():
        print(f"warm-up of the {name}: "
              + ", ".join(f"{r['warm-up']:.1f}" for r in runs) + " s")
        for step in range(STEPS):
            values = [r["seconds"][step] for r in runs]
            print(f"  month back, step {step + 1} -> map and panel updated: "
                  + ", ".join(f"{v:.2f}" for v in values)
                  + f" s; median {statistics.median(values):.2f} s "
                  f"({statistics.median(values) / GOAL_UPDATE_S:.2f} x the 1 s goal)")
        print("  the slowest requests of the last run's first step (start, duration; s):")
        for path, start, duration in sorted(runs[-1]["requests"], key=lambda r: -r[2])[:5]:
            print(f"    {start / 1000:5.2f} {duration / 1000:5.2f}  {path[:100]}")


if __name__ == "__main__":
    main()
