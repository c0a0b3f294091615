"""The colours of every map layer and legend, in one place: the WMS, the bulletin and
the map page draw with these (the page reads them from ``legend_palettes()``, served at
``/ui/palettes.json``).
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
# Local Moran's I clusters (spatial_stats.local_morans_i labels): high-high and high-low
# in the hot bins' reds, low-high and low-low in the cold bins' blues.
LISA_CLUSTER_COLOURS: dict[str, str] = {
    "HH": "#b2182b", "HL": "#ef8a62", "LH": "#67a9cf", "LL": "#2166ac",
}
# Emerging hot-spot categories (Esri's names, geo.hotspots.emerging.CATEGORIES but "no
# pattern", which is not drawn): hot in reds, cold in blues.
EMERGING_CATEGORY_COLOURS: dict[str, str] = {
    "new hot spot": "#fddbc7", "consecutive hot spot": "#f4a582",
    "intensifying hot spot": "#b2182b", "persistent hot spot": "#d6604d",
    "diminishing hot spot": "#fbb4b9", "sporadic hot spot": "#fee0d2",
    "oscillating hot spot": "#ef8a62", "historical hot spot": "#e7d4e8",
    "new cold spot": "#d1e5f0", "consecutive cold spot": "#92c5de",
    "intensifying cold spot": "#2166ac", "persistent cold spot": "#4393c3",
    "diminishing cold spot": "#c6dbef", "sporadic cold spot": "#deebf7",
    "oscillating cold spot": "#67a9cf", "historical cold spot": "#e0e0e0",
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
# The map page's own symbols (GeoJSON drawn by the browser, not by the WMS): incident
# points, crossing-point markers, the outline of a section with an alert, the tint of
# the regions (outlined in the WMS's REGION_OUTLINE_COLOUR) and the edges of the cells.
INCIDENT_POINT_COLOUR = "#762a83"
INCIDENT_POINT_OUTLINE_COLOUR = "#ffffff"
CROSSING_MARKER_COLOUR = "#ffd92f"
CROSSING_MARKER_OUTLINE_COLOUR = "#000000"
ALERT_OUTLINE_COLOUR = "#000000"
REGION_FILL_COLOUR = "#f2efe9"
# The ring of an incident point on the map page: its originating agency (the seeded
# four), then a qualitative cycle (ColorBrewer Set1) for agencies added later, given in
# the order of their codes among those without a colour of their own.
AGENCY_COLOURS: dict[str, str] = {
    "GBP": "#1b9e77", "PPD": "#d95f02", "MD": "#7570b3", "IAD": "#e7298a",
}
AGENCY_EXTRA_COLOURS = ("#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00", "#a65628")
CELL_OUTLINE_COLOUR = "#555555"
SEGMENT_PLAIN_COLOUR = "#333333"
CROSSING_POINT_COLOUR = "#222222"
REGION_OUTLINE_COLOUR = "#555555"
COUNTRY_FILL_COLOUR = "#eeeeee"
COUNTRY_LINE_COLOUR = "#bbbbbb"
# The map page's tools: the print layout's paper, text and frames (the PNG a planner
# hands on), the measure tool's line and the ring of an incident picked in the table.
PRINT_LAYOUT_COLOURS: dict[str, str] = {
    "paper": "#ffffff", "ink": "#1a1a1a", "muted": "#555555", "frame": "#64748b",
}
MEASURE_LINE_COLOUR = "#0057b8"
HIGHLIGHT_COLOUR = "#00b4d8"


def incident_cell_classes() -> list[dict]:
    """The count classes of the WMS's aggregated incident cells with their colours:
    ``[{"from": 1, "to": 1, "colour": ...}, ..., {"from": 101, "to": None, ...}]``
    (incidents per cell; ``geo.layers.INCIDENT_CELL_CLASSES`` are the upper bounds)."""
    from geo.layers import INCIDENT_CELL_CLASSES

    bounds = (0, *INCIDENT_CELL_CLASSES)
    return [{"from": bounds[k] + 1, "to": bounds[k + 1] if k + 1 < len(bounds) else None,
             "colour": colour} for k, colour in enumerate(INCIDENT_CELL_COLOURS)]


def legend_palettes() -> dict:
    """The colours of the map page's layers and legend, as plain JSON-able data.

    The page draws with these and hard-codes none, so that its legend and the WMS's
    images cannot disagree.

    Returns
    -------
    dict
        ``risk_levels`` (level -> colour, ``none`` for not assessed), ``hotspot_bins``
        (Gi* bin ``"-3"``..``"3"`` but 0 -> colour), ``lisa_clusters``, ``density_ramp``
        (low to peak), ``emerging_categories``, ``incident``, ``crossing_point``,
        ``alert``, ``unclassified`` (a value without a colour of its own),
        ``incident_categories`` (category -> the WMS's point colour), ``incident_cells``
        (the WMS's aggregated cells: ``{"from", "to", "colour"}`` by count class, ``to``
        None for the open last class),
        ``region_fill``, ``outlines`` (``region``, ``cell``, ``crossing_point``,
        ``incident`` -> the colour of their edge), ``agencies`` (agency code -> the ring
        of its incidents), ``agency_extra`` (the rings of agencies without one of
        their own, in the order of their codes), ``print`` (the print layout's ``paper``,
        ``ink``, ``muted`` and ``frame``), ``measure`` (the measure tool's line) and
        ``highlight`` (an incident picked in the table). Colours are ``#rrggbb`` strings.
    """
    return {
        "risk_levels": {**RISK_LEVEL_COLOURS, "none": NOT_ASSESSED_COLOUR},
        "hotspot_bins": {str(b): colour for b, colour in HOTSPOT_BIN_COLOURS.items()},
        "lisa_clusters": dict(LISA_CLUSTER_COLOURS),
        "density_ramp": list(DENSITY_RAMP),
        "emerging_categories": dict(EMERGING_CATEGORY_COLOURS),
        "incident": INCIDENT_POINT_COLOUR,
        "crossing_point": CROSSING_MARKER_COLOUR,
        "alert": ALERT_OUTLINE_COLOUR,
        "incident_categories": dict(INCIDENT_CATEGORY_COLOURS),
        "incident_cells": incident_cell_classes(),
        "unclassified": NOT_ASSESSED_COLOUR,
        "region_fill": REGION_FILL_COLOUR,
        "agencies": dict(AGENCY_COLOURS),
        "agency_extra": list(AGENCY_EXTRA_COLOURS),
        "print": dict(PRINT_LAYOUT_COLOURS),
        "measure": MEASURE_LINE_COLOUR,
        "highlight": HIGHLIGHT_COLOUR,
        "outlines": {
            "region": REGION_OUTLINE_COLOUR,
            "cell": CELL_OUTLINE_COLOUR,
            "crossing_point": CROSSING_MARKER_OUTLINE_COLOUR,
            "incident": INCIDENT_POINT_OUTLINE_COLOUR,
        },
    }
