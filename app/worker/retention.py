"""Events older than ``EVENT_RETENTION_DAYS`` leave the outbox (hourly)."""

from __future__ import annotations

import logging

from app.extensions import db
from geo.events.outbox import purge
from geo.transactions import unit_of_work

logger = logging.getLogger(__name__)
EVERY_S = 3600.0


def purge_events(app) -> float:
    """Delete the events past retention; runs again in an hour."""
    with unit_of_work(db.session):
        count = purge(db.session, app.config["EVENT_RETENTION_DAYS"])
    if count:
        logger.info("purged %d events older than %g days", count,
                    app.config["EVENT_RETENTION_DAYS"])
    db.session.remove()
    return EVERY_S
