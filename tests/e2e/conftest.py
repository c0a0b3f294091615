"""A live BorderRisk server on its own throwaway database, and Debian's Chromium."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from app.auth.users import create_user
from app.extensions import db
from geo import clock
from testsupport.apps import TEST_PASSWORD, load_sample_layers, make_app, serving
from testsupport.browser import CHROMIUM, CHROMIUM_ARGS


def recent_in_month(now: datetime) -> datetime:
    """A moment at most 10 days before ``now`` and in ``now``'s calendar month (UTC)."""
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return max(month_start, now - timedelta(days=10))


@pytest.fixture(scope="module")
def live_server(databases):
    """Serves the app on 127.0.0.1 (free port) with the sample layers committed."""
    import flask_migrate

    app = make_app(databases.create())
    with app.app_context():
        flask_migrate.upgrade()
        load_sample_layers(db.session, app.config["ANALYSIS_SRID"])
        # Two incidents in the current month of the data clock (the map's default
        # period is the month of the newest incident, and a new incident is dated now),
        # whatever the date: up to 10 days back, never before the month's first instant.
        db.session.execute(text(
            "UPDATE incidents SET occurred_at = :moment WHERE external_id IN ('T-1', 'T-2')"
        ), {"moment": recent_in_month(clock.utc_now())})
        for role in ("viewer", "analyst", "supervisor", "admin"):
            create_user(db.session, f"e2e-{role}", role, TEST_PASSWORD)
        db.session.commit()
        db.session.remove()
    with serving(app) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
