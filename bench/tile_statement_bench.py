"""The z14 tile's statement through SQLAlchemy's ``text()`` against
``geo.queries.tiles.fetch_tile_row`` (the statement compiled once per text and handed
to the driver), paired and alternating in one process (issue 21, docs/benchmarks.md).

Run: ``.venv/bin/python -m bench.tile_statement_bench --database URL`` with a database
kept by ``bench.ogc_bench --keep-database`` (a user and token are added to it, as
``bench.ogc_bench --database`` does). The two answers are compared byte for byte.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sqlalchemy import text

from bench.ogc_bench import reuse, tile_of
from geo import queries
from geo.layers import TILE_LAYERS
from geo.queries.tiles import fetch_tile_row, versioned_tile_sql
from geo.vocabulary import LEGACY_AGENCY


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--tiles", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--zoom", type=int, default=14)
    args = parser.parse_args()
    _, app, _ = reuse(args.database)
    from app.extensions import db

    layer = TILE_LAYERS["incidents"]
    with app.app_context():
        anchors = db.session.execute(text(
            "SELECT ST_X(geom), ST_Y(geom) FROM incidents ORDER BY random() LIMIT :n"),
            {"n": args.tiles}).all()
        tiles = [tile_of(lon, lat, args.zoom) for lon, lat in anchors]
        through_text, through_driver = [], []
        for _ in range(args.repeat):
            for x, y in tiles:
                query = queries.FeatureQuery(limit=None, viewer_agency=LEGACY_AGENCY)
                start = time.perf_counter()
                statement, params = versioned_tile_sql(layer, args.zoom, x, y, query)
                a = db.session.execute(text(statement), params).one()
                through_text.append(time.perf_counter() - start)
                start = time.perf_counter()
                statement, params = versioned_tile_sql(layer, args.zoom, x, y, query)
                b = fetch_tile_row(db.session, statement, params)
                through_driver.append(time.perf_counter() - start)
                if a[0] != b[0] or bytes(a[1] or b"") != bytes(b[1] or b""):
                    raise SystemExit(f"tile {args.zoom}/{x}/{y}: other answers")
        db.session.remove()
    t, d = np.median(through_text) * 1000, np.median(through_driver) * 1000
    print(f"z{args.zoom}, {len(through_text)} tiles: text() {t:.2f} ms, "
          f"fetch_tile_row {d:.2f} ms ({t - d:.2f} ms less, ratio {d / t:.2f}x)")


if __name__ == "__main__":
    main()
