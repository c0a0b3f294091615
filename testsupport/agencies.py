"""The four-agency fixture: SYNTHETIC incidents of each agency of the ministry with every
kind of releasability, and the rule of who sees and who counts them, written again in
Python so that tests compare each read path with it.

Every agency originates four incidents (external ids ``<AGENCY>-ALL``, ``-OWN``,
``-OWN-NC`` and ``-LIST``): released to all, to its own agency only (counted in
aggregates, and not counted), and to the next agency of ``AGENCIES`` by name (not
counted). They lie in the sample layers' two test regions (``tests/data``), T-KK
(west) and T-KA (east), and occurred in October 2026.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import text

AGENCIES = ("GBP", "PPD", "MD", "IAD")
SOURCE = "four-agency-fixture"


@dataclass(frozen=True)
class Record:
    """One fixture incident: what the rule needs, and where and when it lies."""

    external_id: str
    agency: str
    releasability: str | list[str]
    aggregate: bool
    region: str | None  # the region it lies in and its reporting unit (None: none)
    lon: float
    lat: float
    occurred_at: str


def records() -> list[Record]:
    """The sixteen incidents, in a fixed order."""
    rows = []
    for number, agency in enumerate(AGENCIES):
        following = AGENCIES[(number + 1) % len(AGENCIES)]
        kinds = (("ALL", "all", True), ("OWN", "agency", True), ("OWN-NC", "agency", False),
                 ("LIST", [following], False))
        for kind_number, (suffix, release, counted) in enumerate(kinds):
            index = number * len(kinds) + kind_number
            east = index % 2 == 1
            rows.append(Record(
                external_id=f"{agency}-{suffix}", agency=agency, releasability=release,
                aggregate=counted, region="T-KA" if east else "T-KK",
                lon=(45.25 if east else 44.85) + 0.01 * (index // 2), lat=41.40,
                occurred_at=f"2026-10-{1 + index:02d}T10:00:00Z"))
    return rows


def sees(agency: str | None, record: Record) -> bool:
    """The rule: ``agency`` (None: the system) sees ``record`` in detail."""
    if agency is None or record.agency == agency or record.releasability == "all":
        return True
    return isinstance(record.releasability, list) and agency in record.releasability


def counts(agency: str | None, record: Record) -> bool:
    """The rule: ``record`` counts in ``agency``'s aggregates."""
    return sees(agency, record) or record.aggregate


def load_four_agency_incidents(session, analysis_srid: int) -> dict[str, int]:
    """Insert the fixture's incidents (after the sample layers) with their derived
    links; returns their ids by external id."""
    return insert_records(session, records(), analysis_srid)


def insert_records(session, rows, analysis_srid: int, source: str = SOURCE
                   ) -> dict[str, int]:
    """Insert ``rows`` (:class:`Record`) as incidents of ``source`` with their derived
    links; returns their ids by external id."""
    from geo.queries import derive_links

    ids = {}
    for record in rows:
        ids[record.external_id] = session.execute(text(
            "INSERT INTO incidents (source, external_id, occurred_at, category, "
            "outcome, persons_count, description, source_reliability, "
            "information_credibility, provenance, status, agency, reporting_unit, "
            "releasability, aggregate, geom) VALUES (:source, :external_id, :occurred_at, "
            "'illegal_crossing_between_bcp', 'actual', 2, :description, 'X', 4, "
            "'synthetic', 'validated', "
            ":agency, :region, CAST(:releasability AS jsonb), :aggregate, "
            "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) RETURNING id"),
            {"source": source, "external_id": record.external_id,
             "occurred_at": record.occurred_at,
             "description": f"SYNTHETIC {record.external_id} detail",
             "agency": record.agency, "region": record.region,
             "releasability": json.dumps(record.releasability),
             "aggregate": record.aggregate, "lon": record.lon, "lat": record.lat},
        ).scalar_one()
    derive_links(session, "incidents", analysis_srid, sorted(ids.values()))
    session.flush()
    return ids
