"""The catalogue of map layers that ``geo.maps.render`` draws and the WMS serves.

One description per layer: its name, title, abstract, styles (the first is the
default), whether it has a TIME dimension and whether GetFeatureInfo answers for it.
Colours live in ``geo.maps.render``; the SQL of GetFeatureInfo in ``geo.queries``.
"""

from __future__ import annotations

from dataclasses import dataclass

# The CRSs every layer is served in (EPSG codes; CRS:84 is EPSG:4326 with x = longitude).
MAP_CRS = ("EPSG:4326", "CRS:84", "EPSG:3857", "EPSG:32638")

# The incidents layer is scale-dependent (as MapServer's MINSCALEDENOM/MAXSCALEDENOM and
# GeoServer's scale rules): at a scale denominator (OGC standardised rendering pixel of
# 0.28 mm) below this value each incident is drawn as a point; at this scale and smaller
# ones (a 256-pixel map wider than about 72 km) incidents are aggregated into square
# cells of INCIDENT_CELL_PIXELS pixels coloured by their count.
INCIDENT_POINT_MAX_SCALE = 1_000_000
INCIDENT_CELL_PIXELS = 8
# Upper bounds of the count classes of an aggregated cell (the last class is open).
INCIDENT_CELL_CLASSES = (1, 5, 20, 100)


@dataclass(frozen=True)
class MapStyle:
    name: str
    title: str


@dataclass(frozen=True)
class MapLayer:
    """A layer of the map: ``styles[0]`` is the default style."""

    name: str
    title: str
    abstract: str
    styles: tuple[MapStyle, ...]
    time_enabled: bool = False
    queryable: bool = False

    @property
    def default_style(self) -> str:
        return self.styles[0].name

    def style_names(self) -> tuple[str, ...]:
        return tuple(style.name for style in self.styles)


MAP_LAYERS: dict[str, MapLayer] = {
    layer.name: layer
    for layer in (
        MapLayer(
            "countries", "Countries (Natural Earth 1:10m)",
            "Offline basemap: country polygons from Natural Earth 1:10m (public domain, "
            "npm package world-atlas).",
            (MapStyle("default", "Grey land, grey borders"),)),
        MapLayer(
            "regions", "Regional units",
            "Regional units of the border police (demo: approximate Voronoi cells, not "
            "official boundaries).",
            (MapStyle("default", "Outlined regions"),), queryable=True),
        MapLayer(
            "border_segments", "Border sections",
            "Border sections. Style risk_level (default): colour of each section's level "
            "in the latest stored CIRAM assessment (a supervisor's decision overrides "
            "it): low blue, medium yellow, high orange, critical dark red, grey not "
            "assessed. Style plain: one colour.",
            (MapStyle("risk_level", "By CIRAM risk level"), MapStyle("plain", "Plain line")),
            queryable=True),
        MapLayer(
            "crossing_points", "Border crossing points",
            "Border crossing points, by kind.",
            (MapStyle("default", "Crossing points"),), queryable=True),
        MapLayer(
            "incidents", "Incidents",
            "Reported incidents, coloured by category. Scale-dependent: at scale "
            f"denominators below 1:{INCIDENT_POINT_MAX_SCALE:,} each incident is a point; "
            f"at 1:{INCIDENT_POINT_MAX_SCALE:,} and smaller scales incidents are "
            f"aggregated into {INCIDENT_CELL_PIXELS}x{INCIDENT_CELL_PIXELS}-pixel cells "
            "coloured by count (classes 1, 2-5, 6-20, 21-100, over 100). TIME selects "
            "occurred_at.",
            (MapStyle("category", "By category"),), time_enabled=True, queryable=True),
        MapLayer(
            "hotspots", "Hot spots (Gi*)",
            "Getis-Ord Gi* hot and cold spots of the incidents in the TIME window "
            "(hexagon cells, FDR-corrected, 99/95/90 % confidence): red hot, blue cold, "
            "not significant transparent. Study area: the requested region, else the "
            "extent of all regions (of the user's regions, and only their incidents, for "
            "a user restricted to regions); 2 km hexagons in the analysis CRS, the same "
            "default map as the OGC collection hotspots and the risk model; distance band "
            "by incremental spatial autocorrelation (geo.hotspots.pipeline).",
            (MapStyle("gistar", "Gi* confidence bins"),), time_enabled=True),
        MapLayer(
            "density", "Incident density (KDE)",
            "Quartic kernel density of the incidents in the TIME window (of the user's "
            "regions for a user restricted to regions), incidents per km², Silverman "
            "bandwidth (geo.hotspots.density); transparent where zero.",
            (MapStyle("kde", "Kernel density"),), time_enabled=True),
    )
}


def get_map_layer(name: str) -> MapLayer | None:
    """The layer called ``name``, or None."""
    return MAP_LAYERS.get(name)
