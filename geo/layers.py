"""The catalogue of layers: one entry per layer, read by every service.

Each :class:`Layer` holds its one public name (plus the aliases an older URL promised),
title, table, geometry type, natural key (what an import upserts on and a create must not
duplicate), the properties a client may write with their types and vocabularies, the
derived properties it may only read, the list filters that apply, its time field and
its scope rule (the column that ties a feature to a region). Its facets say where else
it is served: ``collection`` (OGC API Features, with its description), ``tiles`` (vector
tiles: the properties each feature carries) and ``map`` (WMS: styles, abstract,
GetFeatureInfo properties).

The REST API (``LAYERS``: the four data layers), OGC API Features (``COLLECTIONS``),
the tiles (``TILE_LAYERS``) and the WMS (``MAP_LAYERS``) are views of ``CATALOGUE``;
validation, ingestion, listing, export and the OpenAPI document are built from it too.
A new layer is one entry here (and its table in ``geo.models``).
"""

from __future__ import annotations

from dataclasses import dataclass

from geo import releasability
from geo import vocabulary as vocab


@dataclass(frozen=True)
class Field:
    """A property of a layer.

    ``kind`` is one of ``text``, ``int``, ``float``, ``timestamp`` (RFC 3339, with a
    time zone, stored as UTC), ``choice`` (one of ``choices``), ``bool`` (true or
    false; in a cell ``true``/``false``) or ``releasability`` (``geo.releasability``).
    """

    name: str
    kind: str
    required: bool = False
    choices: tuple = ()
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    pattern: str | None = None
    pattern_hint: str = ""  # what ``pattern`` means, for error messages
    default: object = None
    description: str = ""


@dataclass(frozen=True)
class MapStyle:
    """A WMS style of a layer."""

    name: str
    title: str


@dataclass(frozen=True)
class MapFacet:
    """How the WMS serves a layer: ``styles[0]`` is the default style; ``info`` the
    properties GetFeatureInfo returns (None: not queryable)."""

    abstract: str
    styles: tuple[MapStyle, ...]
    time_enabled: bool = False
    info: tuple[str, ...] | None = None

    @property
    def queryable(self) -> bool:
        return self.info is not None

    @property
    def default_style(self) -> str:
        return self.styles[0].name

    def style_names(self) -> tuple[str, ...]:
        return tuple(style.name for style in self.styles)


@dataclass(frozen=True)
class TileFacet:
    """How a layer is served as vector tiles: the properties each feature carries
    (timestamps as RFC 3339 text, UTC) and the zoom below which points are aggregated
    (0: never)."""

    properties: tuple[str, ...]
    cluster_below_zoom: int = 0


@dataclass(frozen=True)
class Layer:
    """One layer of the catalogue: its data and the services that serve it."""

    name: str
    title: str
    geometry_type: str  # GeoJSON type of stored geometries
    table: str = ""  # a table, or a constant subquery ("" for computed layers)
    fields: tuple[Field, ...] = ()
    derived: tuple[Field, ...] = ()
    key: tuple[str, ...] = ()
    filters: frozenset[str] = frozenset()
    time_field: str | None = None
    default_sort: tuple[str, ...] = ("id",)
    # The column holding a feature's region for the region scope (``geo.scope``);
    # None: the layer is not cut by region in SQL (computed per scope, or the basemap).
    scope_column: str | None = None
    # Its rows carry an originating agency and a releasability (``geo.scope``): a
    # caller sees in detail only those released to its agency.
    releasable: bool = False
    aliases: tuple[str, ...] = ()  # older names the REST API still answers to
    # Values the table's subquery binds (``FeatureQuery.table_values``; '[]' unless given).
    table_parameters: tuple[str, ...] = ()
    collection: str | None = None  # OGC API Features description; None: not served
    tiles: TileFacet | None = None
    map: MapFacet | None = None

    @property
    def writable_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def readable(self) -> tuple[Field, ...]:
        return self.fields + self.derived

    @property
    def readable_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.readable)

    @property
    def sortable(self) -> frozenset[str]:
        return frozenset({"id", *self.readable_names})

    @property
    def temporal(self) -> bool:
        return self.time_field is not None

    @property
    def queryables(self) -> tuple[Field, ...]:
        """Properties a client may filter on by equality (``?name=value``)."""
        return tuple(f for f in self.readable
                     if f.kind in ("text", "choice", "int") and f.name != "description")

    def field(self, name: str) -> Field:
        for candidate in self.readable:
            if candidate.name == name:
                return candidate
        raise KeyError(name)


# The incidents map layer is scale-dependent (as MapServer's MINSCALEDENOM/MAXSCALEDENOM
# and GeoServer's scale rules): at a scale denominator (OGC standardised rendering pixel
# of 0.28 mm) below this value each incident is drawn as a point; at this scale and
# smaller ones (a 256-pixel map wider than about 72 km) incidents are aggregated into
# square cells of INCIDENT_CELL_PIXELS pixels coloured by their count.
INCIDENT_POINT_MAX_SCALE = 1_000_000
INCIDENT_CELL_PIXELS = 8
# Upper bounds of the count classes of an aggregated cell (the last class is open).
INCIDENT_CELL_CLASSES = (1, 5, 20, 100)

ISO2 = r"^[A-Z]{2}$"
ISO2_HINT = "an ISO 3166-1 alpha-2 code such as GE"
PROVENANCE = Field(
    "provenance", "choice", choices=vocab.PROVENANCES, default="reported",
    description="Where the data comes from; demo data is never 'reported'.",
)
REGION_LINK = Field("region_id", "int", description="Region containing the feature (derived).")

REGIONS = Layer(
    name="regions",
    table="regions",
    title="Regions (regional units)",
    geometry_type="MultiPolygon",
    fields=(
        Field("code", "text", required=True, max_length=32),
        Field("name_en", "text", required=True, max_length=200),
        Field("name_ka", "text", required=True, max_length=200),
        PROVENANCE,
    ),
    derived=(),
    key=("code",),
    filters=frozenset({"bbox"}),
    default_sort=("code",),
    scope_column="id",
    collection="Regional units (approximate in the demo).",
    tiles=TileFacet(("code", "name_en", "name_ka", "provenance")),
    map=MapFacet(
        "Regional units of the border police (demo: approximate Voronoi cells, not "
        "official boundaries).",
        (MapStyle("default", "Outlined regions"),),
        info=("id", "code", "name_en", "name_ka", "provenance")),
)

SEGMENTS = Layer(
    name="border_segments",
    table="border_segments",
    title="Border sections",
    geometry_type="LineString",
    fields=(
        Field("code", "text", required=True, max_length=32),
        Field("name", "text", required=True, max_length=200),
        Field("name_ka", "text", max_length=200,
              description="Name in Georgian; the pages show name where it is empty."),
        Field("kind", "choice", required=True, choices=vocab.SEGMENT_KINDS),
        Field("neighbour_country", "text", pattern=ISO2, pattern_hint=ISO2_HINT,
              description="ISO 3166-1 alpha-2 of the country across the border."),
        Field("surveillance_level", "int", minimum=0, maximum=5, default=2),
        Field("terrain_class", "choice", choices=vocab.TERRAIN_CLASSES, default="hills"),
        PROVENANCE,
    ),
    derived=(
        REGION_LINK,
        Field("length_m", "float", description="Length in metres in the analysis CRS."),
    ),
    key=("code",),
    filters=frozenset({"bbox", "region"}),
    default_sort=("code",),
    scope_column="region_id",
    aliases=("segments",),
    collection="Sections of the state border and coast, with their region and length.",
    tiles=TileFacet(("code", "name", "name_ka", "kind", "neighbour_country", "surveillance_level",
                     "terrain_class", "region_id", "length_m")),
    map=MapFacet(
        "Border sections. Style risk_level (default): colour of each section's level "
        "in the latest stored CIRAM assessment, else its live level over the default "
        "period as the workspace computes it (a supervisor's decision overrides "
        "either; GetFeatureInfo's level_source says which): low blue, medium yellow, "
        "high orange, critical dark red, grey not assessed. Style plain: one colour.",
        (MapStyle("risk_level", "By CIRAM risk level"), MapStyle("plain", "Plain line")),
        info=("id", "code", "name", "name_ka", "kind", "neighbour_country", "length_m",
              "surveillance_level", "terrain_class", "provenance")),
)

CROSSINGS = Layer(
    name="crossing_points",
    table="crossing_points",
    title="Border crossing points",
    geometry_type="Point",
    fields=(
        Field("code", "text", required=True, max_length=32),
        Field("name", "text", required=True, max_length=200),
        Field("name_ka", "text", max_length=200,
              description="Name in Georgian; the pages show name where it is empty."),
        Field("kind", "choice", required=True, choices=vocab.CROSSING_KINDS),
        Field("neighbour_country", "text", pattern=ISO2, pattern_hint=ISO2_HINT),
        Field("status", "choice", choices=vocab.CROSSING_STATUSES, default="open"),
        PROVENANCE,
    ),
    derived=(REGION_LINK,),
    key=("code",),
    filters=frozenset({"bbox", "region", "status"}),
    default_sort=("code",),
    scope_column="region_id",
    aliases=("crossings",),
    collection="Border crossing points.",
    tiles=TileFacet(("code", "name", "name_ka", "kind", "neighbour_country", "status",
                     "region_id")),
    map=MapFacet("Border crossing points, by kind.",
                 (MapStyle("default", "Crossing points"),),
                 info=("id", "code", "name", "name_ka", "kind", "neighbour_country", "status",
                       "provenance")),
)

INCIDENTS = Layer(
    name="incidents",
    table="incidents",
    title="Incidents (border events)",
    geometry_type="Point",
    fields=(
        Field("source", "text", required=True, max_length=64,
              description="Who reported it; unique together with external_id."),
        Field("external_id", "text", required=True, max_length=128),
        Field("occurred_at", "timestamp", required=True,
              description="RFC 3339 date-time with a time zone; not in the future."),
        Field("category", "choice", required=True, choices=tuple(vocab.INCIDENT_CATEGORIES)),
        Field("outcome", "choice", choices=vocab.INCIDENT_OUTCOMES, default="actual"),
        Field("direction", "choice", choices=vocab.DIRECTIONS),
        Field("detection_method", "choice", choices=vocab.DETECTION_METHODS),
        Field("persons_count", "int", minimum=0, maximum=100_000, default=0),
        Field("nationality", "text", pattern=ISO2, pattern_hint=ISO2_HINT,
              description="ISO 3166-1 alpha-2 code."),
        Field("transport_means", "choice", choices=vocab.TRANSPORT_MEANS),
        Field("description", "text", max_length=10_000),
        Field("source_reliability", "choice", choices=vocab.SOURCE_RELIABILITY, default="X"),
        Field("information_credibility", "int", choices=vocab.INFORMATION_CREDIBILITY,
              minimum=1, maximum=4, default=4),
        Field("status", "choice", choices=vocab.INCIDENT_STATUSES, default="draft"),
        PROVENANCE,
        Field("agency", "text", max_length=16, pattern=releasability.CODE.pattern,
              pattern_hint="an agency code such as GBP",
              description="Code of the originating agency: the writer's own (an admin "
                          "may give another)."),
        Field("reporting_unit", "text", max_length=32,
              description="Code of the region whose unit reported it (may differ from "
                          "the region it lies in)."),
        Field("releasability", "releasability",
              description='Who sees it in detail, set by the originating agency: "all" '
                          '(every agency), "agency" (its own only) or a list of agency '
                          "codes. Default: the agency's setting."),
        Field("aggregate", "bool",
              description="Whether it may be counted in aggregate products (hot-spots, "
                          "density, risk, bulletins) where it is not released in detail. "
                          "Default: the agency's setting."),
    ),
    derived=(
        REGION_LINK,
        Field("nearest_segment_id", "int", description="Nearest border section (derived)."),
        Field("segment_distance_m", "float", description="Metres to it, analysis CRS."),
        Field("nearest_crossing_id", "int", description="Nearest crossing point (derived)."),
        Field("crossing_distance_m", "float", description="Metres to it, analysis CRS."),
        Field("created_at", "timestamp"),
        Field("updated_at", "timestamp"),
    ),
    key=("source", "external_id"),
    filters=frozenset({"bbox", "datetime", "category", "outcome", "region", "status",
                       "agency"}),
    time_field="occurred_at",
    default_sort=("-occurred_at", "-id"),
    scope_column="region_id",
    releasable=True,
    collection="Border incidents; temporal by occurred_at (filter with datetime).",
    tiles=TileFacet(("occurred_at", "category", "outcome", "status", "persons_count",
                     "region_id", "agency"), cluster_below_zoom=10),
    map=MapFacet(
        "Reported incidents, coloured by category. Scale-dependent: at scale "
        f"denominators below 1:{INCIDENT_POINT_MAX_SCALE:,} each incident is a point; "
        f"at 1:{INCIDENT_POINT_MAX_SCALE:,} and smaller scales incidents are "
        f"aggregated into {INCIDENT_CELL_PIXELS}x{INCIDENT_CELL_PIXELS}-pixel cells "
        "coloured by count (classes 1, 2-5, 6-20, 21-100, over 100). TIME selects "
        "occurred_at.",
        (MapStyle("category", "By category"),), time_enabled=True,
        info=("id", "source", "external_id", "occurred_at", "category", "outcome",
              "persons_count", "status", "provenance", "region_id", "nearest_segment_id")),
)

COUNTRIES = Layer(
    name="countries", title="Countries (Natural Earth 1:10m)", geometry_type="MultiPolygon",
    map=MapFacet(
        "Offline basemap: country polygons from Natural Earth 1:10m (public domain, "
        "npm package world-atlas).",
        (MapStyle("default", "Grey land, grey borders"),)),
)

HOTSPOT_WINDOW_DAYS = 90  # the OGC collection's window: days ending at the latest incident

HOTSPOTS = Layer(
    name="hotspots", title="Hot spots (Gi*)", geometry_type="Polygon",
    derived=(
        Field("cell", "text", description="Hexagon index i,j in the analysis grid."),
        Field("count", "float", description="Incidents in the cell."),
        Field("z", "float", description="Getis-Ord Gi* z-score."),
        Field("p", "float", description="Two-sided p-value of z."),
        Field("bin", "int", choices=(-3, -2, -1, 0, 1, 2, 3),
              description="-3..3: 99/95/90 % cold/hot, 0 not significant (FDR)."),
    ),
    key=("cell",), filters=frozenset({"bbox"}),
    collection=f"Getis-Ord Gi* hexagon cells (2 km) of the {HOTSPOT_WINDOW_DAYS} days ending "
               "at the latest incident, over the extent of all regions.",
    map=MapFacet(
        "Getis-Ord Gi* hot and cold spots of the incidents in the TIME window "
        "(hexagon cells, FDR-corrected, 99/95/90 % confidence): red hot, blue cold, "
        "not significant transparent. Study area: the requested region, else the "
        "extent of all regions (of the user's regions, and only their incidents, for "
        "a user restricted to regions); 2 km hexagons in the analysis CRS, the same "
        "default map as the OGC collection hotspots and the risk model; distance band "
        "by incremental spatial autocorrelation (geo.hotspots.pipeline).",
        (MapStyle("gistar", "Gi* confidence bins"),), time_enabled=True),
)

DENSITY = Layer(
    name="density", title="Incident density (KDE)", geometry_type="Polygon",
    map=MapFacet(
        "Quartic kernel density of the incidents in the TIME window (of the user's "
        "regions for a user restricted to regions), incidents per km², Silverman "
        "bandwidth (geo.hotspots.density); transparent where zero.",
        (MapStyle("kde", "Kernel density"),), time_enabled=True),
)

# Sections with the scores of the latest stored assessment that covers each, and the
# live scores (``geo.risk.levels``) of the others, bound as ``live_risk`` (a JSON array
# of records; '[]': stored assessments only). Only that value is bound in it.
_LATEST_RISK = """(
   (SELECT DISTINCT ON (r.segment_id)
           r.segment_id AS id, s.code, s.name, s.region_id, r.assessment_id,
           a.period_start, a.period_end, a.created_at AS assessed_at, r.threat,
           r.vulnerability, r.impact, r.risk, r.level, r.rank,
           'assessment' AS level_source, s.geom
      FROM risk_section_results AS r
      JOIN risk_assessments AS a ON a.id = r.assessment_id
      JOIN border_segments AS s ON s.id = r.segment_id
     ORDER BY r.segment_id, a.created_at DESC, a.id DESC)
    UNION ALL
    SELECT s.id, s.code, s.name, s.region_id, NULL::integer, l.period_start, l.period_end,
           NULL::timestamptz, l.threat, l.vulnerability, l.impact, l.risk, l.level, l.rank,
           'live', s.geom
      FROM jsonb_to_recordset(CAST(:live_risk AS jsonb)) AS l(
               id integer, period_start timestamptz, period_end timestamptz,
               threat integer, vulnerability integer, impact integer, risk integer,
               level text, rank integer)
      JOIN border_segments AS s ON s.id = l.id
     WHERE NOT EXISTS (SELECT 1 FROM risk_section_results AS x
                        WHERE x.segment_id = s.id)) AS latest_risk"""

RISK_RESULTS = Layer(
    name="risk", table=_LATEST_RISK, title="Risk of border sections (latest assessment)",
    geometry_type="LineString",
    derived=(
        Field("code", "text"), Field("name", "text"), Field("region_id", "int"),
        Field("assessment_id", "int"), Field("period_start", "timestamp"),
        Field("period_end", "timestamp"), Field("assessed_at", "timestamp"),
        Field("threat", "int", minimum=1, maximum=5),
        Field("vulnerability", "int", minimum=1, maximum=5),
        Field("impact", "int", minimum=1, maximum=5),
        Field("risk", "int", minimum=1, maximum=125),
        Field("level", "choice", choices=("low", "medium", "high", "critical")),
        Field("rank", "int"),
        Field("level_source", "choice", choices=("assessment", "live"),
              description="assessment: the latest stored assessment's scores; live: "
                          "computed as the workspace computes them (no stored "
                          "assessment covers the section)."),
    ),
    key=("id",), filters=frozenset({"bbox"}), scope_column="region_id",
    table_parameters=("live_risk",),
    collection="Border sections with the CIRAM scores of their latest stored assessment, "
               "else their live scores over the default period (level_source says "
               "which).",
    tiles=TileFacet(("code", "name", "threat", "vulnerability", "impact", "risk", "level",
                     "rank", "assessment_id", "level_source")),
)

# Every layer, in the order the services list them (the WMS draws the first lowest).
CATALOGUE: dict[str, Layer] = {layer.name: layer for layer in (
    COUNTRIES, REGIONS, SEGMENTS, CROSSINGS, INCIDENTS, HOTSPOTS, DENSITY, RISK_RESULTS)}

# The views of the services.
LAYERS: dict[str, Layer] = {n: layer for n, layer in CATALOGUE.items() if layer.fields}
COLLECTIONS: dict[str, Layer] = {n: layer for n, layer in CATALOGUE.items()
                                 if layer.collection is not None}
TILE_LAYERS: dict[str, Layer] = {n: layer for n, layer in CATALOGUE.items() if layer.tiles}
MAP_LAYERS: dict[str, Layer] = {n: layer for n, layer in CATALOGUE.items() if layer.map}
LAYER_ALIASES = {alias: layer for layer in LAYERS.values() for alias in layer.aliases}


def get_layer(name: str) -> Layer:
    """The data layer called ``name`` (or by one of its aliases); KeyError lists the
    known ones."""
    try:
        return LAYERS.get(name) or LAYER_ALIASES[name]
    except KeyError:
        raise KeyError(f"unknown layer {name!r}; layers are {', '.join(LAYERS)}") from None
