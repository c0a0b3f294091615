"""``date_in_words``: an instant as a reader says it, in the page's language (the
bulletin's dates)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.ui.i18n import date_in_words


@pytest.mark.parametrize(("lang", "value", "with_time", "expected"), [
    ("en", "2026-11-01T00:00:00+00:00", False, "1 November 2026"),
    ("ka", "2026-11-01T00:00:00+00:00", False, "1 ნოემბერი 2026"),
    ("en", "2026-05-31T23:59:59Z", False, "31 May 2026"),
    ("en", datetime(2026, 11, 1, 12, 5, tzinfo=UTC), True, "1 November 2026, 12:05"),
    # read in UTC: 02:00 in Tbilisi (UTC+4) is the evening before
    ("en", datetime(2026, 11, 1, 2, tzinfo=timezone(timedelta(hours=4))), True,
     "31 October 2026, 22:00"),
    ("en", datetime(2026, 11, 1, 2, tzinfo=timezone(timedelta(hours=4))), False,
     "31 October 2026"),
    ("en", datetime(2026, 3, 8, 9, 30), True, "8 March 2026, 09:30"),  # naive: UTC
    # what is no date is shown as it is
    ("en", "not a date", False, "not a date"), ("en", None, False, None),
])
def test_dates_read_in_utc_and_said_in_the_pages_language(app, lang, value, with_time,
                                                         expected):
    with app.test_request_context(f"/?lang={lang}"):
        assert date_in_words(value, with_time) == expected
