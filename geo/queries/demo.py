"""The SQL of the demonstration data (``geo.demo.loader``): the synthetic incidents'
bulk insert, and the immutable records that refer to demo rows.
"""

from __future__ import annotations

from sqlalchemy import text

from geo.queries.database import local_settings
from geo.queries.links import INCIDENT_LINK_COLUMNS, incident_links
from geo.queries.staging import SPATIAL_ORDER, WRITE_WORK_MEM

_DEMO_STAGING = "demo_incidents_staging"


def insert_incidents(session, columns, csv_buffer, analysis_srid: int) -> int:
    """Insert the incidents of ``csv_buffer`` (CSV of ``columns``, constants of the
    loader; ``geom`` as EWKT): one ``COPY`` into a staging table that draws their ids,
    then one insert with their derived links (metres in ``analysis_srid``), in
    ``SPATIAL_ORDER``. Returns the number of rows inserted."""
    names = ", ".join(columns)
    session.execute(text(f"DROP TABLE IF EXISTS {_DEMO_STAGING}"))
    # The staging table draws the ids from the incidents' sequence as rows arrive.
    session.execute(text(
        f"CREATE TEMP TABLE {_DEMO_STAGING} ON COMMIT DROP AS "
        f"SELECT id, {names} FROM incidents WITH NO DATA"))
    session.execute(text(
        f"ALTER TABLE {_DEMO_STAGING} ALTER COLUMN id "
        "SET DEFAULT nextval(pg_get_serial_sequence('incidents', 'id'))"))
    dbapi_connection = session.connection().connection
    with dbapi_connection.cursor() as cursor:
        cursor.copy_expert(
            f"COPY {_DEMO_STAGING} ({names}) FROM STDIN WITH (FORMAT csv)", csv_buffer)
    links = INCIDENT_LINK_COLUMNS
    staged = ", ".join(f"s.{c}" for c in ("id", *columns))
    with incident_links(session, analysis_srid,
                        f"SELECT id AS key, geom FROM {_DEMO_STAGING}") as table, \
            local_settings(session, work_mem=WRITE_WORK_MEM):
        inserted = session.execute(text(
            f"INSERT INTO incidents (id, {names}, {', '.join(links)}) "
            f"SELECT {staged}, {', '.join('l.' + c for c in links)} FROM {_DEMO_STAGING} AS s "
            f"JOIN {table} AS l ON l.key = s.id ORDER BY {SPATIAL_ORDER.format('s')}")).rowcount
    session.execute(text(f"DROP TABLE {_DEMO_STAGING}"))
    return inserted


_RECORDS_ON_DEMO_ROWS = {
    "risk_assessments": """
        SELECT a.id FROM risk_assessments a
        WHERE a.region_id IN (SELECT id FROM regions WHERE provenance <> 'reported')
           OR a.id IN (SELECT r.assessment_id FROM risk_section_results r
                       JOIN border_segments s ON s.id = r.segment_id
                       WHERE s.provenance <> 'reported')
        ORDER BY a.id""",
    "risk_level_decisions": """
        SELECT d.id FROM risk_level_decisions d
        JOIN border_segments s ON s.id = d.segment_id
        WHERE s.provenance <> 'reported'
        ORDER BY d.id""",
}


def records_on_demo_rows(session) -> dict[str, list[int]]:
    """Ids of the immutable records (risk assessments, level decisions) that refer to
    demo regions or border sections (provenance not ``"reported"``), by table."""
    return {table: list(session.execute(text(sql)).scalars())
            for table, sql in _RECORDS_ON_DEMO_ROWS.items()}

