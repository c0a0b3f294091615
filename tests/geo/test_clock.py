"""The data clock (geo/clock.py): BORDERRISK_NOW freezes "now" for the data, everywhere."""

from datetime import UTC, datetime, timedelta, timezone

import pandas as pd
import pytest

from config import Config, ConfigError
from geo import clock
from geo.demo import period
from geo.io.validation import validate_properties
from geo.layers import INCIDENTS

pytestmark = pytest.mark.clock

URL = "postgresql://u:p@127.0.0.1:5432/db"
LATER = datetime(2030, 1, 15, 9, 30, tzinfo=UTC)


@pytest.fixture
def restore_clock():
    """Put back whatever the suite's clock was (frozen by BORDERRISK_NOW or not)."""
    saved = clock.utc_now() if clock.is_frozen() else None
    yield
    clock.freeze(saved)


@pytest.mark.parametrize(("text", "expected"), [
    ("2027-01-01T00:00:00Z", datetime(2027, 1, 1, tzinfo=UTC)),
    ("2028-02-29T12:00:00+04:00", datetime(2028, 2, 29, 8, tzinfo=UTC)),
    ("2026-12-31", datetime(2026, 12, 31, tzinfo=UTC)),
])
def test_moments_are_parsed_to_utc(text, expected):
    assert clock.parse_moment(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("2027-01-01T00:00:00", "has no time zone"),
    ("next tuesday", "is not a date-time"),
    ("2027-02-29", "is not a date-time"),
])
def test_bad_moments_name_the_setting(text, message):
    with pytest.raises(ConfigError, match=f"BORDERRISK_NOW: .*{message}"):
        Config.from_env({"DATABASE_URL": URL, "SECRET_KEY": "x" * 32, "BORDERRISK_NOW": text})


def test_setting_freezes_and_empty_means_the_wall_clock():
    settings = Config.from_env({"DATABASE_URL": URL, "SECRET_KEY": "x" * 32,
                                "BORDERRISK_NOW": "2027-03-01T00:00:00Z"})
    assert settings.NOW == datetime(2027, 3, 1, tzinfo=UTC)
    assert Config.from_env({"DATABASE_URL": URL, "SECRET_KEY": "x" * 32,
                            "BORDERRISK_NOW": " "}).NOW is None


def test_freeze_and_thaw(restore_clock):
    clock.freeze(LATER.astimezone(timezone(timedelta(hours=4))))
    assert clock.is_frozen() and clock.utc_now() == LATER
    assert clock.utc_now().tzinfo == UTC
    clock.freeze(None)
    assert not clock.is_frozen()
    assert abs(clock.utc_now() - datetime.now(UTC)) < timedelta(seconds=5)
    with pytest.raises(ValueError, match="time zone aware"):
        clock.freeze(datetime(2030, 1, 1))


def test_in_the_future_follows_the_clock(restore_clock):
    clock.freeze(LATER)
    frame = pd.DataFrame({
        "_row": [1, 2], "source": ["t", "t"], "external_id": ["a", "b"],
        "category": ["illegal_crossing_between_bcp"] * 2,
        # A day before the frozen clock (years after the wall clock), and a day after it.
        "occurred_at": [(LATER - timedelta(days=1)).isoformat(),
                        (LATER + timedelta(days=1)).isoformat()],
    })
    batch = validate_properties(frame, INCIDENTS)
    assert [(e.row, e.field) for e in batch.errors] == [(2, "occurred_at")]
    assert "in the future" in batch.errors[0].message


def test_demo_window_ends_at_the_clocks_day(restore_clock):
    clock.freeze(datetime(2028, 2, 29, 17, 5, tzinfo=UTC))
    start, end = period.demo_period()
    assert end == datetime(2028, 2, 29, tzinfo=UTC)
    assert start == datetime(2025, 2, 28, tzinfo=UTC)  # 36 months back, day clamped


def test_the_page_carries_a_frozen_clock_only(app, client, make_user, restore_clock):
    from tests.app.ui.test_ui import sign_in

    sign_in(client, make_user)
    clock.freeze(None)
    assert b"data-now=" not in client.get("/").data
    clock.freeze(LATER)
    assert b'data-now="2030-01-15T09:30:00+00:00"' in client.get("/").data
