// Emerging hot spots by border section (/hotspots/emerging?unit=section): each ranked
// section's category in the panel, and the sections coloured by category on the map.
// Loaded with the ranking, over the same months and filters as the emerging cells.

import { ProblemError, getJSON, query } from "./api.js";
import { emergingWindow } from "./cells.js";
import { faded } from "./opacity.js";
import { colourOf } from "./palettes.js";
import { markEmerging } from "./panel.js";
import { takePrefetched } from "./startup.js";
import { app, config } from "./workspace.js";

/** The address of the sections' emerging categories for a state (default: the page's). */
export function sectionTrendsURL(s = app.state) {
  return `${config.api}/hotspots/emerging?${query({
    unit: "section", step: "month", region: s.region, datetime: emergingWindow(s),
    category: s.categories, outcome: s.outcome })}`;
}

/** The style of a section on the emerging overlay: its category's colour. */
export function trendStyle(feature) {
  return { color: colourOf("emerging_categories", feature.properties.category), weight: 7,
           opacity: faded("segments", 0.95), lineCap: "round" };
}

/** Loads the sections' categories, marks the ranking and redraws the overlay. A window
 *  without incidents at the sections (422) leaves them unmarked, not an error. */
export async function loadSectionTrends(signal) {
  let collection = { type: "FeatureCollection", features: [] };
  try {
    const url = sectionTrendsURL();
    collection = await (takePrefetched(url) || getJSON(url, signal));
  } catch (error) {
    if (!(error instanceof ProblemError && error.status === 422)) throw error;
  }
  app.sectionTrends = new Map(collection.features.map((f) => [f.id, f.properties]));
  app.layers.emergingSections.clearLayers();
  app.layers.emergingSections.addData(collection);
  markEmerging(document.getElementById("ranking"), app.sectionTrends);
  return collection;
}
