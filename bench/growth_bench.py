"""The growth curve (issue 21): the same requests at 0.1, 1, 5 and 10 million incidents.

Run: ``.venv/bin/python -m bench.growth_bench [--sizes 0.1,1,5,10] [--keep-cluster]``
(``--plot-only`` prints the last run's table, also in Markdown, and redraws its plot;
``--before FILE`` adds another run's results to the plot, faint; ``--combine
FILE,FILE,...`` shows repeated runs of the same sizes as the median of their medians.)

To measure two sizes with the same code in one run: build once, keeping a copy of the
database at the smaller size (``--build-only --sizes 1,10 --keep-copies 1
--keep-cluster``: ``borderrisk_1m`` holds 1 M, ``borderrisk`` grows on to 10 M), then
``--reuse --sizes 1,10``, which migrates each database to the checkout's head, ANALYZEs
it and measures each size on its own database.

A fixed window at two sizes: the analyses that read ~3.5 years (the risk model's
baseline and the forecast's memory) are compared where that window is full at both:
``--reuse --window-copy 4`` copies the 10 M database to ``borderrisk_4y`` holding its last
4 years (:func:`keep_window_copy`), then ``--reuse --databases borderrisk_4y,borderrisk``
measures both in one run. ``--reuse --first-maps`` measures the first map of each
gunicorn worker (the border sections' live levels) with emptied shared results and
after a data change, worker pids from gunicorn's access log.

Never on the shared cluster: the bench makes a PostgreSQL cluster of its own
(``bench.cluster``, data under ``growth-cluster/`` of the checkout, port ``--port``),
migrates a database there, measures, and stops the cluster at the end (``--keep-cluster``
leaves it running with its data; a later run with ``--reuse`` measures the database it
holds without loading).

**The data.** History grows backwards in time at a constant rate of
:data:`RATE_PER_YEAR` (one million incidents a year: a ministry's four agencies over every
regional unit), so the ten million incidents are ten years, one million is the last year
and 0.1 million the last 36.5 days. Every incident follows the demo generator's model
(``geo.demo.synthetic``): ``load_demo`` writes the demo's regions, sections, crossing
points and a *template* of ``--template`` incidents over its 36 months, with their
places, seasons, category mixes, planted hot-spots, agencies and links (region, nearest
section and crossing) computed by the product; SQL then copies the template into
``incidents`` (``INSERT ... SELECT`` from ``generate_series``) ``copies`` times per
36-month cycle, each copy shifted back by whole cycles, by minutes within the cycle and
by up to ~80 m in place (links kept: within the template's), in slabs of at most a year
written in the import's spatial order (``geo.queries.staging.SPATIAL_ORDER``), as a
year's import would be. The events' capture trigger is off for the copy (ten million
change events are not what is measured) and on for the import step.

**The requests**, at each size, through ``app:create_app()`` under gunicorn
(``--workers``, default 2), one at a time, median of ``--repeat`` distinct requests
(analyses: each a new window a day apart, so no result cache answers):

- import: 20,000 demo-model incidents from a CSV through ``geo.io.ingest.import_file``
  (what ``flask import`` and the import API run), rows per second;
- list: the newest page (``limit=100``, whole history, with ``numberMatched``), a region's
  last 3 months (first page), a region's 3 months as CSV;
- WMS GetMap (border sections + incidents, default TIME: the 90 days before the newest
  incident) 256 px at 5-40 km, 40-200 km and the whole country;
- vector tiles z8 (clustered), z12, z14 at random recent incidents, the map page's
  window (the last 90 days), made anew (``Cache-Control: no-cache``); z8 also over the
  whole history;
- a region's hot-spot map (Gi*, 2 km cells) over the last 3 months and 3 years; its
  emerging hot-spots over 36 months (monthly steps); its CIRAM risk assessment of the
  last 3 months (``POST /api/v1/risk/assessments``).

At the largest size, throughput at 2, 4 and 8 concurrent clients of z12 tiles and of
40-200 km GetMaps. Prints a table per size and at the end; writes the results as JSON
(``growth-cluster/results.json``) and a log-log plot to ``docs/growth-curve.png``.
docs/benchmarks.md (Issue 21) and docs/scaling.md record the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg2

from bench.cluster import BenchCluster
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

CLUSTER_HOME = PROJECT_DIR / "growth-cluster"
RESULTS = CLUSTER_HOME / "results.json"
PLOT = PROJECT_DIR / "docs" / "growth-curve.png"
RATE_PER_YEAR = 1_000_000
YEAR = timedelta(days=365.25)
END = datetime(2026, 6, 30, tzinfo=UTC)  # the demo's end (bench.hotspot_bench.DEMO_END)
CYCLE_MONTHS = 36  # the demo's window (geo.demo.period.DEMO_MONTHS)
IMPORT_ROWS = 20_000
SEED = 20261205
THROUGHPUT_CLIENTS = (2, 4, 8)

# ------------------------------------------------------------------ the data


def connect(url: str):
    """An autocommit psycopg2 connection (``url`` plain or SQLAlchemy's)."""
    conn = psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://", 1))
    conn.autocommit = True
    return conn


def prepare(database_url: str, owner_url: str, template: int) -> dict:
    """Migrate, load the demo with ``template`` incidents, keep them as
    ``growth_template`` and empty ``incidents``; an analyst's token."""
    import flask_migrate

    from app.auth.tokens import create_token
    from app.auth.users import create_user
    from app.extensions import db
    from geo.demo.loader import load_demo
    from testsupport.apps import make_app

    app = make_app(database_url, STATEMENT_TIMEOUT_S=0, DATABASE_OWNER_URI=owner_url)
    started = time.perf_counter()
    with app.app_context():
        flask_migrate.upgrade()
        load_demo(db.session, app.config["ANALYSIS_SRID"], n_incidents=template, end=END)
        user = create_user(db.session, "growth-analyst", "analyst", uuid.uuid4().hex)
        _, token = create_token(db.session, user, "growth")
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    print(f"demo with a template of {template:,} incidents loaded in "
          f"{time.perf_counter() - started:.0f} s", flush=True)
    conn = connect(owner_url)
    with conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS growth_template")
        cur.execute("CREATE TABLE growth_template AS SELECT * FROM incidents")
        cur.execute("TRUNCATE incidents")
        cur.execute("VACUUM ANALYZE growth_template")
    conn.close()
    return {"token": token}


def migrate(database_url: str, owner_url: str) -> float:
    """Apply the migrations the checkout has and the database lacks (as ``prepare``
    does: the schema's owner), then ANALYZE; returns seconds."""
    import flask_migrate

    from app.extensions import db
    from testsupport.apps import make_app

    app = make_app(database_url, STATEMENT_TIMEOUT_S=0, DATABASE_OWNER_URI=owner_url)
    started = time.perf_counter()
    with app.app_context():
        flask_migrate.upgrade()
        db.session.remove()
        db.engine.dispose()
    conn = connect(owner_url)
    with conn.cursor() as cur:
        cur.execute("ANALYZE")
    conn.close()
    return time.perf_counter() - started


def tune(owner_url: str, database: str) -> None:
    """Parallel query and JIT off for every session of ``database``, as wms_bench."""
    from psycopg2 import sql

    conn = connect(owner_url)
    with conn.cursor() as cur:
        for setting in ("max_parallel_workers_per_gather = 0", "jit = off"):
            cur.execute(sql.SQL("ALTER DATABASE {} SET " + setting).format(
                sql.Identifier(database)))
    conn.close()


def copy_name(size: int) -> str:
    """The name of the copy of the database kept at ``size`` incidents (1 M:
    ``borderrisk_1m``, 0.5 M: ``borderrisk_0_5m``)."""
    from bench.cluster import DATABASE

    return f"{DATABASE}_{size / 1e6:g}m".replace(".", "_")


def incident_columns(cur) -> list[str]:
    cur.execute("SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'incidents' AND column_name NOT IN "
                "('id', 'created_at', 'updated_at') ORDER BY ordinal_position")
    return [name for (name,) in cur.fetchall()]


def _copy_sql(columns: list[str], copies: int, cycles: int) -> str:
    """Template rows copied ``copies`` times per cycle over ``cycles`` 36-month cycles
    back, kept where their shifted time lies in ``[%(low)s, %(high)s)``, in spatial
    order; the place is jittered only for the rows kept. Identifiers are the table's own
    columns (information_schema)."""
    outer = {
        "occurred_at": "w.shifted",
        "geom": ("ST_SetSRID(ST_Translate(w.geom, (random() - 0.5) * 0.002, "
                 "(random() - 0.5) * 0.0015), 4326)"),
        "external_id": "w.external_id || '-' || w.k || '-' || w.c",
        "source": "'growth-synthetic'",
    }
    select = ", ".join(outer.get(c, f"w.{c}") for c in columns)
    return (f"INSERT INTO incidents ({', '.join(columns)}) "  # noqa: S608  # catalogue names
            f"SELECT {select} FROM (SELECT t.*, c, k, t.occurred_at "
            f"- make_interval(months => {CYCLE_MONTHS} * k) - make_interval(mins => 37 * c) "
            f"AS shifted FROM growth_template AS t, generate_series(0, {copies - 1}) AS c, "
            f"generate_series(0, {cycles - 1}) AS k) AS w "
            "WHERE w.shifted >= %(low)s AND w.shifted < %(high)s "
            f"ORDER BY {columns.index('geom') + 1}")


def grow_to(owner_url: str, size: int, template: int) -> tuple[int, float]:
    """Add older history until ``incidents`` spans ``size / RATE_PER_YEAR`` years back
    from END; returns (rows added, seconds)."""
    conn = connect(owner_url)
    with conn.cursor() as cur:
        cur.execute("SELECT min(occurred_at) FROM incidents")
        (oldest,) = cur.fetchone()
        high = oldest or END
        low = END - YEAR * (size / RATE_PER_YEAR)
        per_cycle = RATE_PER_YEAR * CYCLE_MONTHS / 12
        copies = max(1, round(per_cycle / template))
        cycles = int(np.ceil((END - low) / YEAR / (CYCLE_MONTHS / 12))) + 1
        statement = _copy_sql(incident_columns(cur), copies, cycles)
        cur.execute("SET synchronous_commit = off")
        cur.execute("SELECT setseed(%s)", (0.21,))
        cur.execute("ALTER TABLE incidents DISABLE TRIGGER events_capture_insert")
        started = time.perf_counter()
        added = 0
        slab_high = high
        while slab_high > low:  # a year at a time, newest first, as yearly imports
            slab_low = max(low, slab_high - YEAR)
            cur.execute(statement, {"low": slab_low, "high": slab_high})
            added += cur.rowcount
            print(f"  {slab_low:%Y-%m-%d} .. {slab_high:%Y-%m-%d}: {cur.rowcount:,} rows "
                  f"({time.perf_counter() - started:.0f} s)", flush=True)
            slab_high = slab_low
        cur.execute("ALTER TABLE incidents ENABLE TRIGGER events_capture_insert")
        cur.execute("VACUUM ANALYZE incidents")
        seconds = time.perf_counter() - started
    conn.close()
    return added, seconds


def keep_copy(cluster: BenchCluster, size: int) -> str:
    """Keep the database as it is at ``size`` incidents in :func:`copy_name`."""
    name = copy_name(size)
    started = time.perf_counter()
    cluster.copy_database(name)
    print(f"  copy kept as {name} ({time.perf_counter() - started:.0f} s)", flush=True)
    return name


def window_name(years: int) -> str:
    """The name of the main database's copy cut to its last ``years`` (4:
    ``borderrisk_4y``)."""
    from bench.cluster import DATABASE

    return f"{DATABASE}_{years}y"


def keep_window_copy(cluster: BenchCluster, years: int) -> str:
    """Copy the main database to :func:`window_name` and delete there the incidents
    older than ``years`` before its newest: the history a deployment would hold after
    ``years`` at the same rate (history grew backwards, so the newest years are the
    first slabs, in their import order). The events' capture of deletes is off for that
    statement, in its transaction (millions of change events are not what is measured:
    the copy's outbox stays as it was); the data-version trigger fires as for any
    delete. ``VACUUM FULL`` then rewrites the table and rebuilds its indexes, as if the
    table had only ever held those years (in the same order), and a plain ``VACUUM
    ANALYZE`` sets its visibility map (index-only scans) and statistics, as
    :func:`grow_to` leaves the others."""
    name = window_name(years)
    started = time.perf_counter()
    cluster.copy_database(name)
    conn = cluster.admin(name)
    with conn.cursor() as cur:
        cur.execute("BEGIN")
        cur.execute("ALTER TABLE incidents DISABLE TRIGGER events_capture_delete")
        cur.execute("DELETE FROM incidents WHERE occurred_at < "
                    "(SELECT max(occurred_at) FROM incidents) - make_interval(years => %s)",
                    (years,))
        deleted = cur.rowcount
        cur.execute("ALTER TABLE incidents ENABLE TRIGGER events_capture_delete")
        cur.execute("COMMIT")
        cur.execute("VACUUM (FULL) incidents")
        cur.execute("VACUUM (ANALYZE) incidents")  # the visibility map, as the others
    conn.close()
    print(f"  {name}: the last {years} years kept, {deleted:,} incidents deleted "
          f"({time.perf_counter() - started:.0f} s)", flush=True)
    return name


def table_facts(owner_url: str) -> dict:
    conn = connect(owner_url)
    with conn.cursor() as cur:
        cur.execute("SELECT count(*), min(occurred_at), max(occurred_at), "
                    "pg_total_relation_size('incidents'), pg_relation_size('incidents') "
                    "FROM incidents")
        count, first, last, total, heap = cur.fetchone()
    conn.close()
    return {"incidents": count, "first": first.isoformat(), "last": last.isoformat(),
            "total_mb": total / 2**20, "heap_mb": heap / 2**20}


def busiest_region(owner_url: str) -> str:
    conn = connect(owner_url)
    with conn.cursor() as cur:
        cur.execute("SELECT r.code FROM growth_template AS t JOIN regions AS r "
                    "ON r.id = t.region_id GROUP BY r.code ORDER BY count(*) DESC LIMIT 1")
        (code,) = cur.fetchone()
    conn.close()
    return code


def write_import_file(directory: Path, rows: int) -> Path:
    """``rows`` incidents of the demo model in the last 36 months, as a CSV."""
    from bench.import_bench import write_incident_files

    _, csv_path, _ = write_incident_files(rows, directory)
    return csv_path


def timed_import(database_url: str, path: Path, source: str) -> float:
    """Rows per second of ``import_file`` of ``path`` (committed, then deleted)."""
    from app import create_app
    from app.extensions import db
    from geo.io.ingest import import_file
    from geo.layers import INCIDENTS

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "STATEMENT_TIMEOUT_S": 0})
    with app.app_context():
        started = time.perf_counter()
        report = import_file(db.session, INCIDENTS, str(path), source=source,
                             analysis_srid=app.config["ANALYSIS_SRID"])
        db.session.commit()
        seconds = time.perf_counter() - started
        if report.error_count or report.inserted != report.rows:
            raise SystemExit(f"import: {report.error_count} problems, "
                             f"{report.inserted} of {report.rows} inserted")
        from sqlalchemy import text

        db.session.execute(text("DELETE FROM incidents WHERE source = :s"), {"s": source})
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return report.rows / seconds


# ------------------------------------------------------------------ the requests


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def window(days: float, shift_days: int = 0) -> str:
    end = END - timedelta(days=shift_days)
    return f"{iso(end - timedelta(days=days))}/{iso(end)}"


def recent_anchors(database_url: str, n: int) -> np.ndarray:
    """(lon, lat) of ``n`` incidents of the last 90 days, drawn by a hash of their
    identity (source, external_id): the same incidents, so the same tiles and maps, in
    every database that holds them (each size and each window copy). A seeded
    ``random()`` follows the rows' physical order, which a copy's ``VACUUM FULL`` or a
    larger table changes: the sizes were measured on other tiles (a z12 tile of these
    data takes 1-150 ms by its place)."""
    conn = connect(database_url)
    with conn.cursor() as cur:
        cur.execute("SELECT ST_X(geom), ST_Y(geom) FROM incidents WHERE occurred_at >= %s "
                    "ORDER BY md5(source || ':' || external_id) LIMIT %s",
                    (END - timedelta(days=90), n))
        points = np.array(cur.fetchall(), dtype=float)
    conn.close()
    return points


def request_sets(database_url: str, region: str, repeat: int) -> dict[str, list[str]]:
    """Per measured request, ``repeat`` distinct paths (analyses: windows a day apart,
    so that none is answered from the result cache of another)."""
    from urllib.parse import urlencode

    from bench.ogc_bench import tile_of
    from bench.wms_bench import BANDS, band_bboxes, country_extent_3857, getmap_params

    anchors = recent_anchors(database_url, repeat)
    extent = country_extent_3857(database_url)
    anchors_3857 = np.column_stack(_to_3857(anchors[:, 0], anchors[:, 1]))
    sets: dict[str, list[str]] = {}
    items = "/api/v1/incidents?"
    sets["list newest 100"] = [items + urlencode({"limit": 100, "offset": 100 * i,
                                                  "sortby": "-occurred_at"})
                               for i in range(repeat)]
    sets["list region 3 mo"] = [items + urlencode({"limit": 100, "region": region,
                                                   "datetime": window(91, i),
                                                   "sortby": "-occurred_at"})
                                for i in range(repeat)]
    sets["export csv region 3 mo"] = [items + urlencode({"f": "csv", "region": region,
                                                         "datetime": window(91, i)})
                                      for i in range(repeat)]
    for name, band in (("GetMap 5-40 km", BANDS[0]), ("GetMap 40-200 km", BANDS[1]),
                       ("GetMap country", BANDS[3])):
        boxes = band_bboxes(band, extent, anchors_3857, repeat, SEED)
        sets[name] = ["/ogc/wms?" + urlencode(getmap_params(box)) for box in boxes]
    recent = window(90)
    for z in (8, 12, 14):
        paths = [f"/ogc/tiles/incidents/{z}/{x}/{y}.mvt?" + urlencode({"datetime": recent})
                 for x, y in (tile_of(lon, lat, z) for lon, lat in anchors.tolist())]
        sets[f"tile z{z} 90 d"] = paths
    sets["tile z8 all history"] = [p.split("?")[0] for p in sets["tile z8 90 d"]]
    hot = "/api/v1/hotspots?"
    sets["hotspots region 3 mo"] = [hot + urlencode({"region": region, "cell_size": 2000,
                                                     "datetime": window(91, i)})
                                    for i in range(repeat)]
    sets["hotspots region 3 y"] = [hot + urlencode({"region": region, "cell_size": 2000,
                                                    "datetime": window(3 * 365.25, i)})
                                   for i in range(repeat)]
    sets["emerging region 36 mo"] = [
        "/api/v1/hotspots/emerging?" + urlencode({"region": region, "cell_size": 2000,
                                                  "datetime": window(3 * 365.25, i)})
        for i in range(repeat)]
    return sets


def _to_3857(lon, lat):
    from pyproj import Transformer

    return Transformer.from_crs(4326, 3857, always_xy=True).transform(lon, lat)


def median_latency(server: Server, paths: list[str], expect=(200, 204)) -> float | None:
    """Median milliseconds of one GET of each path; None (printed) when any answers
    otherwise (a map or tile whose statement ran past its time limit: 503)."""
    times = []
    for path in paths:
        started = time.perf_counter()
        status, _, body = server.get(path, timeout=900)
        times.append(time.perf_counter() - started)
        if status not in expect:
            print(f"  FAILED after {times[-1]:.1f} s: {status} {body[:200]!r} ({path})",
                  flush=True)
            return None
    return float(np.median(times)) * 1000


def risk_latency(server: Server, region: str, repeat: int) -> float:
    """Median milliseconds of a region's risk assessment of 3 months (a new one each)."""
    import http.client

    times = []
    for i in range(repeat):
        body = json.dumps({"region": region, "datetime": window(91, i)})
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
        started = time.perf_counter()
        conn.request("POST", "/api/v1/risk/assessments", body=body,
                     headers={**server.headers, "Content-Type": "application/json"})
        response = conn.getresponse()
        answer = response.read()
        times.append(time.perf_counter() - started)
        conn.close()
        if response.status != 201:
            raise SystemExit(f"risk assessment: {response.status} {answer[:300]!r}")
    return float(np.median(times)) * 1000


def _ms(value: float | None) -> str:
    return "failed" if value is None else f"{value:,.1f}"


ACCESS_FORMAT = '%(p)s %(L)s %(s)s "%(r)s"'  # gunicorn's: <worker pid> seconds ...


def start_server(workdir: Path, database_url: str, token: str, workers: int,
                 access_log: Path | None = None) -> Server:
    """Our app under gunicorn; ``access_log``: each request's worker pid, seconds,
    status and request line (:data:`ACCESS_FORMAT`) written there."""
    server = Server("ours", free_port(), "/api/v1/incidents",
                    {"Authorization": f"Bearer {token}"})
    env = our_app_env(database_url)
    env["STATEMENT_TIMEOUT_S"] = "600"  # the whole history's analyses at 10 M
    command = gunicorn_command(OUR_GUNICORN, OUR_APP, server.port, workers,
                               timeout_s=900, chdir=PROJECT_DIR)
    if access_log is not None:
        command[-1:-1] = ["--access-logfile", str(access_log),
                          "--access-logformat", ACCESS_FORMAT]
    server.start(command, env, workdir, server.url({"limit": 1}), wait_s=120)
    return server


RISK = "risk assessment region 3 mo"


def measure(server: Server, database_url: str, region: str, repeat: int,
            names: list[str] | None = None) -> dict:
    """Median ms of each request set (``names``: those only; all when None): its first
    path warms (the workers' connections, the area's grid), the others are measured."""
    results = {}
    for name, paths in request_sets(database_url, region, repeat + 1).items():
        if names is not None and name not in names:
            continue
        headers = server.headers
        if name.startswith("tile"):
            server.headers = {**headers, "Cache-Control": "no-cache"}
        server.get(paths[0], timeout=600)
        results[name] = median_latency(server, paths[1:])
        server.headers = headers
        print(f"  {name:<26}{_ms(results[name]):>10} ms", flush=True)
    if names is None or RISK in names:
        results[RISK] = risk_latency(server, region, repeat)
        print(f"  {RISK:<26}{results[RISK]:>10.1f} ms", flush=True)
    return results


def _access(log: Path, start: int) -> list[tuple[str, float, str]]:
    """(worker pid, seconds, request line) of the access log's lines from ``start``."""
    lines = log.read_text().splitlines()[start:]
    return [(pid.strip("<>"), float(seconds), request.strip('"'))
            for pid, seconds, _, request in (line.split(" ", 3) for line in lines)]


def first_map_of_each_worker(server: Server, log: Path, paths: list[str],
                             workers: int) -> dict[str, float]:
    """Seconds of the first GetMap of each worker from now, by worker pid (gunicorn's
    access log, :data:`ACCESS_FORMAT`): one map alone, then two at a time (a sync worker
    takes one request at a time, so a pair reaches both when one is busy) until every
    worker has answered a map."""
    from concurrent.futures import ThreadPoolExecutor

    start = len(log.read_text().splitlines())
    queue = iter(paths)
    server.get(next(queue), timeout=900)
    firsts: dict[str, float] = {}
    with ThreadPoolExecutor(2) as pool:
        for _ in range(20):
            time.sleep(0.5)  # the access log is written after the answer
            firsts = {}
            for pid, seconds, request in _access(log, start):
                if request.startswith("GET /ogc/wms"):
                    firsts.setdefault(pid, seconds)
            if len(firsts) >= workers:
                break
            list(pool.map(lambda path: server.get(path, timeout=900),
                          [next(queue), next(queue)]))
    for pid, seconds in firsts.items():
        print(f"    worker {pid}: first map {seconds:.2f} s", flush=True)
    return firsts


def first_maps(workdir: Path, db_url: str, db_owner: str, token: str, workers: int,
               region: str) -> dict:
    """The first 5-40 km GetMap of each worker (it needs the border sections' live
    levels, ``geo.risk.levels``): (1) a fresh server on emptied shared results
    (``DELETE FROM analysis_results``), (2) the same server after a data change (an
    incident rewritten as it was: a new data version, as an import makes)."""
    paths = request_sets(db_url, region, 60)["GetMap 5-40 km"]
    log = workdir / "access.log"
    conn = connect(db_owner)
    with conn.cursor() as cur:
        cur.execute("DELETE FROM analysis_results")
        print(f"  analysis_results emptied ({cur.rowcount} rows)", flush=True)
    server = start_server(workdir, _sqlalchemy(db_url), token, workers, access_log=log)
    try:
        print("  fresh server, no shared results:", flush=True)
        fresh = first_map_of_each_worker(server, log, paths[:30], workers)
        with conn.cursor() as cur:
            cur.execute("UPDATE incidents SET persons_count = persons_count "
                        "WHERE id = (SELECT max(id) FROM incidents)")
        print("  after a data change (one incident updated):", flush=True)
        changed = first_map_of_each_worker(server, log, paths[30:], workers)
        requests = _access(log, 0)
    finally:
        server.stop()
        conn.close()
    return {"fresh": fresh, "after_change": changed,
            "access_log": [list(line) for line in requests]}


THROUGHPUT_REQUESTS = ("tile z12 90 d", "GetMap 40-200 km")


def throughput(server: Server, database_url: str, region: str, seconds: float,
               names=THROUGHPUT_REQUESTS) -> dict:
    """Requests per second (and p50/p99 ms, failures) of the request sets ``names`` at
    each of THROUGHPUT_CLIENTS concurrent clients, ``seconds`` each (tiles made anew)."""
    sets = request_sets(database_url, region, 200)
    server.headers = {**server.headers, "Cache-Control": "no-cache"}
    out = {}
    for name in names:
        for clients in THROUGHPUT_CLIENTS:
            result = run_load(server, sets[name], seconds, clients)
            out[f"{name} x{clients}"] = {"rate": result.rate, "p50": result.percentile(50),
                                         "p99": result.percentile(99),
                                         "errors": len(result.errors)}
            print(f"  {name} at {clients} clients: {result.rate:.1f}/s, p50 "
                  f"{result.percentile(50):.0f} ms, p99 {result.percentile(99):.0f} ms, "
                  f"{len(result.errors)} failed", flush=True)
    return out


def tile_statements(owner_url: str, tiles: int = 10) -> dict[int, list[float]]:
    """Per zoom (12, 14): ms of the bare ``ST_AsMVT`` statement (``tile_sql``, the
    map's 90 days, the default agency's view; median of 3 after one warm-up) of tiles
    at ``tiles`` random recent incidents: what an index on incidents changes."""
    from sqlalchemy import create_engine, text

    from bench.ogc_bench import tile_of
    from geo.layers import TILE_LAYERS
    from geo.queries.features import FeatureQuery
    from geo.queries.tiles import tile_sql
    from geo.vocabulary import LEGACY_AGENCY

    query = FeatureQuery(start=END - timedelta(days=90), end=END, limit=None,
                         viewer_agency=LEGACY_AGENCY)
    engine = create_engine(owner_url.replace("postgresql://", "postgresql+psycopg2://", 1))
    out: dict[int, list[float]] = {}
    with engine.connect() as conn:
        conn.execute(text("SET max_parallel_workers_per_gather = 0"))
        conn.execute(text("SET jit = off"))
        anchors = recent_anchors(owner_url, tiles)
        for z in (12, 14):
            out[z] = []
            for lon, lat in anchors.tolist():
                statement, params = tile_sql(TILE_LAYERS["incidents"], z,
                                             *tile_of(lon, lat, z), query)
                compiled = text(statement)
                conn.execute(compiled, params).scalar()
                times = []
                for _ in range(3):
                    started = time.perf_counter()
                    conn.execute(compiled, params).scalar()
                    times.append(time.perf_counter() - started)
                out[z].append(float(np.median(times)) * 1000)
            print(f"z{z}: median {np.median(out[z]):.1f} ms over {tiles} tiles "
                  f"({', '.join(f'{m:.0f}' for m in out[z])})", flush=True)
    engine.dispose()
    return out


# ------------------------------------------------------------------ output


def print_table(runs: list[dict]) -> None:
    names = list(runs[0]["latency_ms"])
    header = f"{'request (median ms)':<30}" + "".join(
        f"{run['facts']['incidents'] / 1e6:>9.2f}M" for run in runs)
    print("\n" + header)
    print(f"{'import (rows/s)':<30}" + "".join(f"{run['import_rows_s']:>10.0f}"
                                               for run in runs))
    for name in names:
        print(f"{name:<30}" + "".join(f"{_ms(run['latency_ms'][name]):>10}" for run in runs))
    print(f"{'table + indexes MB':<30}" + "".join(f"{run['facts']['total_mb']:>10.0f}"
                                                  for run in runs))


def combine(files: list[Path]) -> list[dict]:
    """The runs of several results files of the same sizes (repeated runs of the same
    code) as one: per size and request, the median of their medians (failed when any
    failed); facts and import rate of the first file's run, import its median too."""
    sets = [json.loads(path.read_text())["runs"] for path in files]
    runs = []
    for same in zip(*sets, strict=True):
        run = dict(same[0])
        run["import_rows_s"] = float(np.median([r["import_rows_s"] for r in same]))
        run["latency_ms"] = {
            name: None if any(r["latency_ms"][name] is None for r in same)
            else float(np.median([r["latency_ms"][name] for r in same]))
            for name in same[0]["latency_ms"]}
        run.pop("throughput", None)
        runs.append(run)
    return runs


def _ratio(first: float | None, last: float | None) -> str:
    return "" if first is None or last is None or not first else f"{last / first:.2f}x"


def markdown_table(runs: list[dict]) -> str:
    """The table of :func:`print_table` in Markdown (for docs/benchmarks.md), with the
    ratio of the last size's number to the first's."""
    sizes = [f"{run['facts']['incidents'] / 1e6:.2f} M" for run in runs]
    first, last = runs[0], runs[-1]
    lines = ["| request (median ms) | " + " | ".join(sizes) + " | last / first |",
             "|---|" + "---:|" * (len(runs) + 1),
             "| import (rows/s) | " + " | ".join(f"{run['import_rows_s']:,.0f}"
                                                 for run in runs)
             + f" | {_ratio(first['import_rows_s'], last['import_rows_s'])} |"]
    for name in runs[0]["latency_ms"]:
        lines.append(f"| {name} | " + " | ".join(_ms(run["latency_ms"][name])
                                                for run in runs)
                     + f" | {_ratio(first['latency_ms'][name], last['latency_ms'][name])} |")
    lines.append("| table + indexes (MB) | " + " | ".join(
        f"{run['facts']['total_mb']:,.0f}" for run in runs)
        + f" | {_ratio(first['facts']['total_mb'], last['facts']['total_mb'])} |")
    return "\n".join(lines)


def plot(runs: list[dict], path: Path = PLOT, before: list[dict] | None = None,
         before_label: str = "before", note: str = "") -> None:
    """Log-log plot of each request's median against the table's size; ``before``
    (another run's results, e.g. the code before a change) drawn faint and dotted in
    the same colours, its legend entries marked ``before_label``; ``note``: a second
    line of the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def values(run_list: list[dict], name: str) -> list[float]:
        return [np.nan if run["latency_ms"].get(name) is None else run["latency_ms"][name]
                for run in run_list]

    sizes = np.array([run["facts"]["incidents"] for run in runs], dtype=float)
    fig, ax = plt.subplots(figsize=(13, 7), dpi=100)
    tab20 = plt.get_cmap("tab20").colors  # the dark ones first, then the light
    colours = tab20[::2] + tab20[1::2]
    for k, name in enumerate(runs[0]["latency_ms"]):
        style = "--" if name.startswith(("hotspots", "emerging", "risk")) else "-"
        ax.plot(sizes, values(runs, name), style, marker="os^D"[k % 4],
                color=colours[k % 20], label=name)
        if before and any(name in run["latency_ms"] for run in before):
            ax.plot([run["facts"]["incidents"] for run in before], values(before, name),
                    ":", marker="os^D"[k % 4], color=colours[k % 20], alpha=0.5,
                    markerfacecolor="none", label=f"{name} ({before_label})")
    reference = sizes / sizes[0]
    ax.plot(sizes, 10 * reference, ":", color="grey", label="linear (slope 1)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("incidents in the table (1 M a year of history)")
    ax.set_ylabel("median latency, ms (one request at a time)")
    ax.set_title("BorderRisk growth curve (bench/growth_bench.py)" + (f"\n{note}" if note else ""),
                 fontsize=11)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path)
    print(f"plot written to {path}")


def machine() -> str:
    return f"{os.cpu_count()} cores, {platform.platform()}"


# ------------------------------------------------------------------ main


def database_exists(cluster: BenchCluster, name: str) -> bool:
    conn = cluster.admin()
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        found = cur.fetchone() is not None
    conn.close()
    return found


def _sqlalchemy(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg2://", 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="0.1,1,5,10", help="millions of incidents")
    parser.add_argument("--template", type=int, default=300_000,
                        help="incidents the demo generator writes (36 months)")
    parser.add_argument("--port", type=int, default=54350)
    parser.add_argument("--home", type=Path, default=CLUSTER_HOME,
                        help="the cluster's folder (data, socket, log, results)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=7, help="distinct requests each")
    parser.add_argument("--seconds", type=float, default=15.0, help="per throughput run")
    parser.add_argument("--keep-cluster", action="store_true",
                        help="leave the cluster running with its data at the end")
    parser.add_argument("--reuse", action="store_true",
                        help="measure the data a kept cluster holds (no load): each size "
                             "on its kept copy (--keep-copies) if there is one, else the "
                             "main database; each is first migrated to the checkout's "
                             "head and ANALYZEd")
    parser.add_argument("--resume", action="store_true",
                        help="keep a kept cluster's data and grow it from there (the "
                             "results of earlier sizes are kept)")
    parser.add_argument("--build-only", action="store_true",
                        help="grow to the sizes (keeping the copies) and measure nothing")
    parser.add_argument("--keep-copies", default="",
                        help="sizes (millions, commas) at which a copy of the database "
                             "is kept (borderrisk_1m, ...) before it grows further")
    parser.add_argument("--window-copy", type=int, default=0, metavar="YEARS",
                        help="of a kept cluster: copy the main database to borderrisk_"
                             "<YEARS>y holding only its last YEARS of incidents (see "
                             "keep_window_copy), then stop")
    parser.add_argument("--databases", default="",
                        help="with --reuse: measure these databases of the cluster "
                             "(commas, e.g. borderrisk_4y,borderrisk) instead of --sizes")
    parser.add_argument("--first-maps", action="store_true",
                        help="with --reuse: only the first map of each worker with emptied "
                             "shared results and after a data change, on the main "
                             "database (or --databases' first)")
    parser.add_argument("--results", type=Path,
                        help="the results file (default: results.json in --home); the "
                             "plot is then drawn beside it, not in docs/")
    parser.add_argument("--requests", default="",
                        help="only these request sets, by name, commas (default: all)")
    parser.add_argument("--no-throughput", action="store_true",
                        help="skip the throughput runs at the largest size")
    parser.add_argument("--throughput-only", action="store_true",
                        help="with --reuse: only the throughput at 2, 4, 8 clients, added "
                             "to the last run's results")
    parser.add_argument("--throughput-requests", default=",".join(THROUGHPUT_REQUESTS),
                        help="the request sets the throughput runs, by name, commas")
    parser.add_argument("--tile-statements", action="store_true",
                        help="with --reuse: only the bare statements of z12/z14 tiles")
    parser.add_argument("--plot-only", action="store_true")
    parser.add_argument("--before", type=Path,
                        help="with --plot-only: another run's results.json (e.g. of the "
                             "code before a change), drawn faint in the plot")
    parser.add_argument("--before-label", default="before",
                        help="what the legend calls --before's lines")
    parser.add_argument("--combine", default="",
                        help="with --plot-only: results files (commas) of repeated runs "
                             "of the same sizes, shown as the median of their medians")
    args = parser.parse_args()
    results = args.results or args.home / RESULTS.name
    if args.plot_only:
        runs = (combine([Path(f) for f in args.combine.split(",")]) if args.combine
                else json.loads(results.read_text())["runs"])
        print_table(runs)
        print("\n" + markdown_table(runs))
        before = json.loads(args.before.read_text())["runs"] if args.before else None
        solid = (f"solid: median of {len(args.combine.split(','))} runs" if args.combine
                 else "solid: the last run")
        plot(runs, before=before, before_label=args.before_label,
             note=solid + (f"; faint, dotted: {args.before_label}" if before else ""))
        return

    cluster = BenchCluster(args.home, args.port)
    cluster.start()
    os.environ.update(cluster.environment())
    from bench.cluster import APP_ROLE, DATABASE, OWNER

    database_url, owner_url = cluster.url(APP_ROLE), cluster.url(OWNER)
    sqlalchemy_url = _sqlalchemy(database_url)
    sizes = [int(float(s) * 1_000_000) for s in args.sizes.split(",")]
    copies = {int(float(s) * 1_000_000) for s in args.keep_copies.split(",") if s}
    names = [name for name in args.requests.split(",") if name] or None
    workdir = Path(tempfile.mkdtemp(prefix="growth_bench_"))
    server = None
    try:
        state_file = args.home / "state.json"
        if args.reuse or args.resume:
            state = json.loads(state_file.read_text())
        else:
            cluster.recreate_database()
            state = prepare(sqlalchemy_url, _sqlalchemy(owner_url), args.template)
            state_file.write_text(json.dumps(state))
        tune(owner_url, DATABASE)
        region = busiest_region(owner_url)
        if args.window_copy:
            tune(owner_url, keep_window_copy(cluster, args.window_copy))
            return
        if args.first_maps:
            database = args.databases.split(",")[0] or DATABASE
            db_url, db_owner = cluster.url(APP_ROLE, database), cluster.url(OWNER, database)
            migrate(_sqlalchemy(db_url), _sqlalchemy(db_owner))
            found = first_maps(workdir, db_url, db_owner, state["token"], args.workers,
                               region)
            results.write_text(json.dumps({"machine": machine(), "database": database,
                                           "facts": table_facts(db_owner), **found},
                                          indent=1))
            return
        if args.tile_statements:
            tile_statements(owner_url)
            return
        if args.throughput_only:
            saved = json.loads(results.read_text())
            server = start_server(workdir, sqlalchemy_url, state["token"], args.workers)
            saved["runs"][-1].setdefault("throughput", {}).update(throughput(
                server, database_url, region, args.seconds,
                args.throughput_requests.split(",")))
            saved["runs"][-1]["throughput_facts"] = table_facts(owner_url)
            results.write_text(json.dumps(saved, indent=1))
            return
        if args.build_only:
            for size in sizes:
                print(f"\n=== {size / 1e6:g} M incidents (build only)", flush=True)
                added, load_s = grow_to(owner_url, size, args.template)
                facts = table_facts(owner_url)
                print(f"  {added:,} rows added in {load_s:.0f} s; {facts}", flush=True)
                built = {"facts": facts, "bulk_rows": added, "bulk_s": load_s}
                if size in copies:
                    built["database"] = keep_copy(cluster, size)
                state.setdefault("built", {})[str(size)] = built
                state_file.write_text(json.dumps(state, indent=1))
            return
        import_file = write_import_file(workdir, IMPORT_ROWS)
        runs = []
        if args.resume and results.exists():  # earlier sizes measured by a run that ended
            runs = [run for run in json.loads(results.read_text())["runs"]
                    if run["size"] < sizes[0]]
        targets = ([(0, name) for name in args.databases.split(",")] if args.databases
                   else [(size, None) for size in sizes])
        for index, (size, named) in enumerate(targets):
            database = named or DATABASE
            if named is None and args.reuse and database_exists(cluster, copy_name(size)):
                database = copy_name(size)
            print(f"\n=== {size / 1e6:g} M incidents" if size else f"\n=== {database}",
                  flush=True)
            db_url, db_owner = cluster.url(APP_ROLE, database), cluster.url(OWNER, database)
            if args.reuse:
                print(f"  database {database}", flush=True)
                seconds = migrate(_sqlalchemy(db_url), _sqlalchemy(db_owner))
                print(f"  migrated and analysed in {seconds:.0f} s", flush=True)
                tune(owner_url, database)
                added, load_s = (state.get("built", {}).get(str(size), {}).get(key, 0)
                                 for key in ("bulk_rows", "bulk_s"))
            else:
                added, load_s = grow_to(owner_url, size, args.template)
                if size in copies:
                    keep_copy(cluster, size)
            facts = table_facts(db_owner)
            size = size or facts["incidents"]
            print(f"  {added:,} rows added in {load_s:.0f} s; {facts}", flush=True)
            rate = timed_import(_sqlalchemy(db_url), import_file, f"growth-import-{size}")
            print(f"  import: {rate:,.0f} rows/s", flush=True)
            server = start_server(workdir, _sqlalchemy(db_url), state["token"], args.workers)
            latency = measure(server, db_url, region, args.repeat, names)
            run = {"size": size, "database": database, "facts": facts, "bulk_rows": added,
                   "bulk_s": load_s, "import_rows_s": rate, "latency_ms": latency}
            if index == len(targets) - 1 and not args.no_throughput:
                run["throughput"] = throughput(server, db_url, region, args.seconds,
                                               args.throughput_requests.split(","))
            server.stop()
            server = None
            runs.append(run)
            results.write_text(json.dumps({"machine": machine(), "region": region,
                                           "template": args.template, "runs": runs},
                                          indent=1))
            print_table(runs)
        plot(runs, PLOT if args.results is None else args.results.with_suffix(".png"))
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        if not args.keep_cluster:
            cluster.stop()
            print(f"cluster stopped (data kept in {cluster.data}; delete it yourself)")
        else:
            print(f"cluster left running on port {args.port}")


if __name__ == "__main__":
    main()
