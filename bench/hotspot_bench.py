"""Hot-spot benchmark (issue 4): our Gi* against libpysal + esda on the same cells.

Run: ``.venv/bin/python -m bench.hotspot_bench [--incidents 1000000] [--cells 100000]``

In one run, on a throwaway database with the demo's reference layers and N synthetic
incidents (``geo.demo.synthetic``):

1. the planner API call ``/api/v1/hotspots`` for a grid of about ``--cells`` hexagons
   over the whole country, cold (empty result and grid caches), with the default
   distance band (incremental spatial autocorrelation) and with a given band; then
   with the grid of an earlier request kept (another window over the same area and
   cell size: the result cache still empty);
2. on the identical cells and counts, the weights + Gi* step: ours
   (``geo.hotspots.gridweights``) against ``libpysal.weights.DistanceBand`` + ``esda.G_Local``
   (``permutations=0``), printing both times, the ratio and the largest z difference;
3. the emerging hot-spot API call over 36 monthly steps on the same grid, cold and
   with the grid kept;
4. recovery of the planted hot-spots (precision, recall) and PAI of each method on the
   demo data, training on a year and testing on the next quarter.

Prints a table; docs/benchmarks.md records the numbers.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import text

GEORGIA_BBOX = (40.0, 41.0, 46.8, 43.6)
DEMO_END = datetime(2026, 6, 30, tzinfo=UTC)


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def setup(incidents: int):
    """A migrated throwaway database with the demo at ``incidents`` incidents, and an
    app on it without the web app's ``statement_timeout``, as ``flask demo load`` runs
    (30 s would cancel a statement over a million rows)."""
    import flask_migrate

    from app.auth.tokens import create_token
    from app.auth.users import create_user
    from app.extensions import db
    from geo.demo.loader import load_demo
    from testsupport.apps import make_app
    from testsupport.databases import ThrowawayDatabases, server_url

    databases = ThrowawayDatabases(server_url(), purpose="bench")
    app = make_app(databases.create(), STATEMENT_TIMEOUT_S=0)
    with app.app_context():
        flask_migrate.upgrade()
        _, seconds = timed(load_demo, db.session, app.config["ANALYSIS_SRID"],
                           n_incidents=incidents, end=DEMO_END)
        user = create_user(db.session, "bench", "viewer", "bench-password")
        _, token = create_token(db.session, user, "bench")
        db.session.commit()
        db.session.remove()
    print(f"demo with {incidents:,} incidents loaded in {seconds:.1f} s")
    return databases, app, {"Authorization": f"Bearer {token}"}


def cell_size_for(cells: int) -> float:
    """Hexagon edge (metres) giving about ``cells`` cells over Georgia's bbox."""
    import shapely

    from geo.crs import STORAGE_SRID, reproject
    from geo.hotspots import hexgrid

    box = reproject(shapely.segmentize(shapely.box(*GEORGIA_BBOX), 0.01), STORAGE_SRID, 32638)
    return float(np.sqrt(box.area / (cells * 3 * hexgrid.H)))


def api_call(app, headers, url: str, keep_grid: bool = False):
    """One API call with an empty result cache; ``keep_grid`` keeps the grids built
    by earlier calls (``geo.hotspots.inputs.GRIDS``), otherwise the call is fully cold."""
    from geo.hotspots.cache import CACHE
    from geo.hotspots.inputs import GRIDS

    CACHE.clear()  # cold: no cached result
    if not keep_grid:
        GRIDS.clear()
    client = app.test_client()
    cpu = time.process_time()
    response, seconds = timed(client.get, url, headers=headers)
    cpu = time.process_time() - cpu
    if response.status_code != 200:
        raise SystemExit(f"{url}: {response.status_code} {response.get_json()}")
    return response.get_json(), (seconds, cpu)


def peer_comparison(body: dict, size: float):
    """Our weights + Gi* against libpysal DistanceBand + esda G_Local on the same cells."""
    import esda
    import libpysal

    from geo.hotspots import hexgrid
    from geo.hotspots.gridweights import HexNeighbourhood

    band = body["metadata"]["distance_band_m"]
    props = [f["properties"] for f in body["features"]]
    ij = np.array([[int(v) for v in p["cell"].split(",")] for p in props])
    counts = np.array([p["count"] for p in props], dtype=float)
    i, j = ij[:, 0], ij[:, 1]

    def ours():
        return HexNeighbourhood(i, j, size).gi_star(counts, band)

    def peer():
        cx, cy = hexgrid.hex_centres(i, j, size)
        # a hair over the band: DistanceBand's tree decides exact ties by rounding
        w = libpysal.weights.DistanceBand(np.column_stack([cx, cy]), band * (1 + 1e-9),
                                          binary=True, silence_warnings=True)
        return esda.G_Local(counts, w, transform="B", star=True, permutations=0).Zs

    z_ours, t_ours = timed(ours)
    z_peer, t_peer = timed(peer)
    return t_ours, t_peer, float(np.nanmax(np.abs(z_ours - z_peer)))


def recovery_table(app, headers, size: float):
    """Precision/recall of planted hot-spots and PAI per method, train a year, test a
    quarter."""
    from app.extensions import db
    from geo.crs import transform_xy
    from geo.hotspots import evaluation, hexgrid

    with app.app_context():
        planted = db.session.execute(text(
            "SELECT code, radius_m, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM synthetic_hotspots"
            " WHERE active_from <= '2026-03-31' ORDER BY code")).all()
    px, py = transform_xy([p.lon for p in planted], [p.lat for p in planted], 4326, 32638)
    bbox = ",".join(map(str, GEORGIA_BBOX))
    train = "2025-03-01T00:00:00Z/2026-02-28T23:59:59Z"
    test = "2026-03-01T00:00:00Z/2026-05-31T23:59:59Z"
    rows = []
    for method in ("gistar", "kde", "count"):
        body, _ = api_call(app, headers, f"/api/v1/hotspots/evaluate?bbox={bbox}&train={train}"
                           f"&test={test}&area_share=0.02&method={method}&cell_size={size}")
        ij = np.array([[int(v) for v in f["properties"]["cell"].split(",")]
                       for f in body["features"]])
        cx, cy = hexgrid.hex_centres(ij[:, 0], ij[:, 1], size)
        result = evaluation.recovery(np.column_stack([cx, cy]), np.column_stack([px, py]),
                                     [p.radius_m for p in planted])
        meta = body["metadata"]
        rows.append((method, result.precision, result.recall, meta["hit_rate"], meta["pai"],
                     meta["pei"]))
    return rows, len(planted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--cells", type=int, default=100_000)
    args = parser.parse_args()

    databases, app, headers = setup(args.incidents)
    try:
        size = cell_size_for(args.cells)
        bbox = ",".join(map(str, GEORGIA_BBOX))
        window = "2025-07-01T00:00:00Z/2026-06-29T23:59:59Z"
        base = f"/api/v1/hotspots?bbox={bbox}&datetime={window}&cell_size={size:.3f}"
        with app.app_context():
            body, t_default = api_call(app, headers, base)
            meta = body["metadata"]
            given = base + f"&distance_band={meta['distance_band_m']:.3f}"
            _, t_given = api_call(app, headers, given)
            # the grid of the call before kept; another window, so no cached result
            _, t_grid_kept = api_call(app, headers, given.replace("2025-07-01", "2025-08-01"),
                                      keep_grid=True)
            t_ours, t_peer, dz = peer_comparison(body, meta["cell_size_m"])
            emerging_url = (f"/api/v1/hotspots/emerging?bbox={bbox}&cell_size={size:.3f}"
                            "&datetime=2023-07-01T00:00:00Z/2026-06-29T23:59:59Z"
                            f"&distance_band={meta['distance_band_m']:.3f}")
            emerging, t_emerging = api_call(app, headers, emerging_url)
            _, t_emerging_kept = api_call(app, headers, emerging_url, keep_grid=True)
            recovery, n_planted = recovery_table(app, headers, 2000.0)
        # Printed before the throwaway database is dropped (dropping may wait for the
        # server's autovacuum of the freshly loaded table).
        report(meta, t_default, t_given, t_grid_kept, t_ours, t_peer, dz, t_emerging,
               t_emerging_kept, emerging, recovery, n_planted)
    except BaseException:
        import traceback

        traceback.print_exc()
        raise
    finally:
        databases.drop_all()


def report(meta, t_default, t_given, t_grid_kept, t_ours, t_peer, dz, t_emerging,
           t_emerging_kept, emerging, recovery, n_planted) -> None:
    """Print the benchmark's table (seconds) and the recovery table."""
    print(f"\ngrid: {meta['cells']:,} cells of {meta['cell_size_m']:.0f} m, "
          f"{meta['incidents']:,} incidents in the window, band {meta['distance_band_m']:.0f} m "
          f"({meta['distance_band_source']})")
    print("(API calls: wall seconds, and CPU seconds of this process, i.e. without the "
          "database server's)")
    print(f"{'step':<58}{'seconds':>10}{'CPU s':>8}")
    print(f"{'API /hotspots, cold, default band (ISA)':<58}{t_default[0]:>10.2f}"
          f"{t_default[1]:>8.2f}")
    print(f"{'API /hotspots, cold, band given':<58}{t_given[0]:>10.2f}{t_given[1]:>8.2f}")
    print(f"{'API /hotspots, band given, grid kept, another window':<58}"
          f"{t_grid_kept[0]:>10.2f}{t_grid_kept[1]:>8.2f}")
    print(f"{'weights + Gi*: ours (geo.hotspots.gridweights)':<58}{t_ours:>10.3f}")
    print(f"{'weights + Gi*: libpysal DistanceBand + esda G_Local':<58}{t_peer:>10.3f}")
    print(f"{'ratio ours / peer (goal <= 0.10)':<58}{t_ours / t_peer:>10.4f}")
    print(f"{'largest |z ours - z esda|':<58}{dz:>10.1e}")
    print(f"{'API /hotspots/emerging, 36 monthly steps, cold':<58}{t_emerging[0]:>10.2f}"
          f"{t_emerging[1]:>8.2f}  ({emerging['metadata']['cells']:,} cells)")
    print(f"{'API /hotspots/emerging, grid kept from an earlier call':<58}"
          f"{t_emerging_kept[0]:>10.2f}{t_emerging_kept[1]:>8.2f}")
    print(f"\nplanted hot-spots active in training and test: {n_planted}; top 2 % of "
          "2 km cells, train 2025-03..2026-02, test 2026-03..05")
    print(f"{'method':<10}{'precision':>10}{'recall':>8}{'hit rate':>10}{'PAI':>8}{'PEI':>7}")
    for method, precision, recall, hit, pai, pei in recovery:
        print(f"{method:<10}{precision:>10.2f}{recall:>8.2f}{hit:>10.3f}{pai:>8.2f}{pei:>7.2f}")


if __name__ == "__main__":
    main()
