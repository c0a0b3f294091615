// The map's layers: the reference layers (regions, border sections, crossing points)
// as GeoJSON, the incidents (WMS image, points when zoomed in), the analysis cells,
// and the control that switches them (and records which are on in the URL).

import { cellPeriod, hotspotColour } from "./cells.js";
import { t } from "./i18n.js";
import { renderLegend } from "./legend.js";
import { writeURL } from "./links.js";
import { scheduleRefresh } from "./loading.js";
import { faded } from "./opacity.js";
import { colour, colourOf } from "./palettes.js";
import { wmsFilterParams } from "./params.js";
import { ringColour } from "./agencies.js";
import { cellPopup, featureTable, incidentTable, sectionPopup } from "./popups.js";
import { segmentStyle, selectSection } from "./sections.js";
import { trendStyle } from "./trends.js";
import { wmsLayer } from "./wms.js";
import { app, config } from "./workspace.js";

// "Hot spots" is the cells of the method list's analysis (Gi*, LISA, KDE or emerging
// hot spots: app.layers.analysis holds the three cell layers, cells.js fills one).
const OVERLAY_NAMES = {
  regions: "Regions", segments: "Border sections (risk level)", crossings: "Crossing points",
  incidents: "Incidents", hotspots: "Hot spots",
  emergingSections: "Emerging hot spots by border section", alerts: "Alerts",
};
// Added in this order: crossing points and alerts stay above the dense layers.
const OVERLAY_ORDER = ["regions", "hotspots", "incidents", "segments", "emergingSections",
                       "alerts", "crossings"];
// Turning one of these on needs data the last refresh did not load.
const LOADED_ON_DEMAND = ["hotspots", "incidents"];

/** The Leaflet layer of overlay `id`. */
const overlayLayer = (id) => (id === "hotspots" ? app.layers.analysis : app.layers[id]);

const popup = (maxWidth) => (feature, layer) =>
  layer.bindPopup(() => featureTable(feature.properties), { maxWidth });
// A cell in words, with its map's metadata and period (read when it opens).
const cellPopupOf = (kind) => (feature, layer) =>
  layer.bindPopup(() => cellPopup(kind, feature.properties, app.cellMetadata[kind],
                                  cellPeriod(kind)), { maxWidth: 320 });

export function buildStaticLayers(regions, segments, crossings) {
  // Panes, bottom to top: regions (not clickable: they would cover everything), the
  // canvas of dense cells and points, then border sections, alerts and crossing points
  // in an SVG whose empty area lets clicks through to the canvas below.
  app.map.createPane("regions").style.zIndex = "350";
  app.map.createPane("sections").style.zIndex = "450";
  const svg = L.svg({ pane: "sections" });
  app.layers.regions = L.geoJSON(regions, {
    pane: "regions", interactive: false,
    style: { color: colourOf("outlines", "region"), weight: 1,
             fillColor: colour("region_fill"), fillOpacity: 0.25 },
    onEachFeature: (feature, layer) => app.regionsByCode.set(feature.properties.code, layer),
  });
  app.layers.segments = L.geoJSON(segments, {
    renderer: svg, pane: "sections", style: segmentStyle,
    onEachFeature: (feature, layer) => {
      app.segmentLayers.set(feature.id, layer);
      layer.on("click", (event) => {
        L.DomEvent.stopPropagation(event); // not a WMS query of the map below
        selectSection(feature.id, "map");
      });
      layer.bindPopup(() => sectionPopup(feature), { maxWidth: 380 });
    },
  });
  // Loaded with the ranking (trends.js); a click selects the section as on its risk line.
  app.layers.emergingSections = L.geoJSON(null, {
    renderer: svg, pane: "sections", style: trendStyle,
    onEachFeature: (feature, layer) => {
      layer.on("click", (event) => {
        L.DomEvent.stopPropagation(event);
        selectSection(feature.id, "map");
      });
      const segment = () => app.segmentLayers.get(feature.id)?.feature || feature;
      layer.bindPopup(() => sectionPopup(segment()), { maxWidth: 380 });
    },
  });
  app.layers.crossings = L.geoJSON(crossings, {
    renderer: svg, pane: "sections",
    pointToLayer: (f, latlng) => L.circleMarker(latlng, {
      renderer: svg, pane: "sections", radius: 6,
      color: colourOf("outlines", "crossing_point"), weight: 1,
      fillColor: colour("crossing_point"), fillOpacity: 1,
    }),
    onEachFeature: (feature, layer) => {
      layer.on("click", L.DomEvent.stopPropagation);
      popup(360)(feature, layer);
    },
  });
  app.layers.alerts = L.layerGroup();
  const canvas = L.canvas({ padding: 0.2 });
  app.layers.points = L.geoJSON(null, {
    renderer: canvas,
    // A ring in the colour of the incident's originating agency.
    pointToLayer: (f, latlng) => L.circleMarker(latlng, {
      renderer: canvas, radius: 5, weight: 2, fillColor: colour("incident"), fillOpacity: 0.85,
      color: f.properties.agency ? ringColour(f.properties.agency)
        : colourOf("outlines", "incident"),
    }),
    style: () => ({ opacity: faded("incidents"), fillOpacity: faded("incidents", 0.85) }),
    onEachFeature: (feature, layer) =>
      layer.bindPopup(() => incidentTable(feature.properties), { maxWidth: 380 }),
  });
  // Dense incidents from the WMS, above the hot-spot cells (tiles let clicks through).
  app.map.createPane("incidents").style.zIndex = "420";
  app.layers.incidentsWms = app.wms ? wmsLayer("incidents", { pane: "incidents" }) : null;
  app.layers.incidentsWms?.setParams(wmsFilterParams());
  app.layers.incidents = L.layerGroup(
    app.layers.incidentsWms ? [app.layers.incidentsWms, app.layers.points] : [app.layers.points]);
  const cellStyle = { renderer: canvas, weight: 0.5, color: colourOf("outlines", "cell") };
  // a cell's fill, faded by the hot spots' opacity slider
  const cellFill = (fillColor) => ({ fillColor, fillOpacity: faded("hotspots", 0.7),
                                     opacity: faded("hotspots") });
  app.layers.hotspots = L.geoJSON(null, {
    ...cellStyle, onEachFeature: cellPopupOf("hotspots"),
    style: (f) => cellFill(hotspotColour(f.properties)),
  });
  app.layers.density = L.geoJSON(null, {
    ...cellStyle, onEachFeature: cellPopupOf("density"),
    style: (f) => cellFill(f.properties._colour),
  });
  app.layers.emerging = L.geoJSON(null, {
    ...cellStyle, onEachFeature: cellPopupOf("emerging"),
    style: (f) => cellFill(colourOf("emerging_categories", f.properties.category)),
  });
  app.layers.analysis = L.layerGroup([app.layers.density, app.layers.hotspots,
                                      app.layers.emerging]);
}

export function addLayerControl() {
  const bases = {};
  const none = L.layerGroup();
  if (app.wms) {
    bases[t("Offline basemap (countries)")] = wmsLayer("countries",
      { transparent: false, pane: "tilePane" });
  }
  if (config.basemapUrl) bases[t("Online basemap")] = L.tileLayer(config.basemapUrl,
    { maxZoom: 18, attribution: t("Online basemap") });
  bases[t("No basemap")] = none;
  Object.values(bases)[0].addTo(app.map);
  const overlays = {};
  for (const id of OVERLAY_ORDER) {
    const layer = overlayLayer(id);
    overlays[t(OVERLAY_NAMES[id])] = layer;
    if (app.state.layers.includes(id)) layer.addTo(app.map);
  }
  L.control.layers(bases, overlays, { collapsed: true, position: "topright" }).addTo(app.map);
  const changed = (event, visible) => {
    const id = OVERLAY_ORDER.find((key) => overlayLayer(key) === event.layer);
    if (!id) return;
    const set = new Set(app.state.layers);
    if (visible) set.add(id); else set.delete(id);
    app.state.layers = Object.keys(OVERLAY_NAMES).filter((key) => set.has(key));
    if (visible && LOADED_ON_DEMAND.includes(id)) {
      scheduleRefresh(0);
    } else {
      writeURL();
      renderLegend();
    }
  };
  app.map.on("overlayadd", (e) => changed(e, true));
  app.map.on("overlayremove", (e) => changed(e, false));
}
