"""Cost of the region scope in the map and feature services (issue 8).

Run: ``.venv/bin/python -m bench.scope_bench [--incidents 50000] [--repeat 30]``

On a throwaway database with the demo (``geo.demo.synthetic``, synthetic incidents), in one run:

1. what an unrestricted user pays for the scope check: the time of
   ``app.auth.scope.region_scope()`` in a request (the user's regions are loaded with
   the user), and whether PostgreSQL's plan of the WMS incidents query with the scope
   condition unrestricted (``''``) is the plan without the condition (it folds away);
2. the median time of the same requests (Flask test client, in process) for an
   unrestricted viewer and for a viewer restricted to the region with the most
   incidents: WMS GetMap at a points scale and at a country's scale (cells), OGC API
   Features items (100 incidents) and vector tiles (z 12 points, z 7 aggregated).

Prints a table; docs/benchmarks.md records the numbers.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from datetime import UTC, datetime
from urllib.parse import urlencode

from sqlalchemy import text

DEMO_END = datetime(2026, 6, 30, tzinfo=UTC)


def setup(incidents: int):
    """A throwaway database with the demo, an unrestricted and a restricted viewer."""
    import flask_migrate

    from app.auth.tokens import create_token
    from app.auth.users import create_user
    from app.extensions import db
    from geo.demo.loader import load_demo
    from geo.models import Region
    from testsupport.apps import make_app
    from testsupport.databases import ThrowawayDatabases, server_url

    databases = ThrowawayDatabases(server_url(), purpose="bench")
    app = make_app(databases.create(), STATEMENT_TIMEOUT_S=0)  # as `flask demo load`
    with app.app_context():
        flask_migrate.upgrade()
        load_demo(db.session, app.config["ANALYSIS_SRID"], n_incidents=incidents,
                  end=DEMO_END)
        region = db.session.execute(text(
            "SELECT r.id, r.code, ST_X(ST_Centroid(r.geom)), ST_Y(ST_Centroid(r.geom)) "
            "FROM regions r JOIN incidents i ON i.region_id = r.id GROUP BY r.id "
            "ORDER BY count(*) DESC LIMIT 1")).one()
        headers = {}
        for name, regions in (("unrestricted", []), ("restricted", [region.id])):
            user = create_user(db.session, f"bench-{name}", "viewer", "bench-password")
            user.all_regions = not regions  # every region is the flag, not no links
            user.regions = [db.session.get(Region, r) for r in regions]
            _, token = create_token(db.session, user, "bench")
            headers[name] = {"Authorization": f"Bearer {token}"}
        db.session.commit()
        db.session.remove()
    return databases, app, headers, region


def teardown(app, databases) -> None:
    """Close the app's and mapnik's connections, then drop the throwaway database."""
    from app.extensions import db
    from geo.db import map_engine

    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    map_engine.cache_clear()
    databases.drop_all()


def tile_xy(z: int, lon: float, lat: float) -> tuple[int, int]:
    n = 2**z
    return (int((lon + 180) / 360 * n),
            int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n))


def requests_for(lon: float, lat: float) -> dict[str, str]:
    """The timed requests around (lon, lat), by name."""
    wms = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "STYLES": "",
           "CRS": "EPSG:4326", "WIDTH": 256, "HEIGHT": 256, "FORMAT": "image/png",
           "TRANSPARENT": "TRUE", "TIME": "2025-07-01/2026-06-30"}
    near = f"{lat - 0.15},{lon - 0.2},{lat + 0.15},{lon + 0.2}"  # ~35 km: points
    country = "40.0,39.5,44.0,47.0"  # EPSG:4326 lat/lon: incidents as cells
    x12, y12 = tile_xy(12, lon, lat)
    x7, y7 = tile_xy(7, lon, lat)
    return {
        "WMS incidents+sections, points": "/ogc/wms?" + urlencode(
            {**wms, "LAYERS": "border_segments,incidents", "BBOX": near}),
        "WMS incidents, cells (country)": "/ogc/wms?" + urlencode(
            {**wms, "LAYERS": "incidents", "BBOX": country}),
        "OAPIF incidents items, limit 100": "/ogc/features/collections/incidents/items"
                                           "?limit=100",
        "tile incidents z12 (points)": f"/ogc/tiles/incidents/12/{x12}/{y12}.mvt",
        "tile incidents z7 (aggregated)": f"/ogc/tiles/incidents/7/{x7}/{y7}.mvt",
    }


def median_ms(client, url: str, headers: dict, repeat: int) -> float:
    client.get(url, headers=headers)  # warm: mapnik maps, point copy, plans
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(url, headers=headers)
        times.append(time.perf_counter() - start)
        assert response.status_code in (200, 204), (url, response.status_code)
    return statistics.median(times) * 1000


def scope_check_cost(app, headers: dict, repeat: int = 10_000) -> float:
    """Microseconds per region_scope() call for the signed-in user of ``headers``."""
    from app.auth import _require_login
    from app.auth.scope import region_scope

    with app.test_request_context("/ogc/wms", headers=headers):
        _require_login()
        region_scope()
        start = time.perf_counter()
        for _ in range(repeat):
            region_scope()
        return (time.perf_counter() - start) / repeat * 1e6


def plans_equal(app) -> bool:
    """Whether the WMS incidents query with an unrestricted scope ('') has the plan of
    the query without the scope condition."""
    from app.extensions import db
    from geo.layers import INCIDENTS
    from geo.queries import maps as map_sql

    sql = map_sql.map_layer_sql("incidents").replace("!bbox!", "ST_MakeEnvelope(44,41,45,42,4326)")
    values = {"!@start!": "'2025-07-01'", "!@end!": "'2026-07-01'", "!@region!": "'0'",
              "!@categories!": "''", "!@outcomes!": "''"}
    for name, value in values.items():
        sql = sql.replace(name, value)
    with_scope = sql.replace("!@scope!", "''")
    without = with_scope.replace(map_sql.scope_sql(INCIDENTS).replace("!@scope!", "''"),
                                 "true")
    assert without != with_scope
    with app.app_context():
        # q: the app's own statements (feature_filter's), explained.
        plans = [db.session.execute(text(f"EXPLAIN (COSTS OFF) SELECT * FROM {q}"))  # noqa: S608
                 .scalars()
                 .all() for q in (with_scope, without)]
        db.session.remove()
    return plans[0] == plans[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    databases, app, headers, region = setup(args.incidents)
    try:
        print(f"demo: {args.incidents:,} synthetic incidents; restricted viewer: region "
              f"{region.code} (the one with the most incidents)")
        print(f"region_scope(), unrestricted user: "
              f"{scope_check_cost(app, headers['unrestricted']):.2f} µs a call; restricted: "
              f"{scope_check_cost(app, headers['restricted']):.2f} µs")
        print(f"WMS incidents plan with an unrestricted scope == plan without the "
              f"condition: {plans_equal(app)}")
        client = app.test_client()
        print(f"{'request':36} {'unrestricted ms':>16} {'restricted ms':>14} {'ratio':>6}")
        for name, url in requests_for(region[2], region[3]).items():
            free = median_ms(client, url, headers["unrestricted"], args.repeat)
            scoped = median_ms(client, url, headers["restricted"], args.repeat)
            print(f"{name:36} {free:16.1f} {scoped:14.1f} {scoped / free:6.2f}")
    finally:
        teardown(app, databases)


if __name__ == "__main__":
    main()
