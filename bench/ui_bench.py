"""Speed of the analyst's workspace in headless Chromium, with the demo data.

In one run, on a throwaway database with the demo (50,000 synthetic incidents by default,
``geo.demo.synthetic``) served by the app in this process (werkzeug, threaded):

0. sign-in (the "Sign in" click on a server that has computed nothing) until every
   layer and the panel are drawn;
1. navigation to ``/`` (signed in) until every layer and the panel are drawn
   (``#workspace[data-loaded=true]``): a cold load (empty analysis cache) and warm ones;
2. a filter change (the date range moved one month back, as the month slider does;
   then a category, then the hot-spot method) until the map and the panel are updated
   (``data-updates`` incremented, ``data-busy=false``). The 250 ms debounce of the
   filters is included.

The app is served by gunicorn with 2 workers, as ``make run`` does (``--server werkzeug``:
the threaded development server in this process). Goals (issue 7): under 2 s for 1,
under 1 s for 2; issue 19: under 1.5 s for 0. ``--warm``: before the server starts, the
worker's warm-up job (``app.worker.warmup``, what ``flask worker`` runs after an import)
runs once in this process, a process apart from gunicorn's, into the shared results;
the bench then says which of the page's analysis requests at sign-in it had warmed.
Run:

    .venv/bin/python -m bench.ui_bench [--incidents 50000] [--repeat 3] [--server gunicorn]
        [--warm] [--today]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from bench.hotspot_bench import DEMO_END, timed
from bench.servers import OUR_APP, OUR_GUNICORN, Server, free_port, gunicorn_command, our_app_env
from config import BASE_DIR
from testsupport.browser import CHROMIUM, CHROMIUM_ARGS

GUNICORN_WORKERS = 2  # as `make run`
GUNICORN_THREADS = 4  # as `make run`

PASSWORD = "bench-password-ui"  # noqa: S105  (a throwaway database's user)
GOAL_LOAD_S = 2.0
GOAL_UPDATE_S = 1.0
GOAL_SIGN_IN_S = 1.5  # issue 19


@contextmanager
def served(app, database_url: str, server: str, env: dict | None = None):
    """The app on 127.0.0.1: gunicorn as ``make run`` starts it (``env`` added to its
    environment), or werkzeug in-process."""
    if server == "werkzeug":
        from testsupport.apps import serving

        with serving(app) as url:
            yield url
        return
    with tempfile.TemporaryDirectory(prefix="ui_bench_") as workdir:
        gunicorn = Server("gunicorn", free_port(), "/", {})
        try:
            gunicorn.start(gunicorn_command(OUR_GUNICORN, OUR_APP, gunicorn.port,
                                            GUNICORN_WORKERS, threads=GUNICORN_THREADS,
                                            timeout_s=None, chdir=BASE_DIR,
                                            config=str(BASE_DIR / "app" / "gunicorn_conf.py")),
                           {**our_app_env(database_url, "development"), **(env or {})},
                           Path(workdir),
                           "/healthz")
            yield f"http://127.0.0.1:{gunicorn.port}"
        finally:
            gunicorn.stop()


def setup(incidents: int, today: bool = False):
    import flask_migrate

    from app.auth.users import create_user
    from app.extensions import db
    from geo.demo.loader import load_demo
    from testsupport.apps import make_app
    from testsupport.databases import ThrowawayDatabases, server_url

    databases = ThrowawayDatabases(server_url(), purpose="bench")
    url = databases.create()
    app = make_app(url, STATEMENT_TIMEOUT_S=0)  # loads as `flask demo load` does
    with app.app_context():
        flask_migrate.upgrade()
        _, seconds = timed(load_demo, db.session, app.config["ANALYSIS_SRID"],
                           n_incidents=incidents, end=None if today else DEMO_END)
        create_user(db.session, "bench", "analyst", PASSWORD)
        db.session.commit()
        db.session.remove()
    print(f"demo with {incidents:,} incidents loaded in {seconds:.1f} s")
    return databases, app, url


def warm_up(url: str):
    """The worker's warm-up job, once, as ``flask worker`` runs it after an import (its
    settings: the shared results on); returns its report."""
    from app.extensions import db
    from app.worker.warmup import DefaultViewWarmer
    from testsupport.apps import make_app

    worker_app = make_app(url, ANALYSIS_CACHE_MAX_MB=512, WARM_DEFAULT_VIEW=True,
                          STATEMENT_TIMEOUT_S=0)
    try:
        report = DefaultViewWarmer().run(worker_app)
    finally:
        with worker_app.app_context():
            db.engine.dispose()
    return report


def request_key(path: str) -> tuple:
    """A request as its route reads it: path and parameters (order and encoding aside)."""
    from urllib.parse import parse_qsl, urlsplit

    parts = urlsplit(path)
    return parts.path, tuple(sorted(parse_qsl(parts.query)))


def wait_for_update(page, after: int, timeout_s: float = 30.0) -> float:
    """Seconds until the workspace reports an update newer than ``after``."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout_s:
        done = page.evaluate(
            f"Number(document.getElementById('workspace').dataset.updates) > {after} && "
            "document.getElementById('workspace').dataset.busy === 'false'")
        if done:
            return time.perf_counter() - start
        page.wait_for_timeout(10)
    raise TimeoutError("the workspace did not update")


def updates(page) -> int:
    return int(page.get_attribute("#workspace", "data-updates") or 0)


def waterfall(finished: list, since_ms: float) -> list[tuple]:
    """The requests ``finished`` (Playwright's, in the order they ended) as rows
    ``(start, end, method, status, type, bytes, path)``: start and end in seconds after
    ``since_ms`` (ms since the epoch), end being the last byte of the response;
    sorted by start. Sizes are the bodies' as sent (compressed when they were)."""
    rows = []
    for req in finished:
        timing = req.timing
        start = (timing["startTime"] - since_ms) / 1000
        end = start + max(timing["responseEnd"], 0) / 1000
        response = req.response()
        sizes = req.sizes()
        path = req.url.split("//", 1)[-1].split("/", 1)[-1]
        rows.append((start, end, req.method, response.status if response else 0,
                     req.resource_type, sizes["responseBodySize"], "/" + path))
    return sorted(rows)


def print_waterfall(rows: list[tuple], limit: int = 110) -> None:
    for start, end, method, status, kind, size, path in rows:
        print(f"  {start:5.2f} {end:5.2f} {end - start:5.2f}  {method:4} {status} "
              f"{kind[:10]:10} {size / 1024:7.1f} kB  {path[:limit]}")


def measure(base_url: str, repeat: int, sign_in_only: bool = False) -> dict:
    from playwright.sync_api import sync_playwright

    results = {"load": [], "update": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        # every request of a page in its timings (the default keeps 250: the WMS tiles
        # would push the analyses out)
        page.add_init_script("performance.setResourceTimingBufferSize(5000)")
        page.set_default_timeout(60_000)
        page.goto(f"{base_url}/login")
        page.get_by_label("User name").fill("bench")
        page.get_by_label("Password").fill(PASSWORD)
        finished = []

        def keep(request):
            finished.append(request)

        page.on("requestfinished", keep)
        sign_in_start = time.perf_counter()
        clicked_ms = time.time() * 1000
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_selector("#workspace[data-loaded='true']")
        results["sign_in"] = time.perf_counter() - sign_in_start
        page.remove_listener("requestfinished", keep)
        results["sign_in_waterfall"] = waterfall(finished, clicked_ms)
        results["sign_in_requests"] = page.evaluate("""() => performance
            .getEntriesByType('resource')
            .map((e) => [e.name.replace(location.origin, ''), e.startTime, e.duration])
            .filter(([name]) => name.startsWith('/api/') || name.startsWith('/ogc/'))""")
        if sign_in_only:
            browser.close()
            return results
        for run in range(repeat + 1):
            # Run 0 came from the login redirect (cold); each further run reloads the page.
            if run:
                start = time.perf_counter()
                page.goto(f"{base_url}/")
                page.wait_for_selector("#workspace[data-loaded='true']")
                results["load"].append(time.perf_counter() - start)
        results["requests"] = page.evaluate("""() => performance.getEntriesByType('resource')
            .filter((e) => e.name.includes('/api/') || e.name.includes('/ogc/'))
            .map((e) => [e.name.replace(location.origin, ''), e.startTime, e.duration])""")
        changes = [("month back", "slider"), ("category", "smuggling_tobacco"),
                   ("method", "lisa")]
        for _ in range(repeat):
            for name, value in changes:
                before = updates(page)
                if name == "month back":
                    slider = page.locator("#f-month")
                    index = int(slider.input_value()) - 1
                    page.evaluate(f"""() => {{
                        const s = document.getElementById('f-month');
                        s.value = '{index}';
                        s.dispatchEvent(new Event('input', {{bubbles: true}}));
                    }}""")
                elif name == "category":
                    box = page.locator(f"input[name='category'][value='{value}']")
                    page.evaluate("document.querySelector('.categories').open = true")
                    box.set_checked(not box.is_checked())
                else:
                    current = page.input_value("#f-method")
                    page.select_option("#f-method", "gistar" if current == "lisa" else value)
                results["update"].append((name, wait_for_update(page, before)))
        cold_start = time.perf_counter()
        page.goto(f"{base_url}/?from=2025-01-01&to=2025-01-31")
        page.wait_for_selector("#workspace[data-loaded='true']")
        results["cold_other_month"] = time.perf_counter() - cold_start
        browser.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--incidents", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--server", choices=("gunicorn", "werkzeug"), default="gunicorn")
    parser.add_argument("--today", action="store_true",
                        help="the demo ends today (flask demo's window), so the default "
                             "period holds incidents and the page asks for its Gi* map; "
                             "else it ends 2026-06-30")
    parser.add_argument("--sign-in-only", action="store_true",
                        help="measure the sign-in only (no navigations, no filter changes)")
    parser.add_argument("--waterfall", action="store_true",
                        help="print every request of the sign-in, from the click")
    parser.add_argument("--warm", action="store_true",
                        help="run the worker's warm-up job before the server starts")
    args = parser.parse_args()
    if args.warm and args.server != "gunicorn":
        parser.error("--warm needs --server gunicorn (the shared results are off in the "
                     "bench's own app)")
    databases, app, url = setup(args.incidents, args.today)
    report = None
    try:
        if args.warm:
            report = warm_up(url)
            print(f"worker warm-up: {len(report.answered)} requests, {len(report.failed)} "
                  f"failed, {report.seconds:.1f} s")
        with served(app, url, args.server) as base_url:
            results = measure(base_url, args.repeat, args.sign_in_only)
    finally:
        with app.app_context():
            from app.extensions import db

            db.engine.dispose()
        databases.drop_all()
    print(f"server: {args.server}" + (f" --workers {GUNICORN_WORKERS} --threads {GUNICORN_THREADS}"
                                      if args.server == "gunicorn" else " (threaded)"))
    before = "the worker warmed the default view" if report else "nothing computed before"
    print(f"sign-in -> all layers drawn ({before}): {results['sign_in']:.2f} s "
          f"({results['sign_in'] / GOAL_SIGN_IN_S:.2f} x the 1.5 s goal)")
    print("where the time of the sign-in goes (start, duration; s):")
    for name, start, duration in sorted(results["sign_in_requests"], key=lambda r: -r[2])[:6]:
        print(f"  {start / 1000:5.2f} {duration / 1000:5.2f}  {name[:110]}")
    if args.waterfall:
        print("the sign-in's requests from the click (start, end, duration in s; method, "
              "status, type, body size, path):")
        print_waterfall(results["sign_in_waterfall"])
    analyses = [path for path, _, _ in results["sign_in_requests"]
                if path.startswith(("/api/v1/hotspots", "/api/v1/risk/segments"))]
    if report is not None:
        warmed = {request_key(path) for _, path, _, _ in report.answered}
        missed = [path for path in analyses if request_key(path) not in warmed]
        print(f"the page's analysis requests at sign-in: {len(analyses)}, warmed "
              f"{len(analyses) - len(missed)}" + "".join(f"\n  not warmed: {path}"
                                                    for path in missed))
    if args.sign_in_only:
        return
    loads = results["load"]
    print(f"navigation -> all layers drawn (warm cache), {len(loads)} runs: "
          + ", ".join(f"{s:.2f}" for s in loads)
          + f" s; median {statistics.median(loads):.2f} s "
          f"({statistics.median(loads) / GOAL_LOAD_S:.2f} x the 2 s goal)")
    print(f"navigation to a month never computed (cold analysis cache): "
          f"{results['cold_other_month']:.2f} s")
    updates_s = [s for _, s in results["update"]]
    for name in ("month back", "category", "method"):
        mine = [s for n, s in results["update"] if n == name]
        print(f"filter change '{name}' -> map and panel updated: "
              + ", ".join(f"{s:.2f}" for s in mine) + " s")
    print("where the time of the last warm load goes (start, duration; s):")
    slowest = sorted(results["requests"], key=lambda r: -r[2])[:6]
    for name, start, duration in slowest:
        print(f"  {start / 1000:5.2f} {duration / 1000:5.2f}  {name[:110]}")
    print(f"filter changes: median {statistics.median(updates_s):.2f} s, max "
          f"{max(updates_s):.2f} s ({statistics.median(updates_s) / GOAL_UPDATE_S:.2f} x the "
          "1 s goal)")


if __name__ == "__main__":
    main()
