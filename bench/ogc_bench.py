"""OGC API Features and vector tile benchmark (issue 6): ours against pygeoapi and SQL.

Run: ``.venv/bin/python -m bench.ogc_bench [--incidents 1000000] [--seconds 20]``
(``--keep-database`` keeps the loaded database and prints the ``--database URL`` that
measures again without loading; drop it yourself afterwards.)

In one run, on a throwaway database with the demo's reference layers and N synthetic
incidents (``bench.hotspot_bench.setup``, the demo generator; ``geo.demo.loader.copy_incidents``
writes them in ``geo.queries.staging.SPATIAL_ORDER`` as an import does, so the table's layout is
the product's, not a bench-only CLUSTER: the run prints the planner's correlation of
the physical and the spatial order), parallel query off for every connection to it
(as the WMS benchmark does; it costs ~20 ms per small query; the bare SQL's connections
too, opened after that) and vacuumed and analysed:

1. **Throughput**: ``/collections/incidents/items?limit=1000&bbox=...`` at the same
   random bounding boxes (centred on random incidents, 0.05-0.4 degrees wide) against
   ours (``app:create_app()``) and pygeoapi 0.21 (PyPI, PostgreSQL provider on the same
   ``incidents`` table), each under gunicorn with ``--workers`` (2) on loopback, driven
   by ``--clients`` threads for ``--seconds``. pygeoapi lives in its own virtualenv,
   ``bench/.venv-pygeoapi/``, created on first use (never in ``.venv``). Ours checks a
   bearer token on every request; pygeoapi has no authentication.
2. **Against the bare SQL**: one client, one request at a time, median over the boxes:
   our HTTP request against the SQL that makes the same GeoJSON (the same 1,000 rows,
   ``ST_AsGeoJSON(row)`` aggregated with ``json_agg``) sent over psycopg2 and read.
3. **MVT**: per zoom (8, 10, 12, 14), tiles around random incidents: the HTTP latency
   of ``/ogc/tiles/incidents/{z}/{x}/{y}.mvt`` made anew (``Cache-Control: no-cache``:
   the server's tile cache does not answer) against the bare ``ST_AsMVT`` statement of
   the same tile (``geo.queries.tiles.tile_sql``, on a connection with the app's settings),
   medians; then the same tile answered from the tile cache. The two tiles must hold
   the same features (decoded and compared when their bytes differ: see
   :func:`same_tile`).

Prints tables; docs/benchmarks.md records the numbers.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess  # noqa: S404  # venv, pip, pygeoapi with fixed arguments
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.servers import (
    OUR_APP,
    OUR_GUNICORN,
    PROJECT_DIR,
    Server,
    free_port,
    gunicorn_command,
    our_app_env,
    run_load,
)

BENCH_DIR = Path(__file__).resolve().parent
PYGEOAPI_VENV = BENCH_DIR / ".venv-pygeoapi"
PYGEOAPI_PACKAGES = ("pygeoapi==0.21.0", "gunicorn", "psycopg2-binary", "SQLAlchemy",
                     "GeoAlchemy2")
SEED = 20261129
LIMIT = 1000
BOX_WIDTHS = (0.05, 0.1, 0.2, 0.4)  # degrees of longitude; latitude 0.75 of it
TILE_ZOOMS = (8, 10, 12, 14)


# --------------------------------------------------------------------------- set-up


def ensure_pygeoapi() -> Path:
    """The pygeoapi virtualenv's bin directory; creates it on first use."""
    bin_dir = PYGEOAPI_VENV / "bin"
    if not (bin_dir / "pygeoapi").exists():
        print(f"installing {', '.join(PYGEOAPI_PACKAGES)} into {PYGEOAPI_VENV} ...",
              flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(PYGEOAPI_VENV)],  # noqa: S603
                       check=True)
        subprocess.run([str(bin_dir / "pip"), "install", "-q", *PYGEOAPI_PACKAGES],  # noqa: S603
                       check=True)
    return bin_dir


def tune_database(database_url: str) -> None:
    """Parallel query off for every new connection to the database, then VACUUM ANALYZE
    (hint bits and the visibility map set once, as autovacuum would after the load,
    rather than by whichever server reads a page first)."""
    import psycopg2
    from psycopg2 import sql
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    conn = psycopg2.connect(url.set(drivername="postgresql").render_as_string(
        hide_password=False))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql.SQL("ALTER DATABASE {} SET max_parallel_workers_per_gather = 0")
                    .format(sql.Identifier(url.database)))
        cur.execute("VACUUM ANALYZE")
        cur.execute("SELECT correlation FROM pg_stats WHERE tablename = 'incidents' "
                    "AND attname = 'geom'")
        (correlation,) = cur.fetchone() or (None,)
    conn.close()
    print(f"incidents: correlation of physical and spatial order {correlation:.3f} "
          "(pg_stats; 1 = stored along the curve, 0 = unrelated)", flush=True)


def start_ours(workdir: Path, database_url: str, headers: dict, workers: int) -> Server:
    server = Server("ours", free_port(), "/ogc/features/collections/incidents/items",
                    headers)
    server.start(gunicorn_command(OUR_GUNICORN, OUR_APP, server.port, workers,
                                  chdir=PROJECT_DIR),
                 our_app_env(database_url), workdir, server.url({"limit": 1}), wait_s=90)
    return server


def pygeoapi_config(database_url: str, port: int) -> dict:
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    contact = {key: "bench" for key in ("name", "position", "address", "city",
                                        "stateorprovince", "postalcode", "country",
                                        "phone", "fax", "hours", "instructions")}
    return {
        "server": {
            "bind": {"host": "127.0.0.1", "port": port},
            "url": f"http://127.0.0.1:{port}",
            "mimetype": "application/json; charset=UTF-8", "encoding": "utf-8",
            "languages": ["en-US"], "pretty_print": False,
            "limits": {"default_items": 10, "max_items": 10_000},
            "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                    "attribution": "OpenStreetMap"},
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {"title": "bench", "description": "bench",
                               "keywords": ["bench"], "keywords_type": "theme",
                               "terms_of_service": "https://example.org",
                               "url": "https://example.org"},
            "license": {"name": "CC-BY 4.0",
                        "url": "https://creativecommons.org/licenses/by/4.0/"},
            "provider": {"name": "bench", "url": "https://example.org"},
            "contact": {**contact, "email": "bench@example.org", "url": "https://example.org",
                        "role": "pointOfContact"},
        },
        "resources": {"incidents": {
            "type": "collection", "title": "incidents", "description": "incidents",
            "keywords": ["incidents"],
            "extents": {"spatial": {"bbox": [40, 41, 47, 44],
                                    "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
            "providers": [{
                "type": "feature", "name": "PostgreSQL",
                "data": {"host": url.host, "port": url.port, "dbname": url.database,
                         "user": url.username, "password": url.password,
                         "search_path": ["public"]},
                "id_field": "id", "table": "incidents", "geom_field": "geom",
            }],
        }},
    }


def start_pygeoapi(workdir: Path, bin_dir: Path, database_url: str, workers: int) -> Server:
    server = Server("pygeoapi", free_port(), "/collections/incidents/items", {})
    config = workdir / "pygeoapi.yml"
    # JSON is YAML: no YAML writer needed here.
    config.write_text(json.dumps(pygeoapi_config(database_url, server.port), indent=1))
    openapi = workdir / "pygeoapi-openapi.yml"
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "PYGEOAPI_CONFIG": str(config),
           "PYGEOAPI_OPENAPI": str(openapi), "LANG": "C.UTF-8"}
    subprocess.run([str(bin_dir / "pygeoapi"), "openapi", "generate", str(config),  # noqa: S603
                    "--output-file", str(openapi)], env=env, check=True, cwd=workdir,
                   stdout=subprocess.DEVNULL)
    server.start(gunicorn_command(bin_dir / "gunicorn", "pygeoapi.flask_app:APP",
                                  server.port, workers),
                 env, workdir, server.url({"limit": 1}), wait_s=90)
    return server


# --------------------------------------------------------------------------- requests


def incident_anchors(database_url: str, n: int) -> np.ndarray:
    """(lon, lat) of ``n`` incidents drawn by a hash of their identity (source,
    external_id): the same places in every run on the same data (a seeded ``random()``
    follows the rows' physical order, and two runs on one database met z14 tiles of
    3 and of 6 ms: the ratio to the bare statement depends on the tile's size)."""
    import psycopg2
    from sqlalchemy.engine import make_url

    conn = psycopg2.connect(make_url(database_url).set(drivername="postgresql")
                            .render_as_string(hide_password=False))
    with conn.cursor() as cur:
        cur.execute("SELECT ST_X(geom), ST_Y(geom) FROM incidents "
                    "ORDER BY md5(source || ':' || external_id) LIMIT %s", (n,))
        points = np.array(cur.fetchall(), dtype=float)
    conn.close()
    return points


def random_boxes(anchors: np.ndarray, n: int) -> list[tuple[float, float, float, float]]:
    rng = np.random.default_rng(SEED)
    boxes = []
    for k in range(n):
        lon, lat = (float(v) for v in anchors[k % len(anchors)])
        width = float(rng.choice(BOX_WIDTHS))
        boxes.append((round(lon - width / 2, 6), round(lat - width * 0.375, 6),
                      round(lon + width / 2, 6), round(lat + width * 0.375, 6)))
    return boxes


def items_path(server: Server, box) -> str:
    return server.url({"limit": LIMIT, "bbox": ",".join(map(str, box))})


def check_same_answer(ours: Server, peer: Server, boxes) -> list[str]:
    """numberMatched equal on every box; the same ids where the page holds them all."""
    problems = []
    for box in boxes:
        a = json.loads(ours.get(items_path(ours, box))[2])
        b = json.loads(peer.get(items_path(peer, box))[2])
        if a["numberMatched"] != b["numberMatched"]:
            problems.append(f"{box}: numberMatched {a['numberMatched']} vs "
                            f"{b['numberMatched']}")
        elif a["numberMatched"] <= LIMIT and (
                {f["id"] for f in a["features"]} != {f["id"] for f in b["features"]}):
            problems.append(f"{box}: other features")
    return problems


# The same 1,000 rows as our page (in the bbox, order by id), one Feature per row with
# every column as a property (ST_AsGeoJSON of a record), aggregated into one text. The
# exact test follows the index's: ``&&`` alone compares float4 boxes and admits points
# up to ~1e-6 degrees outside. No numberMatched: counting is extra work our request
# does (and pygeoapi's).
_BARE_ITEMS = """
SELECT json_build_object('type', 'FeatureCollection', 'features',
                         COALESCE(json_agg(ST_AsGeoJSON(t.*, 'geom', 15)::json), '[]'))::text
  FROM (SELECT * FROM incidents
         WHERE geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326)
           AND ST_Intersects(geom, ST_MakeEnvelope(%s, %s, %s, %s, 4326))
         ORDER BY id LIMIT %s) AS t
"""


def median_ms(function, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        function()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)) * 1000


def bare_vs_http(database_url: str, ours: Server, boxes) -> list[tuple[float, float]]:
    """(bare SQL ms, our request ms) per box, each the median of 3, one at a time."""
    import psycopg2
    from sqlalchemy.engine import make_url

    conn = psycopg2.connect(make_url(database_url).set(drivername="postgresql")
                            .render_as_string(hide_password=False))
    conn.autocommit = True
    rows = []
    with conn.cursor() as cur:
        for box in boxes:
            def bare(box=box):
                cur.execute(_BARE_ITEMS, (*box, *box, LIMIT))
                cur.fetchone()

            bare()  # warm
            rows.append((median_ms(bare), median_ms(lambda box=box: ours.get(
                items_path(ours, box)))))
    conn.close()
    return rows


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def tile_content(tile: bytes) -> dict:
    """Per layer of an MVT tile, its features as a multiset of (id, geometry,
    properties): what a client sees, whatever the encoding's order and tables."""
    import collections

    import mapbox_vector_tile

    return {name: collections.Counter(
                (f.get("id"), json.dumps(f["geometry"], sort_keys=True),
                 json.dumps(f["properties"], sort_keys=True)) for f in layer["features"])
            for name, layer in mapbox_vector_tile.decode(tile).items()}


def same_tile(a: bytes, b: bytes) -> bool:
    """Whether two tiles hold the same features. Equal bytes are; otherwise both are
    decoded: a parallel ``ST_AsMVT`` (parallel query on) merges its workers' partial
    tiles, each with its own key and value tables and in another feature order, so the
    same features can come in other bytes (5.69 MB against 5.10 MB for one z10 tile of
    93,128 incidents)."""
    return a == b or (bool(a) and bool(b) and tile_content(a) == tile_content(b))


def tiles_bare_vs_http(app, ours: Server, anchors: np.ndarray, per_zoom: int
                       ) -> dict[int, list[tuple[float, float, int, float]]]:
    """Per zoom: (bare ST_AsMVT ms, HTTP ms of a tile made anew, tile bytes, HTTP ms of
    the tile from the server's cache) of tiles at random incidents."""
    import dataclasses

    from sqlalchemy import text

    from app.extensions import db
    from geo import queries
    from geo.layers import TILE_LAYERS
    from geo.queries.tiles import tile_sql
    from geo.vocabulary import LEGACY_AGENCY

    layer = TILE_LAYERS["incidents"]
    anew = dataclasses.replace(ours, headers={**ours.headers, "Cache-Control": "no-cache"})
    results: dict[int, list] = {}
    with app.app_context():
        connection = db.engine.connect()
        for z in TILE_ZOOMS:
            rows = []
            for lon, lat in anchors[:per_zoom].tolist():
                x, y = tile_of(lon, lat, z)
                # What the bench's user (a viewer of the default agency) may see of
                # the incidents (geo.scope), as the request's tile holds.
                statement, params = tile_sql(layer, z, x, y, queries.FeatureQuery(
                    limit=None, viewer_agency=LEGACY_AGENCY))
                compiled = text(statement)

                def bare(compiled=compiled, params=params):
                    return connection.execute(compiled, params).scalar_one()

                expected = bytes(bare() or b"")  # warm
                size = len(expected)
                path = f"/ogc/tiles/incidents/{z}/{x}/{y}.mvt"
                status, _, body = ours.get(path)
                if status != (200 if size else 204) or not same_tile(body, expected):
                    raise SystemExit(f"tile {z}/{x}/{y}: {status}, {len(body)} bytes "
                                     f"against {size} from SQL, other features")
                rows.append((median_ms(bare), median_ms(lambda path=path: anew.get(path)),
                             size, median_ms(lambda path=path: ours.get(path))))
            results[z] = rows
        connection.close()
        db.session.remove()
    return results


# --------------------------------------------------------------------------- main


def reuse(database_url: str):
    """(databases, app, headers) for a database an earlier run kept (a new token)."""
    import uuid

    from app.auth.tokens import create_token
    from app.auth.users import create_user
    from app.extensions import db
    from testsupport.apps import make_app
    from testsupport.databases import ThrowawayDatabases, server_url

    app = make_app(database_url)
    with app.app_context():
        user = create_user(db.session, f"bench-{uuid.uuid4().hex[:8]}", "viewer",
                           uuid.uuid4().hex)
        _, token = create_token(db.session, user, "bench")
        db.session.commit()
        db.session.remove()
    return (ThrowawayDatabases(server_url(), purpose="bench"), app,
            {"Authorization": f"Bearer {token}"})


def bench_database(args):
    """(databases, app, headers) of the run: the database ``--database`` names (kept by
    an earlier run), else a new one with ``--incidents`` demo incidents; kept at the
    end (not dropped) with ``--keep-database`` or ``--database``."""
    if args.database:
        databases, app, headers = reuse(args.database)
    else:
        from bench.hotspot_bench import setup

        databases, app, headers = setup(args.incidents)
    if args.keep_database or args.database:
        databases.created.clear()  # drop_all then leaves it
        print(f"database kept: --database '{app.config['SQLALCHEMY_DATABASE_URI']}'",
              flush=True)
    return databases, app, headers


def print_items(loads: dict, mismatches: list, args, boxes) -> None:
    print(f"\n{args.incidents:,} incidents; gunicorn --workers {args.workers} each; "
          f"{args.clients} client threads, {args.seconds:.0f} s each; items?limit={LIMIT} "
          f"at {len(boxes)} random boxes {BOX_WIDTHS[0]}-{BOX_WIDTHS[-1]} degrees wide")
    if mismatches:
        print("DIFFERENT ANSWERS: " + "; ".join(mismatches[:5]))
    else:
        print("same numberMatched on 20 boxes (and the same ids where a page holds all)")
    print(f"{'server':<10}{'requests/s':>12}{'median ms':>11}{'failed':>8}")
    for name, result in loads.items():
        print(f"{name:<10}{result.rate:>12.1f}{result.percentile(50):>11.1f}"
              f"{len(result.errors):>8}")
        if result.errors:
            print(f"  first failure: {result.errors[0]}")
    ratio = loads["ours"].rate / loads["pygeoapi"].rate if loads["pygeoapi"].rate else 0.0
    print(f"ours / pygeoapi throughput: {ratio:.1f}x (goal >= 3x)", flush=True)


def print_sql(sql_rows) -> None:
    bare = np.array([r[0] for r in sql_rows])
    http_ms = np.array([r[1] for r in sql_rows])
    print(f"one at a time, {len(sql_rows)} boxes: bare SQL median {np.median(bare):.1f} ms, "
          f"our request median {np.median(http_ms):.1f} ms, median ratio "
          f"{np.median(http_ms / bare):.2f}x (goal <= 2x)", flush=True)


def print_tiles(tile_rows) -> None:
    print(f"{'MVT zoom':<10}{'tiles':>6}{'median KB':>11}{'SQL ms':>8}{'HTTP ms':>9}"
          f"{'ratio':>7}{'cached ms':>11}   (HTTP: made anew; goal <= 1.3x)")
    for z, rows in tile_rows.items():
        sql_ms = np.array([r[0] for r in rows])
        tile_ms = np.array([r[1] for r in rows])
        print(f"{z:<10}{len(rows):>6}{np.median([r[2] for r in rows]) / 1024:>11.1f}"
              f"{np.median(sql_ms):>8.1f}{np.median(tile_ms):>9.1f}"
              f"{np.median(tile_ms / sql_ms):>6.2f}x"
              f"{np.median([r[3] for r in rows]):>11.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=20.0, help="per server")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers each")
    parser.add_argument("--boxes", type=int, default=40,
                        help="boxes for the one-at-a-time comparison with SQL")
    parser.add_argument("--tiles", type=int, default=20, help="tiles per zoom")
    parser.add_argument("--repeat", type=int, default=2,
                        help="measurement passes on the same data (each printed)")
    parser.add_argument("--keep-database", action="store_true",
                        help="do not drop the database; print its URL for --database")
    parser.add_argument("--database", help="a database kept by --keep-database: no load")
    parser.add_argument("--tiles-only", action="store_true",
                        help="measure the tiles only (no pygeoapi, no items)")
    args = parser.parse_args()

    bin_dir = None if args.tiles_only else ensure_pygeoapi()
    databases, app, headers = bench_database(args)
    database_url = app.config["SQLALCHEMY_DATABASE_URI"]
    workdir = Path(tempfile.mkdtemp(prefix="ogc_bench_"))
    servers: list[Server] = []
    try:
        tune_database(app.config["DATABASE_OWNER_URI"])
        with app.app_context():  # the bare SQL's connections get the new settings too
            from app.extensions import db

            db.engine.dispose()
        anchors = incident_anchors(database_url, 1000)
        boxes = random_boxes(anchors, 500)
        ours = start_ours(workdir, database_url, headers, args.workers)
        servers.append(ours)
        if not args.tiles_only:
            peer = start_pygeoapi(workdir, bin_dir, database_url, args.workers)
            servers.append(peer)
            mismatches = check_same_answer(ours, peer, boxes[:20])
        for run in range(1, args.repeat + 1):
            print(f"\n=== pass {run} of {args.repeat}", flush=True)
            if args.tiles_only:
                print_tiles(tiles_bare_vs_http(app, ours, anchors, args.tiles))
                continue
            loads = {}
            for server in (peer, ours):
                paths = [items_path(server, box) for box in boxes]
                run_load(server, paths[:20], 3, args.clients)  # warm
                loads[server.name] = run_load(server, paths, args.seconds, args.clients)
            print_items(loads, mismatches, args, boxes)
            print_sql(bare_vs_http(database_url, ours, boxes[:args.boxes]))
            print_tiles(tiles_bare_vs_http(app, ours, anchors, args.tiles))
    finally:
        for server in servers:
            server.stop()
        databases.drop_all()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
