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


def in_default_month(now: datetime) -> datetime:
    """A moment in the last complete calendar month before ``now`` (UTC): the map's and
    the API's default period (``geo.products.periods``): ten days before the month of
    ``now`` began."""
    return now.replace(day=1, hour=12, minute=0, second=0, microsecond=0) - timedelta(days=10)


def sample_app(databases, add_users):
    """An app on a new migrated database with the sample layers, two of their incidents
    (T-1, T-2) in the last complete month of the data clock (the map's default period,
    whatever the date) and the users ``add_users(session)`` creates; committed."""
    import flask_migrate

    app = make_app(databases.create())
    with app.app_context():
        flask_migrate.upgrade()
        load_sample_layers(db.session, app.config["ANALYSIS_SRID"])
        db.session.execute(text(
            "UPDATE incidents SET occurred_at = :moment WHERE external_id IN ('T-1', 'T-2')"
        ), {"moment": in_default_month(clock.utc_now())})
        add_users(db.session)
        db.session.commit()
        db.session.remove()
    return app


@pytest.fixture(scope="module")
def live_server(databases):
    """Serves the app on 127.0.0.1 (free port) with the sample layers committed."""

    def add_users(session):
        for role in ("viewer", "analyst", "supervisor", "admin"):
            create_user(session, f"e2e-{role}", role, TEST_PASSWORD)
        # A viewer restricted to the region T-KK.
        create_user(session, "e2e-kk", "viewer", TEST_PASSWORD, ["T-KK"], all_regions=False)

    with serving(sample_app(databases, add_users)) as url:
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
