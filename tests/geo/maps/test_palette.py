"""The palettes of geo.maps.palette: one colour for every value a layer can hold."""

import json
import re

from geo.hotspots.emerging import CATEGORIES, NO_PATTERN
from geo.layers import INCIDENT_CELL_CLASSES
from geo.maps import palette
from geo.models import RISK_LEVELS
from geo.vocabulary import INCIDENT_CATEGORIES

COLOUR = re.compile(r"^#[0-9a-f]{6}$")


def test_legend_palettes_cover_every_value_and_are_json():
    colours = palette.legend_palettes()
    assert json.loads(json.dumps(colours)) == colours
    assert set(colours["risk_levels"]) == {*RISK_LEVELS, "none"}
    assert set(colours["hotspot_bins"]) == {"-3", "-2", "-1", "1", "2", "3"}
    assert set(colours["lisa_clusters"]) == {"HH", "HL", "LH", "LL"}
    assert set(colours["emerging_categories"]) == set(CATEGORIES) - {NO_PATTERN}
    assert colours["density_ramp"] == list(palette.DENSITY_RAMP)
    assert set(colours["outlines"]) == {"region", "cell", "crossing_point", "incident"}
    flat = [colours[name] for name in ("incident", "crossing_point", "alert", "unclassified",
                                       "region_fill")]
    # The WMS's incident symbols (the page's legend draws them): every category, and
    # count classes of cells that follow each other from 1 to an open last class.
    assert set(colours["incident_categories"]) == set(INCIDENT_CATEGORIES)
    cells = colours.pop("incident_cells")
    assert cells[0]["from"] == 1 and cells[-1]["to"] is None
    assert all(a["to"] + 1 == b["from"] for a, b in zip(cells, cells[1:], strict=False))
    assert [c["to"] for c in cells[:-1]] == list(INCIDENT_CELL_CLASSES)
    flat.extend(c["colour"] for c in cells)
    for value in colours.values():
        if isinstance(value, dict):
            flat.extend(value.values())
        elif isinstance(value, list):
            flat.extend(value)
    assert all(COLOUR.match(colour) for colour in flat), flat
