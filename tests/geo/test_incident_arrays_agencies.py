"""The map renderer's in-memory selection keeps, for each agency, exactly what SQL's
``feature_filter`` keeps with the agency rule (``geo.scope``): seen in detail, or
counted; the viewers' masks are computed in SQL by that rule (issue 16)."""

import pytest

from geo import queries
from geo.incidents import read_incidents
from geo.layers import INCIDENTS
from testsupport.agencies import AGENCIES, counts, records, sees


def _points(arrays, index) -> list[tuple[float, float]]:
    return sorted(zip(arrays.lon[index].round(6).tolist(), arrays.lat[index].round(6).tolist(),
                      strict=True))


@pytest.mark.parametrize("counting", [False, True])
def test_each_agencys_selection_in_memory_is_sqls(db_session, sample_layers, four_agencies,
                                                  counting):
    raw = db_session.connection().connection
    everything = read_incidents(raw, order_by_time=True)
    fixture = {(round(r.lon, 6), round(r.lat, 6)): r for r in records()}
    rule = counts if counting else sees
    for agency in (*AGENCIES, "", "ZZ", None):
        query = queries.FeatureQuery(viewer_agency=agency, counting=counting, limit=None)
        where, params = queries.feature_filter(INCIDENTS, query)
        in_sql = read_incidents(raw, where, params)
        in_memory = _points(everything, everything.select(query))
        assert in_memory == _points(in_sql, slice(None)), agency
        expected = {key for key, record in fixture.items()
                    if agency is None or (rule(agency, record) if agency in AGENCIES
                                          else record.releasability == "all"
                                          or (counting and record.aggregate))}
        assert {p for p in in_memory if p in fixture} == expected, agency
    # With the scope and a window too, still the same rows.
    kk = sample_layers["regions"]["T-KK"]
    query = queries.FeatureQuery(viewer_agency="MD", counting=counting,
                                 scope_region_ids=frozenset({kk}), limit=None)
    where, params = queries.feature_filter(INCIDENTS, query)
    kept = _points(everything, everything.select(query))
    assert kept == _points(read_incidents(raw, where, params), slice(None))
    assert 0 < len({p for p in kept if p in fixture}) < len(expected)


def test_agency_filters_are_refused_in_memory(db_session, four_agencies):
    everything = read_incidents(db_session.connection().connection, order_by_time=True)
    with pytest.raises(ValueError, match="only time, region"):
        everything.select(queries.FeatureQuery(agencies=["GBP"], limit=None))
