// The current filters as request parameters: the API's (selection, study area,
// analysis) and the WMS's vendor parameters.

import { datetimeInterval } from "./state.js";
import { app } from "./workspace.js";

/** The incidents the filters select (default: the page's), as API parameters. */
export function selectionParams(s = app.state) {
  return { datetime: datetimeInterval(s), category: s.categories, outcome: s.outcome,
           region: s.region, agency: s.agencies };
}

/** The WMS vendor parameters of the filters (empty ones are left out of the URL). */
export function wmsFilterParams() {
  const s = app.state;
  return { TIME: datetimeInterval(s), REGION: s.region, CATEGORY: s.categories,
           OUTCOME: s.outcome };
}

/** The study area of an analysis: the region, else the box of every region. */
function areaParams(s) {
  if (s.region) return { region: s.region };
  const b = app.layers.regions.getBounds();
  return { bbox: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]
    .map((v) => v.toFixed(4)).join(",") };
}

/** The parameters of a hot-spot analysis for a state (default: the page's); `extra`
 *  adds to or replaces them. */
export function analysisParams(extra = {}, s = app.state) {
  return {
    ...areaParams(s), datetime: datetimeInterval(s), category: s.categories,
    outcome: s.outcome, cell_size: s.cellSize === "auto" ? "" : s.cellSize, ...extra,
  };
}
