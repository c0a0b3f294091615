"""Three SYNTHETIC border sections in two SYNTHETIC regions, and incidents placed at
known distances from them, for the tests of the section space-time cube
(``geo.hotspots.sections``).

Laid out in metres of the analysis CRS (EPSG:32638) from an origin at 43.1°E 42.2°N,
every section a straight 10 km line along x:

- S1 (region T-SA) from x = 0 to 10 km; S2 (T-SA) from 12 to 22 km, 2 km after S1's
  end; S3 (T-SB) from 40 to 50 km, 18 km from S2: at a band of 5 km, S1 and S2 are
  neighbours and S3 has none but itself.
- Incidents in January to April 2025 (the 15th at noon, UTC), so that the counts per
  monthly step are :data:`EXPECTED_COUNTS`; one at (11.5 km, 0.1 km) lies 510 m from
  S2 and 1.5 km from S1 and counts for S2; one 6 km from S1 (beyond the 5 km corridor)
  and one in December 2024 (before the window) count for nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from sqlalchemy import text

from geo import queries
from geo.crs import transform_xy

ORIGIN_LONLAT = (43.1, 42.2)
WINDOW = (datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 4, 30, 23, 59, 59, 999999, tzinfo=UTC))
CORRIDOR_M = 5000.0

# code, region, (x from, x to) in metres from the origin, along y = 0
SECTIONS = (("T-S1", "T-SA", (0, 10_000)), ("T-S2", "T-SA", (12_000, 22_000)),
            ("T-S3", "T-SB", (40_000, 50_000)))
# region code: (min lon, min lat, max lon, max lat)
REGIONS = {"T-SA": (42.9, 41.9, 43.5, 42.5), "T-SB": (43.5, 41.9, 44.2, 42.5)}

# (x, y) metres from the origin, month of 2025 (or (year, month)), how many incidents;
# their external ids are SEC-1, SEC-2, ... in this order (S3's two are SEC-17 and SEC-18)
INCIDENTS = (
    ((5_000, 3_000), 1, 1), ((5_000, -4_900), 3, 2), ((3_000, 1_000), 4, 5),  # S1
    ((17_000, 2_000), 2, 1), ((17_000, 2_000), 3, 1), ((11_500, 100), 4, 6),  # S2
    ((45_000, -1_000), 1, 2),  # S3
    ((5_000, 6_000), 3, 1),  # 6 km from S1: beyond the corridor, no section
    ((5_000, 3_000), (2024, 12), 1),  # before the window
)
#: Counts per monthly step (January..April 2025, rows) and section (S1, S2, S3).
EXPECTED_COUNTS = np.array([[1, 0, 2], [0, 1, 0], [2, 1, 0], [5, 6, 0]])
#: Their categories (5 km band): S1 and S2, neighbours, rise together in April to a
#: new hot spot; S3, alone, has no pattern.
EXPECTED_CATEGORIES = ["new hot spot", "new hot spot", "no pattern"]
#: Binary weights at a 5 km band, self included.
EXPECTED_NEIGHBOURS = np.array([[1, 1, 0], [1, 1, 0], [0, 0, 1]])


def _lonlat(srid: int, x, y) -> tuple[np.ndarray, np.ndarray]:
    ox, oy = transform_xy([ORIGIN_LONLAT[0]], [ORIGIN_LONLAT[1]], 4326, srid)
    lon, lat = transform_xy(np.asarray(x, dtype=float) + ox[0],
                            np.asarray(y, dtype=float) + oy[0], srid, 4326)
    return np.asarray(lon), np.asarray(lat)


def load_sections_case(session, srid: int) -> dict[str, dict[str, int]]:
    """Insert the regions, sections and incidents above and link the incidents
    (``geo.queries.link_incidents``); return ids by kind and code."""
    ids: dict[str, dict[str, int]] = {"regions": {}, "sections": {}}
    for code, (x0, y0, x1, y1) in REGIONS.items():
        ids["regions"][code] = session.execute(text(
            "INSERT INTO regions (code, name_en, name_ka, provenance, geom) "
            "VALUES (:code, :code, :code, 'synthetic', "
            "ST_Multi(ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326))) RETURNING id"),
            {"code": code, "x0": x0, "y0": y0, "x1": x1, "y1": y1}).scalar_one()
    for code, region, (start, end) in SECTIONS:
        lon, lat = _lonlat(srid, [start, end], [0, 0])
        ids["sections"][code] = session.execute(text(
            "INSERT INTO border_segments (code, name, kind, neighbour_country, region_id, "
            "surveillance_level, terrain_class, provenance, geom) "
            "VALUES (:code, :name, 'land', 'AZ', :region, 2, 'hills', 'synthetic', "
            "ST_SetSRID(ST_MakeLine(ST_MakePoint(:lon0, :lat0), ST_MakePoint(:lon1, :lat1)), "
            "4326)) RETURNING id"),
            {"code": code, "name": f"Section {code} (synthetic)", "region": ids["regions"][region],
             "lon0": float(lon[0]), "lat0": float(lat[0]), "lon1": float(lon[1]),
             "lat1": float(lat[1])}).scalar_one()
    queries.refresh_segment_lengths(session, srid)
    number = 0
    for (x, y), month, count in INCIDENTS:
        year, month = month if isinstance(month, tuple) else (2025, month)
        lon, lat = _lonlat(srid, [x], [y])
        for _ in range(count):
            number += 1
            session.execute(text(
                "INSERT INTO incidents (source, external_id, occurred_at, category, outcome, "
                "persons_count, source_reliability, information_credibility, status, "
                "provenance, geom) VALUES ('sections-case', :external_id, :at, "
                "'illegal_crossing_between_bcp', 'actual', 2, 'B', 2, 'validated', "
                "'synthetic', ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))"),
                {"external_id": f"SEC-{number}", "at": datetime(year, month, 15, 12, tzinfo=UTC),
                 "lon": float(lon[0]), "lat": float(lat[0])})
    queries.link_incidents(session, srid)
    session.flush()
    return ids
