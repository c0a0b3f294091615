"""The colours of every map layer and legend, in one place: the WMS, the bulletin and
the map page's legend draw with these.
"""

from __future__ import annotations

from geo.vocabulary import INCIDENT_CATEGORIES

# ------------------------------------------------------------------ colours (one place)

RISK_LEVEL_COLOURS: dict[str, str] = {
    "low": "#4575b4",
    "medium": "#fee090",
    "high": "#f46d43",
    "critical": "#a50026",
}
NOT_ASSESSED_COLOUR = "#999999"
# Gi* bins (geo.hotspots.spatial_stats.gi_bins): +-3 99 %, +-2 95 %, +-1 90 %; 0 is transparent.
HOTSPOT_BIN_COLOURS: dict[int, str] = {
    3: "#b2182b", 2: "#ef8a62", 1: "#fddbc7",
    -1: "#d1e5f0", -2: "#67a9cf", -3: "#2166ac",
}
# Incident categories: a qualitative palette (ColorBrewer Paired + Dark2), in the order
# of geo.vocabulary.INCIDENT_CATEGORIES.
_CATEGORY_PALETTE = (
    "#1f78b4", "#33a02c", "#e31a1c", "#ff7f00", "#6a3d9a", "#b15928", "#a6cee3",
    "#b2df8a", "#fb9a99", "#fdbf6f", "#cab2d6", "#1b9e77", "#d95f02", "#7570b3",
)
INCIDENT_CATEGORY_COLOURS: dict[str, str] = {
    name: _CATEGORY_PALETTE[k % len(_CATEGORY_PALETTE)]
    for k, name in enumerate(INCIDENT_CATEGORIES)
}
# Aggregated incident cells, one colour per class of geo.layers.INCIDENT_CELL_CLASSES
# plus the open last class (YlOrRd).
INCIDENT_CELL_COLOURS = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
# Kernel density ramp from low to the window's peak (YlOrRd), drawn semi-transparent.
DENSITY_RAMP = ("#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a",
                "#e31a1c", "#b10026")
SEGMENT_PLAIN_COLOUR = "#333333"
CROSSING_POINT_COLOUR = "#222222"
REGION_OUTLINE_COLOUR = "#555555"
COUNTRY_FILL_COLOUR = "#eeeeee"
COUNTRY_LINE_COLOUR = "#bbbbbb"

