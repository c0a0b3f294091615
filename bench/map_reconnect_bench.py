"""Map recovery benchmark (docs/reliability.md): in-process time of a 256x256
GetMap-like map (regions, border_segments, crossing_points, incidents as points;
EPSG:3857, zoom 11 around an incident of the 50k dev demo) in three cases, interleaved
round by round:

  pooled:   mapnik's pooled connection reused (normal operation);
  fresh:    the pool emptied before each map (what not persisting connections costs:
            a new libpq connection and backend per map);
  recovery: mapnik's pooled backend terminated before each map (the failed query,
            the probe and the second drawing of geo.maps.render.render_map).

Run: ``.venv/bin/python -m bench.map_reconnect_bench [ROUNDS]`` (default 30) on the
embedded cluster's ``borderrisk`` database with the demo loaded (as ``make run`` leaves
it).
"""
import math
import statistics
import sys
import time

import mapnik
import psycopg2
from sqlalchemy.engine import make_url

import config
from geo.db import mapnik_parameters
from geo.maps import map_request, render

URL = config.embedded_database_url()
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 30


def tile_bbox(lon, lat, z):
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    size = 2 * math.pi * 6378137 / n
    minx = -math.pi * 6378137 + x * size
    maxy = math.pi * 6378137 - y * size
    return (minx, maxy - size, minx + size, maxy)


REQUEST = map_request.MapRequest(layers=("regions", "border_segments", "crossing_points",
                                    "incidents"), crs="EPSG:3857",
                            bbox=tile_bbox(41.6466, 41.6458, 11))
assert map_request.scale_denominator(REQUEST) < render.INCIDENT_POINT_MAX_SCALE
PID_PROBE = dict(mapnik_parameters(URL),
                 table="(SELECT pg_backend_pid() AS pid, "
                       "ST_SetSRID(ST_MakePoint(0, 0), 4326) AS geom) AS t",
                 geometry_field="geom", srid="4326", extent="-180,-90,180,90")


def pooled_pid():
    # Runs on the first idle pooled connection, the one the next map borrows.
    ds = mapnik.Datasource(**PID_PROBE)  # its constructor closes one pooled connection
    render.render_map(REQUEST, URL)  # so the pool holds a working one again
    query = mapnik.Query(mapnik.Box2d(-180, -90, 180, 90))
    query.add_property_name("pid")
    feature = next(iter(ds.features(query)))
    return int(feature["pid"])


def timed():
    start = time.perf_counter()
    render.render_map(REQUEST, URL)
    return (time.perf_counter() - start) * 1000


admin = psycopg2.connect(make_url(URL).set(drivername="postgresql").render_as_string(
    hide_password=False))
admin.autocommit = True
for _ in range(5):
    render.render_map(REQUEST, URL)
times = {"pooled": [], "fresh": [], "recovery": []}
for _ in range(ROUNDS):
    times["pooled"].append(timed())
    render._discard_ended_connections(URL)  # closes the live pooled connection
    times["fresh"].append(timed())
    pid = pooled_pid()
    with admin.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,))
        assert cur.fetchone()[0]
    times["recovery"].append(timed())
for name, values in times.items():
    print(f"{name:9s} n={len(values)} median {statistics.median(values):6.1f} ms  "
          f"mean {statistics.mean(values):6.1f} ms  p90 "
          f"{statistics.quantiles(values, n=10)[-1]:6.1f} ms")
