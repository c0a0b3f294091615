"""The analyses read the incidents ``geo.queries`` lists for the same filters.

``geo.hotspots.inputs.load_incidents`` (one binary COPY) builds its WHERE clause with
``geo.queries.feature_filter``; these tests compare what it reads with what
``iter_feature_rows`` lists (time window, categories, outcome, region scope, bbox), on
SYNTHETIC incidents over the sample regions, some outside every region (unlinked).
"""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import shapely
from sqlalchemy import text

from geo import queries
from geo.crs import STORAGE_SRID, transform_xy
from geo.hotspots import inputs
from geo.layers import INCIDENTS

N_INCIDENTS = 600
FIRST = datetime(2026, 1, 1, tzinfo=UTC)
CATEGORIES = ("illegal_crossing_between_bcp", "smuggling_tobacco", "refusal_of_entry")
WHOLE_AREA = (44.5, 40.9, 45.9, 41.9)  # lon/lat: the sample regions and beyond


@pytest.fixture
def synthetic_incidents(db_session, sample_layers, analysis_srid):
    """SYNTHETIC incidents over 44.6-45.8E 41.0-41.8N (the two sample regions cover
    44.8-45.6E 41.2-41.6N: the rest are unlinked), hourly-ish times from ``FIRST``,
    every category and outcome; linked to their regions. Returns the region ids."""
    rng = np.random.default_rng(3)
    lon = np.round(rng.uniform(44.6, 45.8, N_INCIDENTS), 6)
    lat = np.round(rng.uniform(41.0, 41.8, N_INCIDENTS), 6)
    # microsecond times, a few on the same instant as the window bounds used below
    offsets = rng.integers(0, 90 * 86_400 * 10**6, N_INCIDENTS)
    offsets[:3] = [0, 30 * 86_400 * 10**6, 60 * 86_400 * 10**6]
    db_session.execute(text(
        """
        INSERT INTO incidents (source, external_id, occurred_at, category, outcome,
                               persons_count, source_reliability, information_credibility,
                               status, provenance, geom)
        SELECT 'synthetic-selection', 'S-' || n,
               CAST(:first AS timestamptz) + make_interval(secs => us / 1e6),
               category, outcome, persons, 'X', 4, 'validated', 'synthetic',
               ST_SetSRID(ST_MakePoint(lon, lat), 4326)
          FROM unnest(CAST(:us AS bigint[]), CAST(:category AS text[]),
                      CAST(:outcome AS text[]), CAST(:persons AS int[]),
                      CAST(:lon AS float8[]), CAST(:lat AS float8[]))
               WITH ORDINALITY AS t(us, category, outcome, persons, lon, lat, n)
        """), {
            "first": FIRST, "us": offsets.tolist(),
            "category": rng.choice(CATEGORIES, N_INCIDENTS).tolist(),
            "outcome": rng.choice(["attempted", "actual"], N_INCIDENTS).tolist(),
            "persons": rng.integers(0, 12, N_INCIDENTS).tolist(),
            "lon": lon.tolist(), "lat": lat.tolist()})
    queries.link_incidents(db_session, analysis_srid)
    counts = dict(db_session.execute(text(
        "SELECT COALESCE(region_id, 0), count(*) FROM incidents GROUP BY 1")).all())
    assert counts[0] > 50 and len(counts) == 3  # unlinked ones and both regions
    return sample_layers["regions"]


def listed(session, selection: inputs.Selection, bbox, srid: int) -> list[tuple]:
    """(x, y, persons, epoch seconds) of the incidents ``geo.queries`` lists for the
    same filters, in the analysis CRS, sorted."""
    query = queries.FeatureQuery(
        bbox=bbox, start=selection.start, end=selection.end,
        categories=list(selection.categories),
        outcomes=[selection.outcome] if selection.outcome else [],
        scope_region_ids=(None if selection.region_ids is None
                          else frozenset(selection.region_ids)), limit=None)
    rows = list(queries.iter_feature_rows(session, INCIDENTS, query))
    points = shapely.from_wkb([bytes(row["geometry"]) for row in rows])
    x, y = transform_xy(shapely.get_x(points), shapely.get_y(points), STORAGE_SRID, srid)
    return sorted(zip(np.asarray(x).tolist(), np.asarray(y).tolist(),
                      [float(row["persons_count"]) for row in rows],
                      [row["occurred_at"].timestamp() for row in rows], strict=True))


def loaded(session, selection: inputs.Selection, bbox, srid: int) -> list[tuple]:
    points = inputs.load_incidents(session, selection, bbox, srid)
    return sorted(zip(points["x"].tolist(), points["y"].tolist(), points["weight"].tolist(),
                      points["time"].tolist(), strict=True))


def selections(regions: dict[str, int]) -> list[tuple[str, inputs.Selection, tuple]]:
    kk, ka = regions["T-KK"], regions["T-KA"]
    month = timedelta(days=30)
    return [
        ("everything", inputs.Selection(weight="persons"), WHOLE_AREA),
        ("closed window, bounds on incidents",
         inputs.Selection(FIRST, FIRST + month, weight="persons"), WHOLE_AREA),
        ("open-ended window", inputs.Selection(start=FIRST + 2 * month, weight="persons"),
         WHOLE_AREA),
        ("categories", inputs.Selection(categories=CATEGORIES[:2], weight="persons"),
         WHOLE_AREA),
        ("outcome", inputs.Selection(outcome="attempted", weight="persons"), WHOLE_AREA),
        ("one region", inputs.Selection(region_ids=(kk,), weight="persons"), WHOLE_AREA),
        ("two regions", inputs.Selection(region_ids=(ka, kk), weight="persons"),
         WHOLE_AREA),
        ("empty scope", inputs.Selection(region_ids=(), weight="persons"), WHOLE_AREA),
        ("small bbox", inputs.Selection(weight="persons"), (45.0, 41.1, 45.3, 41.5)),
        ("all at once", inputs.Selection(FIRST + timedelta(days=10), FIRST + 2 * month,
                                           CATEGORIES[1:], "actual", "persons", (ka,)),
         (45.1, 41.0, 45.8, 41.7)),
    ]


def test_load_incidents_reads_what_queries_lists_for_the_same_filters(
        db_session, synthetic_incidents, analysis_srid):
    sizes = {}
    for name, selection, bbox in selections(synthetic_incidents):
        expected = listed(db_session, selection, bbox, analysis_srid)
        assert loaded(db_session, selection, bbox, analysis_srid) == expected, name
        sizes[name] = len(expected)
    # the filters select something, and not everything
    assert sizes["empty scope"] == 0
    total = sizes["everything"]
    assert total >= N_INCIDENTS + 2  # plus the sample incidents inside WHOLE_AREA
    for name, size in sizes.items():
        if name not in ("everything", "empty scope"):
            assert 0 < size < total, name


def test_region_scope_leaves_out_unlinked_incidents(db_session, synthetic_incidents,
                                                    analysis_srid):
    kk, ka = synthetic_incidents["T-KK"], synthetic_incidents["T-KA"]
    linked = db_session.execute(text(
        "SELECT count(*) FROM incidents WHERE region_id IN (:kk, :ka)"),
        {"kk": kk, "ka": ka}).scalar_one()
    unlinked = db_session.execute(text(
        "SELECT count(*) FROM incidents WHERE region_id IS NULL")).scalar_one()
    everywhere = (-180.0, -90.0, 180.0, 90.0)
    both = inputs.load_incidents(db_session, inputs.Selection(region_ids=(kk, ka)),
                                   everywhere, analysis_srid)
    unscoped = inputs.load_incidents(db_session, inputs.Selection(), everywhere,
                                       analysis_srid)
    assert len(both["x"]) == linked
    assert len(unscoped["x"]) == linked + unlinked > linked


def test_window_bounds_and_lists_bind_as_timestamps_and_arrays(db_session,
                                                               synthetic_incidents,
                                                               analysis_srid):
    # the closed window [FIRST, FIRST + 30 days] holds the incidents on both bounds
    end = FIRST + timedelta(days=30)
    points = inputs.load_incidents(
        db_session, inputs.Selection(FIRST, end, CATEGORIES, None, "count"),
        WHOLE_AREA, analysis_srid)
    assert points["time"].min() == FIRST.timestamp()
    assert points["time"].max() == end.timestamp()
    assert (points["weight"] == 1.0).all()


# --- the renderer's in-memory filter is the same filter ----------------------------------

def _identity(arrays, index) -> list[tuple]:
    """(lon, lat, epoch seconds, region, category code, outcome code) of the selected
    incidents, sorted: what tells two reads of the same rows apart."""
    return sorted(zip(arrays.lon[index].tolist(), arrays.lat[index].tolist(),
                      arrays.time[index].tolist(), arrays.region[index].tolist(),
                      arrays.category[index].tolist(), arrays.outcome[index].tolist(),
                      strict=True))


def test_in_memory_selection_keeps_what_sql_keeps(db_session, synthetic_incidents):
    """``IncidentArrays.select`` (the WMS's incidents and density) keeps exactly the rows
    ``geo.queries.feature_filter`` keeps in SQL, for the closed time window (bounds on
    an incident's instant), region, categories, outcomes and scope, alone and together."""
    from geo.incidents import read_incidents

    raw = db_session.connection().connection
    everything = read_incidents(raw, order_by_time=True)
    assert len(everything) == N_INCIDENTS + 3  # the synthetic ones and the sample's
    kk, ka = synthetic_incidents["T-KK"], synthetic_incidents["T-KA"]
    day = timedelta(days=1)
    queries_to_check = [
        queries.FeatureQuery(limit=None),
        queries.FeatureQuery(start=FIRST, end=FIRST + 30 * day, limit=None),
        queries.FeatureQuery(start=FIRST + 30 * day, end=FIRST + 60 * day, limit=None),
        queries.FeatureQuery(end=FIRST, limit=None),
        queries.FeatureQuery(region_id=kk, limit=None),
        queries.FeatureQuery(scope_region_ids=frozenset({ka}), limit=None),
        queries.FeatureQuery(scope_region_ids=frozenset(), limit=None),
        queries.FeatureQuery(categories=[CATEGORIES[1]], outcomes=["attempted"], limit=None),
        queries.FeatureQuery(start=FIRST + 10 * day, end=FIRST + 60 * day,
                             categories=list(CATEGORIES[:2]), outcomes=["actual"],
                             scope_region_ids=frozenset({kk, ka}), limit=None),
    ]
    sizes = []
    for query in queries_to_check:
        where, params = queries.feature_filter(INCIDENTS, query)
        in_sql = read_incidents(raw, where, params)
        in_memory = everything.select(query)
        assert _identity(everything, in_memory) == _identity(in_sql, slice(None)), query
        sizes.append(len(in_sql))
    # the checks select something, and not everything; the bounds are inclusive: the
    # incident at exactly FIRST + 30 days is in both 30-day windows
    assert 0 < min(sizes[1:6]) and max(sizes[1:]) < sizes[0]
    sixty_days = everything.select(queries.FeatureQuery(start=FIRST, end=FIRST + 60 * day,
                                                        limit=None))
    assert sizes[1] + sizes[2] == len(range(*sixty_days.indices(len(everything)))) + 1
    assert sizes[6] == 0


def test_in_memory_selection_refuses_filters_it_does_not_apply(db_session,
                                                               synthetic_incidents):
    from geo.incidents import read_incidents

    everything = read_incidents(db_session.connection().connection, order_by_time=True)
    for query in (queries.FeatureQuery(bbox=WHOLE_AREA), queries.FeatureQuery(ids=[1]),
                  queries.FeatureQuery(statuses=["draft"]),
                  queries.FeatureQuery(equals={"source": "x"})):
        with pytest.raises(ValueError, match="only time, region, category"):
            everything.select(query)


def test_arrays_read_without_codes_are_the_same_points_and_refuse_code_filters(
        db_session, synthetic_incidents):
    """The analyses read only points, persons and times (``codes=False``, less for the
    server per row): the same values as a read with the codes, which they alone lack."""
    from geo.incidents import read_incidents

    raw = db_session.connection().connection
    full = read_incidents(raw, order_by_time=True)
    bare = read_incidents(raw, order_by_time=True, codes=False)
    for name in ("lon", "lat", "time", "persons"):
        assert np.array_equal(getattr(full, name), getattr(bare, name)), name
    assert (bare.region, bare.category, bare.outcome) == (None, None, None)
    window = queries.FeatureQuery(start=FIRST, end=FIRST + timedelta(days=30), limit=None)
    assert bare.select(window) == full.select(window)  # time alone: both can
    with pytest.raises(ValueError, match="without their codes"):
        bare.select(queries.FeatureQuery(categories=[CATEGORIES[0]], limit=None))


def test_an_agencys_selection_reads_what_it_counts_and_flags_what_it_sees(
        db_session, four_agencies, analysis_srid):
    """``load_incidents`` of an agency's selection: the fixture's records it may count
    (``testsupport.agencies.counts``), each flagged visible exactly when it sees it;
    the system's reads every record, all visible."""
    from geo.hotspots.cache import ResultCache
    from testsupport.agencies import AGENCIES, counts, records, sees

    window = (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 31, tzinfo=UTC))
    fixture = {(round(r.lon, 6), round(r.lat, 6)): r for r in records()}

    def read(agency):
        points = inputs.load_incidents(db_session, inputs.Selection(*window,
                                                                    viewer_agency=agency),
                                       WHOLE_AREA, STORAGE_SRID)
        return {(round(x, 6), round(y, 6)): bool(v) for x, y, v in
                zip(points["x"], points["y"], points["visible"], strict=True)
                if (round(x, 6), round(y, 6)) in fixture}

    for agency in AGENCIES:
        expected = {key: sees(agency, r) for key, r in fixture.items() if counts(agency, r)}
        assert read(agency) == expected
        assert 0 < sum(not v for v in expected.values()) < len(expected) < len(fixture)
    assert read(None) == dict.fromkeys(fixture, True)
    assert read("") == {key: r.releasability == "all" for key, r in fixture.items()
                        if r.aggregate or r.releasability == "all"}
    # a cached result of one agency never answers another
    keys = {ResultCache.key("hotspots", inputs.Selection(*window, viewer_agency=agency),
                            {"incidents": 1}, analysis_srid) for agency in (*AGENCIES, "", None)}
    assert len(keys) == len(AGENCIES) + 2
