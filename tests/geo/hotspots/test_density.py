"""Quartic kernel density: hand values, mass, symmetry and the Silverman radius."""

import numpy as np
import pytest

from geo.hotspots.density import (
    kernel_density_at,
    kernel_density_raster,
    median_distance_to_mean_centre,
    raster_cell_centres,
    silverman_bandwidth,
    standard_distance,
)

X0, Y0 = 400_000.0, 4_600_000.0  # somewhere in EPSG:32638


def test_single_incident_by_hand():
    r = 1000.0
    # At distance 600 m: 3 / (pi r^2) * (1 - 0.36)^2 per m^2, times 1e6 for km^2.
    expected = 3 / (np.pi * r**2) * (1 - 0.6**2) ** 2 * 1e6
    values = kernel_density_at([X0], [Y0], [X0 + 600.0, X0, X0 + 1000.0, X0 + 2000.0],
                               [Y0, Y0, Y0, Y0], bandwidth_m=r)
    assert values[0] == pytest.approx(expected, rel=1e-12)
    assert values[1] == pytest.approx(3 / (np.pi * r**2) * 1e6, rel=1e-12)  # on the point
    assert values[2] == 0.0 and values[3] == 0.0  # at and beyond the radius


def test_density_adds_over_incidents():
    r = 800.0
    xs = np.array([X0, X0 + 300.0, X0 + 300.0])
    ys = np.array([Y0, Y0, Y0 + 100.0])
    where_x, where_y = np.array([X0 + 100.0]), np.array([Y0 + 50.0])
    total = kernel_density_at(xs, ys, where_x, where_y, r)
    parts = sum(kernel_density_at([a], [b], where_x, where_y, r) for a, b in zip(xs, ys,
                                                                                   strict=True))
    assert total[0] == pytest.approx(parts[0], rel=1e-12)


def test_integral_over_a_large_raster_equals_the_number_of_incidents():
    rng = np.random.default_rng(3)
    xs = X0 + rng.uniform(2000, 8000, 40)
    ys = Y0 + rng.uniform(2000, 8000, 40)
    cell = 20.0
    grid = kernel_density_raster(xs, ys, X0, Y0, cell, 500, 500, bandwidth_m=1500.0)
    mass = grid.sum() * cell * cell / 1e6  # per km^2 times km^2 per cell
    assert mass == pytest.approx(40, rel=1e-3)


def test_density_is_symmetric_around_one_incident():
    r = 500.0
    d = np.array([0.0, 120.0, 250.0, 499.0])
    east = kernel_density_at([X0], [Y0], X0 + d, np.full(4, Y0), r)
    west = kernel_density_at([X0], [Y0], X0 - d, np.full(4, Y0), r)
    north = kernel_density_at([X0], [Y0], np.full(4, X0), Y0 + d, r)
    diagonal = kernel_density_at([X0], [Y0], X0 + d / np.sqrt(2), Y0 + d / np.sqrt(2), r)
    np.testing.assert_allclose(east, west, rtol=1e-12)
    np.testing.assert_allclose(east, north, rtol=1e-12)
    np.testing.assert_allclose(east, diagonal, rtol=1e-9)
    assert np.all(np.diff(east) < 0)  # decreasing with distance


def test_raster_is_north_up_and_matches_point_evaluation():
    # One incident in the top-left cell of a 4 x 3 raster of 100 m cells.
    x, y = X0 + 50.0, Y0 + 250.0
    grid = kernel_density_raster([x], [y], X0, Y0, 100.0, 4, 3, bandwidth_m=250.0)
    assert grid.shape == (3, 4)
    assert np.unravel_index(grid.argmax(), grid.shape) == (0, 0)
    cx, cy = raster_cell_centres(X0, Y0, 100.0, 4, 3)
    assert (cx[0, 0], cy[0, 0]) == (X0 + 50.0, Y0 + 250.0)
    np.testing.assert_allclose(grid.ravel(), kernel_density_at([x], [y], cx, cy, 250.0))
    # Mirror symmetry of the raster around the incident's column.
    assert grid[0, 1] == pytest.approx(grid[1, 0], rel=1e-12)


def test_silverman_bandwidth_by_hand():
    # Four points at distance 1 km from their centre: SD = 1 km, Dm = 1 km,
    # min(1, sqrt(1/ln 2) * 1) = 1 -> 0.9 * 1000 * 4^-0.2.
    xs = X0 + np.array([1000.0, -1000.0, 0.0, 0.0])
    ys = Y0 + np.array([0.0, 0.0, 1000.0, -1000.0])
    assert standard_distance(xs, ys) == pytest.approx(1000.0, rel=1e-12)
    assert median_distance_to_mean_centre(xs, ys) == pytest.approx(1000.0, rel=1e-12)
    assert silverman_bandwidth(xs, ys) == pytest.approx(0.9 * 1000.0 * 4**-0.2, rel=1e-12)
    # With a tight core and one far point, the median term is the smaller one.
    xs2 = X0 + np.array([0.0, 10.0, -10.0, 0.0, 5000.0])
    ys2 = Y0 + np.array([10.0, 0.0, 0.0, -10.0, 0.0])
    sd = standard_distance(xs2, ys2)
    dm = median_distance_to_mean_centre(xs2, ys2)
    assert np.sqrt(1 / np.log(2)) * dm < sd
    assert silverman_bandwidth(xs2, ys2) == pytest.approx(
        0.9 * np.sqrt(1 / np.log(2)) * dm * 5**-0.2, rel=1e-12)


def test_default_bandwidth_is_silverman():
    rng = np.random.default_rng(5)
    xs, ys = X0 + rng.normal(0, 2000, 200), Y0 + rng.normal(0, 2000, 200)
    px, py = X0 + np.array([0.0, 1500.0]), Y0 + np.array([0.0, -700.0])
    np.testing.assert_allclose(kernel_density_at(xs, ys, px, py),
                               kernel_density_at(xs, ys, px, py, silverman_bandwidth(xs, ys)))


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="one location"):
        silverman_bandwidth([X0, X0], [Y0, Y0])
    with pytest.raises(ValueError, match="positive"):
        kernel_density_at([X0], [Y0], [X0], [Y0], bandwidth_m=0.0)
    with pytest.raises(ValueError, match="cell size"):
        raster_cell_centres(X0, Y0, 0.0, 3, 3)
