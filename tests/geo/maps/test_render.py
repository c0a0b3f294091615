"""geo.maps.render: mapnik maps drawn from a real PostGIS (the sample layers, committed in a
database of this module's own, since mapnik's connections cannot see a rolled-back
test transaction)."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import numpy as np
import pytest
from PIL import Image

from geo.errors import ParameterError
from geo.layers import INCIDENT_POINT_MAX_SCALE, MAP_LAYERS
from geo.maps import map_request, overlays, palette, render
from geo.maps.map_request import MapRequest
from geo.maps.render import render_map

# Around the sample sections T-AZ-001 (44.9,41.25 - 45.05,41.3 - 45.2,41.28) and T-AZ-002.
AREA = (44.85, 41.15, 45.65, 41.65)
ALL_TIME = None


@pytest.fixture(scope="module")
def sample_db(committed_sample):
    """(database URL, ids by layer and code) of a committed copy of the sample layers."""
    app, ids = committed_sample
    return app.config["SQLALCHEMY_DATABASE_URI"], ids


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def pixel_of(bbox, size, lon, lat) -> tuple[int, int]:
    """(row, col) of a lon/lat in a north-up EPSG:4326 map."""
    minx, miny, maxx, maxy = bbox
    width, height = size
    return (int((maxy - lat) / (maxy - miny) * height),
            int((lon - minx) / (maxx - minx) * width))


def rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[k:k + 2], 16) for k in (1, 3, 5)])


def near(image: np.ndarray, row: int, col: int, colour: str, radius: int = 1,
         tolerance: int = 12) -> bool:
    """Some pixel within ``radius`` of (row, col) has ``colour`` (per channel)."""
    window = image[row - radius:row + radius + 1, col - radius:col + radius + 1, :3]
    return bool((np.abs(window.astype(int) - rgb(colour)).max(axis=2) <= tolerance).any())


def test_colours_are_the_agreed_colour_blind_safe_ones():
    assert palette.RISK_LEVEL_COLOURS == {"low": "#4575b4", "medium": "#fee090",
                                         "high": "#f46d43", "critical": "#a50026"}
    assert palette.NOT_ASSESSED_COLOUR == "#999999"
    assert palette.HOTSPOT_BIN_COLOURS[3] == "#b2182b"
    assert palette.HOTSPOT_BIN_COLOURS[-3] == "#2166ac"
    assert 0 not in palette.HOTSPOT_BIN_COLOURS  # not significant: transparent


def test_segment_has_its_level_colour_where_it_is(sample_db):
    url, ids = sample_db
    segment = ids["border_segments"]["T-AZ-001"]
    size = (400, 250)
    png = render_map(MapRequest(layers=("border_segments",), bbox=AREA, width=size[0],
                                height=size[1], segment_levels={segment: "high"}), url)
    image = pixels(png)
    row, col = pixel_of(AREA, size, 45.05, 41.3)  # a vertex of T-AZ-001
    assert near(image, row, col, palette.RISK_LEVEL_COLOURS["high"])
    # T-AZ-002 got no level: grey.
    row2, col2 = pixel_of(AREA, size, 45.4, 41.35)
    assert near(image, row2, col2, palette.NOT_ASSESSED_COLOUR)
    assert not near(image, row2, col2, palette.RISK_LEVEL_COLOURS["high"], radius=2)
    # Far from both lines: the white background.
    assert tuple(image[5, 5]) == (255, 255, 255, 255)


def test_stored_levels_and_plain_style(sample_db):
    url, _ = sample_db
    size = (400, 250)
    image = pixels(render_map(MapRequest(layers=("border_segments",), bbox=AREA,
                                         width=size[0], height=size[1]), url))
    row, col = pixel_of(AREA, size, 45.05, 41.3)
    assert near(image, row, col, palette.NOT_ASSESSED_COLOUR)  # no assessment stored
    plain = pixels(render_map(MapRequest(layers=("border_segments",), styles=("plain",),
                                         bbox=AREA, width=size[0], height=size[1]), url))
    assert near(plain, row, col, palette.SEGMENT_PLAIN_COLOUR)


def test_projected_map_draws_the_segment_at_its_projected_pixel(sample_db):
    from geo.crs import transform_xy

    url, ids = sample_db
    x, y = transform_xy([AREA[0], AREA[2], 45.05], [AREA[1], AREA[3], 41.3], 4326, 3857)
    bbox = (float(x[0]), float(y[0]), float(x[1]), float(y[1]))
    size = (300, 300)
    image = pixels(render_map(MapRequest(
        layers=("border_segments",), bbox=bbox, crs="EPSG:3857", width=size[0],
        height=size[1], segment_levels={ids["border_segments"]["T-AZ-001"]: "critical"}), url))
    row = int((bbox[3] - y[2]) / (bbox[3] - bbox[1]) * size[1])
    col = int((x[2] - bbox[0]) / (bbox[2] - bbox[0]) * size[0])
    assert near(image, row, col, palette.RISK_LEVEL_COLOURS["critical"])


def test_incident_points_at_large_scale_by_category_and_time(sample_db):
    url, _ = sample_db
    bbox = (44.95, 41.30, 45.05, 41.36)  # ~8 km: points
    size = (256, 154)
    request = MapRequest(layers=("incidents",), bbox=bbox, width=size[0], height=size[1])
    assert map_request.scale_denominator(request) < INCIDENT_POINT_MAX_SCALE
    row, col = pixel_of(bbox, size, 45.0, 41.33)  # incident T-1, illegal crossing
    colour = palette.INCIDENT_CATEGORY_COLOURS["illegal_crossing_between_bcp"]
    assert near(pixels(render_map(request, url)), row, col, colour)
    # TIME: T-1 happened 2026-10-01 02:30 UTC; a window in 2025 leaves the map empty.
    before = MapRequest(layers=("incidents",), bbox=bbox, width=size[0], height=size[1],
                        time=(datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1,
                                                                        tzinfo=UTC)))
    assert not near(pixels(render_map(before, url)), row, col, colour, radius=3)


def test_incidents_aggregate_into_cells_at_small_scale(sample_db):
    url, _ = sample_db
    bbox = (40.0, 40.0, 48.0, 44.0)  # ~900 km wide: cells
    request = MapRequest(layers=("incidents",), bbox=bbox, width=512, height=256)
    assert map_request.scale_denominator(request) >= INCIDENT_POINT_MAX_SCALE
    points = overlays.incident_points(url)
    assert overlays.incident_cells(request, points, 0).sum() == 3  # T-1, T-2, T-3
    window = MapRequest(layers=("incidents",), bbox=bbox, width=512, height=256,
                        time=(datetime(2026, 1, 1, tzinfo=UTC), None))
    assert overlays.incident_cells(window, points, 0).sum() == 2  # not T-3 (2025)
    image = pixels(render_map(request, url))
    row, col = pixel_of(bbox, (512, 256), 45.0, 41.33)
    assert near(image, row, col, palette.INCIDENT_CELL_COLOURS[0], radius=2, tolerance=30)


def test_a_map_of_a_window_reads_the_windows_rows_and_draws_the_same_cells(sample_db):
    """Issue 21: a map reads the incidents of its TIME window only (not the history),
    and counts the same cells as the whole history's arrays select for that window,
    the window closed at both ends (T-1 occurred at exactly its end)."""
    url, _ = sample_db
    bbox = (40.0, 40.0, 48.0, 44.0)
    whole = overlays.incident_points(url)
    assert len(whole) == 3
    for window, rows in [((datetime(2026, 1, 1, tzinfo=UTC), None), 2),
                         ((datetime(2025, 1, 1, tzinfo=UTC),
                           datetime(2026, 10, 1, 2, 30, tzinfo=UTC)), 2),
                         ((datetime(2025, 1, 1, tzinfo=UTC),
                           datetime(2026, 10, 1, 2, 29, tzinfo=UTC)), 1),
                         ((datetime(2027, 1, 1, tzinfo=UTC), None), 0)]:
        request = MapRequest(layers=("incidents",), bbox=bbox, width=512, height=256,
                             time=window)
        read = overlays.incident_points(url, window)
        assert len(read) == rows, window
        drawn = overlays.incident_cells(request, read, 0)
        assert drawn.sum() == rows
        assert (drawn == overlays.incident_cells(request, whole, 0)).all()
    # A rendered map of a window asks for that window's rows (kept for the next map).
    overlays._POINTS.clear()
    window = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 12, 31, tzinfo=UTC))
    render_map(MapRequest(layers=("incidents", "density"), bbox=bbox, width=512,
                          height=256, time=window), url)
    assert [key[1] for key in overlays._POINTS] == [window]
    assert len(overlays._POINTS[url, window]) == 2


# T-1 (45.0, 41.33) is an actual illegal crossing; T-2 (45.42, 41.45) an attempted
# tobacco smuggling; T-3 (44.70, 41.10) an actual refusal of entry.
T1_CATEGORY = "illegal_crossing_between_bcp"


@pytest.mark.parametrize(("filters", "drawn"), [
    ({}, True),
    ({"categories": (T1_CATEGORY,)}, True),
    ({"categories": ("smuggling_tobacco", T1_CATEGORY)}, True),
    ({"categories": ("smuggling_tobacco",)}, False),
    ({"outcome": ("actual",)}, True),
    ({"outcome": ("attempted", "actual")}, True),
    ({"outcome": ("attempted",)}, False),
    ({"categories": (T1_CATEGORY,), "outcome": ("attempted",)}, False),
])
def test_category_and_outcome_filter_incident_points(sample_db, filters, drawn):
    url, _ = sample_db
    bbox = (44.95, 41.30, 45.05, 41.36)  # ~8 km: points
    size = (256, 154)
    request = MapRequest(layers=("incidents",), bbox=bbox, width=size[0], height=size[1],
                         **filters)
    assert map_request.scale_denominator(request) < INCIDENT_POINT_MAX_SCALE
    row, col = pixel_of(bbox, size, 45.0, 41.33)
    colour = palette.INCIDENT_CATEGORY_COLOURS[T1_CATEGORY]
    assert near(pixels(render_map(request, url)), row, col, colour, radius=3) is drawn


@pytest.mark.parametrize(("filters", "count", "in_region"), [
    ({}, 3, 1),
    ({"categories": (T1_CATEGORY,)}, 1, 0),
    ({"categories": ("smuggling_tobacco", "refusal_of_entry")}, 2, 1),
    ({"outcome": ("actual",)}, 2, 0),
    ({"outcome": ("attempted",)}, 1, 1),
    ({"categories": ("smuggling_tobacco",), "outcome": ("actual",)}, 0, 0),
])
def test_category_and_outcome_filter_incident_cells(sample_db, filters, count, in_region):
    url, _ = sample_db
    bbox = (40.0, 40.0, 48.0, 44.0)  # ~900 km wide: cells
    request = MapRequest(layers=("incidents",), bbox=bbox, width=512, height=256, **filters)
    assert map_request.scale_denominator(request) >= INCIDENT_POINT_MAX_SCALE
    points = overlays.incident_points(url)
    assert overlays.incident_cells(request, points, 0).sum() == count
    # With a region too: T-2 is the only incident of T-KA.
    region = render.region_id(url, "T-KA")
    assert overlays.incident_cells(request, points, region).sum() == in_region


@pytest.mark.parametrize(("filters", "drawn"), [
    ({"categories": (T1_CATEGORY,)}, True),
    ({"categories": ("smuggling_tobacco",)}, False),
    ({"outcome": ("actual",)}, True),
    ({"outcome": ("attempted",)}, False),
])
def test_category_and_outcome_filter_the_drawn_cells(sample_db, filters, drawn):
    url, _ = sample_db
    bbox = (40.0, 40.0, 48.0, 44.0)
    request = MapRequest(layers=("incidents",), bbox=bbox, width=512, height=256,
                         transparent=True, **filters)
    image = pixels(render_map(request, url))
    row, col = pixel_of(bbox, (512, 256), 45.0, 41.33)  # T-1's cell: T-1 alone in it
    assert near(image, row, col, palette.INCIDENT_CELL_COLOURS[0], radius=2,
                tolerance=30) is drawn
    assert bool(image[row - 2:row + 3, col - 2:col + 3, 3].any()) is drawn


def test_unknown_category_or_outcome_is_a_parameter_error(sample_db):
    url, _ = sample_db
    with pytest.raises(ParameterError, match="unknown category 'jaywalking'") as caught:
        render_map(MapRequest(layers=("incidents",), categories=("jaywalking",)), url)
    assert caught.value.field == "category"
    with pytest.raises(ParameterError, match="unknown outcome 'failed'") as caught:
        render_map(MapRequest(layers=("incidents",), outcome=("failed",)), url)
    assert caught.value.field == "outcome"


def test_region_restricts_incidents(sample_db):
    url, _ = sample_db
    bbox = (40.0, 40.0, 48.0, 44.0)
    points = overlays.incident_points(url)
    region = render.region_id(url, "T-KA")
    assert overlays.incident_cells(MapRequest(layers=("incidents",), bbox=bbox, width=512,
                                            height=256), points, region).sum() == 1  # T-2
    with pytest.raises(ParameterError, match="unknown region code"):
        render_map(MapRequest(layers=("incidents",), region="NOPE"), url)


def test_formats_transparency_and_background(sample_db):
    url, _ = sample_db
    base = {"layers": ("regions", "border_segments"), "bbox": AREA}
    png = render_map(MapRequest(**base, transparent=True), url)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert pixels(png)[2, 2, 3] == 0  # nothing drawn there: transparent
    png8 = render_map(MapRequest(**base, fmt="png8"), url)
    assert png8[25] == 3  # IHDR colour type 3: palette
    jpeg = render_map(MapRequest(**base, fmt="jpeg", bgcolor="#0000FF"), url)
    assert jpeg[:3] == b"\xff\xd8\xff"
    assert near(pixels(jpeg), 2, 2, "#0000ff", tolerance=20)


def test_countries_density_and_hotspots_layers_draw(sample_db):
    url, _ = sample_db
    world = pixels(render_map(MapRequest(layers=("countries",), bbox=(39, 40, 48, 44),
                                         width=300, height=150), url))
    row, col = pixel_of((39, 40, 48, 44), (300, 150), 44.0, 42.0)  # inside Georgia
    assert near(world, row, col, palette.COUNTRY_FILL_COLOUR, radius=0, tolerance=2)
    density = pixels(render_map(MapRequest(layers=("density",), bbox=AREA, transparent=True,
                                           width=200, height=125), url))
    # The surface sits on the two sample incidents inside AREA (T-1, T-2) and peaks at
    # one of them, in the colours of the density ramp; it fades to nothing away from them.
    on_incidents = [pixel_of(AREA, (200, 125), lon, lat)
                    for lon, lat in ((45.0, 41.33), (45.42, 41.45))]
    assert all(density[row, col, 3] > 0 for row, col in on_incidents)
    peak = np.unravel_index(np.argmax(density[..., 3]), density.shape[:2])
    assert min(abs(peak[0] - row) + abs(peak[1] - col) for row, col in on_incidents) <= 8
    ramp = {tuple(rgb(colour)) for colour in palette.DENSITY_RAMP}
    assert tuple(density[peak][:3]) in ramp
    assert (density[..., 3] == 0).mean() > 0.2
    # Three incidents are too few for Gi*: an empty (transparent) layer, not an error.
    hot = pixels(render_map(MapRequest(layers=("hotspots",), bbox=AREA, transparent=True),
                            url))
    assert hot[..., 3].max() == 0


@pytest.mark.parametrize(("change", "field"), [
    ({"layers": ("nope",)}, "layers"),
    ({"layers": ("border_segments",), "styles": ("bold",)}, "styles"),
    ({"crs": "EPSG:2154"}, "crs"),
    ({"fmt": "gif"}, "format"),
    ({"bbox": (1, 1, 0, 2)}, "bbox"),
    ({"bgcolor": "blue"}, "bgcolor"),
    ({"layers": ("border_segments",), "segment_levels": {1: "extreme"}}, "segment_levels"),
])
def test_bad_requests_name_the_field(sample_db, change, field):
    url, _ = sample_db
    with pytest.raises(ParameterError) as error:
        render_map(MapRequest(**{"layers": ("regions",), **change}), url)
    assert error.value.field == field


def test_every_layer_and_style_has_a_legend():
    for name, layer in MAP_LAYERS.items():
        for style in layer.map.style_names():
            png = render.render_legend(name, style)
            width, height = render.legend_size(name, style)
            assert Image.open(io.BytesIO(png)).size == (width, height)
    assert len(render.legend_entries("border_segments")) == 5  # 4 levels + not assessed


@pytest.mark.slow
def test_hotspots_layer_is_red_at_a_planted_hot_spot(demo_app):
    """The 20,000-incident synthetic demo: Gi* hot cells cover a persistent planted
    hot-spot's centre, drawn in the hot colours (99/95 %)."""
    from tests.conftest import DEMO_END

    app, _, planted = demo_app
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    spot = next(p for p in planted if p.kind == "persistent")
    half = 0.25  # degrees around the centre
    bbox = (spot.lon - half, spot.lat - half, spot.lon + half, spot.lat + half)
    request = MapRequest(layers=("hotspots",), bbox=bbox, width=200, height=200,
                         transparent=True,
                         time=(datetime(DEMO_END.year - 1, 7, 1, tzinfo=UTC), DEMO_END))
    image = pixels(render_map(request, url))
    centre = image[95:106, 95:106]
    hot = [rgb(palette.HOTSPOT_BIN_COLOURS[b]) for b in (3, 2)]
    opaque = centre[..., 3] > 0
    assert opaque.any()
    # Drawn at 80 % opacity over transparency: compare the colour, not the alpha.
    colours = centre[opaque][:, :3].astype(int)
    assert any((np.abs(colours - colour).max(axis=1) <= 30).any() for colour in hot)
    assert not (np.abs(colours - rgb(palette.HOTSPOT_BIN_COLOURS[-3])).max(axis=1) <= 30).any()
