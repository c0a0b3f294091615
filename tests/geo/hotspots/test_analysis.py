"""The hot-spot analyses' plumbing: the fast grid and GeoJSON writer against the
straightforward ones they replace."""

import numpy as np
import orjson
import pytest
import shapely

from geo.hotspots import hexgrid, inputs, output

SRID = 32638


def small_grid(size=500.0):
    area = shapely.buffer(shapely.Point(480_000, 4_620_000), 6_000)
    return inputs.build_grid(area, size, SRID)


def test_fast_geojson_writer_writes_the_straightforward_document_byte_for_byte():
    grid = small_grid()
    n = len(grid)
    rng = np.random.default_rng(11)
    z = rng.normal(size=n) * 1e3
    z[::7] = np.nan  # null
    z[1] = np.inf  # null too
    z[2] = -0.0
    properties = {
        "count": rng.poisson(2.0, n).astype(float),
        "z": z,
        "p": rng.uniform(size=n) ** 9,  # small numbers: exponent notation
        "bin": rng.integers(-3, 4, n).astype(np.int8),
        "cluster": rng.choice(np.array(["HH", "LL", "not significant", 'q"uote\\é']), n),
        "flag": rng.uniform(size=n) > 0.5,
        "z_series": rng.normal(size=(n, 36)),
        "train_count": rng.integers(0, 10**12, n),
    }
    metadata = {"method": "gistar", "cells": n, "band": np.float64(1234.5),
                "nested": {"list": [1, 2.5, None]}}
    expected = orjson.dumps(output.cells_geojson(grid, properties, metadata),
                            option=orjson.OPT_SERIALIZE_NUMPY)
    written = output.write_cells_geojson(grid, properties, metadata)
    assert written == expected
    document = orjson.loads(written)
    assert len(document["features"]) == n > 100
    assert document["features"][7]["properties"]["z"] is None
    # the grid's own text is kept: a second writing with other values is right too
    again = {"count": properties["count"] + 1}
    assert output.write_cells_geojson(grid, again, {}) == orjson.dumps(
        output.cells_geojson(grid, again, {}), option=orjson.OPT_SERIALIZE_NUMPY)


def test_fast_geojson_writer_on_an_empty_grid_and_a_bad_column():
    grid = small_grid()
    empty = inputs.Grid(grid.size, SRID, grid.i[:0], grid.j[:0], grid.cx[:0], grid.cy[:0])
    assert output.write_cells_geojson(empty, {"count": np.zeros(0)}, {"a": 1}) == (
        orjson.dumps(output.cells_geojson(empty, {"count": np.zeros(0)}, {"a": 1})))
    with pytest.raises(ValueError, match="'count' has 3 values"):
        output.write_cells_geojson(grid, {"count": np.zeros(3)}, {})


@pytest.mark.parametrize("size", [250.0, 777.7, 3000.0])
def test_grid_tests_only_boundary_cells_yet_finds_the_same_cells(size):
    # a region-like area: two parts, a hole, a sliver, an island smaller than a cell
    main = shapely.Polygon(
        [(400_000, 4_600_000), (430_000, 4_598_000), (441_000, 4_615_000),
         (425_000, 4_640_000), (402_000, 4_631_000)],
        holes=[[(415_000, 4_610_000), (420_000, 4_610_000), (417_000, 4_616_000)]])
    sliver = shapely.Polygon([(441_000, 4_615_000), (460_000, 4_615_050),
                              (460_000, 4_615_100)])
    island = shapely.box(470_000, 4_620_000, 470_040, 4_620_030)
    area = shapely.MultiPolygon([main, sliver, island])
    grid = inputs.build_grid(area, size, SRID)
    reference = inputs.build_grid_by_polygons(area, size, SRID)
    assert len(grid) == len(reference) > 50
    keys = inputs._cell_keys(grid.i, grid.j)
    assert np.array_equal(np.sort(keys), np.sort(inputs._cell_keys(reference.i,
                                                                     reference.j)))
    island_cell = hexgrid.hex_index(np.array([470_020.0]), np.array([4_620_015.0]), size)
    assert inputs._cell_keys(*island_cell)[0] in keys
    np.testing.assert_array_equal(grid.cx, hexgrid.hex_centres(grid.i, grid.j, size)[0])


def test_grid_cache_builds_once_per_key():
    cache = inputs.GridCache(max_entries=2)
    built = []

    def build(tag):
        built.append(tag)
        return small_grid()

    first = cache.get(("a", 900.0), lambda: build("a"))
    assert cache.get(("a", 900.0), lambda: build("again")) is first
    cache.get(("b", 900.0), lambda: build("b"))
    cache.get(("c", 900.0), lambda: build("c"))  # "a" is the least recently used: out
    cache.get(("a", 900.0), lambda: build("a2"))
    assert built == ["a", "b", "c", "a2"]


def test_result_cache_is_bounded_by_bytes_and_entries():
    from geo.hotspots.cache import ResultCache

    cache = ResultCache(max_entries=3, max_bytes=100)
    cache.put("a", b"x" * 40)
    cache.put("b", b"x" * 40)
    assert cache.size_bytes == 80
    cache.put("c", b"x" * 40)  # 120 bytes > 100: the least recently used goes
    assert cache.get("a") is None and cache.get("b") is not None
    assert cache.size_bytes == 80
    cache.put("b", b"y" * 10)  # replacing a key counts its new size only
    assert cache.size_bytes == 50 and cache.get("b") == b"y" * 10
    cache.put("huge", b"x" * 101)  # larger than the whole cache: not kept
    assert cache.get("huge") is None and cache.size_bytes == 50
    cache.put("d", b"1")
    cache.put("e", b"2")  # four entries > 3: the oldest ("c") goes
    assert cache.get("c") is None and cache.get("e") == b"2"
