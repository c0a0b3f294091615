"""The palettes of geo.maps.palette: one colour for every value a layer can hold."""

import json
import re

from geo.hotspots.emerging import CATEGORIES, NO_PATTERN
from geo.maps import palette
from geo.models import RISK_LEVELS

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
    for value in colours.values():
        if isinstance(value, dict):
            flat.extend(value.values())
        elif isinstance(value, list):
            flat.extend(value)
    assert all(COLOUR.match(colour) for colour in flat), flat
