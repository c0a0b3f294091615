"""Load benchmark (issue 8): a mixed workload at 32 connections against gunicorn, with wrk.

Run: ``.venv/bin/python -m bench.load_bench [--incidents 50000] [--seconds 60]
[--connections 32] [--workers N] [--threads 1] [--tile-cache-mb MB] [--tile-urls 400]
[--keep-database | --database URL]``

In one run:

1. a throwaway database with the demo at ``--incidents`` synthetic incidents
   (``bench.hotspot_bench.setup``: the demo's regions, border sections and crossing
   points, a viewer and its bearer token), or one an earlier ``--keep-database`` kept;
2. our app under gunicorn as ``make run`` serves it: ``--workers`` (default: three per
   core) processes of ``--threads`` (1) threads, on 127.0.0.1, production settings;
3. URLs of four kinds, ``--tile-urls`` (400) of each but the hot-spots, drawn (seeded)
   around random incidents and over the regions:
   ``tiles`` (``/ogc/tiles/{layer}/{z}/{x}/{y}.mvt``, zoom 7-14, incidents and the
   reference layers), ``wms`` (GetMap 256x256 PNG, EPSG:3857, the map page's layers
   at zoom 6-13), ``api`` (``/api/v1/incidents`` by bbox, region, date window and
   category, ``/api/v1/segments`` and ``/api/v1/crossings`` by region) and
   ``hotspots`` (``/api/v1/hotspots``, Gi* and KDE per region, the last 3 and 12
   months, 1 and 2.5 km cells); the hot-spot URLs are requested a few times first
   (their results are cached per data version in each worker, as in normal use) and
   those answered with 422 (too few incidents in the window) are left out;
4. four ``wrk`` processes at once, one per kind, splitting the connections
   (tiles 12, wms 8, api 8, hotspots 4 of 32), each rotating through its URLs for
   ``--seconds`` with the bearer token (the Lua script ``WRK_SCRIPT``);
5. per kind and in total: requests, requests/s, p50 and p99 latency (wrk's), non-2xx
   responses (by status) and socket errors, and the tiles' ``X-Tile-Cache`` answers
   (hits and misses of the workers' tile caches; ``--tile-cache-mb 0`` runs without);
   then the gunicorn workers' pids are compared with those at the start (a worker
   restart would show);
6. with ``--profile SECONDS``: each kind alone (and the tiles below and from zoom 10
   apart) at all the connections, with the CPU milliseconds per request spent in the
   gunicorn workers and in the database's backends (from /proc; the database must run
   on this machine): where the time goes.

``wrk`` is the Debian package ``wrk``; when it is missing the script installs it with
``apt-get`` (as root) or stops saying so. Goal (issue 8): zero non-2xx responses and a
tile p99 under 500 ms. docs/reliability.md records the numbers.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess  # noqa: S404  # wrk and apt-get with fixed arguments
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import numpy as np

from bench.servers import (
    OUR_APP,
    OUR_GUNICORN,
    PROJECT_DIR,
    Server,
    free_port,
    gunicorn_command,
    our_app_env,
)

# wrk's script: each thread walks the URL file (WRK_URLS) from its own offset, sends
# the bearer token (WRK_AUTHORIZATION) and counts the non-2xx answers by status and the
# tiles' X-Tile-Cache answers; done() prints them as two lines, "non2xx 503=12 500=1"
# and "tilecache hit=900 miss=100".
WRK_SCRIPT = """
local urls, next_url, threads = {}, 1, {}
non2xx = {}
tilecache = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(os.getenv("WRK_URLS")) do
    if #line > 0 then urls[#urls + 1] = line end
  end
  math.randomseed(os.time() + #threads)
  next_url = math.random(#urls)
  local auth = os.getenv("WRK_AUTHORIZATION")
  if auth and #auth > 0 then wrk.headers["Authorization"] = auth end
end

function request()
  next_url = next_url % #urls + 1
  return wrk.format("GET", urls[next_url])
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx[status] = (non2xx[status] or 0) + 1
  end
  local cached = headers["X-Tile-Cache"]
  if cached then tilecache[cached] = (tilecache[cached] or 0) + 1 end
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("non2xx")) do
      total[status] = (total[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(total) do parts[#parts + 1] = status .. "=" .. n end
  io.write("non2xx " .. table.concat(parts, " ") .. string.char(10))
  local cached = {}
  for _, thread in ipairs(threads) do
    for answer, n in pairs(thread:get("tilecache")) do
      cached[answer] = (cached[answer] or 0) + n
    end
  end
  parts = {}
  for answer, n in pairs(cached) do parts[#parts + 1] = answer .. "=" .. n end
  io.write("tilecache " .. table.concat(parts, " ") .. string.char(10))
end
"""
# Connections per kind out of 32 (scaled for another --connections).
MIX = {"tiles": 12, "wms": 8, "api": 8, "hotspots": 4}
TILE_LAYERS = ("incidents", "incidents", "incidents", "border_segments", "crossing_points",
               "regions")
WMS_LAYERS = "regions,border_segments,crossing_points,incidents"
GOAL_TILE_P99_MS = 500.0
SEED = 8


# --------------------------------------------------------------------------- set-up


def ensure_wrk() -> str:
    """Path of ``wrk``; installs the Debian package when missing and we are root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("wrk is not installed: run `sudo apt-get install -y wrk`")
    print("installing wrk (apt-get install -y wrk) ...", flush=True)
    subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True,  # noqa: S607
                   stdout=subprocess.DEVNULL)
    return shutil.which("wrk") or "wrk"


def database_facts(app) -> dict:
    """Region codes, the latest incident's time and the number of incidents."""
    from sqlalchemy import text

    from app.extensions import db

    with app.app_context():
        facts = {
            "regions": db.session.execute(text("SELECT code FROM regions ORDER BY code"))
            .scalars().all(),
            "latest": db.session.execute(text("SELECT max(occurred_at) FROM incidents"))
            .scalar_one(),
            "incidents": db.session.execute(text("SELECT count(*) FROM incidents"))
            .scalar_one(),
        }
        db.session.remove()
    return facts


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """x, y of the Web Mercator tile at zoom ``z`` holding (lon, lat) degrees."""
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - np.arcsinh(np.tan(np.radians(lat))) / np.pi) / 2.0 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def mercator_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(minx, miny, maxx, maxy) in metres (EPSG:3857) of tile z/x/y."""
    half = 20037508.342789244
    size = 2 * half / 2**z
    return (-half + x * size, half - (y + 1) * size, -half + (x + 1) * size, half - y * size)


def workload_urls(anchors: np.ndarray, facts: dict, count: int = 400) -> dict[str, list[str]]:
    """URLs (path and query) of each kind, drawn with a fixed seed."""
    rng = np.random.default_rng(SEED)
    latest = facts["latest"]
    regions = facts["regions"]
    stamp = "%Y-%m-%dT%H:%M:%SZ"

    def window(days: int) -> str:
        return f"{(latest - timedelta(days=days)).strftime(stamp)}/{latest.strftime(stamp)}"

    def anchor() -> tuple[float, float]:
        lon, lat = anchors[rng.integers(len(anchors))]
        return float(lon), float(lat)

    tiles, wms, api = [], [], []
    for _ in range(count):
        z = int(rng.integers(7, 15))
        x, y = tile_of(*anchor(), z)
        tiles.append(f"/ogc/tiles/{rng.choice(TILE_LAYERS)}/{z}/{x}/{y}.mvt")
        z = int(rng.integers(6, 14))
        x, y = tile_of(*anchor(), z)
        wms.append("/ogc/wms?" + urlencode({
            "SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": WMS_LAYERS,
            "STYLES": "", "CRS": "EPSG:3857", "WIDTH": 256, "HEIGHT": 256,
            "FORMAT": "image/png", "TRANSPARENT": "TRUE",
            "BBOX": ",".join(f"{v:.2f}" for v in mercator_bounds(z, x, y))}))
        lon, lat = anchor()
        width = float(rng.choice([0.05, 0.2, 0.5]))
        choice = rng.integers(5)
        if choice == 0:
            api.append("/api/v1/incidents?" + urlencode({
                "bbox": f"{lon - width:.4f},{lat - width:.4f},{lon + width:.4f},"
                        f"{lat + width:.4f}", "limit": 100}))
        elif choice == 1:
            api.append("/api/v1/incidents?" + urlencode({
                "region": rng.choice(regions), "datetime": window(90), "limit": 100}))
        elif choice == 2:
            api.append("/api/v1/incidents?" + urlencode({
                "category": "illegal_crossing_between_bcp", "datetime": window(30),
                "limit": 50}))
        elif choice == 3:
            api.append("/api/v1/segments?" + urlencode({"region": rng.choice(regions)}))
        else:
            api.append("/api/v1/crossings?" + urlencode({"region": rng.choice(regions)}))
    hotspots = [
        "/api/v1/hotspots?" + urlencode({"region": code, "datetime": window(days),
                                         "method": method, "cell_size": size})
        for code in regions for days in (90, 365) for method in ("gistar", "kde")
        for size in (1000, 2500)
    ]
    return {"tiles": tiles, "wms": wms, "api": api, "hotspots": hotspots}


def worker_pids(server: Server) -> set[int]:
    """Pids of the gunicorn master's children (its workers)."""
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
    return {int(pid) for pid in children.read_text().split()}


def start_ours(workdir: Path, database_url: str, headers: dict, workers: int,
               threads: int, tile_cache_mb: int | None = None) -> Server:
    """Our app under gunicorn, as ``make run`` serves it, answering /healthz (with
    ``TILE_CACHE_MB`` = ``tile_cache_mb`` when given)."""
    server = Server("borderrisk", free_port(), "", headers)
    env = our_app_env(database_url)
    if tile_cache_mb is not None:
        env["TILE_CACHE_MB"] = str(tile_cache_mb)
    server.start(gunicorn_command(OUR_GUNICORN, OUR_APP, server.port, workers,
                                  threads=threads, timeout_s=120, chdir=PROJECT_DIR),
                 env, workdir, "/healthz",
                 content_type="application/json", wait_s=120)
    return server


def warm(server: Server, urls: list[str], times: int) -> list[str]:
    """Request each URL ``times`` times (a few at once); the URLs that answered 2xx (a
    region with too few incidents in a window gets a 422 and is left out)."""
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(server.get, urls * times))
    good = [url for url, (status, _, _) in zip(urls, answers[:len(urls)], strict=True)
            if 200 <= status < 300]
    for url, (status, _, body) in zip(urls, answers[:len(urls)], strict=True):
        if status >= 500:
            raise SystemExit(f"warm-up: {url}: {status} {body[:300]!r}")
    return good


# --------------------------------------------------------------------------- wrk


@dataclass
class KindResult:
    """What one wrk process measured."""

    kind: str
    connections: int
    requests: int = 0
    seconds: float = 0.0
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    non_2xx: dict = field(default_factory=dict)
    tile_cache: dict = field(default_factory=dict)  # X-Tile-Cache answers: hit, miss
    socket_errors: str = ""
    output: str = ""

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()
    return float(number) * _UNITS[unit]


def parse_wrk(kind: str, connections: int, output: str) -> KindResult:
    """The numbers of ``wrk --latency`` output with our script's ``non2xx`` line."""
    result = KindResult(kind, connections, output=output)
    match = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", output)
    if match:
        result.requests = int(match.group(1))
        result.seconds = _ms(match.group(2) + match.group(3)) / 1000
    for name, percentile in (("p50_ms", "50"), ("p99_ms", "99")):
        found = re.search(rf"^\s+{percentile}%\s+([\d.]+(?:us|ms|s|m))\s*$", output, re.M)
        if found:
            setattr(result, name, _ms(found.group(1)))
    found = re.search(r"^non2xx(.*)$", output, re.M)
    if found is None:  # the script failed: its counts are unknown
        raise SystemExit(f"wrk ({kind}) printed no non2xx line:\n{output}")
    if found.group(1).strip():
        result.non_2xx = {int(k): int(v) for k, v in
                          (item.split("=") for item in found.group(1).split())}
    found = re.search(r"^tilecache(.*)$", output, re.M)
    if found and found.group(1).strip():
        result.tile_cache = {k: int(v) for k, v in
                             (item.split("=") for item in found.group(1).split())}
    # wrk's own count (3xx included) must agree with ours
    found = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if found and int(found.group(1)) > sum(result.non_2xx.values()):
        result.non_2xx[0] = int(found.group(1)) - sum(result.non_2xx.values())
    found = re.search(r"Socket errors: (.*)$", output, re.M)
    result.socket_errors = found.group(1).strip() if found else ""
    return result


def run_wrk(wrk: str, server: Server, urls: dict[str, list[str]], connections: int,
            seconds: float, workdir: Path) -> list[KindResult]:
    """One wrk per kind of ``urls`` at once, the connections split by MIX; their
    results."""
    total = sum(MIX.get(kind, 1) for kind in urls)
    share = {kind: max(1, round(MIX.get(kind, 1) * connections / total)) for kind in urls}
    script = workdir / "load_bench.lua"
    script.write_text(WRK_SCRIPT)
    processes = {}
    for kind, kind_urls in urls.items():
        url_file = workdir / f"{kind}.urls"
        url_file.write_text("\n".join(kind_urls) + "\n")
        env = {**os.environ, "WRK_URLS": str(url_file),
               "WRK_AUTHORIZATION": server.headers.get("Authorization", "")}
        command = [wrk, "-t1", f"-c{share[kind]}", f"-d{seconds:.0f}s", "--timeout", "30s",
                   "--latency", "-s", str(script), f"http://127.0.0.1:{server.port}"]
        processes[kind] = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,  # noqa: S603
                                           stderr=subprocess.STDOUT, text=True)
    results = []
    for kind, process in processes.items():
        output, _ = process.communicate(timeout=seconds + 120)
        results.append(parse_wrk(kind, share[kind], output))
    return results


def cpu_seconds(pids) -> float:
    """User + system CPU seconds so far of the processes ``pids`` (gone ones: 0)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def backend_pids(database_url: str) -> set[int]:
    """Pids of the PostgreSQL backends connected to the benchmark's database."""
    import psycopg2
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    conn = psycopg2.connect(url.set(drivername="postgresql").render_as_string(
        hide_password=False))
    with conn.cursor() as cur:
        cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()")
        pids = {row[0] for row in cur.fetchall()}
    conn.close()
    return pids


def profile_kinds(wrk: str, server: Server, urls: dict[str, list[str]], args, workdir: Path,
                  database_url: str) -> None:
    """Each kind alone at ``--connections`` for ``--profile`` seconds: its rate and
    latencies, and the CPU milliseconds per request spent in the gunicorn workers and in
    the database's backends (read from /proc: the database must run on this machine;
    backends that end during the run are not counted)."""
    print(f"\nper kind, alone, {args.connections} connections for {args.profile:.0f} s; "
          "CPU ms per request in the workers / the database")
    print(f"{'kind':<12}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'app ms':>9}{'db ms':>9}"
          f"{'non-2xx':>9}")
    workers = worker_pids(server)
    # Tiles also by zoom: below zoom 10 the incidents' points are clustered in SQL.
    kinds = {**urls,
             "tiles z7-9": [u for u in urls["tiles"] if int(u.split("/")[4]) < 10],
             "tiles z10-14": [u for u in urls["tiles"] if int(u.split("/")[4]) >= 10]}
    for kind, kind_urls in kinds.items():
        backends = backend_pids(database_url)
        app0, db0 = cpu_seconds(workers), cpu_seconds(backends)
        (result,) = run_wrk(wrk, server, {kind.replace(" ", "_"): kind_urls},
                            args.connections, args.profile, workdir)
        backends |= backend_pids(database_url)
        app_ms = (cpu_seconds(workers) - app0) * 1000 / max(result.requests, 1)
        db_ms = (cpu_seconds(backends) - db0) * 1000 / max(result.requests, 1)
        print(f"{kind:<12}{result.rate:>9.1f}{result.p50_ms:>9.1f}{result.p99_ms:>9.1f}"
              f"{app_ms:>9.1f}{db_ms:>9.1f}{sum(result.non_2xx.values()):>9}", flush=True)


def print_results(results: list[KindResult], args, facts: dict, workers: int) -> None:
    print(f"\n{facts['incidents']:,} incidents (synthetic demo); gunicorn --workers "
          f"{workers} --threads {args.threads}; {sum(r.connections for r in results)} "
          f"connections for {args.seconds:.0f} s (wrk, loopback)")
    print(f"{'kind':<10}{'conns':>6}{'requests':>10}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
          f"  non-2xx / socket errors")
    for r in results:
        errors = ", ".join(f"{k}: {v}" for k, v in sorted(r.non_2xx.items())) or "0"
        print(f"{r.kind:<10}{r.connections:>6}{r.requests:>10,}{r.rate:>9.1f}"
              f"{r.p50_ms:>9.1f}{r.p99_ms:>9.1f}  {errors} / {r.socket_errors or 'none'}")
    requests = sum(r.requests for r in results)
    rate = sum(r.rate for r in results)
    bad = sum(sum(r.non_2xx.values()) for r in results)
    print(f"{'total':<10}{'':>6}{requests:>10,}{rate:>9.1f}{'':>18}  {bad} non-2xx")
    tiles = next(r for r in results if r.kind == "tiles")
    hits, misses = tiles.tile_cache.get("hit", 0), tiles.tile_cache.get("miss", 0)
    print(f"tile cache: {hits:,} hits, {misses:,} misses"
          + (f" ({hits / (hits + misses):.0%} hits)" if hits + misses else " (off)"))
    met = bad == 0 and tiles.p99_ms < GOAL_TILE_P99_MS and not any(
        r.socket_errors for r in results)
    print(f"goal (zero non-2xx, no socket errors, tile p99 < {GOAL_TILE_P99_MS:.0f} ms): "
          f"{'met' if met else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--incidents", type=int, default=50_000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=3 * (os.cpu_count() or 2),
                        help="gunicorn workers (default: three per core, as `make run`)")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads per worker (default: 1, as `make run`)")
    parser.add_argument("--tile-cache-mb", type=int, default=None,
                        help="TILE_CACHE_MB of the workers (default: the app's, 64; "
                             "0: no tile cache)")
    parser.add_argument("--tile-urls", type=int, default=400,
                        help="distinct tile URLs (and as many of the other kinds)")
    parser.add_argument("--keep-database", action="store_true",
                        help="keep the database for --database")
    parser.add_argument("--database", help="a database kept by --keep-database: no load")
    parser.add_argument("--repeat", type=int, default=1, help="runs of the workload")
    parser.add_argument("--profile", type=float, default=0, metavar="SECONDS",
                        help="then each kind alone at all connections for SECONDS, with "
                             "the CPU time per request of the workers and the database")
    args = parser.parse_args()
    # Stopped with SIGTERM, still stop gunicorn and drop the database (finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))

    wrk = ensure_wrk()
    from bench.ogc_bench import bench_database, incident_anchors

    databases, app, headers = bench_database(args)
    database_url = app.config["SQLALCHEMY_DATABASE_URI"]
    workdir = Path(tempfile.mkdtemp(prefix="load_bench_"))
    server = None
    try:
        facts = database_facts(app)
        urls = workload_urls(incident_anchors(database_url, 1000), facts, args.tile_urls)
        server = start_ours(workdir, database_url, headers, args.workers, args.threads,
                            args.tile_cache_mb)
        pids = worker_pids(server)
        started = time.perf_counter()
        kept = warm(server, urls["hotspots"], 2 * args.workers)
        print(f"hot-spot URLs warmed in {time.perf_counter() - started:.1f} s; "
              f"{len(kept)} of {len(urls['hotspots'])} answer 2xx (the others are 422: too "
              "few incidents in the window) and are used", flush=True)
        urls["hotspots"] = kept
        for run in range(1, args.repeat + 1):
            print(f"\n=== run {run} of {args.repeat}; load average "
                  f"{os.getloadavg()[0]:.1f}", flush=True)
            results = run_wrk(wrk, server, urls, args.connections, args.seconds, workdir)
            print_results(results, args, facts, args.workers)
        if args.profile:
            profile_kinds(wrk, server, urls, args, workdir, database_url)
        same = worker_pids(server) == pids
        print(f"gunicorn workers: {'the same pids' if same else 'RESTARTED'} "
              f"({sorted(pids)}); server log: {server.log}")
    finally:
        if server is not None:
            server.stop()
        databases.drop_all()


if __name__ == "__main__":
    main()
