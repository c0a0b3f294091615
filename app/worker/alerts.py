"""The alerts job: after incidents change, raise ``alert.raised`` once per section and
period (``geo.products.alerts``: the default analysis period, the last complete month),
in one transaction with the cursor's move."""

from __future__ import annotations

import logging

from app.extensions import db
from geo import clock
from geo.products import alerts
from geo.transactions import unit_of_work

logger = logging.getLogger(__name__)


def raise_alerts(app) -> float | None:
    """Look at the events since the last round; runs again when woken (or polled)."""
    try:
        with unit_of_work(db.session):
            raised = alerts.raise_alerts(db.session, app.config["RISK_MODEL"],
                                         app.config["ANALYSIS_SRID"], clock.utc_now())
        if raised:
            logger.info("raised %d alerts", len(raised))
        return None
    finally:
        db.session.remove()
