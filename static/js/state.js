// The whole state of the workspace lives in the URL: filters and layers in the query,
// the map view in the hash (#map=zoom/lat/lon), so a link reproduces the view.

/** "Now" for the data: the server's frozen clock (BORDERRISK_NOW), else the browser's. */
export function clockNow() {
  const frozen = document.getElementById("workspace")?.dataset.now;
  return frozen ? new Date(frozen) : new Date();
}

// The cell size (metres) when the user has chosen none: that of the default hot-spot
// map the bulletin, the WMS and the OGC collection draw
// (geo.hotspots.pipeline.DEFAULT_CELL_SIZE_M), so the page shows the same Gi* map.
export const DEFAULT_CELL_SIZE = "2000";

// Overlays of old links that are methods now: the method each meant.
const LEGACY_CELL_LAYERS = { density: "kde", emerging: "emerging" };

export const DEFAULT_LAYERS = ["regions", "segments", "crossings", "incidents", "hotspots",
                               "alerts"];

/** Whether `text` is a calendar date YYYY-MM-DD that exists (not 2025-02-30). */
function isDate(text) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
  const date = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && isoDate(date) === text;
}

export function readState(location) {
  const params = new URLSearchParams(location.search);
  // The link's parameters that cannot be read are left out (the defaults stand) and
  // named, so that the page can say so instead of asking the API with them.
  const refused = [];
  let from = params.get("from") || "";
  let to = params.get("to") || "";
  for (const [name, value] of [["from", from], ["to", to]]) {
    if (value && !isDate(value)) refused.push(name);
  }
  if (refused.length || (from && to && from > to)) {
    if (!refused.length) refused.push("from", "to");
    from = "";
    to = "";
  }
  const list = (name) => (params.get(name) || "").split(",").filter(Boolean);
  const view = /map=(\d+(?:\.\d+)?)\/(-?\d+(?:\.\d+)?)\/(-?\d+(?:\.\d+)?)/.exec(location.hash);
  // Links from before the method list named KDE and emerging hot spots as layers.
  let layers = params.has("layers") ? list("layers") : [...DEFAULT_LAYERS];
  let method = params.get("method") || "gistar";
  const legacy = layers.find((id) => id in LEGACY_CELL_LAYERS);
  if (legacy) {
    if (!params.has("method") && !layers.includes("hotspots")) method = LEGACY_CELL_LAYERS[legacy];
    layers = [...new Set(layers.map((id) => (id in LEGACY_CELL_LAYERS ? "hotspots" : id)))];
  }
  // Sealed: every field is declared here.
  return Object.seal({
    // Region code, or "" for every region in the user's scope.
    region: params.get("region") || "",
    // First and last day of the period (YYYY-MM-DD, UTC), or "" until the data's newest
    // month is known.
    from,
    to,
    // Incident categories to keep (none: all).
    categories: list("category"),
    // Incident outcome to keep, or "" for all.
    outcome: params.get("outcome") || "",
    // Originating agencies (codes) to keep (none: all).
    agencies: list("agency"),
    // The analysis the "hotspots" layer draws (the method list): "gistar", "lisa", "kde"
    // (kernel density) or "emerging" (emerging hot spots over 12 months).
    method,
    // Edge of the analysis grid's hexagons in metres, as the form's text, or "auto".
    cellSize: params.get("cell_size") || DEFAULT_CELL_SIZE,
    // The overlays that are on, by name (layers.js's OVERLAY_NAMES).
    layers,
    // The id of the selected border section, or null.
    section: params.get("section") ? Number(params.get("section")) : null,
    // The map view ({ zoom, lat, lon }), or null to fit the regions.
    view: view ? { zoom: Number(view[1]), lat: Number(view[2]), lon: Number(view[3]) } : null,
    // Names of the link's parameters that could not be read (their defaults are used).
    refused,
  });
}

export function stateURL(state, location) {
  const params = new URLSearchParams();
  if (state.region) params.set("region", state.region);
  if (state.from) params.set("from", state.from);
  if (state.to) params.set("to", state.to);
  if (state.categories.length) params.set("category", state.categories.join(","));
  if (state.outcome) params.set("outcome", state.outcome);
  if (state.agencies.length) params.set("agency", state.agencies.join(","));
  if (state.method !== "gistar") params.set("method", state.method);
  if (state.cellSize !== DEFAULT_CELL_SIZE) params.set("cell_size", state.cellSize);
  if (state.layers.join(",") !== DEFAULT_LAYERS.join(",")) {
    params.set("layers", state.layers.join(","));
  }
  if (state.section) params.set("section", String(state.section));
  const hash = state.view
    ? `#map=${state.view.zoom}/${state.view.lat.toFixed(4)}/${state.view.lon.toFixed(4)}` : "";
  const search = params.toString();
  return `${location.pathname}${search ? "?" + search : ""}${hash}`;
}

/** The closed interval of the API's datetime parameter for the state's dates (UTC). */
export function datetimeInterval(state) {
  return `${state.from}T00:00:00Z/${state.to}T23:59:59Z`;
}

export function isoDate(date) {
  return date.toISOString().slice(0, 10);
}

/** First days of each month from `first` to `last` (Date, UTC). */
export function monthsBetween(first, last) {
  const months = [];
  let cursor = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth(), 1));
  while (cursor <= last) {
    months.push(cursor);
    cursor = new Date(Date.UTC(cursor.getUTCFullYear(), cursor.getUTCMonth() + 1, 1));
  }
  return months;
}

/** The index in `months` (first days, UTC) of the month of the date `to` (YYYY-MM-DD),
 *  -1 when it is none of them. */
export function monthIndex(months, to) {
  const day = new Date(`${to}T00:00:00Z`);
  return months.findIndex((m) => m.getUTCFullYear() === day.getUTCFullYear() &&
                                 m.getUTCMonth() === day.getUTCMonth());
}

export function monthEnd(monthStart) {
  return new Date(Date.UTC(monthStart.getUTCFullYear(), monthStart.getUTCMonth() + 1, 0));
}
