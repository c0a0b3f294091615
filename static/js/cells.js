// The grid-cell layers of the analyses: hot spots (Gi* or LISA), kernel density and
// emerging hot spots, each from /api/v1/hotspots and drawn on the canvas.

import { explain, getJSON, query } from "./api.js";
import { formatDate, formatNumber, t } from "./i18n.js";
import { colourOf, densityRamp } from "./palettes.js";
import { analysisParams, selectionParams } from "./params.js";
import { takePrefetched } from "./startup.js";
import { datetimeInterval, isoDate } from "./state.js";
import { app, config, root } from "./workspace.js";

export const CELL_LAYERS = ["hotspots", "density", "emerging"];
// The cell layer that draws each method of the method list (one at a time, under the
// "Hot spots" overlay).
const LAYER_OF_METHOD = { gistar: "hotspots", lisa: "hotspots", kde: "density",
                          emerging: "emerging" };

/** The cell layer (CELL_LAYERS) the chosen method draws (default: the page's state). */
export function methodLayer(state = app.state) {
  return LAYER_OF_METHOD[state.method] || "hotspots";
}

/** Whether the cells of `kind` are on the map (default: the page's state): the "Hot
 *  spots" overlay is on and the method list has chosen `kind`'s method. */
export function cellLayerOn(kind, state = app.state) {
  return state.layers.includes("hotspots") && methodLayer(state) === kind;
}
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

/** The URL of the cells of `kind` for a state (default: the page's); `overrides`
 *  replaces parameters (a fix's trial). */
export function cellsURL(kind, overrides = {}, state = app.state) {
  if (kind === "hotspots") {
    // only the significant cells: the others are not drawn (a small part of the bytes)
    return `${config.api}/hotspots?${query(analysisParams({ method: state.method,
                                                           significant_only: "true",
                                                           ...overrides }, state))}`;
  }
  if (kind === "density") {
    return `${config.api}/hotspots?${query(analysisParams({ method: "kde", ...overrides },
                                                          state))}`;
  }
  // only the cells with a pattern: the others are not drawn (a tenth of the bytes)
  return `${config.api}/hotspots/emerging?${query(analysisParams({
    step: "month", datetime: emergingWindow(state), patterns_only: "true" }, state))}`;
}

/** The window of the emerging hot-spot analyses of a state (default: the page's): the
 *  EMERGING_MONTHS months to the period's end (the API's datetime interval). It ends at
 *  the last microsecond of the period, so that the steps the API lays back from its end
 *  are whole calendar months. */
export function emergingWindow(state = app.state) {
  const end = new Date(`${state.to}T00:00:00Z`);
  const start = new Date(Date.UTC(end.getUTCFullYear(), end.getUTCMonth() -
                                  (EMERGING_MONTHS - 1), 1));
  return `${isoDate(start)}T00:00:00Z/${state.to}T23:59:59.999999Z`;
}

/** The period the cells of `kind` cover, as text: the filters' for hot spots and
 *  density, the whole months of its window for emerging hot spots (their map's steps). */
export function cellPeriod(kind) {
  const edges = app.cellMetadata[kind]?.time_steps?.edges;
  if (kind === "emerging" && edges?.length > 1) {
    const last = new Date(new Date(edges[edges.length - 1]).getTime() - 1);
    return `${formatDate(edges[0])} – ${formatDate(last)}`;
  }
  return `${formatDate(app.state.from)} – ${formatDate(app.state.to)}`;
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

// The API's words when too few cells hold incidents (geo.hotspots.pipeline).
const FEW_CELLS = /only (\d+) cells hold incidents; .* needs at least (\d+)/;
// The periods a fix may widen to, in months ending with the period's month.
const WIDER_MONTHS = [3, 6, 12];
const LAYER_TITLES = { hotspots: "Hot spots", density: "Density (KDE)",
                       emerging: "Emerging hot spots" };

// Kind of cell layer -> why it is empty: { text, fixes: [{ label, changes }] }.
const notes = new Map();

/** Why the cells of `kind` could not be computed, in the page's language. */
function failureText(kind, error) {
  const title = t(LAYER_TITLES[kind]);
  const few = FEW_CELLS.exec(error.problem?.detail || "");
  if (few) {
    return t("{layer}: only {n} grid cells hold incidents in this area and period; the " +
             "statistic needs at least {min}. The layer is empty.",
             { layer: title, n: formatNumber(Number(few[1])), min: formatNumber(Number(few[2])) });
  }
  return t("{layer} could not be computed: {detail}. The layer is empty.",
           { layer: title, detail: explain(error).replace(/\.$/, "") });
}

/** The fixes of an empty `kind` layer: the first wider period with enough incidents,
 *  and automatic cells. When the API refused the map (`refused`: enough incidents, in too
 *  few cells), each fix is tried with the API first, so that one click fixes it; when
 *  too few incidents were counted, the wider period's count is the test (no analysis is
 *  asked for only to be refused; should that period's map be refused, its own note
 *  offers the next fix). */
async function workingFixes(kind, signal, refused) {
  if (kind === "emerging") return []; // its window is a year already
  const s = app.state;
  const works = (overrides) => getJSON(cellsURL(kind, overrides), signal).then(
    (collection) => collection, (error) => {
      if (error.name === "AbortError") throw error;
      return null;
    });
  const fixes = [];
  const automatic = refused && s.cellSize !== "auto" ? works({ cell_size: "" }) : null;
  const end = new Date(`${s.to}T00:00:00Z`);
  const wider = WIDER_MONTHS.map((months) => isoDate(new Date(Date.UTC(
    end.getUTCFullYear(), end.getUTCMonth() - (months - 1), 1)))).filter((from) => from < s.from)
    .map((from) => ({ from, datetime: datetimeInterval({ from, to: s.to }) }));
  // counted first (cheap, and no refusal for Chromium to log when hopeless), all at once
  // (one round trip, not one per period); the narrowest period with enough still wins
  const counts = await Promise.all(wider.map(({ datetime }) => getJSON(
    `${config.api}/incidents?${query({ ...selectionParams(), datetime, limit: 1 })}`, signal)));
  for (const [index, { from, datetime }] of wider.entries()) {
    if (counts[index].numberMatched < MIN_INCIDENTS) continue;
    if (!refused || await works({ datetime })) {
      fixes.push({ changes: { from }, label: t("Widen the period to {from} – {to}",
        { from: formatDate(from), to: formatDate(s.to) }) });
      break;
    }
  }
  const cells = await automatic;
  if (cells) {
    fixes.push({ changes: { cellSize: "auto" }, label: t("Use automatic cells ({m} m)",
      { m: formatNumber(cells.metadata.cell_size_m) }) });
  }
  return fixes;
}

/** Shows the notes of the empty cell layers, each fix a button that applies it (filters.js
 *  listens for "apply-state" and refreshes). */
function renderNotes() {
  const box = document.getElementById("cells-note");
  if (!box) return;
  box.replaceChildren();
  for (const { text, fixes } of notes.values()) {
    const line = document.createElement("p");
    line.textContent = text;
    for (const fix of fixes) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = fix.label;
      button.addEventListener("click", () =>
        root.dispatchEvent(new CustomEvent("apply-state", { detail: fix.changes })));
      line.append(" ", button);
    }
    box.append(line);
  }
  box.hidden = notes.size === 0;
}

/** Empties the layer of `kind`, says why and, once found, the fixes that work. */
async function noteEmpty(kind, text, signal, refused = false) {
  app.layers[kind].clearLayers();
  app.cellMetadata[kind] = null;
  notes.set(kind, { text, fixes: [] });
  renderNotes();
  const fixes = await workingFixes(kind, signal, refused).catch(() => []);
  if (signal.aborted || notes.get(kind)?.text !== text) return;
  notes.set(kind, { text, fixes });
  renderNotes();
}

/** Loads and draws the cells of `kind` (or empties the layer when it is off). */
export async function loadCells(kind, signal, counted) {
  const layer = app.layers[kind];
  notes.delete(kind);
  renderNotes();
  if (!cellLayerOn(kind)) {
    layer.clearLayers();
    return;
  }
  if (kind !== "emerging") {
    const count = await counted; // null: not counted (the API then answers for itself)
    if (count !== null && count < MIN_INCIDENTS) {
      // not asked: the API would refuse (a stale map must not stay either)
      noteEmpty(kind, t("{layer}: only {n} incidents in this area and period; the statistic " +
                        "needs at least {min}. The layer is empty.",
                        { layer: t(LAYER_TITLES[kind]), n: formatNumber(count),
                          min: formatNumber(MIN_INCIDENTS) }), signal);
      return;
    }
  }
  let collection;
  try {
    const url = cellsURL(kind);
    // (a month asked ahead whose count was too low holds null: asked now, then)
    collection = (await takePrefetched(url)) || await getJSON(url, signal);
  } catch (error) {
    if (error.name !== "AbortError") {
      // never the previous view's cells as if they were this one's; the note says why
      // (so the status line need not: loading.js)
      error.plain = failureText(kind, error);
      noteEmpty(kind, error.plain, signal, FEW_CELLS.test(error.problem?.detail || ""));
    }
    throw error;
  }
  app.cellMetadata[kind] = collection.metadata;
  let features = collection.features;
  if (kind === "hotspots") {
    // (the server sends the significant cells only, significant_only: a guard)
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
