// The grid-cell layers of the analyses: hot spots (Gi* or LISA), kernel density and
// emerging hot spots, each from /api/v1/hotspots and drawn on the canvas.

import { getJSON, query } from "./api.js";
import { colourOf, densityRamp } from "./palettes.js";
import { analysisParams } from "./params.js";
import { isoDate } from "./state.js";
import { app, config } from "./workspace.js";

export const CELL_LAYERS = ["hotspots", "density", "emerging"];
const EMERGING_MONTHS = 12;

// The hot-spot analyses need at least 30 grid cells holding incidents
// (geo.hotspots.pipeline.MIN_CELLS_WITH_DATA), so fewer incidents are never asked about: the API
// would answer 422. (More incidents in fewer cells still get the API's message.)
export const MIN_INCIDENTS = 30;
// The label of a LISA cell that is not significant (geo.hotspots.spatial_stats): not drawn.
const NOT_SIGNIFICANT = "not significant";

/** The fill of a hot-spot cell: its LISA cluster's or its Gi* bin's colour. */
export function hotspotColour(properties) {
  if (app.state.method === "lisa") return colourOf("lisa_clusters", properties.cluster);
  return colourOf("hotspot_bins", properties.bin);
}

function cellsURL(kind) {
  if (kind === "hotspots") {
    return `${config.api}/hotspots?${query(analysisParams({ method: app.state.method }))}`;
  }
  if (kind === "density") {
    return `${config.api}/hotspots?${query(analysisParams({ method: "kde" }))}`;
  }
  return `${config.api}/hotspots/emerging?${query(analysisParams({
    step: "month", datetime: emergingWindow() }))}`;
}

/** The window of the emerging hot-spot analyses: the EMERGING_MONTHS months to the
 *  period's end (the API's datetime interval). It ends at the last microsecond of the
 *  period, so that the steps the API lays back from its end are whole calendar months. */
export function emergingWindow() {
  const end = new Date(`${app.state.to}T00:00:00Z`);
  const start = new Date(Date.UTC(end.getUTCFullYear(), end.getUTCMonth() -
                                  (EMERGING_MONTHS - 1), 1));
  return `${isoDate(start)}T00:00:00Z/${app.state.to}T23:59:59.999999Z`;
}

/** Density cells in quantile classes, one per colour of the ramp (`_colour`). */
function classifyDensity(features) {
  const ramp = densityRamp();
  const values = features.map((f) => f.properties.density).sort((a, b) => a - b);
  app.densityBreaks = ramp.map((c, i) =>
    values[Math.floor((i * values.length) / ramp.length)] || 0);
  for (const f of features) {
    let index = 0;
    app.densityBreaks.forEach((b, i) => { if (f.properties.density >= b) index = i; });
    f.properties._colour = ramp[index];
  }
}

/** Loads and draws the cells of `kind` (or empties the layer when it is off). */
export async function loadCells(kind, signal, counted) {
  const layer = app.layers[kind];
  if (!app.state.layers.includes(kind) || (kind !== "emerging" &&
                                           (await counted) < MIN_INCIDENTS)) {
    layer.clearLayers();
    return;
  }
  const collection = await getJSON(cellsURL(kind), signal);
  let features = collection.features;
  if (kind === "hotspots") {
    features = features.filter((f) => (app.state.method === "lisa"
      ? f.properties.cluster && f.properties.cluster !== NOT_SIGNIFICANT : f.properties.bin));
  } else if (kind === "density") {
    features = features.filter((f) => f.properties.density > 0);
    classifyDensity(features);
  } else {
    features = features.filter((f) => f.properties.category &&
                                      f.properties.category !== "no pattern");
    app.emergingPresent = [...new Set(features.map((f) => f.properties.category))].sort();
  }
  layer.clearLayers();
  layer.addData({ type: "FeatureCollection", features });
  return collection;
}
