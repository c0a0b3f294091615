"""The statements on ``incidents`` a session's connection runs, recorded as they run:
each with the value of ``enable_indexscan`` it ran under and, when asked, the index
scans of its plan (``EXPLAIN`` of the same bound text under the same settings). Used by
tests/geo/test_window_reads.py and bench/window_plans.py (issue 21: the analyses' long
window reads are planned without plain index scans, ``geo.queries.window_reads``).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import psycopg2.extensions

# The analyses' window reads, by a piece of their SQL.
WINDOW_READS = {
    "hot-spot points (COPY of a box)": "FROM incidents WHERE geom && ST_MakeEnvelope",
    "sections' forecast history (COPY)": "i.nearest_segment_id::int4, extract(epoch",
    "risk COUNTS": "END AS back",
    "risk LAST_YEAR": "SELECT i.nearest_segment_id AS section_id, count(*) AS incidents",
    "monthly trend": "date_trunc('month', i.occurred_at",
    "emerging by section": "AS time_us",
}
# The forecast's probes for older incidents: one index range each, kept.
OLDER_PROBE = "FROM unnest(CAST("


@dataclass
class Statement:
    sql: str
    indexscan: str  # the setting it ran under
    label: str = ""  # what the caller was doing (``Recorder.label``)
    index_scans: list = field(default_factory=list)  # (node type, index) of its plan

    @property
    def kind(self) -> str | None:
        """Which of :data:`WINDOW_READS` it is, None for another statement."""
        return next((name for name, piece in WINDOW_READS.items() if piece in self.sql), None)

    @property
    def select(self) -> str:
        """The SELECT itself (a COPY's query without the COPY)."""
        if self.sql.startswith("COPY ("):
            return self.sql[len("COPY ("):self.sql.rindex(") TO STDOUT")]
        return self.sql


@dataclass
class Recorder:
    statements: list[Statement] = field(default_factory=list)
    explain: bool = False
    label: str = ""


class _Recording(psycopg2.extensions.cursor):
    """Notes each statement on ``incidents`` (see the module), then runs it."""

    recorder: Recorder

    def execute(self, query, vars=None):  # noqa: A002  (psycopg2's name)
        self._note(self.mogrify(query, vars).decode())
        return super().execute(query, vars)

    def copy_expert(self, sql, file, size=8192):
        self._note(sql)
        return super().copy_expert(sql, file, size)

    def _note(self, sql: str) -> None:
        if "FROM incidents" not in sql or sql.lstrip().upper().startswith("EXPLAIN"):
            return
        recorder = self.recorder
        with self.connection.cursor(cursor_factory=psycopg2.extensions.cursor) as plain:
            plain.execute("SELECT current_setting('enable_indexscan')")
            statement = Statement(sql, plain.fetchone()[0], recorder.label)
            if recorder.explain and statement.select.lstrip().upper().startswith("SELECT"):
                plain.execute("EXPLAIN (FORMAT JSON) " + statement.select)
                statement.index_scans = list(_index_scans(plan_of(plain.fetchone()[0])))
        recorder.statements.append(statement)


def plan_of(explained) -> dict:
    """The top node of an ``EXPLAIN (FORMAT JSON)`` answer (parsed or text)."""
    return (explained if isinstance(explained, list) else json.loads(explained))[0]["Plan"]


def _index_scans(node: dict):
    if node["Node Type"] in ("Index Scan", "Index Only Scan"):
        yield node["Node Type"], node.get("Index Name")
    for child in node.get("Plans", []):
        yield from _index_scans(child)


@contextlib.contextmanager
def recorded(session, explain: bool = False) -> Iterator[Recorder]:
    """A :class:`Recorder` of the statements on ``incidents`` that ``session``'s
    connection runs inside (``explain``: with their plans' index scans)."""
    raw = session.connection().connection.dbapi_connection
    recorder = Recorder(explain=explain)
    before = raw.cursor_factory
    raw.cursor_factory = type("Recording", (_Recording,), {"recorder": recorder})
    try:
        yield recorder
    finally:
        raw.cursor_factory = before
