"""Where a z14 tile request's time goes beyond its statement (issue 21: the z14 tile at
most 1.3x its bare ``ST_AsMVT``).

Run on a database kept by ``bench.ogc_bench --keep-database`` (its demo incidents)::

    .venv/bin/python -m bench.request_costs --database URL [--tiles 20] [--repeat 7]

For ``--tiles`` z14 tiles at the incidents ``bench.ogc_bench`` picks (by a hash of their
identity: the same places in every run), each the
median of ``--repeat``, then the median over the tiles, all in one run:

1. **Over HTTP** (gunicorn, 2 sync workers, ``app:create_app()`` in production, a new
   connection per request as ``bench.ogc_bench`` makes them):
   - a trivial WSGI app answering the bytes of the tile of median size (gunicorn, the
     loopback connection and this client: the floor of any Python WSGI server here);
   - ``/healthz`` (Flask's request handling plus one small statement);
   - the tile from the server's tile cache (authentication, the version's statement);
   - the tile made anew (``Cache-Control: no-cache``), against the bare statement on a
     held connection (``bench.ogc_bench``'s comparison).
2. **In one process** (the test client, no HTTP): the request made anew split into Flask's
   hooks, the session's opening and the view, each timed around its call.

Prints the milliseconds; docs/benchmarks.md records them.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import functools
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.ogc_bench import incident_anchors, median_ms, reuse, tile_of
from bench.servers import (
    OUR_APP,
    OUR_GUNICORN,
    PROJECT_DIR,
    Server,
    free_port,
    gunicorn_command,
    our_app_env,
)

ZOOM = 14
# A WSGI app answering the body of the file named by BENCH_BODY (the tile's bytes).
TRIVIAL_APP = '''
import os
BODY = open(os.environ["BENCH_BODY"], "rb").read()
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/vnd.mapbox-vector-tile"),
                              ("Content-Length", str(len(BODY)))])
    return [BODY]
'''


def tile_statements(app, anchors, n: int):
    """(path, statement, values) of ``n`` z14 tiles at ``anchors``, as the bench user sees
    them (``bench.ogc_bench.tiles_bare_vs_http``)."""
    from geo import queries
    from geo.layers import TILE_LAYERS
    from geo.queries.tiles import tile_sql
    from geo.vocabulary import LEGACY_AGENCY

    rows = []
    for lon, lat in anchors[:n].tolist():
        x, y = tile_of(lon, lat, ZOOM)
        statement, params = tile_sql(TILE_LAYERS["incidents"], ZOOM, x, y,
                                     queries.FeatureQuery(limit=None,
                                                          viewer_agency=LEGACY_AGENCY))
        rows.append((f"/ogc/tiles/incidents/{ZOOM}/{x}/{y}.mvt", statement, params))
    return rows


def over_http(app, database_url: str, headers: dict, tiles, repeat: int) -> dict:
    """Median ms per kind of request over gunicorn (see the module's docstring)."""
    from app.extensions import db
    from geo.queries.tiles import fetch_tile_row

    workdir = Path(tempfile.mkdtemp(prefix="request_costs_"))
    ours = Server("ours", free_port(), "/healthz", headers)
    ours.start(gunicorn_command(OUR_GUNICORN, OUR_APP, ours.port, 2, chdir=PROJECT_DIR),
               our_app_env(database_url), workdir, "/healthz", wait_s=90)
    anew = dataclasses.replace(ours, headers={**headers, "Cache-Control": "no-cache"})
    (workdir / "trivial.py").write_text(TRIVIAL_APP)
    body_file = workdir / "tile.mvt"
    trivial = Server("trivial", free_port(), "/", {})
    results = collections.defaultdict(list)
    try:
        with app.app_context():
            connection = db.engine.connect()
            # the trivial app answers the tile of median size
            bodies = sorted((bytes(fetch_tile_row(connection, s, p)[0] or b"")
                             for _, s, p in tiles), key=len)
            body = bodies[len(bodies) // 2]
            body_file.write_bytes(body)
            trivial.start(gunicorn_command(OUR_GUNICORN, "trivial:app", trivial.port, 2,
                                           chdir=workdir),
                          {**our_app_env(database_url), "BENCH_BODY": str(body_file)},
                          workdir, "/")
            for path, statement, params in tiles:
                fetch_tile_row(connection, statement, params)  # warm
                ours.get(path)
                results["bare statement"].append(median_ms(
                    lambda s=statement, p=params: fetch_tile_row(connection, s, p), repeat))
                results["tile made anew"].append(median_ms(lambda p=path: anew.get(p), repeat))
                results["tile from the cache"].append(median_ms(lambda p=path: ours.get(p),
                                                                repeat))
                results["/healthz"].append(median_ms(lambda: ours.get("/healthz"), repeat))
                results[f"trivial WSGI app ({len(body) / 1024:.0f} kB)"].append(
                    median_ms(lambda: trivial.get("/"), repeat))
            connection.close()
            db.session.remove()
    finally:
        ours.stop()
        trivial.stop()
    medians = {name: statistics.median(values) for name, values in results.items()}
    ratios = [a / b for a, b in zip(results["tile made anew"], results["bare statement"],
                                        strict=True)]
    medians["ratio made anew / bare (median of the tiles')"] = statistics.median(ratios)
    return medians


def in_process(database_url: str, headers: dict, tiles, repeat: int) -> dict:
    """Median ms of each part of a request made anew, in one process."""
    os.environ.update(our_app_env(database_url))
    from app import create_app

    app = create_app()
    times = collections.defaultdict(list)

    def timed(name, function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                times[name].append((time.perf_counter() - start) * 1000)
        return wrapper

    for registry, kind in ((app.before_request_funcs, "before"),
                           (app.after_request_funcs, "after")):
        for blueprint, functions in registry.items():
            registry[blueprint] = [timed(f"{kind}: {f.__module__}.{f.__name__}", f)
                                   for f in functions]
    app.teardown_appcontext_funcs[:] = [timed(f"teardown: {f.__module__}.{f.__name__}", f)
                                        for f in app.teardown_appcontext_funcs]
    app.view_functions["ogc.vector_tile"] = timed("the view (statement included)",
                                                  app.view_functions["ogc.vector_tile"])
    interface = app.session_interface
    interface.open_session = timed("the cookie session opened", interface.open_session)
    interface.save_session = timed("the cookie session saved", interface.save_session)
    app.wsgi_app = timed("whole WSGI call", app.wsgi_app)
    client = app.test_client()
    anew = {**headers, "Cache-Control": "no-cache"}
    for path, _, _ in tiles:
        for _ in range(2):
            client.get(path, headers=anew)  # warm
    times.clear()
    for path, _, _ in tiles:
        for _ in range(repeat):
            client.get(path, headers=anew)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True,
                        help="a database kept by bench.ogc_bench --keep-database")
    parser.add_argument("--tiles", type=int, default=20, help="z14 tiles")
    parser.add_argument("--repeat", type=int, default=7, help="requests per tile and kind")
    args = parser.parse_args()

    databases, app, headers = reuse(args.database)
    databases.created.clear()  # never dropped here
    tiles = tile_statements(app, incident_anchors(args.database, args.tiles), args.tiles)
    print(f"\n{len(tiles)} z14 tiles, median of {args.repeat} each, then over the tiles")
    print("\nover HTTP (gunicorn, 2 sync workers, a new connection per request):")
    for name, value in over_http(app, args.database, headers, tiles, args.repeat).items():
        unit = "x" if name.startswith("ratio") else " ms"
        print(f"  {value:8.2f}{unit}  {name}")
    print("\nin one process (test client), a tile made anew, by part:")
    parts = in_process(args.database, headers, tiles, args.repeat)
    for name, value in sorted(parts.items(), key=lambda item: -item[1]):
        print(f"  {value:8.3f} ms  {name}")
    whole = parts["whole WSGI call"] - parts["the view (statement included)"]
    print(f"  {whole:8.3f} ms  whole WSGI call less the view")


if __name__ == "__main__":
    main()
