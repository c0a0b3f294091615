"""One reading of dates in time filters (issue 20): a date means its whole UTC day in
``/api/v1`` ``datetime``, OGC API Features ``datetime``, the vector tiles and WMS
``TIME``; WMS instants at its daily resolution mean their day. The sample incidents:
T-1 at 2026-10-01T02:30Z, T-2 at 2026-10-15T22:10Z, T-3 at 2025-03-02T12:00Z."""

from __future__ import annotations

import json

import pytest

from app.api.params import ParameterError, parse_time_window


@pytest.fixture
def viewer(token_headers):
    return token_headers("viewer")


def iso(window):
    return tuple(None if t is None else t.isoformat() for t in window)


@pytest.mark.parametrize(("value", "window"), [
    ("2025-06-01", ("2025-06-01T00:00:00+00:00", "2025-06-01T23:59:59.999999+00:00")),
    ("2025-06-01/2025-06-30",
     ("2025-06-01T00:00:00+00:00", "2025-06-30T23:59:59.999999+00:00")),
    ("2025-06-01T00:00:00Z", ("2025-06-01T00:00:00+00:00", "2025-06-01T00:00:00+00:00")),
    ("2025-06-01T00:00:00Z/2025-06-30T00:00:00Z",
     ("2025-06-01T00:00:00+00:00", "2025-06-30T00:00:00+00:00")),
    ("../2025-06-30", (None, "2025-06-30T23:59:59.999999+00:00")),
    ("2025-06-01/..", ("2025-06-01T00:00:00+00:00", None)),
    ("2025-06-01T04:00:00+04:00", ("2025-06-01T00:00:00+00:00", "2025-06-01T00:00:00+00:00")),
])
def test_a_date_is_its_whole_day_and_a_date_time_itself(value, window):
    assert iso(parse_time_window("datetime", value)) == window


@pytest.mark.parametrize(("value", "window"), [
    ("2026-06-01T00:00:00Z", ("2026-06-01T00:00:00+00:00", "2026-06-01T23:59:59.999999+00:00")),
    ("2026-06-01T00:00:00", ("2026-06-01T00:00:00+00:00", "2026-06-01T23:59:59.999999+00:00")),
    ("2026-06-01T04:00:00+04:00",
     ("2026-06-01T00:00:00+00:00", "2026-06-01T23:59:59.999999+00:00")),
    ("2026-06-01T10:20:30Z", ("2026-06-01T10:20:30+00:00", "2026-06-01T10:20:30.999999+00:00")),
    ("2026-06-01/2026-06-30/P1D",
     ("2026-06-01T00:00:00+00:00", "2026-06-30T23:59:59.999999+00:00")),
])
def test_daily_instants_mean_their_day(value, window):
    """WMS TIME (resolution P1D): a midnight UTC is a value of the dimension, its day."""
    assert iso(parse_time_window("TIME", value, naive_utc=True, daily=True)) == window


@pytest.mark.parametrize(("value", "reason"), [
    ("yesterday", "is not an RFC 3339 date-time"),
    ("2025-06-01T00:00:00", "needs a time zone"),
    ("2025-06-30/2025-06-01", "ends before it starts"),
    ("2025-06-01/2025-06-02/P1D", "one interval"),
    ("0001-01-01/9999-12-31", "outside the years 1-9999"),
])
def test_bad_windows_name_the_field(value, reason):
    with pytest.raises(ParameterError, match=reason) as caught:
        parse_time_window("datetime", value)
    assert caught.value.field == "datetime"


def external_ids(response) -> set[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return {f["properties"]["external_id"] for f in json.loads(response.get_data())["features"]}


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-10-15", {"T-2"}),
    ("2026-10-01/2026-10-15", {"T-1", "T-2"}),
    ("2026-10-15T00:00:00Z", set()),
    ("2026-10-01T00:00:00Z/2026-10-15T00:00:00Z", {"T-1"}),
])
def test_api_and_ogc_items_read_dates_alike(client, viewer, sample_layers, value, expected):
    api = client.get("/api/v1/incidents", headers=viewer, query_string={"datetime": value})
    ogc = client.get("/ogc/features/collections/incidents/items", headers=viewer,
                     query_string={"datetime": value, "f": "json"})
    assert external_ids(api) == expected
    assert external_ids(ogc) == expected


def test_tiles_read_a_date_as_its_day(client, viewer, sample_layers):
    # T-2 (45.42, 41.45) lies in z=12 tile 2564/1528.
    url = "/ogc/tiles/incidents/12/2564/1528.mvt"
    day = client.get(url, headers=viewer, query_string={"datetime": "2026-10-15"})
    midnight = client.get(url, headers=viewer,
                          query_string={"datetime": "2026-10-15T00:00:00Z"})
    assert day.status_code == 200 and midnight.status_code == 204
