"""The plans of the analyses' long-window reads at several sizes (issue 21): each read
as the application runs it, then ``EXPLAIN (ANALYZE, BUFFERS)`` of it with plain index
scans on (the planner's own choice) and off (``geo.queries.window_reads``).

Run: ``.venv/bin/python -m bench.window_plans [--home growth-cluster] [--port 54350]
[--databases borderrisk_1y,borderrisk_4y,borderrisk]`` on a cluster kept by
``bench.growth_bench`` (``--keep-cluster``; the copies by ``--window-copy``).

For each database the analyses the growth bench measures run once in this process
(``app:create_app()`` on the database, as the web app's role; results computed, not
read from any cache): a region's Gi* hot-spots over 3 years and its emerging hot-spots
over 36 months (2 km cells), its CIRAM assessment of the last 3 months (with the
forecast's history and the hot-spot flags), the assessment of every other region with
sections (the map's live levels), and one section's monthly trend; every statement
they run on ``incidents`` is recorded with the value of ``enable_indexscan`` it ran
under. Each window read (the kinds of ``WINDOW_READS``) is then explained on a fresh
connection as the bench's sessions run (parallel query and JIT off), twice each way,
in the order on, off, on, off: the plan's scan, its rows, the rows its filter removed,
the buffers and the execution time. The table is printed (also as Markdown) and the
whole written as JSON (``--results``, default ``window-plans.json`` in ``--home``).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg2

from bench.cluster import BenchCluster
from bench.growth_bench import CLUSTER_HOME, END, _sqlalchemy, busiest_region
from testsupport.statements import plan_of, recorded


def _uncached(session, kind, request, srid, compute) -> bytes:
    """``geo.hotspots.cache.cached`` without the caches: always computed."""
    import orjson

    from geo.hotspots.output import JSON_OPTIONS

    result = compute()
    return (result.to_json() if hasattr(result, "to_json")
            else orjson.dumps(result, option=JSON_OPTIONS))


def record(database_url: str, owner_url: str, region: str) -> list[dict]:
    """The statements on ``incidents`` of the analyses, as run."""
    from sqlalchemy import text

    from app.extensions import db
    from geo.hotspots import cache, pipeline
    from geo.hotspots.inputs import Selection, StudyArea
    from geo.risk import assessments, monthly
    from geo.risk.risk_config import load_risk_config
    from testsupport.apps import make_app

    app = make_app(database_url, STATEMENT_TIMEOUT_S=0, DATABASE_OWNER_URI=owner_url)
    cache.cached = _uncached  # every module looks it up as cache.cached
    with app.app_context(), recorded(db.session) as recorder:
        session = db.session
        srid = app.config["ANALYSIS_SRID"]
        config = load_risk_config()
        area = StudyArea(regions=(region,))
        three_years = Selection(start=END - timedelta(days=3 * 365.25), end=END)
        quarter = (END - timedelta(days=91), END)
        regions = [code for (code,) in session.execute(text(
            "SELECT DISTINCT r.code FROM border_segments AS s JOIN regions AS r "
            "ON r.id = s.region_id ORDER BY 1"))]
        section = session.execute(text(
            "SELECT s.id FROM border_segments AS s JOIN regions AS r ON r.id = s.region_id "
            "WHERE r.code = :code ORDER BY s.id LIMIT 1"), {"code": region}).scalar_one()
        runs = {
            f"hot-spots {region} 3 y": lambda: pipeline.hotspot_cells(
                session, pipeline.HotspotRequest(area, three_years, cell_size_m=2000.0),
                srid),
            f"emerging {region} 36 mo": lambda: pipeline.emerging_cells(
                session, pipeline.EmergingRequest(area, three_years, cell_size_m=2000.0),
                srid),
            f"monthly trend, section {section}": lambda: monthly.section_months(
                session, config, section, END),
            **{f"risk assessment {code} 3 mo": (lambda code=code: assessments.assess_region(
                session, config, code, *quarter, srid)) for code in
               [region] + [c for c in regions if c != region]},
        }
        for name, run in runs.items():
            recorder.label = name
            started = time.perf_counter()
            run()
            print(f"  {name}: {time.perf_counter() - started:.1f} s", flush=True)
        session.rollback()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return [{"analysis": s.label, "kind": s.kind, "sql": s.sql, "select": s.select,
             "enable_indexscan": s.indexscan} for s in recorder.statements]


def _plan_facts(plan) -> dict:
    """The scan of ``incidents`` in an EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) plan."""
    scans = []

    def walk(node):
        if node.get("Relation Name") == "incidents" or node["Node Type"] in (
                "Bitmap Index Scan", "BitmapAnd", "BitmapOr"):
            scans.append(node)
        for child in node.get("Plans", []):
            walk(child)

    top = plan_of(plan)
    walk(top)
    heap = next((n for n in scans if n.get("Relation Name") == "incidents"), {})
    indexes = [n.get("Index Name") for n in scans if n.get("Index Name")]
    return {
        "scan": heap.get("Node Type"), "indexes": indexes,
        "rows": heap.get("Actual Rows"),
        "removed": (heap.get("Rows Removed by Filter", 0)
                    + heap.get("Rows Removed by Index Recheck", 0)),
        "heap_blocks": (heap.get("Exact Heap Blocks", 0) + heap.get("Lossy Heap Blocks", 0)),
        "shared_hit": top.get("Shared Hit Blocks"), "shared_read": top.get("Shared Read Blocks"),
        "cost": top.get("Total Cost"),
        "ms": (plan if isinstance(plan, list) else json.loads(plan))[0]["Execution Time"],
    }


def explain(database_url: str, select: str, indexscan: str) -> dict:
    conn = psycopg2.connect(database_url)
    try:
        with conn.cursor() as cur:
            cur.execute("SET max_parallel_workers_per_gather = 0")
            cur.execute("SET jit = off")
            cur.execute("SET enable_indexscan = %s", (indexscan,))
            cur.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + select)
            (plan,) = cur.fetchone()
    finally:
        conn.rollback()
        conn.close()
    return _plan_facts(plan)


def _label(facts: dict) -> str:
    scan = {"Index Scan": "index scan", "Bitmap Heap Scan": "bitmap",
            "Seq Scan": "seq scan", "Index Only Scan": "index-only scan"}.get(
        facts["scan"], str(facts["scan"]))
    return f"{scan} {'+'.join(i.removeprefix('ix_incidents_') for i in facts['indexes'])}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, default=CLUSTER_HOME)
    parser.add_argument("--port", type=int, default=54350)
    parser.add_argument("--databases", default="borderrisk_1y,borderrisk_4y,borderrisk")
    parser.add_argument("--region", default="", help="default: the busiest")
    parser.add_argument("--results", type=Path)
    args = parser.parse_args()
    cluster = BenchCluster(args.home, args.port)
    cluster.start()
    os.environ.update(cluster.environment())
    from bench.cluster import APP_ROLE, OWNER

    region = args.region or busiest_region(cluster.url(OWNER))
    results = {"region": region, "at": datetime.now(UTC).isoformat(), "databases": {}}
    rows = []
    for database in args.databases.split(","):
        print(f"=== {database}", flush=True)
        url = cluster.url(APP_ROLE, database)
        statements = record(_sqlalchemy(url), _sqlalchemy(cluster.url(OWNER, database)), region)
        explained = []
        for statement in statements:
            if statement["kind"] is None:
                continue
            runs = {"on": [], "off": []}
            for setting in ("on", "off", "on", "off"):
                runs[setting].append(explain(url, statement["select"], setting))
            entry = {**statement, "on": runs["on"], "off": runs["off"]}
            explained.append(entry)
            on, off = runs["on"][-1], runs["off"][-1]
            row = (database, statement["analysis"], statement["kind"], on["rows"],
                   _label(on), on["removed"],
                   " / ".join(f"{r['ms']:,.0f}" for r in runs["on"]), _label(off),
                   " / ".join(f"{r['ms']:,.0f}" for r in runs["off"]),
                   statement["enable_indexscan"])
            rows.append(row)
            print("  " + " | ".join(str(v) for v in row), flush=True)
        results["databases"][database] = {"statements": statements, "explained": explained}
    out = args.results or args.home / "window-plans.json"
    out.write_text(json.dumps(results, indent=1, default=str))
    print("\n| database | analysis | read | rows | planner's plan (indexscan on) | rows "
          "removed | ms (2 runs) | with indexscan off | ms (2 runs) | app ran it with "
          "indexscan |\n|---|---|---|---:|---|---:|---:|---|---:|---|")
    for row in rows:
        print("| " + " | ".join(f"{v:,}" if isinstance(v, int) else str(v) for v in row)
              + " |")
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
