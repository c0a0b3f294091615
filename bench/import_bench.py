"""Import benchmark (issue 3): our import against ``ogr2ogr -f PostgreSQL``, same file, same run.

Run it with::

    .venv/bin/python -m bench.import_bench [--rows 1000000]

What it does, all in one run on one throwaway database (created on the server the app
uses, ``DATABASE_URL`` or the embedded cluster, migrated with our Alembic revisions and
dropped at the end):

1. loads the demo reference layers (regions, border sections, crossing points; the demo
   incidents only with ``--with-demo-incidents``), so the derived links are real work;
2. generates ``--rows`` synthetic incidents with ``geo.demo.synthetic``'s generator and writes them
   as a GeoPackage and as a CSV (``lon``/``lat`` columns) in a temporary directory;
3. per format, on an empty ``incidents`` table: times our import (``geo.io.ingest.import_file``,
   what ``flask import`` runs: validation, staging COPY, SQL checks, upsert, derived links,
   commit; it writes the rows in spatial order, and the run prints how closely the table
   follows it) in a fresh Python process, then ``ogr2ogr -f PostgreSQL`` loading the same file
   into a table of its own (it validates and derives nothing), then the *write floor*
   (:func:`time_write_floor`: the imported rows written again into the emptied table by
   one ``INSERT ... SELECT``, the least any import into this schema costs), then our
   re-import of the same file (every row must come back unchanged);
4. times listing 10,000 incidents through the API (Flask test client, bearer token) as
   GeoJSON and as CSV, with ``ogr2ogr`` writing the same 10,000 rows as GeoJSON as a
   point of reference.

Each of our imports runs in a fresh Python process that reports its own peak resident
memory (``VmHWM``), so it is that of the import alone, not of the generator in this
process; ogr2ogr's is sampled from ``/proc`` every 20 ms. Our time is measured inside the
child around ``import_file`` + ``commit`` (Python start-up and imports, about a second,
excluded); ogr2ogr's is the wall time of its process. The memory of the PostgreSQL
backend is not counted for either.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess  # noqa: S404  # runs ogr2ogr and our import worker, fixed arguments
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg2
from psycopg2 import sql
from sqlalchemy.engine import make_url

from testsupport.databases import ThrowawayDatabases, owner_url, server_url

DEFAULT_ROWS = 1_000_000
LIST_ROWS = 10_000
LIST_REPEATS = 3
SEED = 20260301  # not the demo's seed: these are other incidents than the demo's own
WORKER_URL_ENV = "BORDERRISK_BENCH_DATABASE_URL"
GOAL_RATIO = 1.5
GOAL_PEAK_MB = 2048


@dataclass
class Timing:
    """One timed step: what, how many rows, wall seconds, peak RSS (MiB) if measured."""

    step: str
    rows: int
    seconds: float
    peak_mb: float | None = None
    note: str = ""

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else float("inf")


# --------------------------------------------------------------------------- database


def connect(url, autocommit: bool = False) -> psycopg2.extensions.connection:
    """A psycopg2 connection to the database of ``url`` (a SQLAlchemy URL)."""
    connection = psycopg2.connect(
        url.set(drivername="postgresql").render_as_string(hide_password=False))
    connection.autocommit = autocommit
    return connection


def ogr_connection(url) -> tuple[str, dict]:
    """``PG:`` connection string and environment (the password travels in PGPASSWORD)."""
    dsn = f"PG:host={url.host} port={url.port or 5432} dbname={url.database} user={url.username}"
    # Importing mapnik (the app does) points GDAL_DATA and PROJ_LIB at mapnik's own data,
    # whose proj.db the system's ogr2ogr cannot read: give ogr2ogr the system's.
    environment = {name: value for name, value in os.environ.items()
                   if not (name in ("GDAL_DATA", "PROJ_LIB", "PROJ_DATA")
                           and value.startswith(sys.prefix))}
    return dsn, {**environment, "PGPASSWORD": url.password or ""}


# --------------------------------------------------------------------------- data


def prepare_database(app, with_demo_incidents: bool) -> dict:
    """Migrate, load the demo reference layers, create an analyst token."""
    import flask_migrate
    from sqlalchemy import text

    from app.auth.tokens import create_token
    from app.auth.users import create_user
    from app.extensions import db
    from geo.demo.loader import load_demo

    with app.app_context():
        flask_migrate.upgrade()
        # load_demo always writes incidents; one is enough when only the layers are wanted.
        counts = load_demo(db.session, app.config["ANALYSIS_SRID"],
                           n_incidents=50_000 if with_demo_incidents else 1)
        if not with_demo_incidents:
            db.session.execute(text("DELETE FROM incidents"))
            counts["incidents"] = 0
        user = create_user(db.session, "bench-analyst", "analyst", uuid.uuid4().hex)
        _, token = create_token(db.session, user, "bench")
        db.session.commit()
        counts["token"] = token
        db.session.remove()
    return counts


def write_incident_files(rows: int, directory: Path) -> tuple[Path, Path, float]:
    """``rows`` synthetic incidents (geo.demo.synthetic's generator) as GeoPackage and CSV.

    Returns the two paths and the seconds it took. The files carry no ``source``: the
    import fills it from the file name, as ``flask import`` does.
    """
    import geopandas
    import numpy as np
    import pandas as pd
    import shapely

    from geo.demo.synthetic import build_demo

    started = time.perf_counter()
    incidents = build_demo(seed=SEED, n_incidents=rows).incidents
    occurred_at = pd.to_datetime(incidents.occurred_at).tz_localize("UTC")
    frame = pd.DataFrame({
        "external_id": incidents.external_id,
        "occurred_at": occurred_at,
        "category": incidents.category,
        "outcome": incidents.outcome,
        "direction": incidents.direction,
        "detection_method": incidents.detection_method,
        "persons_count": incidents.persons_count,
        "nationality": incidents.nationality,
        "transport_means": incidents.transport_means,
        "description": incidents.description,
        "source_reliability": incidents.source_reliability,
        "information_credibility": incidents.information_credibility,
        "status": incidents.status,
        "provenance": np.full(rows, "synthetic", dtype=object),
    })
    gpkg = directory / "incidents.gpkg"
    geopandas.GeoDataFrame(
        frame, geometry=shapely.points(incidents.lon, incidents.lat), crs="EPSG:4326"
    ).to_file(gpkg, driver="GPKG", layer="incidents", engine="pyogrio")
    csv_path = directory / "incidents.csv"
    frame["occurred_at"] = occurred_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    frame["lon"] = incidents.lon
    frame["lat"] = incidents.lat
    frame.to_csv(csv_path, index=False)  # floats print with repr precision
    return gpkg, csv_path, time.perf_counter() - started


# --------------------------------------------------------------------------- timed steps


def peak_rss_mb(pid: int | str = "self") -> float:
    """High-water mark of resident memory (``VmHWM``) of a live process, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


class PeakMemory(threading.Thread):
    """Samples a child's ``VmHWM`` until it exits.

    ``ru_maxrss`` of a child would not do: Linux carries the parent's high-water mark
    over ``fork`` + ``exec``, so every child would "peak" at this process's size.
    """

    def __init__(self, pid: int, interval: float = 0.02):
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak_mb = pid, interval, 0.0

    def run(self) -> None:
        try:
            while True:
                self.peak_mb = max(self.peak_mb, peak_rss_mb(self.pid))
                time.sleep(self.interval)
        except (FileNotFoundError, ProcessLookupError, RuntimeError):
            return  # exited (a zombie has no VmHWM)


def run_our_import(path: Path, url: str, step: str) -> tuple[Timing, dict]:
    """Our import of ``path`` in a fresh process (see :func:`worker`)."""
    process = subprocess.Popen(  # noqa: S603  # our own module, fixed arguments
        [sys.executable, "-m", "bench.import_bench", "--worker", str(path)],
        stdout=subprocess.PIPE, env={**os.environ, WORKER_URL_ENV: url},
        cwd=Path(__file__).resolve().parent.parent,
    )
    output, _ = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"{step}: the import worker failed (exit {process.returncode})")
    result = json.loads(output.splitlines()[-1])
    return Timing(step, result["rows"], result["seconds"], result["peak_mb"]), result


def run_ogr2ogr(path: Path, url, table: str, step: str, options: list[str]) -> Timing:
    """``ogr2ogr -f PostgreSQL`` of ``path`` into ``table`` (wall time of the process)."""
    dsn, env = ogr_connection(url)
    command = [shutil.which("ogr2ogr") or "ogr2ogr", "-f", "PostgreSQL", dsn, str(path),
               "-nln", table, "-lco", "GEOMETRY_NAME=geom", "-overwrite", *options]
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE)  # noqa: S603
    memory = PeakMemory(process.pid)
    memory.start()
    _, errors = process.communicate()
    seconds = time.perf_counter() - started
    memory.join()
    if process.returncode != 0:
        raise SystemExit(f"{step}: ogr2ogr failed: {errors.decode(errors='replace')}")
    return Timing(step, count_rows(url, table), seconds, memory.peak_mb)


def count_rows(url, table: str) -> int:
    connection = connect(url)
    with connection, connection.cursor() as cursor:
        cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
        (count,) = cursor.fetchone()
    connection.close()
    return count


def spatial_order_correlation(url) -> float:
    """The planner's correlation of the incidents' physical and spatial order after
    ``ANALYZE`` (1: stored along ``geo.queries.staging.SPATIAL_ORDER``; 0: unrelated)."""
    connection = connect(url, autocommit=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE incidents")
        cursor.execute("SELECT correlation FROM pg_stats WHERE tablename = 'incidents' "
                       "AND attname = 'geom'")
        (correlation,) = cursor.fetchone()
    connection.close()
    return correlation


def empty_incidents(url, keep_demo: bool) -> None:
    """Remove the imported incidents (the demo's stay with ``--with-demo-incidents``)."""
    from geo.demo.synthetic import DEMO_SOURCE

    connection = connect(url)
    with connection, connection.cursor() as cursor:
        if keep_demo:
            cursor.execute("DELETE FROM incidents WHERE source <> %s", (DEMO_SOURCE,))
        else:
            cursor.execute("TRUNCATE incidents RESTART IDENTITY")
    connection.close()
    # A fresh import should not pay for the dead tuples of the previous one.
    connection = connect(url, autocommit=True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE incidents")
    connection.close()


def time_write_floor(url) -> Timing:
    """The least any import into our schema costs: the rows ``incidents`` holds now
    (validated, linked, in spatial order) written again by one ``INSERT ... SELECT``
    into the emptied table (its key, unique (source, external_id), CHECKs, 3 foreign
    keys and secondary indexes maintained, as every import must) and committed; no
    reading, validation, links or conflict handling. Leaves the same rows (same ids
    and values) in ``incidents``."""
    connection = connect(url)
    with connection, connection.cursor() as cursor:
        cursor.execute("CREATE UNLOGGED TABLE bench_floor_rows AS SELECT * FROM incidents")
        cursor.execute("TRUNCATE incidents")
    connection.close()
    connection = connect(url, autocommit=True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE incidents")
        cursor.execute("VACUUM ANALYZE bench_floor_rows")
        cursor.execute("SELECT count(*) FROM bench_floor_rows")
        (rows,) = cursor.fetchone()
        started = time.perf_counter()
        cursor.execute("BEGIN")
        cursor.execute("INSERT INTO incidents SELECT * FROM bench_floor_rows")
        cursor.execute("COMMIT")
        seconds = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_floor_rows")
    connection.close()
    return Timing("floor: INSERT of ready rows", rows, seconds)


def time_listing(app, token: str) -> list[Timing]:
    """GET /api/v1/incidents?limit=10000 as GeoJSON and CSV (median of a few runs)."""
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    timings = []
    for fmt in ("geojson", "csv"):
        seconds, size, count = [], 0, 0
        for _ in range(LIST_REPEATS):
            started = time.perf_counter()
            response = client.get(f"/api/v1/incidents?limit={LIST_ROWS}&f={fmt}",
                                  headers=headers)
            body = response.get_data()
            seconds.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise SystemExit(f"listing as {fmt}: HTTP {response.status_code}: {body[:300]}")
            size = len(body)
            count = (len(json.loads(body)["features"]) if fmt == "geojson"
                     else body.count(b"\n") - 1)
        timings.append(Timing(f"list {LIST_ROWS:,} as {fmt} (API)", count,
                              statistics.median(seconds),
                              note=f"{size / 1e6:.1f} MB, median of {LIST_REPEATS}"))
    return timings


def time_ogr_listing(url, directory: Path) -> Timing:
    """ogr2ogr writing the same page (newest 10,000) as GeoJSON, for reference."""
    dsn, env = ogr_connection(url)
    target = directory / "page.geojson"
    statement = (f"SELECT * FROM incidents ORDER BY occurred_at DESC, id DESC "  # noqa: S608
                 f"LIMIT {LIST_ROWS}")
    seconds = []
    for _ in range(LIST_REPEATS):
        target.unlink(missing_ok=True)
        started = time.perf_counter()
        subprocess.run(  # noqa: S603
            [shutil.which("ogr2ogr") or "ogr2ogr", "-f", "GeoJSON", str(target), dsn,
             "-sql", statement], env=env, check=True, capture_output=True)
        seconds.append(time.perf_counter() - started)
    return Timing(f"list {LIST_ROWS:,} as geojson (ogr2ogr)", LIST_ROWS,
                  statistics.median(seconds),
                  note=f"{target.stat().st_size / 1e6:.1f} MB, median of {LIST_REPEATS}")


# --------------------------------------------------------------------------- report


def print_table(timings: list[Timing]) -> None:
    print(f"{'step':<44} {'rows':>10} {'seconds':>9} {'rows/s':>10} {'peak MiB':>9}  note")
    for t in timings:
        peak = f"{t.peak_mb:9.0f}" if t.peak_mb is not None else f"{'-':>9}"
        print(f"{t.step:<44} {t.rows:>10,} {t.seconds:>9.2f} {t.rows_per_second:>10,.0f} "
              f"{peak}  {t.note}")


def machine() -> str:
    import pyogrio

    gdal = subprocess.run([shutil.which("ogr2ogr") or "ogr2ogr", "--version"],  # noqa: S603
                          capture_output=True, text=True).stdout.strip()
    memory_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text()
                     .splitlines() if line.startswith("MemTotal:"))
    return (f"{os.cpu_count()} CPUs, {memory_kb / 1024**2:.1f} GiB RAM; ogr2ogr: {gdal}; "
            f"pyogrio {pyogrio.__version__} (GDAL {pyogrio.__gdal_version_string__}); "
            f"Python {sys.version.split()[0]}")


def server_versions(url) -> str:
    connection = connect(url)
    with connection, connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version'), postgis_full_version()")
        server, postgis = cursor.fetchone()
    connection.close()
    return f"PostgreSQL {server}; {postgis.split(' GEOS=')[0].strip()}"


# --------------------------------------------------------------------------- main


def worker(path: str) -> None:
    """Child process: ``import_file`` + commit, as ``flask import`` runs it; JSON out."""
    from app import create_app
    from app.extensions import db
    from geo.io.ingest import import_file
    from geo.layers import INCIDENTS

    # No statement_timeout, as in `flask import` (the web app's 30 s would cancel a
    # statement over a million rows under load).
    app = create_app({"SQLALCHEMY_DATABASE_URI": os.environ[WORKER_URL_ENV],
                      "STATEMENT_TIMEOUT_S": 0})
    with app.app_context():
        started = time.perf_counter()
        report = import_file(db.session, INCIDENTS, path, source=Path(path).stem,
                             analysis_srid=app.config["ANALYSIS_SRID"])
        if report.error_count:
            db.session.rollback()
            problems = "; ".join(f"{e.row}: {e.field}: {e.message}" for e in report.errors[:5])
            raise SystemExit(f"{report.error_count} problems, e.g. {problems}")
        db.session.commit()
        seconds = time.perf_counter() - started
        db.session.remove()
    print(json.dumps({"rows": report.rows, "seconds": seconds, "peak_mb": peak_rss_mb(),
                      "inserted": report.inserted,
                      "updated": report.updated, "unchanged": report.unchanged}))


def benchmark(rows: int, with_demo_incidents: bool) -> None:
    from app import create_app

    databases = ThrowawayDatabases(server_url(), purpose="bench")
    url = make_url(databases.create())
    name = url.database
    timings: list[Timing] = []
    ratios: dict[str, tuple[float, float]] = {}
    try:
        url_text = url.render_as_string(hide_password=False)
        # Emptying, ANALYZE and the peer's own table need the schema's owner.
        owner = make_url(owner_url(url_text))
        print(f"machine: {machine()}")
        print(f"database: {server_versions(url)} (throwaway database {name})")
        app = create_app({"SQLALCHEMY_DATABASE_URI": url_text,
                          "DATABASE_OWNER_URI": str(owner.render_as_string(
                              hide_password=False))})
        counts = prepare_database(app, with_demo_incidents)
        print(f"reference layers: {counts['regions']} regions, {counts['border_segments']} "
              f"border sections, {counts['crossing_points']} crossing points, "
              f"{counts['incidents']} demo incidents")
        with tempfile.TemporaryDirectory(prefix="borderrisk-bench-") as tmp:
            directory = Path(tmp)
            gpkg, csv_path, generated = write_incident_files(rows, directory)
            print(f"generated {rows:,} incidents in {generated:.1f} s: "
                  f"{gpkg.name} {gpkg.stat().st_size / 1e6:.0f} MB, "
                  f"{csv_path.name} {csv_path.stat().st_size / 1e6:.0f} MB\n", flush=True)
            for fmt, path, options in (
                ("gpkg", gpkg, []),
                ("csv", csv_path, ["-oo", "X_POSSIBLE_NAMES=lon", "-oo", "Y_POSSIBLE_NAMES=lat",
                                   "-a_srs", "EPSG:4326"]),
            ):
                empty_incidents(owner, with_demo_incidents)
                ours, result = run_our_import(path, url_text, f"ours: import {fmt}")
                if result["inserted"] != rows:
                    raise SystemExit(f"{fmt}: expected {rows} inserted, got {result}")
                print(f"{fmt}: correlation of the incidents' physical and spatial order "
                      f"{spatial_order_correlation(owner):.3f}", flush=True)
                peer = run_ogr2ogr(path, owner, f"ogr_{fmt}", f"ogr2ogr: {fmt}", options)
                floor = time_write_floor(owner)
                floor.note = f"{floor.seconds / peer.seconds:.2f}x ogr2ogr"
                again, result = run_our_import(path, url_text, f"ours: re-import {fmt}")
                if result["unchanged"] != rows:
                    raise SystemExit(f"{fmt} re-import: expected {rows} unchanged, got {result}")
                again.note = "all unchanged"
                ours.note = f"{ours.seconds / peer.seconds:.2f}x ogr2ogr"
                ratios[fmt] = (ours.seconds / peer.seconds, ours.peak_mb)
                timings += [ours, peer, floor, again]
                print_table(timings[-4:])
                print(flush=True)
            timings += time_listing(app, counts["token"])
            timings.append(time_ogr_listing(url, directory))
        with app.app_context():
            from app.extensions import db

            db.engine.dispose()
    finally:
        databases.drop_all()

    print(f"\n{rows:,} incidents; ours = geo.io.ingest.import_file + commit; "
          f"peer = ogr2ogr -f PostgreSQL")
    print_table(timings)
    print()
    for fmt, (ratio, peak) in ratios.items():
        verdict = "met" if ratio <= GOAL_RATIO and peak < GOAL_PEAK_MB else "NOT met"
        print(f"{fmt}: ours/ogr2ogr = {ratio:.2f} (goal <= {GOAL_RATIO}), peak RSS "
              f"{peak:.0f} MiB (goal < {GOAL_PEAK_MB}): {verdict}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.import_bench",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS,
                        help=f"incidents to generate (default {DEFAULT_ROWS:,})")
    parser.add_argument("--with-demo-incidents", action="store_true",
                        help="keep the 50,000 demo incidents next to the imported ones")
    parser.add_argument("--worker", metavar="FILE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker)
    else:
        benchmark(args.rows, args.with_demo_incidents)


if __name__ == "__main__":
    main()
