"""What a small-scale map of a time window reads (issue 21): the window's rows, not the
history's.

Run: ``.venv/bin/python -m bench.map_window_bench --database-url URL [--days 90]
[--repeat 3]`` against a database holding incidents (read only: nothing is written;
e.g. a growth-bench database, ``bench/growth_bench.py``, through its cluster's socket).

For the window of ``--days`` ending at the newest incident (the WMS's default TIME):

1. the binary COPY the map renderer makes (``geo.incidents.read_incidents``, time
   sorted): of the window's rows (``geo.maps.overlays.incident_points``, now) against
   every incident of the history (what it read before issue 21's change), rows and
   seconds;
2. GetMap-sized rasters of the incidents' numpy cells and of the density (what
   ``geo.maps.render`` composites at small scales, 1024x768: ``incident_cells_rgba``,
   ``density_rgba`` after ``incident_points``; mapnik's vector layers left out, so a
   database reached through a socket path serves too) of the whole country and of a
   40-200 km view, with the window: the first (the window's rows read) and the next
   ones (from memory), medians of ``--repeat``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import timedelta

from sqlalchemy import create_engine, text

from geo.incidents import read_incidents
from geo.maps import overlays
from geo.maps.map_request import MapRequest

COUNTRY = (39.9, 41.0, 46.8, 43.65)  # Georgia, lon/lat
REGIONAL = (44.6, 41.2, 45.8, 41.9)  # ~100 km across Kvemo Kartli


def _copy_seconds(engine, where: str, params: dict) -> tuple[int, float]:
    with engine.connect() as connection:
        started = time.perf_counter()
        points = read_incidents(connection.connection.dbapi_connection, where, params,
                                order_by_time=True)
        return len(points), time.perf_counter() - started


def _raster_seconds(request: MapRequest, database_url: str) -> float:
    started = time.perf_counter()
    points = overlays.incident_points(database_url, overlays.time_window(request))
    if request.layers == ("density",):
        overlays.density_rgba(request, database_url, points, 0)
    else:
        overlays.incident_cells_rgba(request, points, 0)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    engine = create_engine(args.database_url)
    with engine.connect() as connection:
        total, last = connection.execute(
            text("SELECT count(*), max(occurred_at) FROM incidents")).one()
    window = (last - timedelta(days=args.days), last)
    print(f"{total:,} incidents; window {window[0]:%Y-%m-%d} .. {window[1]:%Y-%m-%d}")

    for label, where, params in (
            ("window's rows (now)", "occurred_at >= :start AND occurred_at <= :end",
             {"start": window[0], "end": window[1]}),
            ("whole history (before)", "true", {})):
        runs = [_copy_seconds(engine, where, params) for _ in range(args.repeat)]
        print(f"COPY {label}: {runs[0][0]:,} rows, median "
              f"{statistics.median(s for _, s in runs):.2f} s "
              f"({', '.join(f'{s:.2f}' for _, s in runs)})")

    for name, bbox in (("country", COUNTRY), ("40-200 km", REGIONAL)):
        for layer in ("incidents", "density"):
            request = MapRequest(layers=(layer,), bbox=bbox, width=1024, height=768,
                                 transparent=True, time=window)
            overlays._POINTS.clear()
            overlays._density_setup.cache_clear()
            first = _raster_seconds(request, args.database_url)
            warm = [_raster_seconds(request, args.database_url)
                    for _ in range(args.repeat)]
            print(f"GetMap {name} {layer}: first {first * 1000:,.0f} ms, then median "
                  f"{statistics.median(warm) * 1000:,.0f} ms")


if __name__ == "__main__":
    main()
