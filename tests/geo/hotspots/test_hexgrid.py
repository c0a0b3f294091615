"""Hexagon arithmetic against PostGIS ST_HexagonGrid: same cells, same geometry."""

import numpy as np
import pytest
import shapely
from sqlalchemy import text

from geo.hotspots.hexgrid import (
    H,
    auto_cell_size,
    cells_near_lines,
    hex_cell_area,
    hex_centres,
    hex_index,
    hex_neighbours,
    hex_polygons,
    hex_shared_vertices,
    hex_vertices,
)

SRID = 32638

# (size in metres, envelope xmin, ymin, xmax, ymax): UTM 38N coordinates around Georgia,
# an odd size, and an envelope around the origin (negative and odd negative columns).
GRIDS = [
    (250.0, 400_000.0, 4_600_000.0, 410_000.0, 4_608_000.0),
    (333.3, 512_345.6, 4_590_001.2, 526_000.0, 4_601_000.0),
    (100.0, -2_000.0, -1_500.0, 1_600.0, 1_300.0),
]

_GRID_SQL = text(
    "SELECT i, j, ST_AsBinary(geom) FROM ST_HexagonGrid(:size, "
    "ST_MakeEnvelope(:xmin, :ymin, :xmax, :ymax, :srid)) ORDER BY i, j"
)

# Every grid cell whose closed polygon intersects each point, as PostGIS decides it.
_INTERSECTING_SQL = text(
    """
    WITH p AS (
        SELECT ord, ST_SetSRID(ST_MakePoint(x, y), :srid) AS geom
          FROM unnest(CAST(:xs AS float8[]), CAST(:ys AS float8[]))
               WITH ORDINALITY AS t(x, y, ord)
    )
    SELECT p.ord - 1, h.i, h.j
      FROM p
      JOIN ST_HexagonGrid(:size, ST_MakeEnvelope(:xmin, :ymin, :xmax, :ymax, :srid)) AS h
        ON ST_Intersects(h.geom, p.geom)
    """
)


def postgis_grid(session, size, xmin, ymin, xmax, ymax):
    rows = session.execute(_GRID_SQL, {"size": size, "xmin": xmin, "ymin": ymin,
                                       "xmax": xmax, "ymax": ymax, "srid": SRID}).all()
    i = np.array([r[0] for r in rows])
    j = np.array([r[1] for r in rows])
    return i, j, shapely.from_wkb([bytes(r[2]) for r in rows])


def postgis_cells_of(session, x, y, size, envelope):
    xmin, ymin, xmax, ymax = envelope
    rows = session.execute(_INTERSECTING_SQL, {
        "xs": [float(v) for v in x], "ys": [float(v) for v in y], "size": size,
        "xmin": xmin, "ymin": ymin, "xmax": xmax, "ymax": ymax, "srid": SRID}).all()
    cells: dict[int, list[tuple[int, int]]] = {k: [] for k in range(len(x))}
    for point, i, j in rows:
        cells[point].append((i, j))
    return cells


def interior_cells(i, j, size, xmin, ymin, xmax, ymax):
    """Cells whose neighbours are all in the grid (at least 2 cells inside the envelope)."""
    cx, cy = hex_centres(i, j, size)
    margin = 4 * size
    keep = ((cx > xmin + margin) & (cx < xmax - margin)
            & (cy > ymin + margin) & (cy < ymax - margin))
    return i[keep], j[keep]


@pytest.mark.parametrize("grid", GRIDS)
def test_polygons_are_vertex_for_vertex_those_of_postgis(db_session, grid):
    size = grid[0]
    i, j, geoms = postgis_grid(db_session, *grid)
    assert len(geoms) > 200
    ours = hex_polygons(i, j, size)
    # Same vertices, same order, bit-identical coordinates.
    assert np.array_equal(shapely.get_coordinates(ours), shapely.get_coordinates(geoms))
    assert shapely.equals(ours, geoms).all()
    # And PostGIS agrees on a sample (ST_Equals on our WKB).
    sample = slice(0, None, 37)
    equal = db_session.execute(
        text("SELECT bool_and(ST_Equals(h.geom, ST_GeomFromWKB(o.wkb, :srid))) "
             "FROM unnest(CAST(:i AS int[]), CAST(:j AS int[]), CAST(:wkb AS bytea[])) "
             "AS o(i, j, wkb) "
             "JOIN ST_HexagonGrid(:size, ST_MakeEnvelope(:xmin, :ymin, :xmax, :ymax, :srid)) h "
             "ON h.i = o.i AND h.j = o.j"),
        {"i": [int(v) for v in i[sample]], "j": [int(v) for v in j[sample]],
         "wkb": [shapely.to_wkb(g) for g in ours[sample]], "size": size, "xmin": grid[1],
         "ymin": grid[2], "xmax": grid[3], "ymax": grid[4], "srid": SRID},
    ).scalar_one()
    assert equal is True


def test_centres_and_area(db_session):
    size = 333.3
    i, j, geoms = postgis_grid(db_session, *GRIDS[1])
    cx, cy = hex_centres(i, j, size)
    centroids = shapely.centroid(geoms)
    np.testing.assert_allclose(cx, shapely.get_x(centroids), rtol=0, atol=1e-6)
    np.testing.assert_allclose(cy, shapely.get_y(centroids), rtol=0, atol=1e-6)
    area = db_session.execute(text("SELECT ST_Area(ST_Hexagon(:size, 3, -2))"),
                              {"size": size}).scalar_one()
    assert hex_cell_area(size) == pytest.approx(area, rel=1e-12)
    assert hex_cell_area(size) == pytest.approx(1.5 * np.sqrt(3) * size**2, rel=1e-12)


@pytest.mark.parametrize("grid", GRIDS)
def test_random_points_get_the_one_postgis_cell_that_holds_them(db_session, grid):
    size, xmin, ymin, xmax, ymax = grid
    rng = np.random.default_rng(int(size))
    margin = 3 * size
    x = rng.uniform(xmin + margin, xmax - margin, 4000)
    y = rng.uniform(ymin + margin, ymax - margin, 4000)
    i, j = hex_index(x, y, size)
    cells = postgis_cells_of(db_session, x, y, size, grid[1:])
    assert all(len(found) == 1 for found in cells.values())
    assert [cells[k][0] for k in range(len(x))] == list(zip(i.tolist(), j.tolist(),
                                                             strict=True))


def boundary_points(i, j, size):
    """Vertices and exact edge midpoints of the given cells (all lie on boundaries)."""
    vx, vy = hex_vertices(i, j, size)
    ax, ay, bx, by = vx[:, :-1], vy[:, :-1], vx[:, 1:], vy[:, 1:]
    mx, my = (ax + bx) / 2, (ay + by) / 2
    # Keep the midpoints that doubles represent exactly (then exactly on the edge).
    exact = (mx - ax == bx - mx) & (my - ay == by - my)
    x = np.concatenate([ax.ravel(), mx[exact]])
    y = np.concatenate([ay.ravel(), my[exact]])
    return x, y


@pytest.mark.parametrize("grid", GRIDS)
def test_points_on_edges_and_vertices_follow_the_tie_rule(db_session, grid):
    size, xmin, ymin, xmax, ymax = grid
    ci, cj, _ = postgis_grid(db_session, *grid)
    ci, cj = interior_cells(ci, cj, size, xmin, ymin, xmax, ymax)
    pick = np.random.default_rng(7).choice(len(ci), size=min(150, len(ci)), replace=False)
    x, y = boundary_points(ci[pick], cj[pick], size)
    assert len(x) > 800
    i, j = hex_index(x, y, size)
    cells = postgis_cells_of(db_session, x, y, size, grid[1:])
    counts = [len(cells[k]) for k in range(len(x))]
    # PostGIS: a vertex is in 3 cells, an edge point in 2.
    assert set(counts) <= {2, 3} and 3 in counts and 2 in counts
    for k in range(len(x)):
        # Larger i wins, then larger j.
        assert (int(i[k]), int(j[k])) == max(cells[k])


@pytest.mark.parametrize("grid", GRIDS)
def test_points_a_hair_off_a_vertex_get_the_postgis_cell(db_session, grid):
    size, xmin, ymin, xmax, ymax = grid
    ci, cj, _ = postgis_grid(db_session, *grid)
    ci, cj = interior_cells(ci, cj, size, xmin, ymin, xmax, ymax)
    vx, vy = hex_vertices(ci[:60], cj[:60], size)
    offsets = np.array([[1e-6, 0], [-1e-6, 0], [0, 1e-6], [0, -1e-6], [1e-6, 1e-6],
                        [-1e-6, -1e-6]])
    x = (vx[:, :6, None] + offsets[:, 0]).ravel()
    y = (vy[:, :6, None] + offsets[:, 1]).ravel()
    i, j = hex_index(x, y, size)
    cells = postgis_cells_of(db_session, x, y, size, grid[1:])
    for k in range(len(x)):
        assert (int(i[k]), int(j[k])) in cells[k]
        if len(cells[k]) == 1:
            assert (int(i[k]), int(j[k])) == cells[k][0]


def test_hex_index_keeps_the_input_shape_and_rejects_bad_input():
    x = np.array([[0.0, 10.0], [500.0, -700.0]])
    i, j = hex_index(x, x * 0.5, 100.0)
    assert i.shape == j.shape == (2, 2)
    assert i.dtype == np.int64
    # Scalars work and the origin is cell (0, 0).
    assert tuple(int(v) for v in hex_index(0.0, 0.0, 100.0)) == (0, 0)
    with pytest.raises(ValueError, match="positive"):
        hex_index(x, x, 0.0)
    with pytest.raises(ValueError, match="finite"):
        hex_index(np.array([np.nan]), np.array([0.0]), 100.0)


def test_centre_of_every_cell_indexes_back_to_it():
    i, j = np.meshgrid(np.arange(-30, 31), np.arange(-20, 21))
    cx, cy = hex_centres(i, j, 250.0)
    back_i, back_j = hex_index(cx, cy, 250.0)
    assert np.array_equal(back_i, i) and np.array_equal(back_j, j)


def test_auto_cell_size_from_nearest_neighbour_spacing():
    # A 100 m lattice: mean nearest-neighbour distance 100 m -> a hexagon of 100 m x 100 m
    # area, edge sqrt(10000 / (3 H)).
    gx, gy = np.meshgrid(np.arange(10) * 100.0, np.arange(10) * 100.0)
    x, y = gx.ravel() + 400_000, gy.ravel() + 4_600_000
    expected = np.sqrt(100.0**2 / (3 * H))
    assert auto_cell_size(x, y) == pytest.approx(expected, rel=1e-12)
    assert hex_cell_area(auto_cell_size(x, y)) == pytest.approx(100.0**2, rel=1e-12)
    # Repeat incidents at one place and a far locational outlier change nothing.
    repeated_x = np.concatenate([x, x[:20], [x[0] + 50_000]])
    repeated_y = np.concatenate([y, y[:20], [y[0]]])
    assert auto_cell_size(repeated_x, repeated_y) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="3 or more"):
        auto_cell_size([1.0, 1.0], [2.0, 2.0])


def test_shared_vertices_rebuild_every_ring_bit_for_bit():
    rng = np.random.default_rng(5)
    i, j = rng.integers(-40, 40, 3000), rng.integers(-40, 40, 3000)
    for size in (790.2, 333.3, 1.0):
        x, y, ring = hex_shared_vertices(i, j, size)
        vx, vy = hex_vertices(i, j, size)
        np.testing.assert_array_equal(x[ring], vx)
        np.testing.assert_array_equal(y[ring], vy)
        assert len(x) == len(np.unique(np.column_stack([x, y]), axis=0))  # each once


def test_neighbours_share_an_edge():
    i, j = np.array([0, 1, -1, -2, 7]), np.array([0, 0, 3, -5, 2])
    ni, nj = hex_neighbours(i, j)
    polygons = hex_polygons(i, j, 100.0)
    for k in range(len(i)):
        around = hex_polygons(ni[k], nj[k], 100.0)
        shared = shapely.intersection(polygons[k], around)
        assert (shapely.get_type_id(shared) == 1).all()  # a whole edge each, a line
        assert np.allclose(shapely.length(shared), 100.0)
        assert len({(a, b) for a, b in zip(ni[k], nj[k], strict=True)}) == 6


def test_cells_near_lines_hold_every_cell_the_lines_touch():
    size = 250.0
    line = shapely.LineString([(1000, 1000), (1433.3, 1000.0), (4000, 2900), (4000, 2900.01),
                               (-3000, 700)])
    ring = shapely.Polygon([(0, 0), (1, 0), (0, 1)]).exterior  # smaller than a cell
    lines = shapely.MultiLineString([line, ring])
    i, j = cells_near_lines(lines, size)
    ci, cj = np.meshgrid(np.arange(-20, 25), np.arange(-10, 15), indexing="ij")
    ci, cj = ci.ravel(), cj.ravel()
    touching = shapely.intersects(lines, hex_polygons(ci, cj, size))
    found = set(zip(i.tolist(), j.tolist(), strict=True))
    assert touching.sum() > 30
    assert {(a, b) for a, b, t in zip(ci.tolist(), cj.tolist(), touching, strict=True)
            if t} <= found
