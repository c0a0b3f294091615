"""The worker's warm-up asks what the page asks: a user restricted to several regions
signs in (in English, then in Georgian) and each analysis request of their page at
sign-in is one of the warm-up's for the context it chose for them
(``app.worker.warmup``: the first of their regions by name in the page's language)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from app.auth.users import create_user
from app.extensions import db
from app.worker.warmup import PREVIOUS_MONTHS, default_view_paths, viewers
from tests.e2e.conftest import sample_app
from testsupport.apps import TEST_PASSWORD, serving

ANALYSES = ("/api/v1/risk/segments", "/api/v1/hotspots")


@pytest.fixture(scope="module")
def two_regions_server(databases):
    """The sample layers, two incidents in the default month, and a viewer of both
    sample regions (T-KK "Test region", T-KA "Second test region": T-KA first by name
    in English and in Georgian, მ before ს)."""
    app = sample_app(databases, lambda session: create_user(
        session, "e2e-two", "viewer", TEST_PASSWORD, ["T-KK", "T-KA"]))
    with serving(app) as url:
        yield app, url


def key(url: str) -> tuple:
    parts = urlsplit(url)
    return parts.path, tuple(sorted(parse_qsl(parts.query)))


@pytest.mark.parametrize("language", ["en", "ka"])
def test_a_user_of_two_regions_asks_what_the_warm_up_asked(page, two_regions_server,
                                                             language):
    app, url = two_regions_server
    with app.app_context():
        warmed_for = [v for v in viewers(db.session) if len(v.regions) == 2]
        db.session.remove()
    assert [v.region for v in warmed_for] == ["T-KA"]  # one context: both languages agree
    warmed = {key(path) for path in default_view_paths(app, warmed_for[0], PREVIOUS_MONTHS)}

    asked = []
    page.on("request", lambda r: asked.append(r.url)
            if urlsplit(r.url).path.startswith(ANALYSES) else None)
    page.goto(f"{url}/login?lang={language}")
    page.fill("#username", "e2e-two")
    page.fill("#password", TEST_PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_selector("#workspace[data-loaded='true']")
    assert page.input_value("#f-region") == "T-KA"
    # the ranking and the sections' emerging categories (two incidents: no Gi* map)
    assert len(asked) >= 2 and any("/risk/segments?" in u for u in asked), asked
    assert [u for u in asked if key(u) not in warmed] == []
