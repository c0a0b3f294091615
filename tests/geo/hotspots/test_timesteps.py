"""Whole time steps of a space-time cube, aligned to the window's end, start or a
reference time; partial steps left out and named."""

from datetime import UTC, datetime

import numpy as np
import pytest

from geo.errors import ParameterError
from geo.hotspots.timesteps import time_steps


def at(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def edges(steps) -> list[str]:
    return [str(edge) for edge in steps.edges]


def test_monthly_steps_laid_back_from_a_window_ending_on_the_3rd():
    steps = time_steps(at(2025, 12, 1), at(2026, 12, 3, 23, 59, 59, 999999), "month")
    assert len(steps) == 12
    assert edges(steps)[0] == "2025-12-04T00:00:00.000000"
    assert edges(steps)[-1] == "2026-12-04T00:00:00.000000"
    assert steps.dropped == ((at(2025, 12, 1), at(2025, 12, 3, 23, 59, 59, 999999)),)
    times = np.array(["2025-12-03T23:00", "2025-12-04", "2026-12-03T23:59", "2026-12-04"],
                     dtype="datetime64[us]")
    assert steps.index(times).tolist() == [-1, 0, 11, -1]


def test_start_and_reference_alignment_leave_the_partial_end_out():
    start, end = at(2025, 12, 1), at(2026, 12, 3, 23, 59, 59, 999999)
    forward = time_steps(start, end, "month", "start")
    assert len(forward) == 12 and edges(forward)[-1] == "2026-12-01T00:00:00.000000"
    assert forward.dropped == ((at(2026, 12, 1), end),)
    calendar = time_steps(start, end, "month", "reference", at(2020, 1, 1))
    assert edges(calendar) == edges(forward)
    assert calendar.describe()["reference"] == "2020-01-01T00:00:00+00:00"
    # a reference in the middle of a month: steps from the 15th to the 15th
    mid = time_steps(start, end, "month", "reference", at(2030, 3, 15))
    assert edges(mid)[0] == "2025-12-15T00:00:00.000000" and len(mid) == 11
    assert len(mid.dropped) == 2


def test_weeks_are_seven_days_and_months_clamp_at_the_month_end():
    weeks = time_steps(at(2026, 1, 1), at(2026, 1, 31, 23, 59, 59, 999999), "week")
    assert len(weeks) == 4 and edges(weeks)[0] == "2026-01-04T00:00:00.000000"
    months = time_steps(at(2025, 10, 31), at(2026, 3, 30, 23, 59, 59, 999999), "month")
    # laid back from 31 March: 28 February, 31 January, 31 December, 30 November...
    assert edges(months) == ["2025-10-31T00:00:00.000000", "2025-11-30T00:00:00.000000",
                             "2025-12-31T00:00:00.000000", "2026-01-31T00:00:00.000000",
                             "2026-02-28T00:00:00.000000", "2026-03-31T00:00:00.000000"]
    assert months.dropped == ()


@pytest.mark.parametrize(("unit", "alignment", "reference", "field"), [
    ("day", "end", None, "step"),
    ("month", "middle", None, "alignment"),
    ("month", "reference", None, "reference"),
])
def test_bad_steps_name_their_field(unit, alignment, reference, field):
    with pytest.raises(ParameterError) as error:
        time_steps(at(2025, 1, 1), at(2025, 12, 31), unit, alignment, reference)
    assert error.value.field == field


def test_a_window_shorter_than_one_step_has_no_step():
    steps = time_steps(at(2026, 1, 1), at(2026, 1, 20), "month")
    assert len(steps) == 0 and steps.dropped == ((at(2026, 1, 1), at(2026, 1, 20)),)
