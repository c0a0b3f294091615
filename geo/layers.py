"""The four data layers as the API, import and export see them.

One description per layer: its table, geometry type, natural key (what an import upserts
on and a create must not duplicate), the properties a client may write with their types
and vocabularies, the derived properties it may only read, and which list filters apply.
Validation (``geo.io.validation``), ingestion (``geo.io.ingest``), listing (``geo.queries``),
export and the OpenAPI document are all built from these descriptions.
"""

from __future__ import annotations

from dataclasses import dataclass

from geo import vocabulary as vocab


@dataclass(frozen=True)
class Field:
    """A property of a layer.

    ``kind`` is one of ``text``, ``int``, ``float``, ``timestamp`` (RFC 3339, with a
    time zone, stored as UTC) or ``choice`` (one of ``choices``).
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
class Layer:
    """One layer: table, geometry, writable and derived fields, key and filters."""

    name: str
    table: str
    title: str
    geometry_type: str  # GeoJSON type of stored geometries
    fields: tuple[Field, ...]
    derived: tuple[Field, ...]
    key: tuple[str, ...]
    filters: frozenset[str]
    time_field: str | None = None
    default_sort: tuple[str, ...] = ("id",)

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

    def field(self, name: str) -> Field:
        for candidate in self.readable:
            if candidate.name == name:
                return candidate
        raise KeyError(name)


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
)

SEGMENTS = Layer(
    name="segments",
    table="border_segments",
    title="Border sections",
    geometry_type="LineString",
    fields=(
        Field("code", "text", required=True, max_length=32),
        Field("name", "text", required=True, max_length=200),
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
)

CROSSINGS = Layer(
    name="crossings",
    table="crossing_points",
    title="Border crossing points",
    geometry_type="Point",
    fields=(
        Field("code", "text", required=True, max_length=32),
        Field("name", "text", required=True, max_length=200),
        Field("kind", "choice", required=True, choices=vocab.CROSSING_KINDS),
        Field("neighbour_country", "text", pattern=ISO2, pattern_hint=ISO2_HINT),
        Field("status", "choice", choices=vocab.CROSSING_STATUSES, default="open"),
        PROVENANCE,
    ),
    derived=(REGION_LINK,),
    key=("code",),
    filters=frozenset({"bbox", "region", "status"}),
    default_sort=("code",),
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
    filters=frozenset({"bbox", "datetime", "category", "outcome", "region", "status"}),
    time_field="occurred_at",
    default_sort=("-occurred_at", "-id"),
)

LAYERS: dict[str, Layer] = {layer.name: layer for layer in (REGIONS, SEGMENTS, CROSSINGS,
                                                           INCIDENTS)}


def get_layer(name: str) -> Layer:
    """The layer called ``name``; KeyError lists the known ones."""
    try:
        return LAYERS[name]
    except KeyError:
        raise KeyError(f"unknown layer {name!r}; layers are {', '.join(LAYERS)}") from None
