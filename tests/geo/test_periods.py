"""The months before a period, as the map page's month slider steps back
(``geo.products.periods.months_before``)."""

from datetime import UTC, datetime

import pytest

from geo.products import periods


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(("period", "months", "expected"), [
    # the default month: January -> the December and November before, across the year
    ((utc(2026, 1, 1), utc(2026, 1, 31, 23, 59, 59), periods.DEFAULT_MONTH), 1,
     (utc(2025, 12, 1), utc(2025, 12, 31, 23, 59, 59))),
    ((utc(2026, 1, 1), utc(2026, 1, 31, 23, 59, 59), periods.DEFAULT_MONTH), 2,
     (utc(2025, 11, 1), utc(2025, 11, 30, 23, 59, 59))),
    # a leap February
    ((utc(2024, 3, 1), utc(2024, 3, 31, 23, 59, 59), periods.DEFAULT_MONTH), 1,
     (utc(2024, 2, 1), utc(2024, 2, 29, 23, 59, 59))),
    # the 30-day fallback (12 May - 10 June): the slider steps from June, the month of
    # its last day
    ((utc(2026, 5, 12), utc(2026, 6, 10, 23, 59, 59), periods.DEFAULT_FALLBACK), 1,
     (utc(2026, 5, 1), utc(2026, 5, 31, 23, 59, 59))),
])
def test_the_months_before_are_whole_calendar_months(period, months, expected):
    before = periods.months_before(periods.AnalysisPeriod(*period), months)
    assert (before.start, before.end) == expected
    assert before.end_exclusive == periods.add_months(expected[0], 1)
