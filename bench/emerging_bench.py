"""Emerging hot-spots the first time, in the workspace (headless Chromium) and by the API.

On a throwaway database with the demo (50,000 synthetic incidents ending today, as
``flask demo`` loads them), each measurement on a **freshly started** server (gunicorn
with 2 workers and 4 threads, as ``make run``; or werkzeug in this process), so that no
analysis of the measured kind has been computed before:

1. **pick**: a signed-in analyst on the default view (Gi*) picks "Emerging hot spots"
   in the method list: seconds until the map and the panel are updated (the workspace's
   ``data-updates``/``data-busy``), and until the emerging cells are drawn;
2. **shared URL**: a signed-in analyst (the default view loaded once, as after signing
   in) opens a link with ``method=emerging``: seconds until every layer and the panel
   are drawn (``#workspace[data-loaded=true]``), and until the emerging cells are;
3. **shared URL, cold**: the same link as the target of the sign-in (``/login?next=``)
   on a server that has computed nothing: seconds from "Sign in" to drawn;
4. **API**: ``GET /api/v1/hotspots/emerging`` with the workspace's parameters (cells of
   2 km over every region, 12 monthly steps to the end of the default period, only the
   cells with a pattern), the first call on a fresh server and a repeated one; then
   every cell (without ``patterns_only``: computed again, the inputs in memory; a
   server that knows no ``patterns_only`` reads the first answer); and the border
   sections' variant (``unit=section``) the panel asks for.

``--warm``: before each fresh server, the worker's warm-up job runs once (as after an
import), so the default view's analyses, its emerging cells among them, are stored.

Goal (issue 19): under 2 s for 1 and 2. Run:

    .venv/bin/python -m bench.emerging_bench [--incidents 50000] [--repeat 3]
        [--server gunicorn|werkzeug] [--database-url URL] [--warm]
"""

from __future__ import annotations

import argparse
import statistics
import time
from urllib.parse import urlencode

import requests

from bench.ui_bench import PASSWORD, served, updates, wait_for_update, warm_up
from testsupport.browser import CHROMIUM, CHROMIUM_ARGS

GOAL_S = 2.0
# The workspace's request when emerging hot spots are picked (static/js/cells.js).
EMERGING_PARAMS = {"cell_size": "2000", "step": "month"}
# The in-process app (werkzeug) shares results as a server does (a test app would not).
SHARED_RESULTS = {"ANALYSIS_CACHE_MAX_MB": 512}


def setup(incidents: int):
    """The demo ending today (``flask demo``'s window), a user ``bench`` (analyst)."""
    import flask_migrate

    from app.auth.users import create_user
    from app.extensions import db
    from bench.hotspot_bench import timed
    from geo.demo.loader import load_demo
    from testsupport.apps import make_app
    from testsupport.databases import ThrowawayDatabases, server_url

    databases = ThrowawayDatabases(server_url(), purpose="bench")
    url = databases.create()
    app = make_app(url, STATEMENT_TIMEOUT_S=0, **SHARED_RESULTS)
    with app.app_context():
        flask_migrate.upgrade()
        _, seconds = timed(load_demo, db.session, app.config["ANALYSIS_SRID"],
                           n_incidents=incidents)
        create_user(db.session, "bench", "analyst", PASSWORD)
        db.session.commit()
        db.session.remove()
    print(f"demo with {incidents:,} incidents loaded in {seconds:.1f} s")
    return databases, app, url


def sign_in(page, base_url: str, path: str = "/") -> float:
    """Sign in (landing on ``path``); seconds from "Sign in" to the workspace drawn."""
    page.goto(f"{base_url}/login?{urlencode({'next': path})}")
    page.get_by_label("User name").fill("bench")
    page.get_by_label("Password").fill(PASSWORD)
    start = time.perf_counter()
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("#workspace[data-loaded='true']", timeout=120_000)
    return time.perf_counter() - start


def cells_drawn_at(page) -> float | None:
    """Seconds since navigation start when the emerging cells' request had answered."""
    ends = page.evaluate("""() => performance.getEntriesByType('resource')
        .filter((e) => e.name.includes('/hotspots/emerging?') && !e.name.includes('unit='))
        .map((e) => e.responseEnd)""")
    return max(ends) / 1000 if ends else None


def requests_of(page) -> list:
    return page.evaluate("""() => performance.getEntriesByType('resource')
        .filter((e) => e.name.includes('/api/') || e.name.includes('/ogc/'))
        .map((e) => [e.name.replace(location.origin, ''), e.startTime, e.duration])""")


def new_page(browser):
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.set_default_timeout(120_000)
    return page


def measure_pick(browser, base_url: str) -> dict:
    page = new_page(browser)
    sign_in(page, base_url)
    shared = None
    page.evaluate("performance.clearResourceTimings()")
    before = updates(page)
    mark = page.evaluate("performance.now()")
    page.select_option("#f-method", "emerging")
    seconds = wait_for_update(page, before, timeout_s=120)
    drawn = cells_drawn_at(page)
    shared = page.url
    waterfall = requests_of(page)
    page.close()
    return {"seconds": seconds, "cells": drawn - mark / 1000 if drawn else None,
            "shared": shared, "requests": waterfall}


def measure_shared(browser, base_url: str, path: str) -> dict:
    page = new_page(browser)
    sign_in(page, base_url)
    start = time.perf_counter()
    page.goto(f"{base_url}{path}")
    page.wait_for_selector("#workspace[data-loaded='true']", timeout=120_000)
    seconds = time.perf_counter() - start
    result = {"seconds": seconds, "cells": cells_drawn_at(page), "requests": requests_of(page)}
    page.close()
    return result


def measure_shared_cold(browser, base_url: str, path: str) -> float:
    page = new_page(browser)
    seconds = sign_in(page, base_url, path)
    page.close()
    return seconds


def measure_api(base_url: str, start: str, end: str) -> dict:
    session = requests.Session()
    session.auth = ("bench", PASSWORD)  # HTTP Basic reads
    window = f"{start}T00:00:00Z/{end}T23:59:59.999999Z"
    cells = f"{base_url}/api/v1/hotspots/emerging?" + urlencode(
        {"bbox": "39.9874,41.0448,46.6943,43.5760", "datetime": window, **EMERGING_PARAMS})
    sections = f"{base_url}/api/v1/hotspots/emerging?" + urlencode(
        {"unit": "section", "step": "month", "datetime": window})
    times = {}
    page = f"{cells}&patterns_only=true"  # (a server without patterns_only: every cell)
    for name, url in (("cells", page), ("cells again", page), ("every cell", cells),
                      ("sections", sections)):
        begin = time.perf_counter()
        response = session.get(url, timeout=300)
        response.raise_for_status()
        times[name] = time.perf_counter() - begin
        times[f"{name} bytes"] = len(response.content)
    return times


def emerging_window(to: str) -> tuple[str, str]:
    """The workspace's 12 months to the period's end (static/js/cells.js)."""
    year, month = int(to[:4]), int(to[5:7])
    month -= 11
    while month < 1:
        month += 12
        year -= 1
    return f"{year:04d}-{month:02d}-01", to


def fresh(app, url: str, server: str, warm: bool = False):
    """A server that has computed nothing: gunicorn started anew; werkzeug (this
    process) with the analyses' in-memory caches emptied; and no analysis result shared
    in the database (``geo.hotspots.analysis_results``: they outlive a restart), unless
    ``warm``: then the worker's warm-up job has run once (``bench.ui_bench.warm_up``),
    as after an import."""
    from sqlalchemy import text

    from app.extensions import db

    with app.app_context():
        db.session.execute(text("DELETE FROM analysis_results"))
        db.session.commit()
        db.session.remove()
    if warm or server == "werkzeug":
        from geo.hotspots import cache, inputs

        cache.CACHE.clear()  # (else the warm-up reads this process's memory, stores nothing)
        inputs.GRIDS.clear()
    if warm:
        warm_up(url)
    return served(app, url, server)


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--incidents", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--server", choices=("gunicorn", "werkzeug"), default="gunicorn")
    parser.add_argument("--database-url", help="a database that holds the demo and the "
                        "user bench already (kept); default: a throwaway one loaded here")
    parser.add_argument("--warm", action="store_true",
                        help="before each fresh server, the worker's warm-up job runs "
                             "once (as after an import): the default view's analyses, "
                             "the emerging cells among them, are stored")
    args = parser.parse_args()
    if args.database_url:
        from testsupport.apps import make_app

        databases, url = None, args.database_url
        app = make_app(url, **SHARED_RESULTS)
    else:
        databases, app, url = setup(args.incidents)
    results = {"pick": [], "shared": [], "cold": [], "api": []}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                 args=CHROMIUM_ARGS)
            for _ in range(args.repeat):
                with fresh(app, url, args.server, args.warm) as base_url:
                    results["pick"].append(measure_pick(browser, base_url))
                shared = results["pick"][-1]["shared"]
                path = shared[shared.index("/", len("http://")):]
                with fresh(app, url, args.server, args.warm) as base_url:
                    results["shared"].append(measure_shared(browser, base_url, path))
                with fresh(app, url, args.server, args.warm) as base_url:
                    results["cold"].append(measure_shared_cold(browser, base_url, path))
                to = path.split("to=")[1][:10]
                with fresh(app, url, args.server, args.warm) as base_url:
                    results["api"].append(measure_api(base_url, *emerging_window(to)))
            browser.close()
    finally:
        with app.app_context():
            from app.extensions import db

            db.engine.dispose()
        if databases is not None:
            databases.drop_all()
    report(args, results, path)


def _runs(values) -> str:
    return (", ".join(f"{v:.2f}" for v in values)
            + f" s; median {statistics.median(values):.2f} s")


def report(args, results: dict, path: str) -> None:
    print(f"server: {args.server}; {args.repeat} runs, each on a freshly started server"
          + (" after the worker's warm-up" if args.warm else "") + f"; shared URL {path}")
    pick = [r["seconds"] for r in results["pick"]]
    print(f"pick 'Emerging hot spots' -> map and panel updated: {_runs(pick)} "
          f"({statistics.median(pick) / GOAL_S:.2f} x the 2 s goal)")
    print("  of which until the emerging cells had arrived: "
          + _runs([r["cells"] for r in results["pick"]]))
    shared = [r["seconds"] for r in results["shared"]]
    print(f"open the shared URL (signed in) -> all drawn: {_runs(shared)} "
          f"({statistics.median(shared) / GOAL_S:.2f} x the 2 s goal)")
    print("  of which until the emerging cells had arrived: "
          + _runs([r["cells"] for r in results["shared"]]))
    print(f"the shared URL as sign-in target on a cold server -> all drawn: "
          f"{_runs(results['cold'])}")
    for name in ("cells", "cells again", "every cell", "sections"):
        print(f"API /hotspots/emerging {name}: {_runs([r[name] for r in results['api']])} "
              f"({results['api'][-1][f'{name} bytes'] / 1e6:.2f} MB)")
    print("where the time of the last shared URL goes (start, duration; s):")
    for name, start, duration in sorted(results["shared"][-1]["requests"],
                                        key=lambda r: -r[2])[:6]:
        print(f"  {start / 1000:5.2f} {duration / 1000:5.2f}  {name[:110]}")


if __name__ == "__main__":
    main()
