"""Border length per hexagon cell, rates, and Gi* of rates on the cells that have one."""

import numpy as np
import pytest
import shapely
from esda import G_Local
from libpysal.weights import DistanceBand

from geo.hotspots import hexgrid
from geo.hotspots.rates import border_km_per_cell, gi_star_of_rates, rates

SIZE = 1000.0  # hexagon edge in metres: lengths in cells are easy to read in km


def cells_of(lines):
    return hexgrid.cells_near_lines(np.asarray(lines, dtype=object), SIZE)


def as_dict(i, j, km):
    return {(int(a), int(b)): float(k) for a, b, k in zip(i, j, km, strict=True) if k}


def test_a_line_through_centres_and_along_edges_has_hand_checked_lengths():
    # y = 0 runs through the centres of the even columns (vertex to vertex, 2 km per
    # whole cell) and along the edge between cells (odd i, 0) and (odd i, -1) (1 km),
    # which the upper cell owns: from x = 0 to 6 km that is half of (0, 0), the edge
    # of (1, 0), all of (2, 0), the edge of (3, 0), half of (4, 0).
    line = shapely.LineString([(0, 0), (6 * SIZE, 0)])
    i, j = cells_of([line])
    km = border_km_per_cell(line, i, j, SIZE)
    assert as_dict(i, j, km) == pytest.approx(
        {(0, 0): 1.0, (1, 0): 1.0, (2, 0): 2.0, (3, 0): 1.0, (4, 0): 1.0}, abs=1e-12)
    assert km.sum() == pytest.approx(6.0, abs=1e-12)


def test_a_vertical_line_through_a_column_of_centres():
    # x = 0 crosses the even column 0 through its centres: top edge to bottom edge,
    # 2 H size = 1.732 km per cell; from y = -H to 3 H km it is cells (0, 0) and (0, 1).
    height = 2 * hexgrid.H * SIZE
    line = shapely.LineString([(0, -height / 2), (0, 1.5 * height)])
    i, j = cells_of([line])
    km = border_km_per_cell(line, i, j, SIZE)
    assert as_dict(i, j, km) == pytest.approx({(0, 0): height / 1000, (0, 1): height / 1000},
                                              abs=1e-12)


def test_lengths_in_general_position_equal_the_intersections_and_add_up():
    zigzag = shapely.LineString([(123.4, -2222.2), (5000.3, 7777.7), (9000.0, 100.0)])
    parts = shapely.MultiLineString([[(-3000, 4000), (-500, 4500)],
                                     [(-400, 4400), (2500, 9000)]])
    lines = [zigzag, parts]
    i, j = cells_of(lines)
    km = border_km_per_cell(lines, i, j, SIZE)
    polygons = hexgrid.hex_polygons(i, j, SIZE)
    by_intersection = (shapely.length(shapely.intersection(zigzag, polygons))
                       + shapely.length(shapely.intersection(parts, polygons))) / 1000
    np.testing.assert_allclose(km, by_intersection, rtol=1e-12, atol=1e-12)
    assert km.sum() == pytest.approx((zigzag.length + parts.length) / 1000, rel=1e-12)
    assert (km > 0).sum() > 10


def test_border_outside_the_listed_cells_is_not_counted():
    line = shapely.LineString([(0, 0), (6 * SIZE, 0)])
    km = border_km_per_cell([line], [2, 0, 7], [0, 0, 7], SIZE)
    assert km.tolist() == pytest.approx([2.0, 1.0, 0.0], abs=1e-12)
    assert border_km_per_cell([], [2], [0], SIZE).tolist() == [0.0]


def test_rates_are_counts_per_exposure_and_nan_without_exposure():
    result = rates([3, 0, 5, 2], [1.5, 2.0, 0.0, 0.5])
    assert result[[0, 1, 3]].tolist() == [2.0, 0.0, 4.0]
    assert np.isnan(result[2])
    with pytest.raises(ValueError, match="not negative"):
        rates([1, 2], [1.0, -1.0])
    with pytest.raises(ValueError, match="one value per cell"):
        rates([1, 2], [1.0])


def test_gi_star_of_rates_equals_esda_on_the_rated_cells():
    i, j = np.meshgrid(np.arange(15), np.arange(15), indexing="ij")
    cx, cy = hexgrid.hex_centres(i.ravel(), j.ravel(), SIZE)
    rng = np.random.default_rng(9)
    exposure = np.where(rng.random(cx.size) < 0.4, 0.0, rng.uniform(0.2, 3.0, cx.size))
    rate = rates(rng.poisson(2, cx.size), exposure)
    band = 2.1 * np.sqrt(3) * SIZE
    z = gi_star_of_rates(rate, cx, cy, band)
    rated = exposure > 0
    assert np.isnan(z[~rated]).all() and np.isfinite(z[rated]).all()
    reference = G_Local(rate[rated], DistanceBand(np.column_stack([cx[rated], cy[rated]]),
                                                  band, silence_warnings=True),
                        transform="B", star=True, permutations=0)
    np.testing.assert_allclose(z[rated], reference.Zs, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="one rate per cell"):
        gi_star_of_rates(rate[:-1], cx, cy, band)
