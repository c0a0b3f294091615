"""Cost of the agencies' visibility predicate per request (issue 16).

Run: ``.venv/bin/python -m bench.visibility_bench [--incidents 1000000] [--repeat 15]
[--agency GBP] [--explain list|tile|hotspots]``

On a throwaway database with the demo (``bench.scope_bench.setup``: the synthetic
incidents of ``geo.demo.synthetic``, four agencies in their shares, about 1.6 % not
released to all), a viewer restricted to the region with the most incidents, of one
agency (``--agency``), makes the same requests two ways, interleaved in one run:

- **before**: today's scoped path, the request with no viewer agency (the views'
  ``viewer_agency()`` answers None, so no releasability condition is added: the path as
  it was before issue 16);
- **after**: the same request with the viewer's agency (``geo.scope.visibility_condition``
  on lists and tiles, ``counted_condition`` and the ``counted_not_visible`` figure on
  hot-spots).

Requests (Flask test client, in process): a REST list page (``/api/v1/incidents``, 100
incidents of the last year, ``numberMatched`` counting every match), vector tiles made
anew (``Cache-Control: no-cache``) at z 12 (points) and z 8, and a hot-spot call
(``/api/v1/hotspots`` over the viewer's region, a year, 2 km cells; the result cache
emptied before every call, the grid kept: what is timed is reading and counting the
incidents). Each repetition runs every request before and after in alternating order
(ABBA); medians per request and their ratio (goal: after / before <= 1.10) are printed.
This runs twice: first on **today's schema** (the index of incidents by region as it
was, ``ix_incidents_region_id``), then on the schema of issue 16's migration (that index
replaced by ``ix_incidents_region_time``: region and time, including the rule's
columns). The goal's figure is *after on the new schema / before on today's schema*:
what a scoped request costs now against what it cost. ``--explain list|tile|hotspots``
prints EXPLAIN ANALYZE of that request's statements both ways.

docs/benchmarks.md records the numbers.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from contextlib import ExitStack, contextmanager
from unittest import mock

from sqlalchemy import text

from bench.scope_bench import setup, teardown, tile_xy

YEAR = "2025-06-30T00:00:00Z/2026-06-30T00:00:00Z"
GOAL = 1.10


def requests_for(region, lon: float, lat: float) -> dict[str, tuple[str, dict]]:
    """The timed requests around (lon, lat) of the viewer's region: name -> (url,
    extra headers)."""
    anew = {"Cache-Control": "no-cache"}
    x12, y12 = tile_xy(12, lon, lat)
    x8, y8 = tile_xy(8, lon, lat)
    return {
        "REST list, limit 100, a year": (f"/api/v1/incidents?limit=100&datetime={YEAR}", {}),
        "vector tile z12 (points)": (f"/ogc/tiles/incidents/12/{x12}/{y12}.mvt", anew),
        "vector tile z8": (f"/ogc/tiles/incidents/8/{x8}/{y8}.mvt", anew),
        "hot-spots, region, a year, 2 km": (
            f"/api/v1/hotspots?region={region}&datetime={YEAR}&cell_size=2000", {}),
    }


@contextmanager
def without_viewer_agency():
    """Every view sees the viewer's agency as None: no releasability condition, the
    scoped path as it was before issue 16. Patches each ``app`` module's imported
    ``viewer_agency``."""
    from app.auth import scope

    modules = [module for name, module in list(sys.modules.items())
               if name.startswith("app.") and module is not None
               and getattr(module, "viewer_agency", None) is scope.viewer_agency]
    with ExitStack() as stack:
        for module in modules:
            stack.enter_context(mock.patch.object(module, "viewer_agency", lambda: None))
        yield


def timed_request(client, url: str, headers: dict) -> float:
    """Seconds of one request (hot-spots: with an empty result cache)."""
    from geo.hotspots.cache import CACHE

    if url.startswith("/api/v1/hotspots"):
        CACHE.clear()
    start = time.perf_counter()
    response = client.get(url, headers=headers)
    seconds = time.perf_counter() - start
    if response.status_code not in (200, 204):
        raise SystemExit(f"{url}: {response.status_code} {response.get_data(as_text=True)}")
    return seconds


def measure(client, requests: dict, headers: dict, repeat: int) -> dict:
    """Median ms before and after per request, interleaved ABBA over ``repeat`` rounds
    (after one warm-up request each way)."""
    times = {name: {"before": [], "after": []} for name in requests}

    def run(name: str, mode: str, keep: bool = True) -> None:
        url, extra = requests[name]
        if mode == "before":
            with without_viewer_agency():
                seconds = timed_request(client, url, {**headers, **extra})
        else:
            seconds = timed_request(client, url, {**headers, **extra})
        if keep:
            times[name][mode].append(seconds)

    for name in requests:
        run(name, "before", keep=False)
        run(name, "after", keep=False)
    for round_number in range(repeat):
        order = ("before", "after") if round_number % 2 == 0 else ("after", "before")
        for name in requests:
            for mode in order:
                run(name, mode)
    return {name: {mode: statistics.median(values) * 1000 for mode, values in by.items()}
            for name, by in times.items()}


def counted_not_visible(client, region: str, headers: dict) -> dict:
    """The hot-spot call's agency metadata (what the after path adds)."""
    url = requests_for(region, 0, 0)["hot-spots, region, a year, 2 km"][0]
    metadata = client.get(url, headers=headers).get_json()["metadata"]
    return {key: metadata.get(key) for key in ("viewer_agency", "counted_not_visible")}


def captured_statements(engine, request) -> list[tuple[str, dict]]:
    """The SELECT statements on ``incidents`` (with their parameters) that ``request()``
    runs through ``engine``."""
    from sqlalchemy import event

    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "incidents" in statement and statement.lstrip().upper().startswith(
                ("SELECT", "WITH")):
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        request()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    return statements


def explain(app, client, url: str, headers: dict) -> None:
    """EXPLAIN ANALYZE of the statements on incidents of one request, made before and
    after (captured as the request runs them, explained on a connection of their own)."""
    from app.extensions import db

    with app.app_context():
        engine = db.engine
    for label in ("before", "after"):
        with without_viewer_agency() if label == "before" else ExitStack():
            statements = captured_statements(
                engine, lambda: timed_request(client, url, headers))
        with engine.connect() as connection:
            cursor = connection.connection.cursor()
            for statement, parameters in statements:
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters)
                print(f"--- {url}, {label}:")
                print("\n".join(row[0] for row in cursor.fetchall()))
            connection.rollback()


# Today's schema and the new one (migration d6a1f0b2c3e4): the index of incidents by
# region, before and after issue 16.
TODAYS_SCHEMA = ("CREATE INDEX ix_incidents_region_id ON incidents (region_id)",
                 "DROP INDEX ix_incidents_region_time", "VACUUM ANALYZE incidents")
NEW_SCHEMA = ("CREATE INDEX ix_incidents_region_time ON incidents (region_id, occurred_at) "
              "INCLUDE (agency, releasability, aggregate)",
              "DROP INDEX ix_incidents_region_id", "VACUUM ANALYZE incidents")


def as_owner(app, *statements: str) -> None:
    """Run ``statements`` as the database's owner, outside a transaction."""
    from sqlalchemy import create_engine

    from testsupport.databases import owner_url

    engine = create_engine(owner_url(app.config["SQLALCHEMY_DATABASE_URI"]),
                           isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


def analyse(app) -> None:
    """VACUUM ANALYZE incidents: plans from statistics and an up-to-date visibility
    map, as a database that has been running has them (the load leaves them to
    autovacuum)."""
    as_owner(app, "VACUUM ANALYZE incidents")


def set_agency(app, username: str, agency: str) -> None:
    from app.extensions import db

    with app.app_context():
        db.session.execute(text("UPDATE users SET agency = :agency WHERE username = :name"),
                           {"agency": agency, "name": username})
        db.session.commit()
        db.session.remove()


def restricted_share(app) -> dict:
    """Share of incidents per agency, and of those not released to all / not counted."""
    from app.extensions import db

    with app.app_context():
        row = db.session.execute(text(
            "SELECT count(*), avg((releasability <> '\"all\"'::jsonb)::int), "
            "avg((NOT aggregate)::int) FROM incidents")).one()
        shares = {agency: round(float(share), 1) for agency, share in db.session.execute(text(
            "SELECT agency, count(*) * 100.0 / sum(count(*)) OVER () "
            "FROM incidents GROUP BY agency ORDER BY agency"))}
        db.session.remove()
    return {"incidents": row[0], "restricted": float(row[1]), "not_counted": float(row[2]),
            "agencies": shares}


def print_table(title: str, medians: dict, repeat: int) -> None:
    """Median ms before and after per request, their ratio and the goal."""
    print(f"{title}:")
    print(f"{'request (median ms of ' + str(repeat) + ')':40} {'before':>9} "
          f"{'after':>9} {'ratio':>6}  goal <= {GOAL:.2f}")
    for name, by in medians.items():
        ratio = by["after"] / by["before"]
        print(f"{name:40} {by['before']:9.1f} {by['after']:9.1f} {ratio:6.3f}  "
              f"{'met' if ratio <= GOAL else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--agency", default="GBP", help="the viewer's agency")
    parser.add_argument("--explain", action="append", default=[], metavar="NAME",
                        help="print EXPLAIN ANALYZE of this request's statements both "
                             "ways: list, tile, hotspots (repeatable)")
    args = parser.parse_args()
    started = time.perf_counter()
    databases, app, headers, region = setup(args.incidents)
    try:
        set_agency(app, "bench-restricted", args.agency)
        analyse(app)
        data = restricted_share(app)
        print(f"demo: {data['incidents']:,} synthetic incidents (set up in "
              f"{time.perf_counter() - started:.0f} s); agencies % {data['agencies']}; "
              f"not released to all {data['restricted']:.2%}, not counted "
              f"{data['not_counted']:.2%}")
        print(f"viewer: {args.agency}, restricted to region {region.code} (the one with the "
              f"most incidents)")
        client = app.test_client()
        viewer = headers["restricted"]
        print(f"hot-spot metadata after: {counted_not_visible(client, region.code, viewer)}")
        requests = requests_for(region.code, region[2], region[3])
        as_owner(app, *TODAYS_SCHEMA)
        today = measure(client, requests, viewer, args.repeat)
        print_table("today's schema (ix_incidents_region_id)", today, args.repeat)
        as_owner(app, *NEW_SCHEMA)
        new = measure(client, requests, viewer, args.repeat)
        print_table("the new schema (ix_incidents_region_time)", new, args.repeat)
        print("the goal: after on the new schema / before on today's schema "
              f"(<= {GOAL:.2f})")
        for name in requests:
            ratio = new[name]["after"] / today[name]["before"]
            print(f"{name:40} {today[name]['before']:9.1f} {new[name]['after']:9.1f} "
                  f"{ratio:6.3f}  {'met' if ratio <= GOAL else 'NOT met'}")
        for wanted in args.explain:
            name = next(n for n in requests if wanted.lower() in n.lower().replace("-", ""))
            url, extra = requests[name]
            explain(app, client, url, {**viewer, **extra})
    finally:
        teardown(app, databases)


if __name__ == "__main__":
    main()
