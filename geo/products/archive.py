"""Schedules and the bulletins' archive in the database (migration ``b3c5d7e9f1a2``).

A schedule's ``next_run_at`` is NULL until a worker first plans it (the end of the
period holding the data clock's now, :func:`plan_unplanned`): the migration's and the
regions trigger's default schedules are planned that way, the API's at creation. A
schedule is **due** when active and ``next_run_at`` is at or before now; a due
schedule is claimed ``FOR UPDATE SKIP LOCKED`` (:func:`claim_due`), so two workers
never produce the same run, and the bulletins' UNIQUE (region, product, period start)
refuses a second bulletin of a period whatever happens.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text

from geo.products import periods

SCHEDULE_FIELDS = ("id", "region", "product", "time_zone", "active", "next_run_at",
                   "last_run_at", "last_period_start", "created_by", "created_at",
                   "updated_at")

_SCHEDULE_SELECT = """
    SELECT s.id, s.region_id, r.code AS region, s.product, s.time_zone, s.active,
           s.next_run_at, s.last_run_at, s.last_period_start,
           (SELECT username FROM users WHERE users.id = s.created_by) AS created_by,
           s.created_at, s.updated_at
      FROM schedules AS s JOIN regions AS r ON r.id = s.region_id
"""
_LIST_SCHEDULES = text(_SCHEDULE_SELECT + """
     WHERE (CAST(:scope AS int[]) IS NULL OR s.region_id = ANY(CAST(:scope AS int[])))
       AND (CAST(:region_id AS int) IS NULL OR s.region_id = :region_id)
     ORDER BY r.code, s.product, s.id
     LIMIT :limit OFFSET :offset
""")
_COUNT_SCHEDULES = text("""
    SELECT count(*) FROM schedules AS s
     WHERE (CAST(:scope AS int[]) IS NULL OR s.region_id = ANY(CAST(:scope AS int[])))
       AND (CAST(:region_id AS int) IS NULL OR s.region_id = :region_id)
""")
_GET_SCHEDULE = text(_SCHEDULE_SELECT + " WHERE s.id = :id")
_INSERT_SCHEDULE = text("""
    INSERT INTO schedules (region_id, product, time_zone, active, next_run_at, created_by)
    VALUES (:region_id, :product, :time_zone, :active, :next_run_at, :created_by)
    ON CONFLICT (region_id, product) DO NOTHING
    RETURNING id
""")
_UPDATE_SCHEDULE = text("""
    UPDATE schedules SET time_zone = :time_zone, active = :active,
                         next_run_at = :next_run_at, updated_at = now()
     WHERE id = :id
""")
_DELETE_SCHEDULE = text("DELETE FROM schedules WHERE id = :id")
_LOCK_SCHEDULE = text("SELECT id FROM schedules WHERE id = :id FOR UPDATE")

_UNPLANNED = text("""
    SELECT id, product, time_zone FROM schedules
     WHERE next_run_at IS NULL ORDER BY id FOR UPDATE SKIP LOCKED
""")
_PLAN = text("UPDATE schedules SET next_run_at = :at WHERE id = :id")
_CLAIM_DUE = text("""
    SELECT s.id, s.region_id, r.code AS region, s.product, s.time_zone, s.next_run_at
      FROM schedules AS s JOIN regions AS r ON r.id = s.region_id
     WHERE s.active AND s.next_run_at <= :now
     ORDER BY s.next_run_at, s.id
     LIMIT 1
       FOR UPDATE OF s SKIP LOCKED
""")
_ADVANCE = text("""
    UPDATE schedules SET next_run_at = :next_run_at, last_run_at = :ran_at,
                         last_period_start = coalesce(:period_start, last_period_start)
     WHERE id = :id
""")
_NEXT_DUE = text("SELECT min(next_run_at) FROM schedules WHERE active")

_BULLETIN_EXISTS = text("""
    SELECT id FROM bulletins
     WHERE region_id = :region_id AND product = :product AND period_start = :start
""")
_INSERT_BULLETIN = text("""
    INSERT INTO bulletins (schedule_id, region_id, product, time_zone, period_start,
                           period_end, assessment_id, html, pdf, html_ka, pdf_ka,
                           config_sha256, config_text, created_by, produced_by)
    VALUES (:schedule_id, :region_id, :product, :time_zone, :start, :end, :assessment_id,
            :html, :pdf, :html_ka, :pdf_ka, :config_sha256, :config_text, :created_by,
            :produced_by)
    ON CONFLICT (region_id, product, period_start) DO NOTHING
    RETURNING id, created_at
""")
_BULLETIN_SELECT = """
    SELECT b.id, b.schedule_id, b.region_id, r.code AS region, b.product, b.time_zone,
           b.period_start, b.period_end, b.assessment_id, b.config_sha256,
           coalesce((SELECT username FROM users WHERE users.id = b.created_by),
                    b.produced_by) AS created_by,
           b.created_at, length(b.html) AS html_bytes, length(b.pdf) AS pdf_bytes
      FROM bulletins AS b JOIN regions AS r ON r.id = b.region_id
"""
_LIST_BULLETINS = text(_BULLETIN_SELECT + """
     WHERE (CAST(:scope AS int[]) IS NULL OR b.region_id = ANY(CAST(:scope AS int[])))
       AND (CAST(:region_id AS int) IS NULL OR b.region_id = :region_id)
       AND (CAST(:product AS text) IS NULL OR b.product = :product)
     ORDER BY b.period_start DESC, b.id DESC
     LIMIT :limit OFFSET :offset
""")
_COUNT_BULLETINS = text("""
    SELECT count(*) FROM bulletins AS b
     WHERE (CAST(:scope AS int[]) IS NULL OR b.region_id = ANY(CAST(:scope AS int[])))
       AND (CAST(:region_id AS int) IS NULL OR b.region_id = :region_id)
       AND (CAST(:product AS text) IS NULL OR b.product = :product)
""")
_GET_BULLETIN = text(_BULLETIN_SELECT + " WHERE b.id = :id")
_BULLETIN_CONFIG = text("SELECT config_text FROM bulletins WHERE id = :id")
# The rendering in the language asked for where the archive has one, else English.
_BULLETIN_HTML = text("""
    SELECT CASE WHEN :language = 'ka' THEN coalesce(html_ka, html) ELSE html END
      FROM bulletins WHERE id = :id
""")
_BULLETIN_PDF = text("""
    SELECT CASE WHEN :language = 'ka' THEN coalesce(pdf_ka, pdf) ELSE pdf END
      FROM bulletins WHERE id = :id
""")


def _scope(scope: frozenset[int] | None) -> list[int] | None:
    return None if scope is None else sorted(scope)


def _schedule(row) -> dict:
    record = dict(row._mapping)
    for name in ("next_run_at", "last_run_at", "last_period_start", "created_at",
                 "updated_at"):
        record[name] = None if record[name] is None else record[name].isoformat()
    return record


def list_schedules(session, *, scope=None, region_id=None, limit=100, offset=0):
    """``(schedules, number matched)`` of the regions in ``scope`` (None: all)."""
    params = {"scope": _scope(scope), "region_id": region_id}
    rows = session.execute(_LIST_SCHEDULES, {**params, "limit": limit, "offset": offset})
    return [_schedule(r) for r in rows], session.execute(_COUNT_SCHEDULES, params).scalar_one()


def get_schedule(session, schedule_id: int) -> dict | None:
    row = session.execute(_GET_SCHEDULE, {"id": schedule_id}).one_or_none()
    return None if row is None else _schedule(row)


def create_schedule(session, region_id: int, product: str, time_zone: str, active: bool,
                    now: datetime, user_id: int | None) -> int | None:
    """A new schedule planned for the end of the period holding ``now``; its id, or
    None when the region has a schedule of that product already."""
    return session.execute(_INSERT_SCHEDULE, {
        "region_id": region_id, "product": product, "time_zone": time_zone,
        "active": active, "next_run_at": periods.next_boundary(product, now, time_zone),
        "created_by": user_id}).scalar()


def update_schedule(session, schedule: dict, *, time_zone: str, active: bool,
                    now: datetime) -> None:
    """Set a schedule's time zone and active flag; a changed time zone (or a schedule
    turned on) is planned again from ``now``."""
    session.execute(_LOCK_SCHEDULE, {"id": schedule["id"]})
    next_run_at = schedule["next_run_at"]
    if time_zone != schedule["time_zone"] or (active and not schedule["active"]):
        next_run_at = periods.next_boundary(schedule["product"], now, time_zone)
    session.execute(_UPDATE_SCHEDULE, {"id": schedule["id"], "time_zone": time_zone,
                                       "active": active, "next_run_at": next_run_at})


def delete_schedule(session, schedule_id: int) -> None:
    session.execute(_DELETE_SCHEDULE, {"id": schedule_id})


def plan_unplanned(session, now: datetime) -> int:
    """Give every schedule without a ``next_run_at`` the end of its current period;
    returns how many."""
    rows = session.execute(_UNPLANNED).all()
    for row in rows:
        session.execute(_PLAN, {"id": row.id, "at": periods.next_boundary(
            row.product, now, row.time_zone)})
    return len(rows)


def claim_due(session, now: datetime):
    """The earliest due schedule, locked for this transaction (others skip it), or
    None."""
    return session.execute(_CLAIM_DUE, {"now": now}).one_or_none()


def advance(session, schedule_id: int, next_run_at: datetime, ran_at: datetime,
            period_start: datetime | None) -> None:
    session.execute(_ADVANCE, {"id": schedule_id, "next_run_at": next_run_at,
                               "ran_at": ran_at, "period_start": period_start})


def next_due(session) -> datetime | None:
    """The earliest ``next_run_at`` of the active schedules."""
    return session.execute(_NEXT_DUE).scalar()


def bulletin_of_period(session, region_id: int, product: str, start: datetime) -> int | None:
    return session.execute(_BULLETIN_EXISTS, {"region_id": region_id, "product": product,
                                              "start": start}).scalar()


def insert_bulletin(session, **values):
    """Archive a bulletin (``html`` and ``pdf`` in English; ``html_ka`` and ``pdf_ka``,
    optional, in Georgian); ``(id, created_at)``, or None when that region, product and
    period has one already."""
    return session.execute(_INSERT_BULLETIN,
                           {"html_ka": None, "pdf_ka": None, **values}).one_or_none()


def _bulletin(row) -> dict:
    record = dict(row._mapping)
    record["period"] = [record.pop("period_start").isoformat(),
                        record.pop("period_end").isoformat()]
    record["created_at"] = record["created_at"].isoformat()
    return record


def list_bulletins(session, *, scope=None, region_id=None, product=None, limit=100,
                   offset=0):
    """``(bulletins' metadata, number matched)``, newest period first."""
    params = {"scope": _scope(scope), "region_id": region_id, "product": product}
    rows = session.execute(_LIST_BULLETINS, {**params, "limit": limit, "offset": offset})
    return [_bulletin(r) for r in rows], session.execute(_COUNT_BULLETINS, params).scalar_one()


def get_bulletin(session, bulletin_id: int, *, with_config: bool = False) -> dict | None:
    row = session.execute(_GET_BULLETIN, {"id": bulletin_id}).one_or_none()
    if row is None:
        return None
    record = _bulletin(row)
    if with_config:
        record["config"] = session.execute(_BULLETIN_CONFIG, {"id": bulletin_id}).scalar()
    return record


def bulletin_html(session, bulletin_id: int, language: str = "en") -> str | None:
    """The archived bulletin's HTML in ``language`` ("en", "ka"; English where the
    archive has no rendering in it)."""
    return session.execute(_BULLETIN_HTML, {"id": bulletin_id, "language": language}).scalar()


def bulletin_pdf(session, bulletin_id: int, language: str = "en") -> bytes | None:
    """The archived bulletin's PDF in ``language``, as :func:`bulletin_html`."""
    value = session.execute(_BULLETIN_PDF, {"id": bulletin_id, "language": language}).scalar()
    return None if value is None else bytes(value)
