"""What the GIS services pay for showing the workspace's section levels (issue 20).

Run: ``.venv/bin/python -m bench.gis_levels_bench [--incidents 50000] [--repeat 20]``

On a throwaway database with the demo (``bench.scope_bench.setup``: synthetic incidents),
in process (Flask test client), an unrestricted viewer:

1. with no stored assessment (every section's level is live, ``geo.risk.levels``): the
   first WMS GetMap of ``border_segments`` over Georgia (768x512, style ``risk_level``:
   the live levels of every region computed, then cached), the median of the next ones
   (cached), and the median of style ``plain`` (no levels at all: the drawing alone); the
   same for the OGC API ``risk`` items (200 a page); the live computation alone, cold;
2. after one stored assessment per region (``geo.demo.assessments``): the same maps
   and items, which then compute nothing live;
3. GetCapabilities, first (the density layer's extent: ``geo.maps.overlays.
   density_extent``) and then cached.

Prints a table; docs/benchmarks.md records the numbers.
"""

from __future__ import annotations

import argparse
import statistics
import time
from urllib.parse import urlencode

from bench.scope_bench import setup, teardown

GEORGIA = (39.9, 41.0, 46.8, 43.6)


def wms_url(style: str) -> str:
    return "/ogc/wms?" + urlencode({
        "SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap",
        "LAYERS": "border_segments", "STYLES": style, "CRS": "CRS:84",
        "BBOX": ",".join(map(str, GEORGIA)), "WIDTH": 768, "HEIGHT": 512,
        "FORMAT": "image/png"})


RISK_ITEMS = "/ogc/features/collections/risk/items?limit=200&f=json"
CAPABILITIES = "/ogc/wms?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0"


def once_ms(client, url: str, headers: dict) -> float:
    start = time.perf_counter()
    response = client.get(url, headers=headers)
    elapsed = (time.perf_counter() - start) * 1000
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return elapsed


def median_ms(client, url: str, headers: dict, repeat: int) -> float:
    return statistics.median(once_ms(client, url, headers) for _ in range(repeat))


def forget_live_levels() -> None:
    from geo.risk import levels

    levels._LIVE.clear()


def forget_metadata() -> None:
    from app.ogc import wms

    wms._METADATA.clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    databases, app, headers, _ = setup(args.incidents)
    viewer = headers["unrestricted"]
    client = app.test_client()
    rows = []
    try:
        from app.extensions import db
        from geo import clock
        from geo.risk import levels

        with app.app_context():
            config, srid = app.config["RISK_MODEL"], app.config["ANALYSIS_SRID"]
            forget_live_levels()
            start = time.perf_counter()
            live = levels.live_levels(db.session, config, srid, clock.utc_now())
            rows.append(("live levels alone, cold (all regions)",
                         (time.perf_counter() - start) * 1000, len(live)))
            db.session.remove()
        for label in ("no stored assessment (live)", "one stored assessment per region"):
            if label.startswith("one"):
                from app.auth.users import create_user
                from geo.demo.assessments import store_demo_assessments

                with app.app_context():
                    user = create_user(db.session, "bench-assessor", "analyst",
                                       "bench-password")
                    db.session.flush()
                    stored = store_demo_assessments(db.session, config, srid,
                                                    clock.utc_now(), user.id)
                    db.session.commit()
                    db.session.remove()
                label += f" ({len(stored)})"
            forget_live_levels()
            rows.append((f"{label}: WMS risk_level, first", once_ms(
                client, wms_url(""), viewer), None))
            rows.append((f"{label}: WMS risk_level, median", median_ms(
                client, wms_url(""), viewer, args.repeat), None))
            rows.append((f"{label}: WMS plain, median", median_ms(
                client, wms_url("plain"), viewer, args.repeat), None))
            forget_live_levels()
            rows.append((f"{label}: risk items, first", once_ms(
                client, RISK_ITEMS, viewer), None))
            rows.append((f"{label}: risk items, median", median_ms(
                client, RISK_ITEMS, viewer, args.repeat), None))
        forget_metadata()
        rows.append(("GetCapabilities, first (density extent)", once_ms(
            client, CAPABILITIES, viewer), None))
        rows.append(("GetCapabilities, median (cached)", median_ms(
            client, CAPABILITIES, viewer, args.repeat), None))
        print(f"demo: {args.incidents:,} synthetic incidents; {args.repeat} repeats")
        print(f"{'request':62} {'ms':>9}")
        for name, ms, count in rows:
            extra = "" if count is None else f"  ({count} sections)"
            print(f"{name:62} {ms:9.1f}{extra}")
    finally:
        teardown(app, databases)


if __name__ == "__main__":
    main()
