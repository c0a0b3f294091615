"""WMS benchmark (issue 6): our GetMap against MapServer's on the same tables and styles.

Run: ``.venv/bin/python -m bench.wms_bench [--incidents 1000000] [--seconds 20]``

In one run, on a throwaway database with the demo's reference layers and N synthetic
incidents (``geo.demo.synthetic``, loaded as ``bench.hotspot_bench`` does):

1. PostgreSQL's parallel query and JIT are switched off for every connection to that
   database (``ALTER DATABASE ... SET max_parallel_workers_per_gather = 0, jit = off``,
   what geo/maps/render.py sets on its own connections; MapServer's connection string
   carries the same ``options``): starting parallel workers costs about 20 ms per small
   query. Both servers see the same settings.
2. MapServer 8 (Debian ``mapserver-bin`` + ``python3-mapscript``, installed with apt-get
   when missing) serves a mapfile generated from ``bench/mapserver/borderrisk.map.in``
   with the layers' SQL, colours, sizes and scale switch of ``geo/maps/render.py``, through
   ``bench/mapserver/mapscript_wsgi.py`` under Debian's gunicorn; ours is
   ``app:create_app()`` under the project's gunicorn. Both with ``--workers`` (default:
   as many as cores).
3. Per zoom band, the same sequence of random square EPSG:3857 bounding boxes (fixed
   seed) is requested as 256x256 PNG maps of ``border_segments`` + ``incidents`` (TIME:
   the whole data period) by ``--clients`` threads for ``--seconds`` each, MapServer
   first, then ours; maps/s, p50/p99 latency and the ratio ours/MapServer are printed.
4. Equal output: for a few bounding boxes per band both PNGs are decoded (Pillow) and the
   share of pixels whose colour differs by more than ``--tolerance`` (any RGBA channel,
   0-255) is printed, also allowing a 1-pixel shift, next to the share drawn on.
5. The whole-country ``incidents`` map alone: latency of ours (goal < 300 ms) and of
   MapServer, median of 5.
6. Where our time goes: py-spy on one of our workers in each band where we are slower
   (every band with ``--profile``), and in-process medians of ``render_map``, the bare
   SQL of its layers and three PNG encoders.

Prints tables; docs/benchmarks.md records the numbers.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import subprocess  # noqa: S404  # apt-get, py-spy with fixed arguments
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.servers import (
    OUR_APP,
    OUR_GUNICORN,
    PROJECT_DIR,
    LoadResult,
    Server,
    free_port,
    gunicorn_command,
    our_app_env,
    run_load,
)

BENCH_DIR = Path(__file__).resolve().parent
MAPSERVER_DIR = BENCH_DIR / "mapserver"
VENV_BIN = Path(sys.executable).parent
DEBIAN_PYTHON = "/usr/bin/python3"
DEBIAN_GUNICORN = "/usr/bin/gunicorn"
DEBIAN_PACKAGES = ("mapserver-bin", "python3-mapscript", "gunicorn", "python3-gunicorn")

SEED = 20261128
MAP_SIZE = 256  # pixels, width and height
# Zoom bands: name and range of the bounding box width in EPSG:3857 metres (the country's
# box is about 760 km wide in EPSG:3857, 560 km on the ground).
BANDS = (
    ("5-40 km", 5_000.0, 40_000.0),
    ("40-200 km", 40_000.0, 200_000.0),
    ("200-800 km", 200_000.0, 800_000.0),
    ("whole country", 700_000.0, 800_000.0),
)
BENCH_LAYERS = ("border_segments", "incidents")
# What geo/maps/render.py sets on its connections; the bench sets it on the database, for both.
PARALLEL_OFF = "-c max_parallel_workers_per_gather=0 -c jit=off"


# --------------------------------------------------------------------------- set-up

def ensure_mapserver() -> str:
    """MapServer's version line; installs the Debian packages when they are missing."""
    probe = [DEBIAN_PYTHON, "-c", "import mapscript; print(mapscript.msGetVersion())"]
    found = subprocess.run(probe, capture_output=True, text=True)  # noqa: S603  # fixed
    if found.returncode != 0 or not Path(DEBIAN_GUNICORN).exists():
        if os.geteuid() != 0:
            raise SystemExit("MapServer is missing: run as root, or `apt-get install "
                             + " ".join(DEBIAN_PACKAGES) + "` first")
        print("installing " + ", ".join(DEBIAN_PACKAGES) + " (apt-get) ...", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        apt_get = shutil.which("apt-get") or "/usr/bin/apt-get"
        subprocess.run([apt_get, "install", "-y", "--no-install-recommends",  # noqa: S603
                        *DEBIAN_PACKAGES], check=True, env=env, stdout=subprocess.DEVNULL)
        found = subprocess.run(probe, capture_output=True, text=True, check=True)  # noqa: S603
    return found.stdout.split(" OUTPUT=")[0].strip()


def connect(database_url: str):
    """A psycopg2 connection to the database of a SQLAlchemy URL."""
    import psycopg2
    from sqlalchemy.engine import make_url

    url = make_url(database_url).set(drivername="postgresql")
    return psycopg2.connect(url.render_as_string(hide_password=False))


def tune_database(database_url: str) -> dict:
    """Parallel query off for every connection to the database; ANALYZE; the settings."""
    from psycopg2 import sql
    from sqlalchemy.engine import make_url

    conn = connect(database_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        for setting in ("max_parallel_workers_per_gather = 0", "jit = off"):
            cur.execute(sql.SQL("ALTER DATABASE {} SET " + setting)
                        .format(sql.Identifier(make_url(database_url).database)))
        cur.execute("ANALYZE")
    conn.close()
    conn = connect(database_url)  # a new session sees the database's settings
    with conn.cursor() as cur:
        settings = {}
        for name in ("server_version", "max_parallel_workers_per_gather", "shared_buffers",
                     "work_mem", "jit"):
            cur.execute(sql.SQL("SHOW {}").format(sql.Identifier(name)))
            settings[name] = cur.fetchone()[0]
    conn.close()
    return settings


def libpq_conninfo(database_url: str) -> str:
    """The database as a libpq connection string (MapServer's CONNECTION), parallel off."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    parts = {"host": url.host or "localhost", "port": url.port or 5432,
             "dbname": url.database, "user": url.username, "password": url.password}
    words = [f"{key}={value}" for key, value in parts.items() if value is not None]
    return " ".join(words) + f" options='{PARALLEL_OFF}'"


# --------------------------------------------------------------------------- mapfile

def _mapfile_string(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _class(name: str, expression: str | None, style: str) -> str:
    condition = f"\n    EXPRESSION {expression}" if expression else ""
    return (f'  CLASS\n    NAME "{_mapfile_string(name)}"{condition}\n'
            f"    STYLE\n      {style}\n    END\n  END")


def _line_style(colour: str, width: float) -> str:
    return (f'COLOR "{colour}"\n      WIDTH {width}\n      LINECAP ROUND\n'
            "      LINEJOIN ROUND")


def _point_style(colour: str, size: float) -> str:
    return f'SYMBOL "circle"\n      SIZE {size}\n      COLOR "{colour}"'


# geo/maps/render.py bins incidents into cells of INCIDENT_CELL_PIXELS pixels counted from the
# map's top-left corner. MapServer has no pixel size to give the SQL, only the map's box
# (!BOX!, in EPSG:3857 for this layer), which MapServer's WMS shrinks by half a pixel on
# each side (it maps the box to pixel centres): the mapfile is made for MAP_SIZE-pixel
# maps. The cells are binned on the requested box (x0, y1) and drawn from the shrunk
# one's corner (dx0, dy1), half a pixel further, so that MapServer fills whole pixels
# where mapnik does. EPSG:3857 coordinates by its formulas: 1.7x faster than ST_Transform
# (PROJ) per point, the same cells.
_CELLS_SQL = """geom FROM (
  SELECT row_number() OVER () AS id, n, ST_MakeEnvelope(dx0 + i * c, dy1 - (j + 1) * c,
         dx0 + (i + 1) * c, dy1 - j * c, 3857) AS geom
  FROM (SELECT b.dx0, b.dy1, b.c, floor((p.x - b.x0) / b.c) AS i,
               floor((b.y1 - p.y) / b.c) AS j, count(*) AS n
        FROM (SELECT x0, x1, y0, y1, dx0, dy1, pixel * @CELL_PIXELS@ AS c,
                     ST_Transform(ST_MakeEnvelope(x0, y0, x1, y1, 3857), 4326) AS e4326
              FROM (SELECT ST_XMin(e) - pixel / 2 AS x0, ST_XMax(e) + pixel / 2 AS x1,
                           ST_YMin(e) - pixel / 2 AS y0, ST_YMax(e) + pixel / 2 AS y1,
                           ST_XMin(e) AS dx0, ST_YMax(e) AS dy1, pixel
                    FROM (SELECT e, (ST_XMax(e) - ST_XMin(e)) / @MAP_SIZE_1@ AS pixel
                          FROM (SELECT !BOX! AS e) AS e0) AS e1) AS e2) AS b,
             LATERAL (SELECT 6378137.0 * radians(ST_X(geom)) AS x,
                             6378137.0 * ln(tan(pi() / 4 + radians(ST_Y(geom)) / 2)) AS y
                      FROM incidents WHERE geom && b.e4326) AS p
        WHERE p.x >= b.x0 AND p.x < b.x1 AND p.y > b.y0 AND p.y <= b.y1
        GROUP BY 1, 2, 3, 4, 5) AS cells
) AS t USING UNIQUE id USING SRID=3857"""


def render_spec() -> dict[str, str]:
    """Mapfile placeholders: the layers' SQL and classes, from geo/maps/render.py's SQL,
    colours and sizes (risk_level segments, category points, count cells). The 3-pixel
    segment width and the grey of an unknown category are literals there too."""
    from geo.layers import INCIDENT_CELL_CLASSES, INCIDENT_CELL_PIXELS
    from geo.maps import palette, render
    from geo.queries import maps as map_sql

    segments = [_class(level, f'("[level]" = "{level}")', _line_style(colour, 3))
                for level, colour in palette.RISK_LEVEL_COLOURS.items()]
    segments.append(_class("not assessed", None, _line_style(palette.NOT_ASSESSED_COLOUR, 3)))
    size = render.INCIDENT_POINT_SIZE
    points = [_class(name, f'("[category]" = "{name}")', _point_style(colour, size))
              for name, colour in palette.INCIDENT_CATEGORY_COLOURS.items()]
    points.append(_class("other", None, _point_style("#666666", size)))
    bounds = (0, *INCIDENT_CELL_CLASSES, None)
    cells = []
    for low, high, colour in zip(bounds[:-1], bounds[1:], palette.INCIDENT_CELL_COLOURS,
                                 strict=True):
        expression = f"([n] > {low})" if high is None else f"([n] > {low} AND [n] <= {high})"
        # alpha 220 of 255, as geo/maps/render.py composites its cells
        cells.append(_class(f"{low + 1}-{high or ''}", expression, f'COLOR "{colour}dc"'))
    return {
        # Our own statements, for MapServer's DATA: S608 has nothing to check.
        "BORDER_SEGMENTS_DATA": "geom FROM (SELECT s.id, s.geom, "  # noqa: S608
        + " ".join(map_sql.SEGMENT_LEVEL_SQL.split())
        + " AS level FROM border_segments s) AS t USING UNIQUE id USING SRID=4326",
        "BORDER_SEGMENTS_CLASSES": "\n".join(segments),
        "INCIDENT_POINTS_DATA": "geom FROM (SELECT id, category, geom FROM incidents) AS t"
        " USING UNIQUE id USING SRID=4326",
        "INCIDENT_POINTS_CLASSES": "\n".join(points),
        "INCIDENT_CELLS_DATA": " ".join(_CELLS_SQL.replace("@MAP_SIZE_1@", str(MAP_SIZE - 1))
                                        .replace("@CELL_PIXELS@", str(INCIDENT_CELL_PIXELS))
                                        .split()),
        "INCIDENT_CELLS_CLASSES": "\n".join(cells),
        "POINT_MAX_SCALE": str(render.INCIDENT_POINT_MAX_SCALE),
        "CELL_PIXELS": str(INCIDENT_CELL_PIXELS),
    }


def write_mapfile(path: Path, database_url: str, extent_3857) -> None:
    """Fill ``bench/mapserver/borderrisk.map.in`` for the throwaway database."""
    text = (MAPSERVER_DIR / "borderrisk.map.in").read_text()
    values = {
        "EXTENT_3857": " ".join(f"{v:.0f}" for v in extent_3857),
        "PNG_COMPRESSION": "1",
        "CONNECTION": libpq_conninfo(database_url),
        **render_spec(),
    }
    for key, value in values.items():
        if key.endswith(("_DATA", "CONNECTION")):
            value = _mapfile_string(value)
        text = text.replace(f"@{key}@", value)
    leftover = re.findall(r"@[A-Z0-9_]+@", text)
    if leftover:
        raise SystemExit(f"unfilled placeholders in the mapfile: {leftover}")
    path.write_text(text)


# --------------------------------------------------------------------------- servers

def start_mapserver(workdir: Path, mapfile: Path, workers: int, probe_params: dict) -> Server:
    server = Server("MapServer", free_port(), "/", {})
    env = {"PATH": "/usr/bin:/bin", "MAPFILE": str(mapfile), "LANG": "C.UTF-8"}
    server.start(gunicorn_command(DEBIAN_GUNICORN, "mapscript_wsgi:application", server.port,
                                  workers, chdir=MAPSERVER_DIR),
                 env, workdir, server.url(probe_params), content_type="image/png")
    return server


def start_ours(workdir: Path, database_url: str, token_headers: dict, workers: int,
               probe_params: dict) -> Server:
    server = Server("ours", free_port(), "/ogc/wms", token_headers)
    env = our_app_env(database_url)
    env.pop("PGOPTIONS", None)
    server.start(gunicorn_command(OUR_GUNICORN, OUR_APP, server.port, workers,
                                  chdir=PROJECT_DIR),
                 env, workdir, server.url(probe_params), content_type="image/png")
    return server


# --------------------------------------------------------------------------- requests

def country_extent_3857(database_url: str) -> tuple[float, float, float, float]:
    """Bounding box of the regions (the country) in EPSG:3857 metres."""
    conn = connect(database_url)
    with conn.cursor() as cur:
        cur.execute("SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM"
                    " (SELECT ST_Extent(ST_Transform(geom, 3857))::geometry AS b"
                    " FROM regions) AS e")
        extent = tuple(float(v) for v in cur.fetchone())
    conn.close()
    return extent


def incident_sample_3857(database_url: str, n: int, seed: int) -> np.ndarray:
    """``n`` incident locations (EPSG:3857) drawn with a fixed seed, as an (n, 2) array."""
    conn = connect(database_url)
    with conn.cursor() as cur:
        cur.execute("SELECT min(id), max(id) FROM incidents")
        low, high = cur.fetchone()
        ids = np.random.default_rng(seed).integers(low, high + 1, size=n * 2)
        cur.execute("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(geom, 3857) AS p,"
                    " array_position(%s, id) AS k FROM incidents WHERE id = ANY(%s)) AS s"
                    " ORDER BY k", (ids.tolist(), ids.tolist()))
        points = np.array(cur.fetchall(), dtype=float)
    conn.close()
    return points[:n]


def band_bboxes(band, extent, anchors: np.ndarray, n: int, seed: int) -> list[tuple]:
    """``n`` square EPSG:3857 boxes of the band: half centred on a random incident, half
    on a uniform point of the country's box (whole country: its centre, jittered)."""
    name, smallest, largest = band
    rng = np.random.default_rng([seed, BANDS.index(band)])
    widths = np.exp(rng.uniform(np.log(smallest), np.log(largest), n))
    x0, y0, x1, y1 = extent
    if name == "whole country":
        cx = (x0 + x1) / 2 + rng.uniform(-20_000, 20_000, n)
        cy = (y0 + y1) / 2 + rng.uniform(-20_000, 20_000, n)
    else:
        cx, cy = rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)
        on_incident = rng.random(n) < 0.5
        picks = anchors[rng.integers(0, len(anchors), n)]
        cx = np.where(on_incident, picks[:, 0], cx)
        cy = np.where(on_incident, picks[:, 1], cy)
    half = widths / 2
    return [(float(x - h), float(y - h), float(x + h), float(y + h))
            for x, y, h in zip(cx, cy, half, strict=True)]


def whole_time(database_url: str) -> str:
    """A WMS TIME interval (whole UTC days) covering every incident."""
    conn = connect(database_url)
    with conn.cursor() as cur:
        cur.execute("SELECT min(occurred_at AT TIME ZONE 'UTC')::date,"
                    " max(occurred_at AT TIME ZONE 'UTC')::date FROM incidents")
        first, last = cur.fetchone()
    conn.close()
    return f"{first.isoformat()}/{last.isoformat()}"


def getmap_params(bbox, layers=BENCH_LAYERS, time_: str | None = None) -> dict:
    """WMS 1.3.0 GetMap of ``layers`` at ``bbox`` (EPSG:3857), MAP_SIZE pixels square,
    32-bit PNG on white. ``time_``: the TIME parameter (MapServer's mapfile has no TIME
    dimension and ignores it; ours draws the 90 days before the last incident without
    it, so the bench gives the whole period to draw every incident in both)."""
    params = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap",
              "LAYERS": ",".join(layers), "STYLES": "", "CRS": "EPSG:3857",
              "BBOX": ",".join(f"{v:.2f}" for v in bbox), "WIDTH": str(MAP_SIZE),
              "HEIGHT": str(MAP_SIZE), "FORMAT": "image/png", "TRANSPARENT": "FALSE"}
    if time_:
        params["TIME"] = time_
    return params


def decode_png(body: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(body)) as image:
        return np.asarray(image.convert("RGBA"), dtype=np.int16)


def compare_maps(ms: bytes, ours: bytes, tolerance: int) -> tuple[float, float, float]:
    """How alike two maps are, as shares of all pixels.

    Returns the share of pixels whose colour differs by more than ``tolerance`` in any
    RGBA channel; the share that still differs when a pixel may match any pixel of the
    other map within one pixel (MapServer maps the box to pixel centres, mapnik to pixel
    edges: its points sit half a pixel up and left, anti-aliased differently); and the
    share of pixels that are not background (white or transparent) in either map.
    """
    a, b = decode_png(ms), decode_png(ours)
    if a.shape != b.shape:
        return 1.0, 1.0, 1.0

    def drawn(image):
        return (image[..., 3] > 0) & (image[..., :3].min(axis=2) < 250)

    def near_match(x, y):
        padded = np.pad(y, ((1, 1), (1, 1), (0, 0)), mode="edge")
        height, width = x.shape[:2]
        matched = np.zeros((height, width), dtype=bool)
        for dy in range(3):
            for dx in range(3):
                shifted = padded[dy:dy + height, dx:dx + width]
                matched |= np.abs(x - shifted).max(axis=2) <= tolerance
        return matched

    differ = np.abs(a - b).max(axis=2) > tolerance
    shifted_differ = ~near_match(a, b) | ~near_match(b, a)
    return float(differ.mean()), float(shifted_differ.mean()), float((drawn(a) | drawn(b)).mean())


# --------------------------------------------------------------------------- profile

def worker_pids(server: Server) -> list[int]:
    """The gunicorn workers' process ids (children of the master)."""
    pid = server.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children]


class WorkerProfile:
    """py-spy sampling one gunicorn worker while the load runs (``with`` block)."""

    def __init__(self, server: Server, workdir: Path, band: str):
        self.pid = worker_pids(server)[0]
        self.out = workdir / f"pyspy_{band.replace(' ', '_')}.txt"
        self.process = None

    def __enter__(self):
        self.process = subprocess.Popen(  # noqa: S603  # fixed arguments
            [str(VENV_BIN / "py-spy"), "record", "--pid", str(self.pid), "--format", "raw",
             "--rate", "200", "--output", str(self.out), "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return self

    def __exit__(self, *exc):
        import signal

        self.process.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        self.process.wait(timeout=60)

    def top(self, n: int = 16) -> tuple[list, list]:
        """The most frequent frames: (function, inclusive share) and (line, self share),
        shares of the samples; a native call (mapnik's drawing, its PNG encoder) is
        counted on the Python line that made it."""
        inclusive: dict[str, int] = {}
        own: dict[str, int] = {}
        total = 0
        if not self.out.exists():
            return [], []
        for line in self.out.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            samples = int(count)
            total += samples
            frames = stack.split(";")
            for function in {re.sub(r":\d+\)$", ")", f) for f in frames}:
                inclusive[function] = inclusive.get(function, 0) + samples
            own[frames[-1]] = own.get(frames[-1], 0) + samples
        if not total:
            return [], []
        # Frames every sample passes through (gunicorn's loop, WSGI plumbing) say nothing.
        ranked = [f for f in sorted(inclusive, key=inclusive.get, reverse=True)
                  if inclusive[f] < 0.97 * total][:n]
        lines = sorted(own, key=own.get, reverse=True)[:8]
        return ([(f, inclusive[f] / total) for f in ranked],
                [(f, own[f] / total) for f in lines])


def source_line(frame: str) -> str:
    """The text of a py-spy frame's line ``function (file.py:N)`` when the file is one
    of ours (py-spy names files by their base name)."""
    found = re.search(r"\(([\w.]+\.py):(\d+)\)$", frame)
    if not found:
        return ""
    for folder in ("geo", "app", "app/ogc", "app/auth", "app/api"):
        path = BENCH_DIR.parent / folder / found.group(1)
        if path.exists():
            lines = path.read_text().splitlines()
            number = int(found.group(2))
            return f"`{lines[number - 1].strip()}`" if number <= len(lines) else ""
    return ""


def time_breakdown(database_url: str, boxes, period: str, repeat: int = 3) -> dict:
    """Where a map's time goes in our renderer, in this process (one thread, warm).

    For each box: ``geo.maps.render.render_map`` as the WMS calls it; the bare SQL of its
    layers (segments, and incidents when drawn as points) fetched as WKB, as mapnik's
    postgis datasource does; the PNG encoding of the finished map with our encoder and
    two others. Medians in milliseconds.
    """
    from datetime import UTC, datetime, timedelta

    import mapnik

    from geo.crs import transform_xy
    from geo.maps import map_request, render
    from geo.queries import maps as map_sql

    first, last = period.split("/")
    window = (datetime.fromisoformat(first).replace(tzinfo=UTC),
              datetime.fromisoformat(last).replace(tzinfo=UTC) + timedelta(days=1))
    conn = connect(database_url)
    envelope = "ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, 4326)"
    # mapnik's variables as an unrestricted map request sets them (no region, scope or
    # filter), the time window bound.
    variables = {"!bbox!": envelope, "!@start!": "%(start)s", "!@end!": "%(end)s",
                 "!@region!": "0", "!@scope!": "''", "!@categories!": "''",
                 "!@outcomes!": "''"}

    def layer_sql(layer: str) -> str:
        sql = map_sql.map_layer_sql(layer)
        for variable, value in variables.items():
            sql = sql.replace(variable, value)
        return sql

    # The renderer's own subqueries, timed bare.
    segments_sql = "SELECT ST_AsBinary(geom), level FROM " + layer_sql("border_segments")  # noqa: S608
    incidents_sql = "SELECT ST_AsBinary(geom), category FROM " + layer_sql("incidents")  # noqa: S608
    times: dict[str, list] = {k: [] for k in ("render_map", "SQL", "encode png32:z=1:s=rle",
                                              "encode png32 (default)", "encode png8:m=o")}
    for box in boxes:
        request = map_request.MapRequest(layers=BENCH_LAYERS, bbox=box, crs="EPSG:3857",
                                    time=window)
        render.render_map(request, database_url)  # warm this map's caches
        lon, lat = transform_xy([box[0], box[2]], [box[1], box[3]], 3857, 4326)
        params = {"x0": float(lon[0]), "y0": float(lat[0]), "x1": float(lon[1]),
                  "y1": float(lat[1]),
                  "start": window[0], "end": window[1]}
        points = map_request.scale_denominator(request) < render.INCIDENT_POINT_MAX_SCALE
        for _ in range(repeat):
            t0 = time.perf_counter()
            body = render.render_map(request, database_url)
            times["render_map"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            with conn.cursor() as cur:
                cur.execute(segments_sql, params)
                cur.fetchall()
                if points:
                    cur.execute(incidents_sql, params)
                    cur.fetchall()
            times["SQL"].append(time.perf_counter() - t0)
            image = mapnik.Image.from_buffer(body)
            for key in times:
                if key.startswith("encode"):
                    t0 = time.perf_counter()
                    image.to_string(key.split()[1])
                    times[key].append(time.perf_counter() - t0)
    conn.close()
    return {key: float(np.median(values)) * 1000 for key, values in times.items()}


# --------------------------------------------------------------------------- main

def latency_of(server: Server, url: str, repeat: int = 3) -> float:
    """Median wall time (ms) of ``repeat`` requests of ``url``."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        status, kind, body = server.get(url, timeout=300)
        times.append(time.perf_counter() - t0)
        if status != 200 or not kind.startswith("image/png"):
            raise SystemExit(f"{server.name}: {status} {kind} {body[:300]!r}")
    return float(np.median(times)) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=20.0, help="per band and server")
    parser.add_argument("--clients", type=int, default=3, help="concurrent client threads")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2,
                        help="gunicorn workers of each server (default: as many as cores)")
    parser.add_argument("--tolerance", type=int, default=48,
                        help="colour difference (0-255) under which pixels are equal")
    parser.add_argument("--profile", action="store_true",
                        help="profile one of our workers in every band (py-spy)")
    parser.add_argument("--keep", action="store_true", help="keep the servers' logs")
    args = parser.parse_args()

    version = ensure_mapserver()
    from bench.hotspot_bench import setup

    databases, app, headers = setup(args.incidents)
    database_url = app.config["SQLALCHEMY_DATABASE_URI"]
    workdir = Path(tempfile.mkdtemp(prefix="wms_bench_"))
    servers: list[Server] = []
    try:
        settings = tune_database(app.config["DATABASE_OWNER_URI"])
        extent = country_extent_3857(database_url)
        anchors = incident_sample_3857(database_url, 1000, SEED)
        period = whole_time(database_url)
        mapfile = workdir / "borderrisk.map"
        write_mapfile(mapfile, database_url, extent)
        probe = getmap_params(extent, layers=("border_segments",))
        mapserver = start_mapserver(workdir, mapfile, args.workers, probe)
        servers.append(mapserver)
        ours = start_ours(workdir, database_url, headers, args.workers, probe)
        servers.append(ours)
        country = getmap_params(extent, layers=("incidents",), time_=period)
        # Warm every worker of both (their connections and caches, PostgreSQL's cache)
        # with the heaviest map before measuring: concurrent requests reach each worker.
        for server in servers:
            for _ in range(2):
                run_load(server, [server.url(country)], 0.001, 2 * args.workers, "image/png")
        country_ms = {s.name: latency_of(s, s.url(country), 5) for s in servers}
        country_default_ms = latency_of(ours, ours.url(getmap_params(extent, ("incidents",))),
                                        5)

        print(f"\n{version}; PostgreSQL {settings['server_version']}, "
              f"max_parallel_workers_per_gather={settings['max_parallel_workers_per_gather']}"
              f", shared_buffers={settings['shared_buffers']}, work_mem={settings['work_mem']}"
              f", jit={settings['jit']}")
        print(f"{args.incidents:,} incidents; {args.workers} gunicorn workers per server, "
              f"{args.clients} client threads, {args.seconds:.0f} s per band and server; "
              f"{MAP_SIZE}x{MAP_SIZE} PNG of {' + '.join(BENCH_LAYERS)}, EPSG:3857\n")
        equal_rows, rows, profiles, breakdowns = [], [], [], []
        print(f"{'band (EPSG:3857 width)':<24}{'MapServer maps/s':>17}{'p50 ms':>8}"
              f"{'p99 ms':>8}{'ours maps/s':>13}{'p50 ms':>8}{'p99 ms':>8}{'ours/MS':>9}")
        for band in BANDS:
            boxes = band_bboxes(band, extent, anchors, 500, SEED)
            results = {}
            for server in servers:
                urls = [server.url(getmap_params(box, time_=period)) for box in boxes]
                results[server.name] = run_load(server, urls, args.seconds, args.clients,
                                                "image/png")
            rows.append((band[0], results["MapServer"], results["ours"]))
            print_band(*rows[-1])
            for k, box in enumerate(boxes[:5]):
                bodies = [s.get(s.url(getmap_params(box, time_=period)))[2] for s in servers]
                equal_rows.append((band[0], box, *compare_maps(*bodies, args.tolerance)))
                if args.keep:
                    for server, body in zip(servers, bodies, strict=True):
                        name = f"{band[0]}_{k}_{server.name}.png".replace(" ", "_")
                        (workdir / name).write_bytes(body)
        print(f"\nequal output: share of pixels differing by more than {args.tolerance}/255 "
              "in a channel; the same allowing a 1-pixel shift; share of pixels drawn on")
        for name, box, differ, shifted, drawn in equal_rows:
            print(f"  {name:<16}{box[2] - box[0]:>10.0f} m wide: {differ:7.2%} differ, "
                  f"{shifted:7.2%} within 1 px, {drawn:7.2%} drawn")
        print("\nwhole-country incidents map alone, median of 5 (goal for ours < 300 ms): "
              f"ours {country_ms['ours']:.0f} ms, MapServer {country_ms['MapServer']:.0f} ms "
              f"(TIME={period}, every incident); ours with the default TIME (last 90 days) "
              f"{country_default_ms:.0f} ms", flush=True)
        # Where our time goes, in a separate pass (py-spy slows the sampled worker a
        # little): every band where we are slower than MapServer, or all with --profile.
        for (name, ms, our), band in zip(rows, BANDS, strict=True):
            if args.profile or our.rate < ms.rate:
                boxes = band_bboxes(band, extent, anchors, 500, SEED)
                urls = [ours.url(getmap_params(box, time_=period)) for box in boxes]
                with WorkerProfile(ours, workdir, name) as profile:
                    run_load(ours, urls, max(args.seconds / 2, 5.0), args.clients, "image/png")
                profiles.append((name, profile.top()))
        for name, (functions, lines) in profiles:
            print(f"\nwhere one of our workers spends its time, {name} (py-spy, share of "
                  "samples)")
            for frame, share in functions:
                print(f"  {share:6.1%}  {frame}")
            print("  self time by line:")
            for frame, share in lines:
                print(f"  {share:6.1%}  {frame}  {source_line(frame)}")
        for band in BANDS:
            boxes = band_bboxes(band, extent, anchors, 500, SEED)[:8]
            breakdowns.append((band[0], time_breakdown(database_url, boxes, period)))
        keys = list(breakdowns[0][1])
        print("\nour renderer in this process, median ms per map (8 boxes of each band, "
              "warm): render_map, the bare SQL of its layers, and encoding its map")
        print(f"{'band':<16}" + "".join(f"{k:>{max(len(k), 8) + 2}}" for k in keys))
        for name, times in breakdowns:
            print(f"{name:<16}"
                  + "".join(f"{times[k]:>{max(len(k), 8) + 2}.1f}" for k in keys))
    finally:
        for server in servers:
            server.stop()
        databases.drop_all()
        if args.keep:
            print(f"logs, maps and mapfile in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def print_band(name: str, ms: LoadResult, our: LoadResult) -> None:
    ratio = our.rate / ms.rate if ms.rate else float("nan")
    print(f"{name:<24}{ms.rate:>17.1f}{ms.percentile(50):>8.0f}{ms.percentile(99):>8.0f}"
          f"{our.rate:>13.1f}{our.percentile(50):>8.0f}{our.percentile(99):>8.0f}"
          f"{ratio:>8.2f}x", flush=True)
    for server_name, result in (("MapServer", ms), ("ours", our)):
        if result.errors:
            print(f"  {server_name}: {len(result.errors)} failed requests, first: "
                  f"{result.errors[0]}")


if __name__ == "__main__":
    main()
