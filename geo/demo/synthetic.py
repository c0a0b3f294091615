"""Demo data of BorderRisk: Georgia's borders with synthetic incidents and planted hot-spots.

Everything this module generates is synthetic or approximate, and says so in its
``provenance`` column:

- border sections: Natural Earth 1:10m geometry (public domain, read from the npm package
  ``world-atlas``, ``countries-10m.json``), ``"generalised"``; their terrain class and
  surveillance level are synthetic rules of thumb (see ``geo.demo.geography``);
- regions and crossing points: ``"approximate"`` (Voronoi regions from approximate town
  positions; crossing points at approximate locations, names say so);
- incidents: ``"synthetic"``, source ``"demo-synthetic"``, descriptions starting with
  ``"SYNTHETIC demo record"``. None of them is a real event. Each has an originating
  agency of the ministry's four, a reporting unit and a releasability
  (``geo.demo.agencies``): a few are released to one agency only or to named agencies.

The incidents are background events along the land border and the coast (summer peak)
plus *planted hot-spots* of known kinds (persistent, new, intensifying, diminishing) whose
ground truth goes to ``synthetic_hotspots``, so that the analytics can be tested against
it. Builders are pure and deterministic for a seed; :func:`load_demo` and
:func:`reset_demo` write them to the database without committing.

Times are UTC. Geometries are EPSG:4326; metric work (metres) is done in the analysis CRS
given as an EPSG code (default 32638, UTM zone 38N).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import shapely

from geo import vocabulary
from geo.demo.agencies import agency_columns
from geo.demo.geography import (
    DEFAULT_METRIC_EPSG,
    SEA,
    DemoCrossing,
    DemoRegion,
    DemoSection,
    GeorgiaBorders,
    approximate_regions,
    border_sections,
    crossing_points,
    georgia_borders,
    to_metric,
    xy_to_lonlat,
)
from geo.demo.period import demo_period
from geo.demo.planted import HOTSPOT_DOMINANCE, PlantedHotspot, planted_hotspots

DEMO_SOURCE = "demo-synthetic"
DESCRIPTION_PREFIX = "SYNTHETIC demo record"
DEFAULT_SEED = 20240301
DEFAULT_N_INCIDENTS = 50_000


# --------------------------------------------------------------------------- incidents

# Background category mixes: along a border line, and at a crossing point.
LINE_CATEGORY_MIX = {
    "illegal_crossing_between_bcp": 0.34,
    "facilitator": 0.06,
    "smuggling_drugs": 0.05,
    "smuggling_tobacco": 0.12,
    "smuggling_weapons": 0.02,
    "smuggling_other_goods": 0.13,
    "illegal_stay": 0.07,
    "trafficking_human_beings": 0.02,
    "stolen_vehicle": 0.02,
    "other": 0.17,
}
BCP_CATEGORY_MIX = {
    "illegal_crossing_at_bcp": 0.14,
    "refusal_of_entry": 0.30,
    "fraudulent_document": 0.14,
    "asylum_application": 0.06,
    "smuggling_tobacco": 0.08,
    "smuggling_drugs": 0.04,
    "smuggling_other_goods": 0.07,
    "stolen_vehicle": 0.06,
    "trafficking_human_beings": 0.02,
    "illegal_stay": 0.05,
    "facilitator": 0.01,
    "other": 0.03,
}
# Share of the background at crossing points, and each crossing point's relative weight.
BCP_SHARE = 0.4
CROSSING_WEIGHTS = {
    "BCP-SARPI": 3.0,
    "BCP-VALE": 1.0,
    "BCP-KARTSAKHI": 0.6,
    "BCP-NINOTSMINDA": 0.7,
    "BCP-GUGUTI": 0.4,
    "BCP-SADAKHLO": 2.0,
    "BCP-SADAKHLO-RAIL": 0.5,
    "BCP-TSITELI-KHIDI": 2.5,
    "BCP-TSODNA": 0.3,
    "BCP-LAGODEKHI": 1.0,
    "BCP-KAZBEGI": 2.5,
    "BCP-BATUMI-PORT": 1.0,
    "BCP-POTI-PORT": 1.0,
    "BCP-TBILISI-AIRPORT": 3.0,
    "BCP-KUTAISI-AIRPORT": 1.2,
    "BCP-BATUMI-AIRPORT": 0.8,
}
# Seasonal amplitude (relative, peak in mid-July): mountain passes close in winter.
SEASONAL_AMPLITUDE = {"RU": 0.7, "AZ": 0.35, "TR": 0.35, "AM": 0.35, SEA: 0.45, "BCP": 0.2}
PEAK_DAY_OF_YEAR = 196
# Background offset from the border line: 50 m + exponential (mean 1.5 km), at most 15 km;
# around a crossing point: 2-D normal with sigma 500 m (airports 1 km).
LINE_OFFSET_MEAN_M = 1_500.0
LINE_OFFSET_MAX_M = 15_000.0
BCP_SIGMA_M = 500.0
AIRPORT_SIGMA_M = 1_000.0

PEOPLE_CATEGORIES = frozenset(
    {
        "illegal_crossing_between_bcp",
        "illegal_crossing_at_bcp",
        "refusal_of_entry",
        "illegal_stay",
        "asylum_application",
        "facilitator",
        "fraudulent_document",
        "trafficking_human_beings",
    }
)
ATTEMPT_RATES = {
    "illegal_crossing_between_bcp": 0.35,
    "illegal_crossing_at_bcp": 0.35,
    "refusal_of_entry": 0.0,
    "fraudulent_document": 0.2,
    "smuggling_drugs": 0.25,
    "smuggling_tobacco": 0.25,
    "smuggling_weapons": 0.25,
    "smuggling_other_goods": 0.25,
}
THIRD_COUNTRIES = ("IR", "IN", "IQ", "SY", "BD", "PK", "EG", "UA", "BY", "TJ", "UZ", "CN", "NG")


@dataclass(frozen=True)
class SyntheticIncidents:
    """Synthetic incidents as column arrays (one element per incident).

    ``lon``/``lat`` are degrees (EPSG:4326), ``occurred_at`` is ``datetime64[s]`` in UTC,
    string columns are object arrays (``None`` where the column is NULL), and
    ``hotspot_code`` names the planted hot-spot an incident belongs to (``None`` for the
    background). Rows are sorted by time; ``external_id`` is ``SYN-0000001`` onwards.
    ``agency``, ``reporting_unit`` (a region code), ``releasability`` (``"all"``,
    ``"agency"`` or a list of agency codes, as ``geo.releasability``) and the boolean
    ``aggregate`` are drawn by ``geo.demo.agencies``.
    """

    lon: np.ndarray
    lat: np.ndarray
    occurred_at: np.ndarray
    category: np.ndarray
    outcome: np.ndarray
    direction: np.ndarray
    detection_method: np.ndarray
    persons_count: np.ndarray
    nationality: np.ndarray
    transport_means: np.ndarray
    source_reliability: np.ndarray
    information_credibility: np.ndarray
    status: np.ndarray
    description: np.ndarray
    external_id: np.ndarray
    hotspot_code: np.ndarray
    agency: np.ndarray
    reporting_unit: np.ndarray
    releasability: np.ndarray
    aggregate: np.ndarray

    def __len__(self) -> int:
        return len(self.lon)


def synthetic_incidents(
    borders: GeorgiaBorders,
    sections: list[DemoSection],
    crossings: list[DemoCrossing],
    hotspots: list[PlantedHotspot],
    regions: list[DemoRegion],
    *,
    seed: int = DEFAULT_SEED,
    n_incidents: int = DEFAULT_N_INCIDENTS,
    end: datetime | None = None,
    metric_epsg: int = DEFAULT_METRIC_EPSG,
) -> SyntheticIncidents:
    """Generate ``n_incidents`` synthetic incidents over the window of :func:`demo_period`.

    The planted hot-spots together get about 28 % of the incidents (multinomial on their
    ``share``), each spread as a 2-D normal (sigma = radius / 2) cut at ``radius_m``, with
    the temporal shape of its kind: constant (persistent), only from ``active_from``
    (new), rising linearly 0.1 to 1.9 (intensifying) or the reverse (diminishing). The
    rest is background: 40 % around crossing points, 60 % along the border sections
    (weighted by length x synthetic activity) at a small offset, with a summer peak.
    Every point lies inside Georgia's outline. The originating agency, reporting unit
    (one of ``regions``), releasability and aggregate flag of each incident come from
    :func:`geo.demo.agencies.agency_columns`.

    Parameters
    ----------
    borders : GeorgiaBorders
    sections : list of DemoSection
    crossings : list of DemoCrossing
    hotspots : list of PlantedHotspot
    regions : list of DemoRegion
        The regional units that report the incidents.
    seed : int
        Seed of the ``numpy.random.Generator``; equal seeds give equal output.
    n_incidents : int, default 50000
    end : datetime, optional
        Time zone aware end of the window (UTC); default today 00:00 UTC.
    metric_epsg : int, default 32638
        Metric CRS in which offsets (metres) are drawn.

    Returns
    -------
    SyntheticIncidents
    """
    if not isinstance(n_incidents, int | np.integer) or n_incidents < 1:
        raise ValueError(f"n_incidents must be a positive integer, got {n_incidents!r}")
    start, end = demo_period(end)
    rng = np.random.default_rng(seed)
    outline = borders.outline
    shapely.prepare(outline)

    shares = [h.share for h in hotspots]
    counts = rng.multinomial(n_incidents, [*shares, 1.0 - sum(shares)])
    n_background = int(counts[-1])
    n_bcp = int(rng.binomial(n_background, BCP_SHARE))
    n_line = n_background - n_bcp

    parts = [
        _line_background(rng, n_line, sections, outline, start, end, metric_epsg),
        _bcp_background(rng, n_bcp, crossings, outline, start, end, metric_epsg),
    ]
    parts += [
        _hotspot_incidents(rng, int(count), hotspot, outline, start, end, metric_epsg)
        for hotspot, count in zip(hotspots, counts[:-1], strict=True)
    ]
    columns = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
    order = np.argsort(columns["occurred_at"], kind="stable")
    columns = {key: values[order] for key, values in columns.items()}
    attributes = _fill_attributes(rng, columns, end)
    attributes.update(agency_columns(seed, attributes["category"],
                                     attributes["detection_method"], attributes["lon"],
                                     attributes["lat"], regions))
    return SyntheticIncidents(**attributes)


def _season_weights(start: datetime, n_days: int, amplitude: float) -> np.ndarray:
    days = np.datetime64(start.replace(tzinfo=None), "D") + np.arange(n_days)
    day_of_year = (days - days.astype("datetime64[Y]")).astype(int) + 1
    return 1.0 + amplitude * np.cos(2 * np.pi * (day_of_year - PEAK_DAY_OF_YEAR) / 365.25)


def _sample_times(rng, n: int, start: datetime, end: datetime, day_weights) -> np.ndarray:
    """``n`` times (datetime64[s], UTC) in ``[start, end)`` with the given daily weights."""
    total_s = int((end - start).total_seconds())
    days = rng.choice(len(day_weights), size=n, p=day_weights / day_weights.sum())
    day_s = np.minimum(86_400, total_s - days * 86_400)
    offsets = days * 86_400 + np.floor(rng.random(n) * day_s).astype(np.int64)
    return np.datetime64(start.replace(tzinfo=None), "s") + offsets.astype("timedelta64[s]")


def _n_days(start: datetime, end: datetime) -> int:
    return int(np.ceil((end - start).total_seconds() / 86_400))


def _place_inside(rng, anchors_x, anchors_y, scatter, outline, metric_epsg: int):
    """Scatter points around anchors (metres) until every one lies inside ``outline``.

    ``scatter(rng, rows)`` returns offsets ``(dx, dy)`` in metres for the anchors at
    ``rows`` (indices still to place), NaN to reject a draw. Returns lon, lat (degrees).
    """
    n = len(anchors_x)
    lon, lat = np.full(n, np.nan), np.full(n, np.nan)
    todo = np.arange(n)
    for _ in range(500):
        if not len(todo):
            return lon, lat
        dx, dy = scatter(rng, todo)
        x_lon, y_lat = xy_to_lonlat(anchors_x[todo] + dx, anchors_y[todo] + dy, metric_epsg)
        ok = np.isfinite(x_lon) & np.isfinite(y_lat)
        ok[ok] = shapely.contains_xy(outline, x_lon[ok], y_lat[ok])
        lon[todo[ok]], lat[todo[ok]] = x_lon[ok], y_lat[ok]
        todo = todo[~ok]
    raise RuntimeError(f"could not place {len(todo)} synthetic incidents inside Georgia")


def _normal_scatter(sigma, radius=None):
    """2-D normal offsets with per-row ``sigma`` (metres), cut at ``radius`` metres."""

    def scatter(rng, rows):
        dx, dy = rng.normal(0, sigma[rows]), rng.normal(0, sigma[rows])
        if radius is not None:
            outside = np.hypot(dx, dy) > radius
            dx[outside] = np.nan
        return dx, dy

    return scatter


def _line_background(rng, n, sections, outline, start, end, metric_epsg):
    metric = np.array([to_metric(s.geom, metric_epsg) for s in sections], dtype=object)
    weights = np.array([s.length_m * s.activity for s in sections])
    chosen = rng.choice(len(sections), size=n, p=weights / weights.sum())
    lengths = shapely.length(metric)
    anchors = shapely.line_interpolate_point(metric[chosen], rng.random(n) * lengths[chosen])

    def scatter(rng, rows):
        k = len(rows)
        distance = np.minimum(50 + rng.exponential(LINE_OFFSET_MEAN_M, k), LINE_OFFSET_MAX_M)
        angle = rng.random(k) * 2 * np.pi
        return distance * np.cos(angle), distance * np.sin(angle)

    lon, lat = _place_inside(
        rng, shapely.get_x(anchors), shapely.get_y(anchors), scatter, outline, metric_epsg
    )
    keys = np.array([s.neighbour_country or SEA for s in sections], dtype=object)[chosen]
    occurred_at = np.empty(n, dtype="datetime64[s]")
    n_days = _n_days(start, end)
    for key in np.unique(keys):
        rows = keys == key
        weights_by_day = _season_weights(start, n_days, SEASONAL_AMPLITUDE[key])
        occurred_at[rows] = _sample_times(rng, int(rows.sum()), start, end, weights_by_day)
    section_codes = np.array([s.code for s in sections], dtype=object)[chosen]
    return {
        "lon": lon,
        "lat": lat,
        "occurred_at": occurred_at,
        "category": _draw(rng, LINE_CATEGORY_MIX, n),
        "group": np.full(n, "line", dtype=object),
        "place_kind": np.where(keys == SEA, "coast", "land").astype(object),
        "neighbour": np.where(keys == SEA, None, keys).astype(object),
        "where": np.array(
            [f"background near border section {c}" for c in section_codes], dtype=object
        ),
        "hotspot_code": np.full(n, None, dtype=object),
    }


def _bcp_background(rng, n, crossings, outline, start, end, metric_epsg):
    weights = np.array([CROSSING_WEIGHTS.get(c.code, 1.0) for c in crossings])
    chosen = rng.choice(len(crossings), size=n, p=weights / weights.sum())
    points = np.array([to_metric(c.geom, metric_epsg) for c in crossings], dtype=object)
    sigmas = [AIRPORT_SIGMA_M if c.kind == "airport" else BCP_SIGMA_M for c in crossings]
    sigma = np.array(sigmas)[chosen]
    lon, lat = _place_inside(
        rng,
        shapely.get_x(points[chosen]),
        shapely.get_y(points[chosen]),
        _normal_scatter(sigma),
        outline,
        metric_epsg,
    )
    n_days = _n_days(start, end)
    occurred_at = _sample_times(
        rng, n, start, end, _season_weights(start, n_days, SEASONAL_AMPLITUDE["BCP"])
    )
    kinds = np.array([c.kind for c in crossings], dtype=object)[chosen]
    neighbours = np.array([c.neighbour_country for c in crossings], dtype=object)[chosen]
    names = np.array([c.code for c in crossings], dtype=object)[chosen]
    return {
        "lon": lon,
        "lat": lat,
        "occurred_at": occurred_at,
        "category": _draw(rng, BCP_CATEGORY_MIX, n),
        "group": np.full(n, "bcp", dtype=object),
        "place_kind": kinds,
        "neighbour": neighbours,
        "where": np.array([f"background at crossing point {c}" for c in names], dtype=object),
        "hotspot_code": np.full(n, None, dtype=object),
    }


def _hotspot_incidents(rng, n, hotspot, outline, start, end, metric_epsg):
    centre = to_metric(hotspot.geom, metric_epsg)
    # Keep a margin under the radius so that rounding in the reprojection cannot put a
    # point outside the disk when it is measured again.
    radius = hotspot.radius_m - 1.0
    lon, lat = _place_inside(
        rng,
        np.full(n, centre.x),
        np.full(n, centre.y),
        _normal_scatter(np.full(n, hotspot.radius_m / 2), radius),
        outline,
        metric_epsg,
    )
    n_days = _n_days(start, end)
    day_start = np.datetime64(start.replace(tzinfo=None), "D") + np.arange(n_days)
    active = (day_start >= np.datetime64(hotspot.active_from.replace(tzinfo=None), "D")) & (
        day_start < np.datetime64(hotspot.active_to.replace(tzinfo=None), "s")
    )
    ramp = np.linspace(0.0, 1.0, n_days)
    shape = {
        "persistent": np.ones(n_days),
        "new": np.ones(n_days),
        "intensifying": 0.1 + 1.8 * ramp,
        "diminishing": 1.9 - 1.8 * ramp,
    }[hotspot.kind]
    # Days start at midnight UTC, as does a 'new' hot-spot's active_from.
    occurred_at = _sample_times(rng, n, start, end, shape * active)
    category = _draw(rng, LINE_CATEGORY_MIX, n)
    category[rng.random(n) < HOTSPOT_DOMINANCE] = hotspot.category
    border = hotspot.border
    return {
        "lon": lon,
        "lat": lat,
        "occurred_at": occurred_at,
        "category": category,
        "group": np.full(n, "hotspot", dtype=object),
        "place_kind": np.full(n, "coast" if border == SEA else "land", dtype=object),
        "neighbour": np.full(n, None if border == SEA else border, dtype=object),
        "where": np.full(n, f"planted hot-spot {hotspot.code}", dtype=object),
        "hotspot_code": np.full(n, hotspot.code, dtype=object),
    }


def _draw(rng, mix, n: int) -> np.ndarray:
    values = np.array(list(mix), dtype=object)
    weights = np.array(list(mix.values()), dtype=float)
    return values[rng.choice(len(values), size=n, p=weights / weights.sum())]


def _fill_attributes(rng, columns: dict, end: datetime) -> dict:
    """The EUROSUR event-report attributes, drawn to fit category and place: the
    columns of :class:`SyntheticIncidents` but the agency's."""
    n = len(columns["lon"])
    category = columns["category"]
    group, place_kind, neighbour = columns["group"], columns["place_kind"], columns["neighbour"]
    people = np.isin(category, list(PEOPLE_CATEGORIES))

    attempt_rate = np.array([ATTEMPT_RATES.get(c, 0.1) for c in category])
    outcome = np.where(rng.random(n) < attempt_rate, "attempted", "actual").astype(object)

    direction = np.where(rng.random(n) < 0.55, "entry", "exit").astype(object)
    direction[np.isin(category, ["refusal_of_entry", "asylum_application"])] = "entry"
    direction[category == "illegal_stay"] = "exit"
    direction[(category == "other") & (rng.random(n) < 0.5)] = None

    at_bcp = group == "bcp"
    detection = _draw(rng, {"border_surveillance": 0.7, "inland": 0.2, "other": 0.1}, n)
    detection[at_bcp] = np.where(rng.random(int(at_bcp.sum())) < 0.9, "bcp_check", "other")
    detection[(category == "illegal_stay") & ~at_bcp] = "inland"

    persons = np.where(people, 1 + rng.poisson(0.6, n), rng.poisson(0.9, n))
    persons[category == "facilitator"] += rng.poisson(2.0, int((category == "facilitator").sum()))
    persons[category == "trafficking_human_beings"] += rng.poisson(
        1.5, int((category == "trafficking_human_beings").sum())
    )

    nationality = np.array(THIRD_COUNTRIES, dtype=object)[rng.integers(0, len(THIRD_COUNTRIES), n)]
    roll = rng.random(n)
    nationality[roll < 0.25] = "GE"
    neighbour_national = (roll >= 0.25) & (roll < 0.6) & (neighbour != None)  # noqa: E711
    nationality[neighbour_national] = neighbour[neighbour_national]
    nationality[persons == 0] = None

    transport = _draw(rng, {"on_foot": 0.65, "car": 0.15, "truck": 0.03, "other": 0.17}, n)
    coast = place_kind == "coast"
    transport[coast] = _draw(rng, {"boat": 0.6, "on_foot": 0.3, "other": 0.1}, int(coast.sum()))
    road = place_kind == "road"
    transport[road] = _draw(
        rng, {"car": 0.55, "truck": 0.25, "bus": 0.15, "on_foot": 0.05}, int(road.sum())
    )
    for kind, means in (("rail", "train"), ("sea_port", "boat"), ("airport", "aircraft")):
        transport[place_kind == kind] = means

    reliability = _draw(rng, {"A": 0.25, "B": 0.4, "C": 0.2, "D": 0.05, "X": 0.1}, n)
    credibility = rng.choice(np.array([1, 2, 3, 4]), size=n, p=[0.25, 0.4, 0.25, 0.1])

    recent = columns["occurred_at"] >= np.datetime64(
        (end - timedelta(days=30)).replace(tzinfo=None), "s"
    )
    status = _draw(rng, {"validated": 0.5, "closed": 0.45, "draft": 0.05}, n)
    status[recent] = _draw(
        rng, {"draft": 0.5, "validated": 0.45, "closed": 0.05}, int(recent.sum())
    )

    labels = {code: label.lower() for code, label in vocabulary.INCIDENT_CATEGORIES.items()}
    description = np.array(
        [
            f"{DESCRIPTION_PREFIX} (generated, not a real event): {labels[c]}; {w}."
            for c, w in zip(category, columns["where"], strict=True)
        ],
        dtype=object,
    )
    external_id = np.array([f"SYN-{i:07d}" for i in range(1, n + 1)], dtype=object)
    return dict(
        lon=columns["lon"],
        lat=columns["lat"],
        occurred_at=columns["occurred_at"],
        category=category,
        outcome=outcome,
        direction=direction,
        detection_method=detection,
        persons_count=persons.astype(np.int64),
        nationality=nationality,
        transport_means=transport,
        source_reliability=reliability,
        information_credibility=credibility.astype(np.int64),
        status=status,
        description=description,
        external_id=external_id,
        hotspot_code=columns["hotspot_code"],
    )


# --------------------------------------------------------------------------- whole demo


@dataclass(frozen=True)
class DemoData:
    """Everything the demo loads, built without a database (EPSG:4326, UTC)."""

    regions: list[DemoRegion]
    sections: list[DemoSection]
    crossings: list[DemoCrossing]
    hotspots: list[PlantedHotspot]
    incidents: SyntheticIncidents
    start: datetime
    end: datetime


def build_demo(
    *,
    seed: int = DEFAULT_SEED,
    n_incidents: int = DEFAULT_N_INCIDENTS,
    end: datetime | None = None,
    atlas_path: str | Path | None = None,
    metric_epsg: int = DEFAULT_METRIC_EPSG,
) -> DemoData:
    """Build the whole demo data set in memory, deterministically for ``seed`` and ``end``.

    Parameters
    ----------
    seed : int
        Seed of the random generator.
    n_incidents : int, default 50000
        Number of synthetic incidents (background plus planted hot-spots).
    end : datetime, optional
        Time zone aware end of the three-year window (UTC); default today 00:00 UTC.
    atlas_path : str or Path, optional
        world-atlas ``countries-10m.json``; default under ``node_modules``.
    metric_epsg : int, default 32638
        Metric CRS (EPSG code) for section lengths and offsets, in metres.

    Returns
    -------
    DemoData
        ``hotspots[i].incident_count`` is the number of incidents planted for it.

    Raises
    ------
    FileNotFoundError
        When world-atlas is not installed (run ``make assets``).
    """
    start, end = demo_period(end)
    borders = georgia_borders(atlas_path)
    regions = approximate_regions(borders, metric_epsg)
    crossings = crossing_points(borders, regions, metric_epsg)
    sections = border_sections(borders, regions, crossings, metric_epsg=metric_epsg)
    hotspots = planted_hotspots(borders, end, metric_epsg)
    incidents = synthetic_incidents(
        borders,
        sections,
        crossings,
        hotspots,
        regions,
        seed=seed,
        n_incidents=n_incidents,
        end=end,
        metric_epsg=metric_epsg,
    )
    codes = incidents.hotspot_code
    planted = {code: int((codes == code).sum()) for code in {h.code for h in hotspots}}
    hotspots = [replace(h, incident_count=planted.get(h.code, 0)) for h in hotspots]
    return DemoData(
        regions=regions,
        sections=sections,
        crossings=crossings,
        hotspots=hotspots,
        incidents=incidents,
        start=start,
        end=end,
    )


