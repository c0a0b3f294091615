// The current filters as request parameters: the API's (selection, study area,
// analysis) and the WMS's vendor parameters.

import { datetimeInterval } from "./state.js";
import { app } from "./workspace.js";

/** The incidents the filters select, as API parameters. */
export function selectionParams() {
  const s = app.state;
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
function areaParams() {
  if (app.state.region) return { region: app.state.region };
  const b = app.layers.regions.getBounds();
  return { bbox: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]
    .map((v) => v.toFixed(4)).join(",") };
}

/** The parameters of a hot-spot analysis (`extra` adds to or replaces them). */
export function analysisParams(extra = {}) {
  const s = app.state;
  return {
    ...areaParams(), datetime: datetimeInterval(s), category: s.categories,
    outcome: s.outcome, cell_size: s.cellSize === "auto" ? "" : s.cellSize, ...extra,
  };
}
