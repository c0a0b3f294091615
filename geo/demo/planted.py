"""The hot-spots planted in the synthetic demo (persistent, new, intensifying,
diminishing): where, how large, when active and how many incidents each draws; the
truth the hot-spot evaluation recovers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from shapely.geometry import Point

from geo import vocabulary
from geo.clock import add_months
from geo.demo.geography import (
    DEFAULT_METRIC_EPSG,
    SEA,
    GeorgiaBorders,
    to_lonlat,
    to_metric,
)
from geo.demo.period import demo_period

# --------------------------------------------------------------------------- hot-spots

HOTSPOT_KINDS = ("persistent", "new", "intensifying", "diminishing")


@dataclass(frozen=True)
class HotspotSpec:
    """Design of one planted hot-spot.

    The centre is ``inward_m`` metres inside Georgia from the point at ``fraction`` of the
    way along border line ``border`` (``"RU"``, ..., ``"SEA"``; lines run west to east,
    the coast north to south). ``share`` is the expected share of all demo incidents.
    """

    code: str
    kind: str
    category: str
    border: str
    fraction: float
    inward_m: float
    radius_m: float
    share: float


# Placed where the Georgian authorities are present (not in Abkhazia or the Tskhinvali
# region), at least 30 km apart. Centres lie 2 km inside the line: crossings and
# smuggling between crossing points are met by border surveillance near the line, and a
# section's risk counts the incidents within 5 km of it (geo/risk/risk.yaml corridor_m), so a
# hot-spot centred 4-5 km inland would put half its incidents out of every section's
# sight. Persistent and intensifying spots carry 4 % of the incidents each: at 20,000
# incidents about 22 a month (intensifying ones more at the end), as many as the
# background of the busiest crossing point (Sarpi, about 22), so that a planted spot
# stands out of the background of a single month rather than hiding in its noise.
HOTSPOT_SPECS: tuple[HotspotSpec, ...] = (
    HotspotSpec("HS-PERS-01", "persistent", "smuggling_tobacco", "AZ", 0.10, 2_000, 5_000, 0.04),
    HotspotSpec(
        "HS-PERS-02", "persistent", "illegal_crossing_between_bcp", "TR", 0.35, 2_000, 6_000, 0.04
    ),
    HotspotSpec(
        "HS-PERS-03", "persistent", "smuggling_other_goods", "AM", 0.65, 2_000, 4_000, 0.04
    ),
    HotspotSpec("HS-NEW-01", "new", "illegal_crossing_between_bcp", "RU", 0.90, 2_000, 6_000, 0.01),
    HotspotSpec("HS-NEW-02", "new", "smuggling_drugs", SEA, 0.80, 2_000, 4_000, 0.01),
    HotspotSpec("HS-INT-01", "intensifying", "facilitator", "AZ", 0.75, 2_000, 5_000, 0.04),
    HotspotSpec(
        "HS-INT-02", "intensifying", "illegal_crossing_between_bcp", "AM", 0.10, 2_000, 7_000, 0.04
    ),
    HotspotSpec(
        "HS-DIM-01", "diminishing", "smuggling_other_goods", "TR", 0.75, 2_000, 5_000, 0.03
    ),
    HotspotSpec(
        "HS-DIM-02", "diminishing", "illegal_crossing_between_bcp", "RU", 0.72, 2_000, 8_000, 0.03
    ),
)
# Share of a hot-spot's incidents in its dominant category; the rest follow the
# background mix of a border line.
HOTSPOT_DOMINANCE = 0.8
# Months a 'new' hot-spot is active before ``end`` (calendar months, the current
# partial month counting as one).
NEW_HOTSPOT_MONTHS = 3


@dataclass(frozen=True)
class PlantedHotspot:
    """Ground truth of one planted hot-spot (centre Point in EPSG:4326, times UTC)."""

    code: str
    kind: str
    category: str
    radius_m: float
    active_from: datetime
    active_to: datetime
    geom: Point
    description: str
    share: float
    border: str
    incident_count: int = 0


def planted_hotspots(
    borders: GeorgiaBorders,
    end: datetime | None = None,
    metric_epsg: int = DEFAULT_METRIC_EPSG,
    specs: tuple[HotspotSpec, ...] = HOTSPOT_SPECS,
) -> list[PlantedHotspot]:
    """Centres and active periods of the planted hot-spots (``incident_count`` still 0).

    Persistent, intensifying and diminishing hot-spots are active over the whole window
    of :func:`demo_period`; a new one from the first day of the calendar month
    ``NEW_HOTSPOT_MONTHS`` months back (counting the current partial month).

    Parameters
    ----------
    borders : GeorgiaBorders
    end : datetime, optional
        Time zone aware end of the demo window (UTC); default today 00:00 UTC.
    metric_epsg : int, default 32638
        Metric CRS in which offsets (metres) are applied.
    specs : tuple of HotspotSpec, optional

    Returns
    -------
    list of PlantedHotspot
    """
    start, end = demo_period(end)
    outline = to_metric(borders.outline, metric_epsg)
    hotspots = []
    for spec in specs:
        if spec.kind not in HOTSPOT_KINDS:
            raise ValueError(f"{spec.code}: unknown hot-spot kind {spec.kind!r}")
        centre = _inward_point(
            to_metric(borders.lines[spec.border], metric_epsg),
            outline,
            spec.fraction,
            spec.inward_m,
        )
        active_from = start
        if spec.kind == "new":
            month_start = end.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
            back = NEW_HOTSPOT_MONTHS if month_start == end else NEW_HOTSPOT_MONTHS - 1
            active_from = add_months(month_start, -back)
        label = vocabulary.INCIDENT_CATEGORIES[spec.category].lower()
        hotspots.append(
            PlantedHotspot(
                code=spec.code,
                kind=spec.kind,
                category=spec.category,
                radius_m=float(spec.radius_m),
                active_from=active_from,
                active_to=end,
                geom=to_lonlat(centre, metric_epsg),
                description=(
                    f"SYNTHETIC planted hot-spot (ground truth of the demo data): {spec.kind}, "
                    f"mostly {label}, within {spec.radius_m:.0f} m of this point, active "
                    f"{active_from:%Y-%m-%d} to {end:%Y-%m-%d} UTC."
                ),
                share=spec.share,
                border=spec.border,
            )
        )
    return hotspots


def _inward_point(line, outline, fraction: float, inward_m: float) -> Point:
    """The point ``inward_m`` metres inside ``outline``, normal to ``line`` at ``fraction``."""
    along = fraction * line.length
    before = line.interpolate(max(0.0, along - 250))
    after = line.interpolate(min(line.length, along + 250))
    anchor = line.interpolate(along)
    tangent = np.array([after.x - before.x, after.y - before.y])
    normal = np.array([-tangent[1], tangent[0]]) / np.hypot(*tangent)
    for sign in (1, -1):
        probe = Point(anchor.x + sign * normal[0] * 500, anchor.y + sign * normal[1] * 500)
        if outline.contains(probe):
            centre = Point(
                anchor.x + sign * normal[0] * inward_m, anchor.y + sign * normal[1] * inward_m
            )
            if outline.contains(centre):
                return centre
    raise ValueError(f"no point {inward_m} m inside Georgia at {fraction:.2f} of the line")


