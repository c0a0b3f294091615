// Loading the data of the page for the current filters: the risk ranking, the count,
// the incident points, the incidents' WMS image and the analysis cells. A refresh
// reloads only the parts whose inputs changed and reports on the status line.

import { explain, getJSON, query } from "./api.js";
import { CELL_LAYERS, cellLayerOn, loadCells } from "./cells.js";
import { formatDate, formatNumber, localName, t } from "./i18n.js";
import { renderLegend } from "./legend.js";
import { updateActionLinks, writeURL } from "./links.js";
import { markEmerging, renderAlerts, renderModel, renderRanking, renderSummary } from "./panel.js";
import { selectionParams, wmsFilterParams } from "./params.js";
import { adoptPrefetch, prefetchNextMonth } from "./prefetch.js";
import { drawAlerts, segmentStyle, selectSection } from "./sections.js";
import { countURL, rankingURL, takePrefetched } from "./startup.js";
import { clockNow, isoDate } from "./state.js";
import { loadSectionTrends } from "./trends.js";
import { wmsDrawsIncidents } from "./wms.js";
import { app, config, root, setStatus } from "./workspace.js";

const POINT_LIMIT = 5000;

/** The region's name in the page's language (its code when not on the map). */
function regionName(code) {
  const layer = app.regionsByCode.get(code);
  return layer ? localName(layer.feature.properties) : code;
}

/** A section's assessed levels and supervisors' decisions (supervisors only). */
function sectionHistory(sectionId) {
  return getJSON(`${config.api}/risk/segments/${sectionId}/history`);
}

async function loadRanking(signal) {
  const url = rankingURL();
  let ranking;
  try {
    ranking = await (takePrefetched(url) || getJSON(url, signal));
  } catch (error) {
    // An inland region (Tbilisi): not a failure, a fact the status line states.
    if (error.problem?.field === "region" && /no border sections/.test(error.message)) {
      ranking = { sections: [] };
      ranking.note = t("{region} has no border sections: nothing to rank. Its incidents " +
                       "and hot spots are on the map.", { region: regionName(app.state.region) });
    } else {
      throw error;
    }
  }
  app.sections = new Map(ranking.sections.map((s) => [s.section_id, s]));
  app.rankingModel = ranking.model || null;
  app.layers.segments.setStyle(segmentStyle);
  renderModel(document.getElementById("ranking-model"), app.rankingModel);
  renderRanking(document.getElementById("ranking"), ranking, selectSection,
                config.canDecide === "true" ? sectionHistory : null);
  markEmerging(document.getElementById("ranking"), app.sectionTrends);
  renderSummary(document.getElementById("ranking-summary"), ranking);
  if (ranking.note) document.getElementById("ranking-summary").textContent = ranking.note;
  renderAlerts(document.getElementById("alerts"), document.getElementById("alerts-count"),
               ranking.sections, selectSection);
  drawAlerts(ranking.sections);
  const selected = app.state.section;
  if (selected && app.sections.has(selected)) selectSection(selected, "restore");
  return ranking;
}

async function loadCount(signal) {
  const url = countURL();
  const collection = await (takePrefetched(url) || getJSON(url, signal));
  return collection.numberMatched;
}

const pointsNote = document.getElementById("points-note");

/** Says when the points drawn are not all the incidents of the view (the API's page of
 *  POINT_LIMIT: with an agency filter, points replace the WMS at every zoom). */
function notePoints(collection) {
  const drawn = collection ? collection.features.length : 0;
  const matched = collection ? collection.numberMatched : 0;
  pointsNote.hidden = !(matched > drawn);
  pointsNote.textContent = pointsNote.hidden ? "" : t(
    "The map draws {drawn} of the {n} incidents in view: zoom in to see them all.",
    { drawn: formatNumber(drawn), n: formatNumber(matched) });
}

function wantsPoints() {
  return app.state.layers.includes("incidents") && !wmsDrawsIncidents();
}

/** The incidents of the view as clickable points, when zoomed in (or without a WMS). */
export async function loadPoints() {
  if (!wantsPoints()) {
    app.pointsController?.abort();
    app.pointsURL = null;
    app.layers.points.clearLayers();
    notePoints(null);
    return;
  }
  const b = app.map.getBounds();
  const url = `${config.api}/incidents?${query({
    ...selectionParams(), limit: POINT_LIMIT,
    bbox: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(5)),
  })}`;
  if (url === app.pointsURL) return app.pointsPromise; // already loading or loaded
  app.pointsController?.abort();
  const controller = new AbortController();
  app.pointsController = controller;
  app.pointsURL = url;
  app.pointsPromise = (async () => {
    const collection = await getJSON(url, controller.signal);
    app.layers.points.clearLayers();
    app.layers.points.addData(collection);
    notePoints(collection);
  })();
  try {
    return await app.pointsPromise;
  } catch (error) {
    if (app.pointsURL === url) app.pointsURL = null;
    throw error;
  }
}

function updateIncidentsWms() {
  const layer = app.layers.incidentsWms;
  if (!layer) return Promise.resolve();
  if (app.state.agencies.length) { // the WMS would draw every agency's
    app.layers.incidents.removeLayer(layer);
    return Promise.resolve();
  }
  app.layers.incidents.addLayer(layer);
  layer.setParams(wmsFilterParams());
  return layer.whenLoaded();
}

// What each part of the page was last loaded for: a refresh reloads only the parts
// whose inputs changed (a new hot-spot method does not re-rank the sections).
async function reuse(name, key, load, force) {
  if (!force && app.loadedFor[name] === key) return app.loadedValue[name];
  delete app.loadedFor[name];
  const value = await load();
  app.loadedFor[name] = key;
  app.loadedValue[name] = value;
  return value;
}

/** A region without border sections has no bulletin (the API would answer its
 *  problem+json in a new tab): the link is off and says why. */
function offerBulletin(ranking) {
  const link = document.getElementById("bulletin-link");
  if (!link) return;
  if (!ranking?.note) {
    link.removeAttribute("aria-disabled");
    link.removeAttribute("title");
    updateActionLinks(); // its address for this view
    return;
  }
  link.removeAttribute("href");
  link.setAttribute("aria-disabled", "true");
  link.title = ranking.note;
}

// (Too few incidents for the cell layers: their note says so, cells.js.)
function statusText(ranking, count) {
  const s = app.state;
  const period = `${formatDate(s.from)} – ${formatDate(s.to)}`;
  let text = t("{n} incidents, {period}", { n: formatNumber(count), period });
  if (count === 0 && s.from > isoDate(clockNow())) {
    text += " " + t("(the period lies in the future: nothing has been recorded yet)");
  } else if (new Date(`${s.to}T23:59:59Z`) > clockNow()) {
    text += " " + t("(partial period: not over)");
  }
  if (ranking?.note) {
    text += ". " + ranking.note;
  } else if (ranking) {
    text += "; " + t("{n} sections ranked", { n: formatNumber(ranking.sections.length) });
  }
  return text;
}

export async function refresh(force = false) {
  const sequence = ++app.sequence;
  app.controller?.abort();
  const controller = new AbortController();
  app.controller = controller;
  adoptPrefetch(controller.signal, force); // the month asked ahead, when it is this one
  root.dataset.busy = "true";
  setStatus(t("Updating…"));
  writeURL();
  const signal = controller.signal;
  const s = app.state;
  const periodKey = [s.region, s.from, s.to].join("|");
  const selection = [periodKey, s.categories.join(","), s.outcome, s.agencies.join(",")]
    .join("|");
  const counted = reuse("count", selection, () => loadCount(signal), force);
  const cellsKey = (kind) => [selection, s.method, s.cellSize, cellLayerOn(kind)].join("|");
  const tasks = [
    reuse("ranking", periodKey, () => loadRanking(signal), force), counted,
    reuse("points", selection, () => loadPoints(), force),
    reuse("wms", selection, () => updateIncidentsWms(), force),
    ...CELL_LAYERS.map((kind) => reuse(kind, cellsKey(kind),
      () => loadCells(kind, signal, counted.catch(() => null)), force)),
    // the emerging months end with the period: they change with its end, not its start
    reuse("trends", [s.region, s.to, s.categories.join(","), s.outcome].join("|"),
          () => loadSectionTrends(signal), force),
  ];
  const results = await Promise.allSettled(tasks);
  if (sequence !== app.sequence) return; // a newer refresh owns the page now
  // (an empty cell layer that says why in its own note, cells.js, is not one)
  const failures = results.filter((r) => r.status === "rejected" &&
    r.reason?.name !== "AbortError" && !r.reason?.plain);
  const [ranking, count] = results.map((r) => (r.status === "fulfilled" ? r.value : null));
  renderLegend();
  offerBulletin(ranking);
  const text = statusText(ranking, count);
  // What the count counts: not the ranking's incidents near the sections.
  document.getElementById("map-status").title = t(
    "Incidents linked to the region (all regions: every incident you may see) that match " +
    "the filters and that you see in detail: what the map and the export show.");
  if (failures.length) {
    const reason = failures[0].reason;
    setStatus(`${text}. ${t("Could not load a layer: {detail}", { detail: explain(reason) })}`,
              true);
  } else {
    setStatus(text);
  }
  root.dataset.updates = String(sequence);
  root.dataset.busy = "false";
  root.dispatchEvent(new CustomEvent("refreshed")); // the incidents' table follows
  prefetchNextMonth();
}

/** A refresh after `delay` ms, replacing one already scheduled (filters debounce). */
export function scheduleRefresh(delay = 250) {
  clearTimeout(app.refreshTimer);
  clearTimeout(app.prefetchTimer); // the page is changing: nothing to ask ahead for yet
  app.refreshTimer = setTimeout(refresh, delay);
}
