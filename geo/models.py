"""Tables of BorderRisk (SQLAlchemy 2 + GeoAlchemy2), usable without Flask.

Every geometry is stored in EPSG:4326 (longitude, latitude, degrees). Lengths and
distances in metres are derived in the analysis CRS (``ANALYSIS_CRS``, default
EPSG:32638) by ``geo.queries``. The database itself enforces what must hold for every
row, whoever writes it: the SRID (column type), valid geometries (``ST_IsValid``),
coordinates within the WGS 84 range, the controlled vocabularies of
``geo.vocabulary`` and non-negative counts.
"""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from geo import vocabulary as vocab
from geo.crs import STORAGE_SRID


class Base(DeclarativeBase):
    """Declarative base shared by every table (domain and auth)."""


def one_of(column: str, values) -> str:
    """SQL for ``column IN (...)`` from a vocabulary tuple (literal, trusted values)."""
    items = ", ".join(f"'{v}'" if isinstance(v, str) else str(v) for v in values)
    return f"{column} IN ({items})"


def geometry_checks(table: str) -> tuple[CheckConstraint, ...]:
    """Valid geometry within the longitude/latitude range of EPSG:4326."""
    return (
        CheckConstraint("ST_IsValid(geom)", name=f"ck_{table}_geom_valid"),
        CheckConstraint(
            "ST_XMin(geom) >= -180 AND ST_XMax(geom) <= 180 "
            "AND ST_YMin(geom) >= -90 AND ST_YMax(geom) <= 90",
            name=f"ck_{table}_geom_lonlat_range",
        ),
    )


def geography_index(table: str) -> Index:
    """GiST index on ``geom::geography``: nearest-neighbour search on the sphere."""
    return Index(f"ix_{table}_geog", text("(geom::geography)"), postgresql_using="gist")


def provenance_column() -> Mapped[str]:
    return mapped_column(String(16), nullable=False, server_default="reported")


class Region(Base):
    """A regional unit of the border police (MultiPolygon, EPSG:4326)."""

    __tablename__ = "regions"
    __table_args__ = (
        *geometry_checks("regions"),
        CheckConstraint(one_of("provenance", vocab.PROVENANCES), name="ck_regions_provenance"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    name_en: Mapped[str] = mapped_column(String(200), nullable=False)
    name_ka: Mapped[str] = mapped_column(String(200), nullable=False)
    provenance: Mapped[str] = provenance_column()
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=STORAGE_SRID), nullable=False)


class BorderSegment(Base):
    """A border section (EUROSUR Art. 30) as a LineString in EPSG:4326.

    ``length_m`` is the length in metres measured in the analysis CRS; it is derived,
    never entered (``geo.queries.refresh_segment_lengths``).
    """

    __tablename__ = "border_segments"
    __table_args__ = (
        *geometry_checks("border_segments"),
        CheckConstraint(one_of("kind", vocab.SEGMENT_KINDS), name="ck_border_segments_kind"),
        CheckConstraint(
            one_of("terrain_class", vocab.TERRAIN_CLASSES),
            name="ck_border_segments_terrain_class",
        ),
        CheckConstraint(
            "surveillance_level BETWEEN 0 AND 5", name="ck_border_segments_surveillance_level"
        ),
        CheckConstraint("neighbour_country ~ '^[A-Z]{2}$'", name="ck_border_segments_neighbour"),
        CheckConstraint("length_m IS NULL OR length_m >= 0", name="ck_border_segments_length"),
        CheckConstraint(
            one_of("provenance", vocab.PROVENANCES), name="ck_border_segments_provenance"
        ),
        geography_index("border_segments"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    # The name in Georgian; the pages show ``name`` where it is NULL.
    name_ka: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    # ISO 3166-1 alpha-2 of the country across the border; NULL for a sea section.
    neighbour_country: Mapped[str | None] = mapped_column(String(2))
    region_id: Mapped[int | None] = mapped_column(
        ForeignKey("regions.id", ondelete="SET NULL"), index=True
    )
    length_m: Mapped[float | None] = mapped_column(Float)
    surveillance_level: Mapped[int] = mapped_column(SmallInteger, nullable=False, default=2)
    terrain_class: Mapped[str] = mapped_column(String(16), nullable=False, default="hills")
    provenance: Mapped[str] = provenance_column()
    geom = mapped_column(Geometry("LINESTRING", srid=STORAGE_SRID), nullable=False)


class CrossingPoint(Base):
    """A border crossing point (Point, EPSG:4326)."""

    __tablename__ = "crossing_points"
    __table_args__ = (
        *geometry_checks("crossing_points"),
        CheckConstraint(one_of("kind", vocab.CROSSING_KINDS), name="ck_crossing_points_kind"),
        CheckConstraint(
            one_of("status", vocab.CROSSING_STATUSES), name="ck_crossing_points_status"
        ),
        CheckConstraint(
            "neighbour_country IS NULL OR neighbour_country ~ '^[A-Z]{2}$'",
            name="ck_crossing_points_neighbour",
        ),
        CheckConstraint(
            one_of("provenance", vocab.PROVENANCES), name="ck_crossing_points_provenance"
        ),
        geography_index("crossing_points"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    # The name in Georgian; the pages show ``name`` where it is NULL.
    name_ka: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    neighbour_country: Mapped[str | None] = mapped_column(String(2))
    region_id: Mapped[int | None] = mapped_column(
        ForeignKey("regions.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="open")
    provenance: Mapped[str] = provenance_column()
    geom = mapped_column(Geometry("POINT", srid=STORAGE_SRID), nullable=False)


AGENCY_CODE_PATTERN = "^[A-Z][A-Z0-9]{1,15}$"
# The stored form of an incident's releasability: the JSON the API speaks, "all",
# "agency" or an array of agency codes (``geo.releasability``).
RELEASABILITY_CHECK = ("{0} IN ('\"all\"'::jsonb, '\"agency\"'::jsonb) "
                       "OR jsonb_typeof({0}) = 'array'")


class Agency(Base):
    """A body of the ministry whose users and records share one picture (the Border
    Police, the Patrol Police Department...). ``code`` is its stable identifier, used
    by incidents and users; ``default_releasability`` (``"all"``, ``"agency"`` or a list
    of codes, as ``geo.releasability``) and ``default_aggregate`` are what a new
    incident of this agency gets when its writer gives none. An inactive agency keeps
    its records and users but gets no new members.
    """

    __tablename__ = "agencies"
    __table_args__ = (
        CheckConstraint(f"code ~ '{AGENCY_CODE_PATTERN}'", name="ck_agencies_code"),
        CheckConstraint(RELEASABILITY_CHECK.format("default_releasability"),
                        name="ck_agencies_default_releasability"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True, nullable=False)
    name_en: Mapped[str] = mapped_column(String(200), nullable=False)
    name_ka: Mapped[str] = mapped_column(String(200), nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    default_releasability = mapped_column(JSONB, nullable=False,
                                          server_default=text("'\"all\"'::jsonb"))
    default_aggregate: Mapped[bool] = mapped_column(Boolean, nullable=False,
                                                    server_default=text("true"))


class Incident(Base):
    """A reported border event (Point, EPSG:4326) in the EUROSUR event-report shape.

    ``occurred_at`` is a timestamp with time zone (stored as UTC). The derived links
    (region, nearest border segment and crossing point, distances in metres in the
    analysis CRS) are computed set-based by ``geo.queries.link_incidents``.
    """

    __tablename__ = "incidents"
    __table_args__ = (
        *geometry_checks("incidents"),
        UniqueConstraint("source", "external_id", name="uq_incidents_source_external_id"),
        CheckConstraint(
            one_of("category", vocab.INCIDENT_CATEGORIES), name="ck_incidents_category"
        ),
        CheckConstraint(one_of("outcome", vocab.INCIDENT_OUTCOMES), name="ck_incidents_outcome"),
        CheckConstraint(
            "direction IS NULL OR " + one_of("direction", vocab.DIRECTIONS),
            name="ck_incidents_direction",
        ),
        CheckConstraint(
            "detection_method IS NULL OR " + one_of("detection_method", vocab.DETECTION_METHODS),
            name="ck_incidents_detection_method",
        ),
        CheckConstraint(
            "transport_means IS NULL OR " + one_of("transport_means", vocab.TRANSPORT_MEANS),
            name="ck_incidents_transport_means",
        ),
        CheckConstraint(
            one_of("source_reliability", vocab.SOURCE_RELIABILITY),
            name="ck_incidents_source_reliability",
        ),
        CheckConstraint(
            one_of("information_credibility", vocab.INFORMATION_CREDIBILITY),
            name="ck_incidents_information_credibility",
        ),
        CheckConstraint(one_of("status", vocab.INCIDENT_STATUSES), name="ck_incidents_status"),
        CheckConstraint("persons_count >= 0", name="ck_incidents_persons_count"),
        CheckConstraint(
            "nationality IS NULL OR nationality ~ '^[A-Z]{2}$'", name="ck_incidents_nationality"
        ),
        CheckConstraint(
            "segment_distance_m IS NULL OR segment_distance_m >= 0",
            name="ck_incidents_segment_distance",
        ),
        CheckConstraint(
            "crossing_distance_m IS NULL OR crossing_distance_m >= 0",
            name="ck_incidents_crossing_distance",
        ),
        CheckConstraint(one_of("provenance", vocab.PROVENANCES), name="ck_incidents_provenance"),
        CheckConstraint(RELEASABILITY_CHECK.format("releasability"),
                        name="ck_incidents_releasability"),
        Index("ix_incidents_occurred_at", "occurred_at"),
        # A region's incidents by time, with what the agencies' rule reads (geo.scope):
        # a scoped list's count and a region's window need not visit the table rows,
        # whose releasability columns come last (docs/benchmarks.md, issue 16).
        Index("ix_incidents_region_time", "region_id", "occurred_at",
              postgresql_include=["agency", "releasability", "aggregate"]),
        Index("ix_incidents_category_occurred_at", "category", "occurred_at"),
        # A section's incidents by time: the forecast's bounded history and the risk
        # model's period counts read their window, not every year (issue 21).
        Index("ix_incidents_segment_time", "nearest_segment_id", "occurred_at"),
        # A box and a time window in one index (btree_gist): a tile or map of the last
        # 90 days visits that window's incidents of its box, not the box's whole
        # history (docs/scaling.md; the plain spatial index stays for the rest).
        Index("ix_incidents_geom_time", "geom", "occurred_at", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(64), nullable=False)
    external_id: Mapped[str] = mapped_column(String(128), nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    category: Mapped[str] = mapped_column(String(40), nullable=False)
    outcome: Mapped[str] = mapped_column(String(16), nullable=False, default="actual")
    direction: Mapped[str | None] = mapped_column(String(8))
    detection_method: Mapped[str | None] = mapped_column(String(24))
    persons_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    nationality: Mapped[str | None] = mapped_column(String(2))
    transport_means: Mapped[str | None] = mapped_column(String(16))
    description: Mapped[str | None] = mapped_column(Text)
    source_reliability: Mapped[str] = mapped_column(String(1), nullable=False, default="X")
    information_credibility: Mapped[int] = mapped_column(SmallInteger, nullable=False, default=4)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="draft")
    provenance: Mapped[str] = provenance_column()
    # The originating agency (the writer's) and the region whose unit reported it (not
    # necessarily the one it lies in); who else sees it in detail (``releasability``)
    # and whether it counts in aggregates where it is not (``aggregate``): geo.scope.
    agency: Mapped[str] = mapped_column(
        String(16), ForeignKey("agencies.code", onupdate="CASCADE", ondelete="RESTRICT"),
        nullable=False, server_default=vocab.LEGACY_AGENCY)
    reporting_unit: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("regions.code", onupdate="CASCADE", ondelete="RESTRICT"))
    releasability = mapped_column(JSONB, nullable=False,
                                  server_default=text("'\"all\"'::jsonb"))
    aggregate: Mapped[bool] = mapped_column(Boolean, nullable=False,
                                            server_default=text("true"))
    region_id: Mapped[int | None] = mapped_column(
        ForeignKey("regions.id", ondelete="SET NULL")  # ix_incidents_region_time
    )
    nearest_segment_id: Mapped[int | None] = mapped_column(
        ForeignKey("border_segments.id", ondelete="SET NULL")  # ix_incidents_segment_time
    )
    segment_distance_m: Mapped[float | None] = mapped_column(Float)
    # Not indexed: nothing looks incidents up by it, and a bulk import pays per row.
    nearest_crossing_id: Mapped[int | None] = mapped_column(
        ForeignKey("crossing_points.id", ondelete="SET NULL")
    )
    crossing_distance_m: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), onupdate=func.now()
    )
    geom = mapped_column(Geometry("POINT", srid=STORAGE_SRID), nullable=False)


class SyntheticHotspot(Base):
    """Ground truth of the synthetic demo data: one planted hot-spot.

    The demo generator plants incidents around ``geom`` (a Point, EPSG:4326) within
    ``radius_m`` metres, between ``active_from`` and ``active_to``, following ``kind``
    (persistent, new, intensifying, diminishing). Later analytics are tested against
    these rows. Only the demo loader writes here.
    """

    __tablename__ = "synthetic_hotspots"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('persistent', 'new', 'intensifying', 'diminishing')",
            name="ck_synthetic_hotspots_kind",
        ),
        CheckConstraint("radius_m > 0", name="ck_synthetic_hotspots_radius"),
        CheckConstraint("incident_count >= 0", name="ck_synthetic_hotspots_incident_count"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    category: Mapped[str] = mapped_column(String(40), nullable=False)
    radius_m: Mapped[float] = mapped_column(Float, nullable=False)
    active_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    active_to: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    incident_count: Mapped[int] = mapped_column(Integer, nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    geom = mapped_column(Geometry("POINT", srid=STORAGE_SRID), nullable=False)


class DataVersion(Base):
    """A counter per table, bumped by a trigger on every statement that changes it.

    Cached analysis results are keyed by these versions (see ``geo.queries``).
    """

    __tablename__ = "data_versions"

    table_name: Mapped[str] = mapped_column(String(63), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    changed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )


RISK_LEVELS = ("low", "medium", "high", "critical")


class RiskAssessment(Base):
    """An assessment of a region's border sections for a period: an immutable record.

    Holds the configuration used (its SHA-256 and full text), the inputs and a summary;
    a database trigger refuses any UPDATE or DELETE. Re-running creates a new one.
    """

    __tablename__ = "risk_assessments"
    __table_args__ = (
        CheckConstraint("period_end > period_start", name="ck_risk_assessments_period"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"))
    period_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    period_end: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    config_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    config_text: Mapped[str] = mapped_column(Text, nullable=False)
    inputs = mapped_column(JSONB, nullable=False)
    summary = mapped_column(JSONB, nullable=False)
    # NULL: stored by the worker for a schedule (its ``inputs`` name the schedule).
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )


class RiskSectionResult(Base):
    """One section's scores in an assessment (1-5 each, risk 1-125); immutable."""

    __tablename__ = "risk_section_results"
    __table_args__ = (
        UniqueConstraint("assessment_id", "segment_id", name="uq_risk_section_results"),
        CheckConstraint(
            "threat BETWEEN 1 AND 5 AND vulnerability BETWEEN 1 AND 5 AND impact BETWEEN 1 AND 5",
            name="ck_risk_section_results_scores",
        ),
        CheckConstraint("risk BETWEEN 1 AND 125", name="ck_risk_section_results_risk"),
        CheckConstraint(one_of("level", RISK_LEVELS), name="ck_risk_section_results_level"),
        Index("ix_risk_section_results_segment", "segment_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assessment_id: Mapped[int] = mapped_column(
        ForeignKey("risk_assessments.id", ondelete="RESTRICT"), nullable=False
    )
    segment_id: Mapped[int] = mapped_column(
        ForeignKey("border_segments.id", ondelete="RESTRICT"), nullable=False
    )
    threat: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    vulnerability: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    impact: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    risk: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    level: Mapped[str] = mapped_column(String(16), nullable=False)
    rank: Mapped[int] = mapped_column(Integer, nullable=False)
    details = mapped_column(JSONB, nullable=False)


class RiskLevelDecision(Base):
    """A supervisor's decision on a section's level (``level`` NULL lifts the last one).

    Append-only: the current decision is the latest row of the section.
    """

    __tablename__ = "risk_level_decisions"
    __table_args__ = (
        CheckConstraint("level IS NULL OR " + one_of("level", RISK_LEVELS),
                        name="ck_risk_level_decisions_level"),
        CheckConstraint("length(btrim(justification)) >= 10",
                        name="ck_risk_level_decisions_justification"),
        Index("ix_risk_level_decisions_segment", "segment_id", "decided_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    segment_id: Mapped[int] = mapped_column(
        ForeignKey("border_segments.id", ondelete="RESTRICT"), nullable=False
    )
    level: Mapped[str | None] = mapped_column(String(16))
    justification: Mapped[str] = mapped_column(Text, nullable=False)
    decided_by: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), nullable=False
    )
    decided_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )


IMPORT_JOB_STATUSES = ("queued", "running", "succeeded", "failed", "interrupted")


class ImportJob(Base):
    """An upload's import, run in the background of the worker that received it
    (``geo.io.import_jobs``): its state, the rows read so far, and the final answer."""

    __tablename__ = "import_jobs"
    __table_args__ = (
        CheckConstraint(one_of("status", IMPORT_JOB_STATUSES), name="ck_import_jobs_status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    layer: Mapped[str] = mapped_column(String(32), nullable=False)
    file_name: Mapped[str] = mapped_column(String(255), nullable=False)
    format: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="queued")
    rows_read: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    # The HTTP status and body the import's request would have answered (the report,
    # or the problem+json of a failure).
    http_status: Mapped[int | None] = mapped_column(SmallInteger)
    result: Mapped[dict | None] = mapped_column(JSONB)
    # Where the job runs: a job 'running' on this host whose process is gone was killed.
    host: Mapped[str] = mapped_column(String(255), nullable=False)
    pid: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Event(Base):
    """A change, or an application event, in the transactional outbox (migration
    ``e7b2c4d9f1a0``; read through ``geo.events.feed``). ``txid`` is the writing
    transaction's id (one event per record per transaction); the ``before_*`` columns
    (NULL for an application event) and ``after_exists``, ``region_id``, ``agency``,
    ``releasability`` are who may see the record before and after the change."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_record", "entity", "entity_id", "id"),
        Index("ux_events_change", "txid", "entity", "entity_id", unique=True,
              postgresql_where=text("before_exists IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    type: Mapped[str] = mapped_column(String(40), nullable=False)
    entity: Mapped[str] = mapped_column(String(32), nullable=False)
    entity_id: Mapped[int | None] = mapped_column(BigInteger)
    subject: Mapped[str] = mapped_column(Text, nullable=False)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                           server_default=text("clock_timestamp()"))
    txid: Mapped[int] = mapped_column(
        BigInteger, nullable=False, server_default=text("(pg_current_xact_id())::text::bigint"))
    data: Mapped[dict | None] = mapped_column(JSONB)
    before_exists: Mapped[bool | None] = mapped_column(Boolean)
    before_region_id: Mapped[int | None] = mapped_column(Integer)
    before_agency: Mapped[str | None] = mapped_column(String(16))
    before_releasability: Mapped[object | None] = mapped_column(JSONB)
    after_exists: Mapped[bool] = mapped_column(Boolean, nullable=False,
                                               server_default=text("true"))
    region_id: Mapped[int | None] = mapped_column(Integer)
    agency: Mapped[str | None] = mapped_column(String(16))
    releasability: Mapped[object | None] = mapped_column(JSONB)


class EventsHorizon(Base):
    """One row: the highest event id retention has purged (a cursor at or below it has
    expired)."""

    __tablename__ = "events_horizon"
    __table_args__ = (CheckConstraint("id = 1", name="ck_events_horizon_one_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    purged_through: Mapped[int] = mapped_column(BigInteger, nullable=False,
                                                server_default=text("0"))


class Notification(Base):
    """A message in a user's inbox (``app.inbox``): kind alert, decision, bulletin or
    webhook; ``event_id`` the event it tells of (one per user and event)."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user", "user_id", "id"),
        Index("ux_notifications_event", "user_id", "event_id", unique=True,
              postgresql_where=text("event_id IS NOT NULL")),
        Index("ix_notifications_mail_due", "created_at",
              postgresql_where=text("emailed_at IS NULL AND email_error IS NULL "
                                    "AND kind IN ('alert', 'bulletin')")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    link: Mapped[str | None] = mapped_column(Text)
    event_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=text("clock_timestamp()"))
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    emailed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Title and body as message ids and values, for the reader's language
    # (``app.inbox.messages``); why the SMTP server refused its e-mail for good.
    message: Mapped[dict | None] = mapped_column(JSONB)
    email_error: Mapped[str | None] = mapped_column(Text)


class InboxCursor(Base):
    """One row: the last event the inbox fan-out (``app.inbox.fanout``) looked at."""

    __tablename__ = "inbox_cursor"
    __table_args__ = (CheckConstraint("id = 1", name="ck_inbox_cursor_one_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_event_id: Mapped[int] = mapped_column(BigInteger, nullable=False,
                                               server_default=text("0"))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=text("clock_timestamp()"))


PRODUCTS = ("weekly", "monthly")


class Schedule(Base):
    """A region's scheduled bulletin (migration ``b3c5d7e9f1a2``; ``geo.products``):
    weekly or monthly, in a time zone; ``next_run_at`` NULL until a worker plans it."""

    __tablename__ = "schedules"
    __table_args__ = (
        CheckConstraint("product IN ('weekly', 'monthly')", name="ck_schedules_product"),
        UniqueConstraint("region_id", "product", name="uq_schedules_region_product"),
        Index("ix_schedules_due", "next_run_at", postgresql_where=text("active")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="CASCADE"),
                                           nullable=False)
    product: Mapped[str] = mapped_column(String(16), nullable=False)
    time_zone: Mapped[str] = mapped_column(String(64), nullable=False,
                                           server_default="Asia/Tbilisi")
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    next_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_period_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                 server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                 server_default=func.now())


class Bulletin(Base):
    """An archived bulletin (``geo.products.archive``): one per region, product and
    period ``[period_start, period_end)``, with its HTML, PDF and configuration."""

    __tablename__ = "bulletins"
    __table_args__ = (
        CheckConstraint("product IN ('weekly', 'monthly')", name="ck_bulletins_product"),
        CheckConstraint("period_end > period_start", name="ck_bulletins_period"),
        UniqueConstraint("region_id", "product", "period_start",
                         name="uq_bulletins_region_product_period"),
        Index("ix_bulletins_region", "region_id", "period_start"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    schedule_id: Mapped[int | None] = mapped_column(
        ForeignKey("schedules.id", ondelete="SET NULL"))
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"),
                                           nullable=False)
    product: Mapped[str] = mapped_column(String(16), nullable=False)
    time_zone: Mapped[str] = mapped_column(String(64), nullable=False)
    period_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    period_end: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    assessment_id: Mapped[int] = mapped_column(
        ForeignKey("risk_assessments.id", ondelete="RESTRICT"), nullable=False)
    html: Mapped[str] = mapped_column(Text, nullable=False)
    pdf: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    # The same bulletin in Georgian (NULL: archived before it was rendered in Georgian).
    html_ka: Mapped[str | None] = mapped_column(Text)
    pdf_ka: Mapped[bytes | None] = mapped_column(LargeBinary)
    config_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    config_text: Mapped[str] = mapped_column(Text, nullable=False)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    produced_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                 server_default=func.now())


class SectionAlert(Base):
    """A section whose alert test fired in a period (``alert.raised`` once each)."""

    __tablename__ = "section_alerts"

    segment_id: Mapped[int] = mapped_column(
        ForeignKey("border_segments.id", ondelete="CASCADE"), primary_key=True)
    period_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    period_end: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    event_id: Mapped[int | None] = mapped_column(BigInteger)
    raised_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                server_default=func.now())


class AlertCursor(Base):
    """One row: the last event the alert job looked at."""

    __tablename__ = "alert_cursor"
    __table_args__ = (CheckConstraint("id = 1", name="ck_alert_cursor_one_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_event_id: Mapped[int] = mapped_column(BigInteger, nullable=False,
                                               server_default=text("0"))
