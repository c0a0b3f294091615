"""Geography of the BorderRisk demo: Georgia's border, sections, regions, crossing points.

Nothing here is authoritative. Georgia's outline and its land borders come from Natural
Earth 1:10m (public domain), read from the TopoJSON of the npm package ``world-atlas``
(``countries-10m.json``): *generalised* lines, shorter than the official lengths. The
regions are *approximate* (a Voronoi partition of approximate town positions, clipped to
the outline), the crossing points sit at *approximate* locations, and the section
attributes (terrain, surveillance level) are *synthetic* but plausible.

Geometries returned by the public functions are in EPSG:4326 (longitude, latitude,
degrees). Metric work (lengths, offsets, Voronoi) is done in a metric CRS given as an EPSG
code, ``metric_epsg`` (default 32638, UTM zone 38N), and every length is in metres.
Pure functions: no database, no randomness.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon
from shapely.ops import substring

from geo.crs import STORAGE_SRID, reproject, transform_xy

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ATLAS_PATH = REPO_ROOT / "node_modules" / "world-atlas" / "countries-10m.json"
DEFAULT_METRIC_EPSG = 32638

GEORGIA_ID = "268"
# ISO 3166-1 numeric id in world-atlas -> ISO 3166-1 alpha-2.
NEIGHBOUR_IDS = {"643": "RU", "031": "AZ", "792": "TR", "051": "AM"}
NEIGHBOUR_NAMES = {"RU": "Russia", "AZ": "Azerbaijan", "TR": "Turkey", "AM": "Armenia"}
# Key of the Black Sea coast in ``GeorgiaBorders.lines`` and in section codes.
SEA = "SEA"
BORDER_KEYS = ("RU", "AZ", "TR", "AM", SEA)

DEFAULT_SECTION_LENGTH_M = 15_000.0


# --------------------------------------------------------------------------- projection


def to_metric(geom, metric_epsg: int = DEFAULT_METRIC_EPSG):
    """Project a shapely geometry (or array of them) from EPSG:4326 to ``metric_epsg``."""
    return reproject(geom, STORAGE_SRID, metric_epsg)


def to_lonlat(geom, metric_epsg: int = DEFAULT_METRIC_EPSG):
    """Project a shapely geometry (or array of them) from ``metric_epsg`` to EPSG:4326."""
    return reproject(geom, metric_epsg, STORAGE_SRID)


def xy_to_metric(lon, lat, metric_epsg: int = DEFAULT_METRIC_EPSG):
    """Arrays of longitude/latitude (degrees) to metric x/y (metres in ``metric_epsg``)."""
    return transform_xy(lon, lat, STORAGE_SRID, metric_epsg)


def xy_to_lonlat(x, y, metric_epsg: int = DEFAULT_METRIC_EPSG):
    """Arrays of metric x/y (metres in ``metric_epsg``) to longitude/latitude (degrees)."""
    return transform_xy(x, y, metric_epsg, STORAGE_SRID)


# --------------------------------------------------------------------------- border lines


@dataclass(frozen=True)
class GeorgiaBorders:
    """Georgia's outline and border lines from Natural Earth 1:10m (EPSG:4326).

    Attributes
    ----------
    outline : shapely.Polygon
        Georgia's territory as drawn by Natural Earth (includes Abkhazia and the
        Tskhinvali region / South Ossetia).
    lines : dict of str to shapely.LineString or MultiLineString
        Keys ``"RU"``, ``"AZ"``, ``"TR"``, ``"AM"`` (land border with that neighbour,
        ISO 3166-1 alpha-2) and ``"SEA"`` (Black Sea coast: arcs shared with no country).
        Land lines run west to east, the coast north to south.
    """

    outline: Polygon
    lines: dict


def georgia_borders(atlas_path: str | Path | None = None) -> GeorgiaBorders:
    """Read Georgia's outline and border lines from world-atlas ``countries-10m.json``.

    The TopoJSON arcs are decoded here (quantised, delta-encoded, then scaled and
    translated by the topology's ``transform``); no GDAL needed. An arc of Georgia that
    another country also uses is the land border with that country; an arc used by
    Georgia alone is the Black Sea coast. Each neighbour's arcs are merged into
    continuous lines. Results are cached per path.

    Parameters
    ----------
    atlas_path : str or Path, optional
        Path of ``countries-10m.json``; default
        ``<repo>/node_modules/world-atlas/countries-10m.json``.

    Returns
    -------
    GeorgiaBorders
        Outline and lines in EPSG:4326 (degrees).

    Raises
    ------
    FileNotFoundError
        When the file is missing (install it with ``make assets``).
    """
    path = Path(atlas_path) if atlas_path is not None else DEFAULT_ATLAS_PATH
    if not path.is_file():
        raise FileNotFoundError(
            f"Natural Earth data not found at {path}: run `make assets` to install the npm "
            "package world-atlas (node_modules/world-atlas/countries-10m.json)."
        )
    return _georgia_borders_cached(str(path.resolve()))


@lru_cache(maxsize=4)
def _georgia_borders_cached(path: str) -> GeorgiaBorders:
    with open(path, encoding="utf-8") as handle:
        topology = json.load(handle)
    geometries = topology["objects"]["countries"]["geometries"]
    georgia = next((g for g in geometries if str(g.get("id")) == GEORGIA_ID), None)
    if georgia is None or georgia.get("type") != "Polygon":
        raise ValueError(f"{path}: no Polygon with id {GEORGIA_ID!r} (Georgia)")

    users: dict[int, set[str]] = {}
    for geometry in geometries:
        for index in _arc_indices(geometry.get("arcs", [])):
            users.setdefault(index, set()).add(str(geometry.get("id")))

    transform = topology["transform"]
    scale = np.asarray(transform["scale"], dtype=float)
    translate = np.asarray(transform["translate"], dtype=float)
    arcs = topology["arcs"]

    def decode(signed_index: int) -> np.ndarray:
        index = signed_index if signed_index >= 0 else ~signed_index
        coords = np.cumsum(np.asarray(arcs[index], dtype=np.int64), axis=0) * scale + translate
        return coords if signed_index >= 0 else coords[::-1]

    rings = []
    parts: dict[str, list[LineString]] = {key: [] for key in BORDER_KEYS}
    for ring_arcs in georgia["arcs"]:
        ring = []
        for signed_index in ring_arcs:
            coords = decode(signed_index)
            ring.append(coords if not ring else coords[1:])
            others = users[signed_index if signed_index >= 0 else ~signed_index] - {GEORGIA_ID}
            unknown = others - NEIGHBOUR_IDS.keys()
            if unknown or len(others) > 1:
                raise ValueError(f"{path}: unexpected neighbours of Georgia: {sorted(others)}")
            key = NEIGHBOUR_IDS[others.pop()] if others else SEA
            parts[key].append(LineString(coords))
        rings.append(np.concatenate(ring))
    outline = Polygon(rings[0], rings[1:])
    if not outline.is_valid:
        outline = shapely.make_valid(outline)

    lines = {}
    for key, key_parts in parts.items():
        if not key_parts:
            raise ValueError(f"{path}: Georgia has no {key} border")
        lines[key] = _orient(shapely.line_merge(MultiLineString(key_parts), directed=True), key)
    return GeorgiaBorders(outline=outline, lines=lines)


def _arc_indices(arcs):
    if isinstance(arcs, int):
        yield arcs if arcs >= 0 else ~arcs
    else:
        for item in arcs:
            yield from _arc_indices(item)


def _orient(line, key: str):
    """Land borders west to east, the coast north to south (stable section numbering)."""
    first, last = shapely.get_point(_parts(line)[0], 0), shapely.get_point(_parts(line)[-1], -1)
    backwards = first.y < last.y if key == SEA else first.x > last.x
    if not backwards:
        return line
    reversed_parts = [shapely.reverse(part) for part in reversed(_parts(line))]
    return reversed_parts[0] if len(reversed_parts) == 1 else MultiLineString(reversed_parts)


def _parts(geom) -> list:
    return list(geom.geoms) if hasattr(geom, "geoms") else [geom]


def border_lengths_m(
    borders: GeorgiaBorders, metric_epsg: int = DEFAULT_METRIC_EPSG
) -> dict[str, float]:
    """Length in metres (in ``metric_epsg``) of each border line, keyed as ``borders.lines``."""
    return {key: to_metric(line, metric_epsg).length for key, line in borders.lines.items()}


# --------------------------------------------------------------------------- regions


@dataclass(frozen=True)
class DemoRegion:
    """An approximate regional unit (MultiPolygon, EPSG:4326)."""

    code: str
    name_en: str
    name_ka: str
    geom: MultiPolygon
    provenance: str = "approximate"


# Georgia's regions (ISO 3166-2:GE) with approximate positions (name, lon, lat in degrees)
# of a few towns or places in each. A region is the union of its towns' Voronoi cells:
# several seeds per region give more plausible shapes than one centre, and keep Tbilisi
# small.
# fmt: off
REGION_TOWNS: tuple[tuple[str, str, str, tuple[tuple[str, float, float], ...]], ...] = (
    ("GE-AB", "Abkhazia", "აფხაზეთი", (
        ("Sukhumi", 41.02, 43.00), ("Gagra", 40.27, 43.33), ("Gudauta", 40.63, 43.10),
        ("Ochamchire", 41.47, 42.71), ("Gali", 41.73, 42.63), ("Pskhu", 40.82, 43.40),
        ("Azhara", 41.78, 43.11),
    )),
    ("GE-SZ", "Samegrelo-Zemo Svaneti", "სამეგრელო-ზემო სვანეთი", (
        ("Zugdidi", 41.87, 42.51), ("Poti", 41.67, 42.15), ("Senaki", 42.07, 42.27),
        ("Martvili", 42.38, 42.41), ("Mestia", 42.73, 43.04), ("Jvari", 42.05, 42.71),
        ("Khobi", 41.90, 42.32), ("Chkhorotsku", 42.12, 42.52), ("Khaishi", 42.20, 42.96),
    )),
    ("GE-GU", "Guria", "გურია", (
        ("Ozurgeti", 42.01, 41.92), ("Lanchkhuti", 42.09, 42.09),
        ("Chokhatauri", 42.25, 42.02), ("Bakhmaro", 42.32, 41.85), ("Ureki", 41.78, 42.00),
    )),
    ("GE-AJ", "Adjara", "აჭარა", (
        ("Batumi", 41.64, 41.64), ("Kobuleti", 41.78, 41.82), ("Keda", 41.94, 41.60),
        ("Shuakhevi", 42.19, 41.63), ("Khulo", 42.31, 41.64), ("Khelvachauri", 41.67, 41.58),
    )),
    ("GE-IM", "Imereti", "იმერეთი", (
        ("Kutaisi", 42.70, 42.27), ("Zestaponi", 43.05, 42.11), ("Sachkhere", 43.40, 42.34),
        ("Chiatura", 43.28, 42.29), ("Samtredia", 42.34, 42.16), ("Kharagauli", 43.20, 42.02),
        ("Baghdati", 42.82, 42.07), ("Tkibuli", 42.99, 42.35), ("Vani", 42.52, 42.08),
        ("Terjola", 42.97, 42.20),
    )),
    ("GE-RL", "Racha-Lechkhumi and Kvemo Svaneti", "რაჭა-ლეჩხუმი და ქვემო სვანეთი", (
        ("Ambrolauri", 43.15, 42.52), ("Oni", 43.44, 42.58), ("Tsageri", 42.77, 42.65),
        ("Lentekhi", 42.72, 42.79), ("Shovi", 43.68, 42.70),
    )),
    ("GE-SJ", "Samtskhe-Javakheti", "სამცხე-ჯავახეთი", (
        ("Akhaltsikhe", 42.98, 41.64), ("Borjomi", 43.39, 41.84), ("Akhalkalaki", 43.48, 41.40),
        ("Ninotsminda", 43.59, 41.26), ("Aspindza", 43.25, 41.57), ("Adigeni", 42.70, 41.68),
        ("Bakuriani", 43.53, 41.75), ("Paravani Lake", 43.80, 41.45),
    )),
    ("GE-SK", "Shida Kartli", "შიდა ქართლი", (
        ("Gori", 44.11, 41.98), ("Kaspi", 44.42, 41.92), ("Khashuri", 43.60, 41.99),
        ("Kareli", 43.90, 42.02), ("Tskhinvali", 43.96, 42.23), ("Java", 43.93, 42.40),
        ("upper Liakhvi valley", 44.20, 42.45),
    )),
    ("GE-MM", "Mtskheta-Mtianeti", "მცხეთა-მთიანეთი", (
        ("Mtskheta", 44.72, 41.85), ("Dusheti", 44.70, 42.08), ("Pasanauri", 44.69, 42.35),
        ("Stepantsminda", 44.64, 42.66), ("Tianeti", 44.97, 42.11), ("Shatili", 45.16, 42.66),
        ("Akhalgori", 44.48, 42.13), ("Barisakho", 44.96, 42.48),
    )),
    ("GE-TB", "Tbilisi", "თბილისი", (("Tbilisi", 44.80, 41.72),)),
    ("GE-KK", "Kvemo Kartli", "ქვემო ქართლი", (
        ("Rustavi", 45.03, 41.55), ("Marneuli", 44.81, 41.48), ("Bolnisi", 44.54, 41.45),
        ("Dmanisi", 44.20, 41.33), ("Tsalka", 44.09, 41.60), ("Tetritskaro", 44.47, 41.54),
        ("Gardabani", 45.09, 41.46),
    )),
    ("GE-KA", "Kakheti", "კახეთი", (
        ("Telavi", 45.47, 41.92), ("Sagarejo", 45.33, 41.73), ("Gurjaani", 45.80, 41.74),
        ("Sighnaghi", 45.92, 41.62), ("Lagodekhi", 46.28, 41.83), ("Kvareli", 45.81, 41.95),
        ("Akhmeta", 45.21, 42.03), ("Dedoplistskaro", 46.12, 41.46), ("Omalo", 45.63, 42.37),
        ("Udabno", 45.37, 41.50),
    )),
)
# fmt: on


def approximate_regions(
    borders: GeorgiaBorders, metric_epsg: int = DEFAULT_METRIC_EPSG
) -> list[DemoRegion]:
    """Approximate regional units of Georgia, covering the whole outline.

    A Voronoi partition (computed in ``metric_epsg``, metres) of approximate town
    positions (``REGION_TOWNS``), each region the union of its towns' cells, clipped to
    Georgia's outline in EPSG:4326 so that the regions tile the outline exactly. These are
    not the administrative boundaries; ``name_en`` says so.

    Parameters
    ----------
    borders : GeorgiaBorders
        From :func:`georgia_borders`.
    metric_epsg : int, default 32638
        EPSG code of the metric CRS of the Voronoi partition.

    Returns
    -------
    list of DemoRegion
        Valid MultiPolygons in EPSG:4326, provenance ``"approximate"``.
    """
    seeds, owners = [], []
    for code, _, _, towns in REGION_TOWNS:
        for _, lon, lat in towns:
            seeds.append((lon, lat))
            owners.append(code)
    lon, lat = np.asarray(seeds).T
    x, y = xy_to_metric(lon, lat, metric_epsg)
    points = MultiPoint(np.column_stack([x, y]))
    frame = to_metric(borders.outline, metric_epsg).envelope.buffer(100_000)
    cells = list(shapely.voronoi_polygons(points, extend_to=frame, ordered=True).geoms)

    regions = []
    for code, name_en, name_ka, _ in REGION_TOWNS:
        own_cells = [
            to_lonlat(cell, metric_epsg)
            for cell, owner in zip(cells, owners, strict=True)
            if owner == code
        ]
        clipped = shapely.intersection(shapely.union_all(own_cells), borders.outline)
        geom = _as_multipolygon(shapely.make_valid(clipped))
        if geom.is_empty:
            raise ValueError(f"region {code} does not intersect Georgia's outline")
        regions.append(
            DemoRegion(
                code=code, name_en=f"{name_en} (approximate boundary)", name_ka=name_ka, geom=geom
            )
        )
    return regions


def _as_multipolygon(geom) -> MultiPolygon:
    polygons = [g for g in _flatten(geom) if isinstance(g, Polygon) and not g.is_empty]
    return MultiPolygon(polygons)


def _flatten(geom):
    if hasattr(geom, "geoms"):
        for part in geom.geoms:
            yield from _flatten(part)
    else:
        yield geom


def metric_regions(
    regions: list[DemoRegion], metric_epsg: int = DEFAULT_METRIC_EPSG
) -> list[tuple[str, MultiPolygon]]:
    """``(code, geometry in metric_epsg)`` per region, prepared for repeated predicates."""
    projected = []
    for region in regions:
        geom = to_metric(region.geom, metric_epsg)
        shapely.prepare(geom)
        projected.append((region.code, geom))
    return projected


def region_of(metric_geom, projected_regions: list[tuple[str, MultiPolygon]]) -> str | None:
    """Code of the region a point or line mostly lies in (largest overlap, else nearest).

    ``metric_geom`` and the regions (from :func:`metric_regions`) are in the same metric
    CRS. A border line lies on the regions' outer boundary, so its overlap is measured
    against each region grown by 200 metres.
    """
    best_code, best_score = None, -np.inf
    for code, region in projected_regions:
        if metric_geom.geom_type in ("LineString", "MultiLineString"):
            score = shapely.intersection(metric_geom, region.buffer(200)).length
        else:
            score = -region.distance(metric_geom)
        if score > best_score:
            best_code, best_score = code, score
    return best_code


# --------------------------------------------------------------------------- crossing points


@dataclass(frozen=True)
class DemoCrossing:
    """A border crossing point at an approximate location (Point, EPSG:4326)."""

    code: str
    name: str
    kind: str
    neighbour_country: str | None
    geom: Point
    name_ka: str | None = None
    region_code: str | None = None
    status: str = "open"
    provenance: str = "approximate"


# code, name, kind, border key the point is snapped onto (None: not snapped), lon, lat.
# Positions are approximate (a few km); land points and sea ports are snapped onto the
# Natural Earth line, so they sit on the generalised border.
CROSSING_SITES: tuple[tuple[str, str, str, str | None, float, float], ...] = (
    ("BCP-SARPI", "Sarpi", "road", "TR", 41.553, 41.522),
    ("BCP-VALE", "Vale", "road", "TR", 42.860, 41.585),
    ("BCP-KARTSAKHI", "Kartsakhi", "road", "TR", 43.220, 41.215),
    ("BCP-NINOTSMINDA", "Ninotsminda (Bavra)", "road", "AM", 43.790, 41.180),
    ("BCP-GUGUTI", "Guguti", "road", "AM", 44.130, 41.130),
    ("BCP-SADAKHLO", "Sadakhlo", "road", "AM", 44.810, 41.235),
    ("BCP-SADAKHLO-RAIL", "Sadakhlo railway", "rail", "AM", 44.860, 41.205),
    ("BCP-TSITELI-KHIDI", "Red Bridge (Tsiteli Khidi)", "road", "AZ", 45.085, 41.330),
    ("BCP-TSODNA", "Tsodna", "road", "AZ", 46.330, 41.500),
    ("BCP-LAGODEKHI", "Lagodekhi", "road", "AZ", 46.300, 41.770),
    ("BCP-KAZBEGI", "Kazbegi (Upper Lars)", "road", "RU", 44.630, 42.740),
    ("BCP-BATUMI-PORT", "Batumi sea port", "sea_port", SEA, 41.650, 41.655),
    ("BCP-POTI-PORT", "Poti sea port", "sea_port", SEA, 41.655, 42.155),
    ("BCP-TBILISI-AIRPORT", "Tbilisi International Airport", "airport", None, 44.954, 41.669),
    ("BCP-KUTAISI-AIRPORT", "Kutaisi International Airport", "airport", None, 42.483, 42.176),
    ("BCP-BATUMI-AIRPORT", "Batumi International Airport", "airport", None, 41.599, 41.610),
)
# The crossing points' names in Georgian, by code.
CROSSING_NAMES_KA = {
    "BCP-SARPI": "სარფი", "BCP-VALE": "ვალე", "BCP-KARTSAKHI": "კარწახი",
    "BCP-NINOTSMINDA": "ნინოწმინდა (ბავრა)", "BCP-GUGUTI": "გუგუთი",
    "BCP-SADAKHLO": "სადახლო", "BCP-SADAKHLO-RAIL": "სადახლო (რკინიგზა)",
    "BCP-TSITELI-KHIDI": "წითელი ხიდი", "BCP-TSODNA": "წოდნა", "BCP-LAGODEKHI": "ლაგოდეხი",
    "BCP-KAZBEGI": "ყაზბეგი (ზემო ლარსი)", "BCP-BATUMI-PORT": "ბათუმის საზღვაო პორტი",
    "BCP-POTI-PORT": "ფოთის საზღვაო პორტი",
    "BCP-TBILISI-AIRPORT": "თბილისის საერთაშორისო აეროპორტი",
    "BCP-KUTAISI-AIRPORT": "ქუთაისის საერთაშორისო აეროპორტი",
    "BCP-BATUMI-AIRPORT": "ბათუმის საერთაშორისო აეროპორტი",
}
# The neighbours in the genitive, as a Georgian section name says them.
NEIGHBOUR_NAMES_KA = {"RU": "რუსეთის", "AZ": "აზერბაიჯანის", "TR": "თურქეთის",
                      "AM": "სომხეთის"}


def crossing_points(
    borders: GeorgiaBorders,
    regions: list[DemoRegion] | None = None,
    metric_epsg: int = DEFAULT_METRIC_EPSG,
) -> list[DemoCrossing]:
    """Border crossing points of Georgia at approximate locations.

    Land crossings are snapped onto the nearest point of their neighbour's border line and
    sea ports onto the coast (nearest in ``metric_epsg``); airports stay where they are.

    Parameters
    ----------
    borders : GeorgiaBorders
    regions : list of DemoRegion, optional
        When given, each point gets ``region_code`` (the region nearest to it).
    metric_epsg : int, default 32638

    Returns
    -------
    list of DemoCrossing
        Points in EPSG:4326, names ending in "(approximate location)".
    """
    projected_regions = metric_regions(regions, metric_epsg) if regions else []
    crossings = []
    for code, name, kind, border, lon, lat in CROSSING_SITES:
        point = Point(lon, lat)
        if border is not None:
            line = to_metric(borders.lines[border], metric_epsg)
            snapped = line.interpolate(line.project(to_metric(point, metric_epsg)))
            point = to_lonlat(snapped, metric_epsg)
        elif not borders.outline.contains(point):
            raise ValueError(f"{code} at {lon}, {lat} is outside Georgia's outline")
        crossings.append(
            DemoCrossing(
                code=code,
                name=f"{name} (approximate location)",
                name_ka=f"{CROSSING_NAMES_KA[code]} (სავარაუდო მდებარეობა)",
                kind=kind,
                neighbour_country=border if border in NEIGHBOUR_NAMES else None,
                geom=point,
                region_code=region_of(to_metric(point, metric_epsg), projected_regions)
                if regions
                else None,
            )
        )
    return crossings


# --------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class DemoSection:
    """A border section (EUROSUR Art. 30) of the demo (LineString, EPSG:4326).

    ``length_m`` is metres in the metric CRS the sections were cut in; ``activity`` is a
    synthetic relative intensity of background incidents (not stored in the database).
    """

    code: str
    name: str
    kind: str
    neighbour_country: str | None
    surveillance_level: int
    terrain_class: str
    geom: LineString
    length_m: float
    region_code: str | None
    activity: float
    provenance: str = "generalised"
    name_ka: str | None = None


def border_sections(
    borders: GeorgiaBorders,
    regions: list[DemoRegion],
    crossings: list[DemoCrossing],
    section_length_m: float = DEFAULT_SECTION_LENGTH_M,
    metric_epsg: int = DEFAULT_METRIC_EPSG,
) -> list[DemoSection]:
    """Cut each border line into sections of about ``section_length_m`` metres.

    Each continuous line of length L (metres in ``metric_epsg``) is cut into
    ``round(L / section_length_m)`` equal pieces, so with the default 15 km every piece is
    10-20 km long; only a line shorter than 10 km stays shorter. Codes are ``GE-RU-001``
    ... numbered west to east (the coast, ``GE-SEA-...``, north to south).

    Terrain class and surveillance level (0-5) are synthetic rules of thumb: Greater
    Caucasus high mountains along Russia, Lesser Caucasus / Javakheti plateau along
    Turkey and Armenia, lowlands and the Alazani valley along Azerbaijan; surveillance
    higher near crossing points and sea ports, 0 where the Georgian government has no
    control (Abkhazia, Tskhinvali region).

    Parameters
    ----------
    borders : GeorgiaBorders
    regions : list of DemoRegion
        Used to set ``region_code`` (largest overlap).
    crossings : list of DemoCrossing
        Used to raise surveillance near crossing points.
    section_length_m : float, default 15000
        Target section length in metres.
    metric_epsg : int, default 32638

    Returns
    -------
    list of DemoSection
        Provenance ``"generalised"`` (Natural Earth geometry).
    """
    if section_length_m <= 0:
        raise ValueError(f"section_length_m must be positive, got {section_length_m}")
    crossing_metric = [
        (c, to_metric(c.geom, metric_epsg)) for c in crossings if c.kind not in ("airport",)
    ]
    projected_regions = metric_regions(regions, metric_epsg)
    sections = []
    for key in BORDER_KEYS:
        pieces = []
        for part in _parts(to_metric(borders.lines[key], metric_epsg)):
            count = max(1, round(part.length / section_length_m))
            step = part.length / count
            pieces += [substring(part, i * step, (i + 1) * step) for i in range(count)]
        for number, piece in enumerate(pieces, start=1):
            geom = to_lonlat(piece, metric_epsg)
            region_code = region_of(piece, projected_regions)
            mid_lon, mid_lat = geom.interpolate(0.5, normalized=True).coords[0]
            near_crossing = any(piece.distance(point) < 5_000 for _, point in crossing_metric)
            terrain = _terrain_class(key, mid_lon, mid_lat)
            uncontrolled = _uncontrolled(key, region_code)
            sections.append(
                DemoSection(
                    code=f"GE-{key}-{number:03d}",
                    name=_section_name(key, number),
                    name_ka=_section_name_ka(key, number),
                    kind="sea" if key == SEA else "land",
                    neighbour_country=None if key == SEA else key,
                    surveillance_level=_surveillance_level(
                        key, terrain, near_crossing, uncontrolled
                    ),
                    terrain_class=terrain,
                    geom=geom,
                    length_m=piece.length,
                    region_code=region_code,
                    activity=_activity(key, terrain, near_crossing, uncontrolled),
                )
            )
    return sections


def _section_name(key: str, number: int) -> str:
    if key == SEA:
        return f"Black Sea coast, section {number:03d}"
    return f"Georgia–{NEIGHBOUR_NAMES[key]} border, section {number:03d}"


def _section_name_ka(key: str, number: int) -> str:
    if key == SEA:
        return f"შავი ზღვის სანაპირო, მონაკვეთი {number:03d}"
    return f"საქართველო–{NEIGHBOUR_NAMES_KA[key]} საზღვარი, მონაკვეთი {number:03d}"


def _terrain_class(key: str, lon: float, lat: float) -> str:
    if key == SEA:
        return "coast"
    if key == "RU":
        # The Psou valley near the sea, then the Greater Caucasus main ridge.
        return "hills" if lon < 40.3 else "mountain" if lon < 40.8 else "high_mountain"
    if key == "TR":
        # Coastal hills at Sarpi, then the Shavsheti/Arsiani ranges and Javakheti.
        return "hills" if lon < 41.75 else "mountain"
    if key == "AM":
        # Javakheti plateau and the Lesser Caucasus; the Debed valley at Sadakhlo.
        return "hills" if lon > 44.6 else "mountain"
    # Azerbaijan: Kura lowland, Gareji semi-desert ridges, Alazani valley, and the
    # Greater Caucasus at the Lagodekhi end.
    if lat > 41.78:
        return "high_mountain"
    if lon < 45.3 or lon > 45.9:
        return "plain"
    return "hills"


def _uncontrolled(key: str, region_code: str | None) -> bool:
    """Abkhazia, and the Russian border of the Tskhinvali region (in Shida Kartli)."""
    return region_code == "GE-AB" or (key == "RU" and region_code == "GE-SK")


def _surveillance_level(key: str, terrain: str, near_crossing: bool, uncontrolled: bool) -> int:
    if uncontrolled:
        return 0
    base = {"SEA": 3, "TR": 3, "AZ": 3, "AM": 2, "RU": 2}[key]
    if terrain == "high_mountain":
        base -= 1
    return int(min(5, base + (2 if near_crossing and key == "RU" else 1 if near_crossing else 0)))


def _activity(key: str, terrain: str, near_crossing: bool, uncontrolled: bool) -> float:
    if uncontrolled:
        return 0.05  # hardly anything is reported where the border police cannot go
    base = {"SEA": 0.8, "TR": 1.4, "AZ": 1.3, "AM": 1.2, "RU": 0.7}[key]
    terrain_factor = {"high_mountain": 0.4, "mountain": 0.8}.get(terrain, 1.0)
    return base * terrain_factor * (1.5 if near_crossing else 1.0)


__all__ = [
    "BORDER_KEYS",
    "DEFAULT_ATLAS_PATH",
    "DemoCrossing",
    "DemoRegion",
    "DemoSection",
    "GeorgiaBorders",
    "approximate_regions",
    "border_lengths_m",
    "border_sections",
    "crossing_points",
    "georgia_borders",
    "metric_regions",
    "region_of",
    "to_lonlat",
    "to_metric",
]
