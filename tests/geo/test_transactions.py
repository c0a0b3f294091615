"""``geo.transactions.unit_of_work``: a write and its audit record are committed
together, or neither is."""

import pytest
from sqlalchemy import text

from app.audit import record as audit_record
from geo.transactions import unit_of_work


def _region_count(session, code: str) -> int:
    return session.execute(text("SELECT count(*) FROM regions WHERE code = :c"),
                           {"c": code}).scalar_one()


def _audit_count(session, code: str) -> int:
    return session.execute(text("SELECT count(*) FROM audit_log WHERE entity_id = :c"),
                           {"c": code}).scalar_one()


def _write(session, code: str) -> None:
    """A region (SYNTHETIC, a small square) and the audit record of it."""
    session.execute(text(
        "INSERT INTO regions (code, name_en, name_ka, provenance, geom) VALUES "
        "(:c, 'Synthetic', 'Synthetic', 'synthetic', "
        "ST_Multi(ST_MakeEnvelope(44, 41, 44.1, 41.1, 4326)))"), {"c": code})
    audit_record(session, "create", "regions", code, after={"code": code},
                 actor={"user_id": None, "username": "tx-test"})


def test_a_block_that_ends_commits_the_write_and_its_record(app, db_session):
    with app.test_request_context("/"), unit_of_work(db_session):
        _write(db_session, "TX-OK")
    db_session.rollback()  # nothing is left to roll back: both were committed
    assert (_region_count(db_session, "TX-OK"), _audit_count(db_session, "TX-OK")) == (1, 1)


def test_a_block_that_raises_keeps_neither(app, db_session):
    with app.test_request_context("/"), pytest.raises(ZeroDivisionError):
        with unit_of_work(db_session):
            _write(db_session, "TX-FAIL")
            assert _region_count(db_session, "TX-FAIL") == 1  # written, until it fails
            1 / 0  # noqa: B018
    assert (_region_count(db_session, "TX-FAIL"), _audit_count(db_session, "TX-FAIL")) == (0, 0)


def test_a_discarded_block_keeps_neither_and_raises_nothing(app, db_session):
    with app.test_request_context("/"), unit_of_work(db_session) as work:
        _write(db_session, "TX-DRY")
        work.discard()
    assert (_region_count(db_session, "TX-DRY"), _audit_count(db_session, "TX-DRY")) == (0, 0)


def test_a_savepoint_rolled_back_inside_keeps_the_rest(app, db_session):
    with app.test_request_context("/"), unit_of_work(db_session):
        _write(db_session, "TX-KEPT")
        inner = db_session.begin_nested()
        _write(db_session, "TX-UNDONE")
        inner.rollback()
    assert _region_count(db_session, "TX-KEPT") == 1
    assert _region_count(db_session, "TX-UNDONE") == 0
    assert _audit_count(db_session, "TX-UNDONE") == 0
