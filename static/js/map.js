// The analyst's workspace: a Leaflet map of our layers (WMS for the dense ones, GeoJSON
// from /api/v1 for what is clicked and highlighted), filters that drive every layer and
// the panel at once, and the state of all of it in the URL. User text goes into the DOM
// as text only (textContent), never as HTML.

import { ProblemError, getJSON, query, setCsrfToken } from "./api.js";
import { setUpImportForm, setUpIncidentForm, setUpLevelForm } from "./forms.js";
import { currentLocale, formatDate, formatMonth, formatNumber, formatPercent, loadCatalogue, t }
  from "./i18n.js";
import { DENSITY_COLOURS, EMERGING_COLOURS, GI_BIN_COLOURS, INCIDENT_COLOUR, LEVEL_COLOURS,
         LISA_COLOURS } from "./palettes.js";
import { markSelected, renderAlerts, renderDetails, renderRanking, renderSummary }
  from "./panel.js";
import { clockNow, datetimeInterval, isoDate, monthEnd, monthsBetween, readState, stateURL }
  from "./state.js";

const ZOOM_POINTS = 11; // from this zoom on, incidents are clickable points
const POINT_LIMIT = 5000;
const PLAY_STEP_MS = 1500;
const EMERGING_MONTHS = 12;
const PROVENANCE_LABELS = {
  generalised: "generalised (Natural Earth 1:10m)", approximate: "approximate",
  synthetic: "synthetic",
};

const root = document.getElementById("workspace");
const config = root.dataset;
const statusLine = document.getElementById("map-status");
const filters = document.getElementById("filters");

const app = {
  state: null, map: null, layers: {}, overlays: {}, segmentLayers: new Map(),
  sections: new Map(), regionsByCode: new Map(), months: [], wms: false,
  sequence: 0, controller: null, pointsController: null, selected: null,
};

// ---------------------------------------------------------------- helpers

function propertiesTable(properties) {
  const table = document.createElement("table");
  table.className = "feature-props";
  for (const [key, value] of Object.entries(properties)) {
    if (value === null || value === undefined || value === "" || typeof value === "object") {
      continue;
    }
    const row = table.insertRow();
    const name = document.createElement("th");
    name.textContent = t(key);
    row.append(name);
    let text = String(value);
    if (typeof value === "number") text = formatNumber(value, 2);
    else if (/_at$/.test(key)) text = formatDate(value, true);
    row.insertCell().textContent = text;
  }
  return table;
}

function regionName(properties) {
  return (currentLocale() === "ka" ? properties.name_ka : properties.name_en) ||
    properties.name_en || properties.code;
}

function setStatus(text, isError = false) {
  statusLine.textContent = text;
  statusLine.classList.toggle("error", isError);
}

function writeURL() {
  const url = stateURL(app.state, window.location);
  window.history.replaceState(null, "", url);
  // The language links keep the whole state.
  for (const link of document.querySelectorAll(".languages a[data-lang]")) {
    const target = new URL(url, window.location.href);
    target.searchParams.set("lang", link.dataset.lang);
    link.href = target.pathname + target.search + target.hash;
  }
  updateActionLinks();
}

function selectionParams() {
  const s = app.state;
  return { datetime: datetimeInterval(s), category: s.categories, outcome: s.outcome,
           region: s.region };
}

/** The WMS vendor parameters of the filters (empty ones are left out of the URL). */
function wmsFilterParams() {
  const s = app.state;
  return { TIME: wmsTime(), REGION: s.region, CATEGORY: s.categories, OUTCOME: s.outcome };
}

function areaParams() {
  if (app.state.region) return { region: app.state.region };
  const b = app.layers.regions.getBounds();
  return { bbox: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]
    .map((v) => v.toFixed(4)).join(",") };
}

function analysisParams(extra = {}) {
  const s = app.state;
  return {
    ...areaParams(), datetime: datetimeInterval(s), category: s.categories,
    outcome: s.outcome, cell_size: s.cellSize === "auto" ? "" : s.cellSize, ...extra,
  };
}

// ---------------------------------------------------------------- layers

function viewBBox3857() {
  const bounds = app.map.getBounds();
  const sw = L.CRS.EPSG3857.project(bounds.getSouthWest());
  const ne = L.CRS.EPSG3857.project(bounds.getNorthEast());
  return [sw.x, sw.y, ne.x, ne.y].map((v) => v.toFixed(1)).join(",");
}

// One WMS GetMap image for the whole view (as OpenLayers' ImageWMS), not a grid of
// tiles: one request per view instead of a dozen, which matters when the server has
// two workers. The old image stays until the new one has loaded (no flicker).
const SingleImageWms = L.Layer.extend({
  initialize(url, params, options) {
    this._url = url;
    this.wmsParams = { ...params };
    L.setOptions(this, options);
  },
  onAdd(map) {
    map.on("moveend", this._update, this);
    this._update();
  },
  onRemove(map) {
    map.off("moveend", this._update, this);
    if (this._image) map.removeLayer(this._image);
    this._image = null;
    this._currentURL = null;
  },
  /** Resolves when the image of the current view and parameters has loaded (or failed). */
  whenLoaded() {
    return this._map && this._loaded ? this._loaded : Promise.resolve();
  },
  setParams(params) {
    Object.assign(this.wmsParams, params);
    if (this._map) this._update();
    return this;
  },
  _update() {
    const map = this._map;
    const size = map.getSize();
    const url = `${this._url}?${query({
      SERVICE: "WMS", VERSION: "1.3.0", REQUEST: "GetMap", FORMAT: "image/png",
      TRANSPARENT: "TRUE", CRS: "EPSG:3857", STYLES: "", ...this.wmsParams,
      BBOX: viewBBox3857(), WIDTH: size.x, HEIGHT: size.y })}`;
    if (url === this._currentURL) return;
    this._currentURL = url;
    let resolveLoaded;
    this._loaded = new Promise((resolve) => { resolveLoaded = resolve; });
    const image = L.imageOverlay(url, map.getBounds(), {
      pane: this.options.pane, interactive: false, alt: "" });
    const settle = () => {
      resolveLoaded();
      if (this._currentURL !== url) { // a newer view was asked for meanwhile
        map.removeLayer(image);
        return;
      }
      if (this._image) map.removeLayer(this._image);
      this._image = image;
      this.fire("load");
    };
    image.once("load", settle);
    image.once("error", settle);
    image.addTo(map);
  },
});

function wmsLayer(layers, options = {}) {
  const { pane = "overlayPane", transparent = true } = options;
  return new SingleImageWms(config.wms, { LAYERS: layers,
    TRANSPARENT: transparent ? "TRUE" : "FALSE" }, { pane });
}


function segmentStyle(feature) {
  const section = app.sections.get(feature.id);
  const level = section ? section.level : "none";
  const selected = app.selected === feature.id;
  return { color: LEVEL_COLOURS[level] || LEVEL_COLOURS.none, weight: selected ? 8 : 4,
           opacity: 1, lineCap: "round" };
}

function buildStaticLayers(regions, segments, crossings) {
  // Panes, bottom to top: regions (not clickable: they would cover everything), the
  // canvas of dense cells and points, then border sections, alerts and crossing points
  // in an SVG whose empty area lets clicks through to the canvas below.
  app.map.createPane("regions").style.zIndex = "350";
  app.map.createPane("sections").style.zIndex = "450";
  const svg = L.svg({ pane: "sections" });
  app.layers.regions = L.geoJSON(regions, {
    pane: "regions", interactive: false,
    style: { color: "#555", weight: 1, fillColor: "#f2efe9", fillOpacity: 0.25 },
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
  app.layers.crossings = L.geoJSON(crossings, {
    renderer: svg, pane: "sections",
    pointToLayer: (f, latlng) => L.circleMarker(latlng, {
      renderer: svg, pane: "sections", radius: 6, color: "#000", weight: 1,
      fillColor: "#ffd92f", fillOpacity: 1,
    }),
    onEachFeature: (feature, layer) => {
      layer.on("click", L.DomEvent.stopPropagation);
      layer.bindPopup(() => propertiesTable(feature.properties), { maxWidth: 360 });
    },
  });
  app.layers.alerts = L.layerGroup();
  const canvas = L.canvas({ padding: 0.2 });
  app.layers.points = L.geoJSON(null, {
    renderer: canvas,
    pointToLayer: (f, latlng) => L.circleMarker(latlng, {
      renderer: canvas, radius: 4, color: "#fff", weight: 1, fillColor: INCIDENT_COLOUR,
      fillOpacity: 0.85,
    }),
    onEachFeature: (feature, layer) =>
      layer.bindPopup(() => propertiesTable(feature.properties), { maxWidth: 380 }),
  });
  // Dense incidents from the WMS, above the hot-spot cells (tiles let clicks through).
  app.map.createPane("incidents").style.zIndex = "420";
  app.layers.incidentsWms = app.wms ? wmsLayer("incidents", { pane: "incidents" }) : null;
  app.layers.incidentsWms?.setParams(wmsFilterParams());
  app.layers.incidents = L.layerGroup(
    app.layers.incidentsWms ? [app.layers.incidentsWms, app.layers.points] : [app.layers.points]);
  const cellStyle = { renderer: canvas, weight: 0.5, color: "#555", fillOpacity: 0.7 };
  const cellPopup = (feature, layer) =>
    layer.bindPopup(() => propertiesTable(feature.properties), { maxWidth: 320 });
  app.layers.hotspots = L.geoJSON(null, {
    ...cellStyle, onEachFeature: cellPopup,
    style: (f) => ({ fillColor: hotspotColour(f.properties) }),
  });
  app.layers.density = L.geoJSON(null, {
    ...cellStyle, onEachFeature: cellPopup, style: (f) => ({ fillColor: f.properties._colour }),
  });
  app.layers.emerging = L.geoJSON(null, {
    ...cellStyle, onEachFeature: cellPopup,
    style: (f) => ({ fillColor: EMERGING_COLOURS[f.properties.category] || "#999999" }),
  });
}

function hotspotColour(properties) {
  if (app.state.method === "lisa") return LISA_COLOURS[properties.cluster] || "#999999";
  return GI_BIN_COLOURS[properties.bin] || "#999999";
}

function sectionPopup(feature) {
  const box = document.createElement("div");
  const section = app.sections.get(feature.id);
  const properties = { ...feature.properties };
  if (section) {
    Object.assign(properties, { level: t(section.level), risk: section.risk,
      threat: section.threat, vulnerability: section.vulnerability, impact: section.impact,
      incidents: section.incidents });
  }
  box.append(propertiesTable(properties));
  return box;
}

// At small scales the incidents are WMS pictures: a click asks the WMS what is there.
async function incidentInfo(event) {
  const s = app.state;
  if (!app.wms || app.map.getZoom() >= ZOOM_POINTS || !s.layers.includes("incidents") ||
      app.map.getContainer().classList.contains("placing")) return;
  const size = app.map.getSize();
  const point = app.map.latLngToContainerPoint(event.latlng).round();
  const url = `${config.wms}?${query({
    SERVICE: "WMS", VERSION: "1.3.0", REQUEST: "GetFeatureInfo", LAYERS: "incidents",
    QUERY_LAYERS: "incidents", STYLES: "", CRS: "EPSG:3857", BBOX: viewBBox3857(),
    WIDTH: size.x, HEIGHT: size.y, I: point.x, J: point.y, FEATURE_COUNT: 5,
    INFO_FORMAT: "application/json", ...wmsFilterParams(),
  })}`;
  let collection;
  try {
    collection = await getJSON(url);
  } catch (error) {
    setStatus(error.message, true);
    return;
  }
  if (!collection.features || collection.features.length === 0) return;
  const box = document.createElement("div");
  box.className = "feature-info";
  for (const feature of collection.features) box.append(propertiesTable(feature.properties));
  L.popup({ maxWidth: 380, maxHeight: 320 }).setLatLng(event.latlng).setContent(box)
    .openOn(app.map);
}

// ---------------------------------------------------------------- legend

function legendSwatch(colour, label, shape = "box") {
  const item = document.createElement("li");
  const swatch = document.createElement("span");
  swatch.className = `swatch swatch-${shape}`;
  swatch.style.setProperty("--swatch", colour);
  item.append(swatch, document.createTextNode(label));
  return item;
}

function legendBlock(title, entries) {
  const block = document.createElement("section");
  const heading = document.createElement("h3");
  heading.textContent = title;
  const list = document.createElement("ul");
  list.append(...entries);
  block.append(heading, list);
  return block;
}

function renderLegend() {
  const box = app.legendBox;
  if (!box) return;
  box.replaceChildren();
  const on = (id) => app.state.layers.includes(id);
  if (on("segments")) {
    box.append(legendBlock(t("Border sections: risk level"), ["low", "medium", "high",
      "critical", "none"].map((level) => legendSwatch(LEVEL_COLOURS[level],
      t(level === "none" ? "not assessed" : level), "line"))));
  }
  if (on("incidents")) {
    const entries = [legendSwatch(INCIDENT_COLOUR, t("incident (clickable when zoomed in)"),
                                  "dot")];
    if (app.wms) {
      // The WMS draws its own symbols (aggregated at small scales): its legend graphic.
      const item = document.createElement("li");
      const image = document.createElement("img");
      image.src = `${config.wms}?${query({ SERVICE: "WMS", VERSION: "1.3.0",
        REQUEST: "GetLegendGraphic", LAYER: "incidents", FORMAT: "image/png",
        SLD_VERSION: "1.1.0" })}`;
      image.alt = t("incident (aggregated at small scales)");
      item.append(image);
      entries.push(item);
    }
    box.append(legendBlock(t("Incidents"), entries));
  }
  if (on("crossings")) {
    box.append(legendBlock(t("Crossing points"), [legendSwatch("#ffd92f", t("crossing point"),
      "dot")]));
  }
  if (on("hotspots")) {
    const entries = app.state.method === "lisa"
      ? Object.entries(LISA_COLOURS).map(([k, c]) => legendSwatch(c, t(`LISA ${k}`)))
      : [3, 2, 1, -1, -2, -3].map((bin) => legendSwatch(GI_BIN_COLOURS[bin],
          t(bin > 0 ? "hot spot, confidence {p}" : "cold spot, confidence {p}",
            { p: formatPercent({ 3: 0.99, 2: 0.95, 1: 0.9 }[Math.abs(bin)]) })));
    box.append(legendBlock(t("Hot spots"), entries));
  }
  if (on("density") && app.densityBreaks) {
    box.append(legendBlock(t("Density (KDE), incidents per km²"),
      DENSITY_COLOURS.map((c, i) => legendSwatch(c, `≥ ${formatNumber(app.densityBreaks[i], 3)}`))));
  }
  if (on("emerging") && app.emergingPresent) {
    box.append(legendBlock(t("Emerging hot spots"), app.emergingPresent.map(
      (category) => legendSwatch(EMERGING_COLOURS[category] || "#999999", t(category)))));
  }
  if (on("alerts")) {
    box.append(legendBlock(t("Alerts"), [legendSwatch("#000000",
      t("section above its expected count"), "dash")]));
  }
}

function addLegendControl() {
  const Legend = L.Control.extend({
    options: { position: "bottomright" },
    onAdd() {
      const container = L.DomUtil.create("div", "legend leaflet-bar");
      container.setAttribute("aria-label", t("Legend"));
      const toggle = L.DomUtil.create("button", "legend-toggle", container);
      toggle.type = "button";
      toggle.textContent = t("Legend");
      toggle.setAttribute("aria-expanded", "true");
      app.legendBox = L.DomUtil.create("div", "legend-body", container);
      if (window.innerHeight < 900) { // a laptop screen: the map first, legend on demand
        toggle.setAttribute("aria-expanded", "false");
        app.legendBox.hidden = true;
      }
      toggle.addEventListener("click", () => {
        const open = toggle.getAttribute("aria-expanded") !== "true";
        toggle.setAttribute("aria-expanded", String(open));
        app.legendBox.hidden = !open;
      });
      L.DomEvent.disableClickPropagation(container);
      L.DomEvent.disableScrollPropagation(container);
      return container;
    },
  });
  new Legend().addTo(app.map);
}

// ---------------------------------------------------------------- selection

function selectSection(sectionId, from) {
  const previous = app.selected;
  app.selected = sectionId;
  app.state.section = sectionId;
  for (const id of [previous, sectionId]) {
    const layer = app.segmentLayers.get(id);
    if (!layer) continue;
    layer.setStyle(segmentStyle(layer.feature));
    layer.getElement()?.classList.toggle("section-selected", id === sectionId);
    if (id === sectionId) {
      layer.bringToFront();
      app.layers.crossings.bringToFront(); // crossing points stay visible on top
    }
  }
  const panel = document.getElementById("panel");
  markSelected(panel, sectionId);
  const layer = app.segmentLayers.get(sectionId);
  if (layer && from !== "map" && from !== "restore") {
    app.map.flyToBounds(layer.getBounds(), { maxZoom: 12, duration: 0.6, padding: [40, 40] });
  }
  if (from === "map" || from === "restore") {
    const row = panel.querySelector(`.section-row[data-section-id="${sectionId}"]`);
    row?.scrollIntoView({ block: "nearest" });
  }
  const section = app.sections.get(sectionId);
  const details = document.getElementById("section-details");
  details.hidden = !section;
  if (section) renderDetails(document.getElementById("details-body"), section);
  writeURL();
}

// ---------------------------------------------------------------- refresh

function rankingURL() {
  return `${config.api}/risk/segments?${query({
    region: app.state.region, datetime: datetimeInterval(app.state) })}`;
}

async function loadRanking(signal) {
  const url = rankingURL();
  const prefetched = app.prefetched?.url === url ? app.prefetched.promise : null;
  app.prefetched = null;
  const ranking = await (prefetched || getJSON(url, signal));
  app.sections = new Map(ranking.sections.map((s) => [s.section_id, s]));
  app.layers.segments.setStyle(segmentStyle);
  renderRanking(document.getElementById("ranking"), ranking, selectSection);
  renderSummary(document.getElementById("ranking-summary"), ranking);
  renderAlerts(document.getElementById("alerts"), document.getElementById("alerts-count"),
               ranking.sections, selectSection);
  app.layers.alerts.clearLayers();
  for (const section of ranking.sections.filter((s) => s.alert && s.alert.alert)) {
    const layer = app.segmentLayers.get(section.section_id);
    if (!layer) continue;
    const outline = L.geoJSON(layer.feature, {
      renderer: layer.options.renderer, pane: "sections",
      style: { color: "#000", weight: 10, opacity: 0.6, dashArray: "4 8" },
    });
    outline.on("click", (event) => {
      L.DomEvent.stopPropagation(event);
      selectSection(section.section_id, "map");
    });
    app.layers.alerts.addLayer(outline);
  }
  if (app.selected && app.sections.has(app.selected)) selectSection(app.selected, "restore");
  return ranking;
}

async function loadCount(signal) {
  const collection = await getJSON(`${config.api}/incidents?${query({
    ...selectionParams(), limit: 1 })}`, signal);
  return collection.numberMatched;
}

function wantsPoints() {
  return app.state.layers.includes("incidents") &&
    (!app.wms || app.map.getZoom() >= ZOOM_POINTS);
}

async function loadPoints() {
  if (!wantsPoints()) {
    app.pointsController?.abort();
    app.pointsURL = null;
    app.layers.points.clearLayers();
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
  })();
  try {
    return await app.pointsPromise;
  } catch (error) {
    if (app.pointsURL === url) app.pointsURL = null;
    throw error;
  }
}

function wmsTime() {
  return `${app.state.from}T00:00:00Z/${app.state.to}T23:59:59Z`;
}

function updateIncidentsWms() {
  const layer = app.layers.incidentsWms;
  if (!layer) return Promise.resolve();
  layer.setParams(wmsFilterParams());
  return layer.whenLoaded();
}

// The hot-spot analyses need at least 30 grid cells holding incidents
// (geo.hotspots.pipeline.MIN_CELLS_WITH_DATA), so fewer incidents are never asked about: the API
// would answer 422. (More incidents in fewer cells still get the API's message.)
const MIN_INCIDENTS = 30;

async function loadCells(kind, signal, counted) {
  const layer = app.layers[kind];
  if (!app.state.layers.includes(kind) || (kind !== "emerging" &&
                                           (await counted) < MIN_INCIDENTS)) {
    layer.clearLayers();
    return;
  }
  let url;
  if (kind === "hotspots") {
    url = `${config.api}/hotspots?${query(analysisParams({ method: app.state.method }))}`;
  } else if (kind === "density") {
    url = `${config.api}/hotspots?${query(analysisParams({ method: "kde" }))}`;
  } else {
    const end = new Date(`${app.state.to}T00:00:00Z`);
    const start = new Date(Date.UTC(end.getUTCFullYear(), end.getUTCMonth() -
                                    (EMERGING_MONTHS - 1), 1));
    url = `${config.api}/hotspots/emerging?${query(analysisParams({
      step: "month", datetime: `${isoDate(start)}T00:00:00Z/${app.state.to}T23:59:59Z` }))}`;
  }
  const collection = await getJSON(url, signal);
  let features = collection.features;
  if (kind === "hotspots") {
    features = features.filter((f) => (app.state.method === "lisa"
      ? f.properties.cluster && f.properties.cluster !== "ns" : f.properties.bin));
  } else if (kind === "density") {
    features = features.filter((f) => f.properties.density > 0);
    const values = features.map((f) => f.properties.density).sort((a, b) => a - b);
    app.densityBreaks = DENSITY_COLOURS.map((c, i) =>
      values[Math.floor((i * values.length) / DENSITY_COLOURS.length)] || 0);
    for (const f of features) {
      let index = 0;
      app.densityBreaks.forEach((b, i) => { if (f.properties.density >= b) index = i; });
      f.properties._colour = DENSITY_COLOURS[index];
    }
  } else {
    features = features.filter((f) => f.properties.category &&
                                      f.properties.category !== "no pattern");
    app.emergingPresent = [...new Set(features.map((f) => f.properties.category))].sort();
  }
  layer.clearLayers();
  layer.addData({ type: "FeatureCollection", features });
  return collection;
}

// What each part of the page was last loaded for: a refresh reloads only the parts
// whose inputs changed (a new hot-spot method does not re-rank the sections).
const loadedFor = {};
const loadedValue = {};

async function reuse(name, key, load, force) {
  if (!force && loadedFor[name] === key) return loadedValue[name];
  delete loadedFor[name];
  const value = await load();
  loadedFor[name] = key;
  loadedValue[name] = value;
  return value;
}

async function refresh(force = false) {
  const sequence = ++app.sequence;
  app.controller?.abort();
  const controller = new AbortController();
  app.controller = controller;
  root.dataset.busy = "true";
  setStatus(t("Updating…"));
  writeURL();
  const signal = controller.signal;
  const s = app.state;
  const periodKey = [s.region, s.from, s.to].join("|");
  const selection = [periodKey, s.categories.join(","), s.outcome].join("|");
  const counted = reuse("count", selection, () => loadCount(signal), force);
  const cellsKey = (kind) => [selection, s.method, s.cellSize,
                              s.layers.includes(kind)].join("|");
  const tasks = [
    reuse("ranking", periodKey, () => loadRanking(signal), force), counted,
    reuse("points", selection, () => loadPoints(), force),
    reuse("wms", selection, () => updateIncidentsWms(), force),
    ...["hotspots", "density", "emerging"].map((kind) => reuse(kind, cellsKey(kind),
      () => loadCells(kind, signal, counted.catch(() => 0)), force)),
  ];
  const results = await Promise.allSettled(tasks);
  if (sequence !== app.sequence) return; // a newer refresh owns the page now
  const failures = results.filter((r) => r.status === "rejected" && r.reason?.name !== "AbortError");
  const [ranking, count] = results.map((r) => (r.status === "fulfilled" ? r.value : null));
  renderLegend();
  const period = `${formatDate(app.state.from)} – ${formatDate(app.state.to)}`;
  let text = t("{n} incidents, {period}", { n: formatNumber(count), period });
  if (ranking) {
    text += "; " + t("{n} sections ranked", { n: formatNumber(ranking.sections.length) });
  }
  if (count !== null && count < MIN_INCIDENTS &&
      ["hotspots", "density"].some((kind) => s.layers.includes(kind))) {
    text += "; " + t("too few incidents for hot spots (at least {n})",
                     { n: formatNumber(MIN_INCIDENTS) });
  }
  if (failures.length) {
    const reason = failures[0].reason;
    const detail = reason instanceof ProblemError ? reason.message : String(reason?.message);
    setStatus(`${text}. ${t("Could not load a layer: {detail}", { detail })}`, true);
  } else {
    setStatus(text);
  }
  root.dataset.updates = String(sequence);
  root.dataset.busy = "false";
}

// ---------------------------------------------------------------- filters and actions

function updateActionLinks() {
  const s = app.state;
  if (!s || !app.map) return;
  const format = document.getElementById("export-format").value;
  document.getElementById("export-link").href = `${config.api}/incidents?${query({
    // CSV and GeoPackage without a limit hold the whole selection; GeoJSON is the
    // API's page (largest 10,000), which names numberMatched and links the next page.
    ...selectionParams(), f: format, ...(format === "geojson" ? { limit: 10000 } : {}) })}`;
  const bulletin = document.getElementById("bulletin-link");
  if (bulletin) bulletin.href = `${config.api}/reports/bulletin?${query({
    region: s.region, datetime: datetimeInterval(s), f: "html" })}`;
  const png = document.getElementById("png-link");
  if (!app.wms) {
    png.setAttribute("aria-disabled", "true");
    png.removeAttribute("href");
    png.title = t("The map service (WMS) is not available.");
    return;
  }
  const size = app.map.getSize();
  png.href = `${config.wms}?${query({
    SERVICE: "WMS", VERSION: "1.3.0", REQUEST: "GetMap", FORMAT: "image/png",
    LAYERS: "countries,regions,border_segments,crossing_points,incidents",
    STYLES: ",,risk_level,,", CRS: "EPSG:3857", BBOX: viewBBox3857(),
    WIDTH: size.x, HEIGHT: size.y, ...wmsFilterParams(),
  })}`;
}

function setMonthFromRange() {
  const slider = document.getElementById("f-month");
  const to = new Date(`${app.state.to}T00:00:00Z`);
  const index = app.months.findIndex((m) => m.getUTCFullYear() === to.getUTCFullYear() &&
                                            m.getUTCMonth() === to.getUTCMonth());
  slider.value = String(Math.max(0, index));
  document.getElementById("f-month-label").textContent =
    index >= 0 ? formatMonth(app.months[index]) : "";
}

function applyStateToForm() {
  const s = app.state;
  document.getElementById("f-region").value = s.region;
  document.getElementById("f-from").value = s.from;
  document.getElementById("f-to").value = s.to;
  document.getElementById("f-outcome").value = s.outcome;
  document.getElementById("f-method").value = s.method;
  document.getElementById("f-cell").value = s.cellSize;
  for (const box of filters.querySelectorAll("input[name='category']")) {
    box.checked = s.categories.includes(box.value);
  }
  updateCategoryCount();
  setMonthFromRange();
}

function updateCategoryCount() {
  const n = app.state.categories.length;
  document.getElementById("f-category-count").textContent =
    n ? `(${formatNumber(n)})` : `(${t("all")})`;
}

let refreshTimer = null;
function scheduleRefresh(delay = 250) {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refresh, delay);
}

function zoomToRegion() {
  const layer = app.regionsByCode.get(app.state.region) || app.layers.regions;
  const bounds = layer.getBounds();
  if (bounds.isValid()) app.map.flyToBounds(bounds, { duration: 0.6 });
}

function bindFilters() {
  filters.addEventListener("submit", (event) => event.preventDefault());
  filters.addEventListener("change", (event) => {
    const target = event.target;
    const s = app.state;
    if (target.id === "f-month") return; // handled on input
    if (target.name === "category") {
      s.categories = [...filters.querySelectorAll("input[name='category']:checked")]
        .map((box) => box.value);
      updateCategoryCount();
    } else if (target.id === "f-region") {
      s.region = target.value;
      zoomToRegion();
    } else if (target.id === "f-from" || target.id === "f-to") {
      if (!target.value) return;
      s[target.id === "f-from" ? "from" : "to"] = target.value;
      if (s.from > s.to) {
        target.setCustomValidity(t("The start must not be after the end."));
        target.reportValidity();
        return;
      }
      target.setCustomValidity("");
      setMonthFromRange();
    } else if (target.id === "f-outcome") {
      s.outcome = target.value;
    } else if (target.id === "f-method") {
      s.method = target.value;
    } else if (target.id === "f-cell") {
      s.cellSize = target.value;
    }
    scheduleRefresh();
  });
  document.getElementById("f-month").addEventListener("input", (event) => {
    showMonth(Number(event.target.value));
    scheduleRefresh(300);
  });
  const play = document.getElementById("f-play");
  play.addEventListener("click", () => {
    if (app.player) {
      stopPlaying();
      return;
    }
    play.setAttribute("aria-pressed", "true");
    play.textContent = t("Pause");
    app.player = setInterval(() => {
      if (root.dataset.busy === "true") return;
      const slider = document.getElementById("f-month");
      const next = Number(slider.value) + 1;
      if (next >= app.months.length) {
        stopPlaying();
        return;
      }
      slider.value = String(next);
      showMonth(next);
      refresh();
    }, PLAY_STEP_MS);
  });
  document.getElementById("export-format").addEventListener("change", updateActionLinks);
}

function stopPlaying() {
  clearInterval(app.player);
  app.player = null;
  const play = document.getElementById("f-play");
  play.setAttribute("aria-pressed", "false");
  play.textContent = t("Play");
}

function showMonth(index) {
  const month = app.months[index];
  if (!month) return;
  app.state.from = isoDate(month);
  app.state.to = isoDate(monthEnd(month));
  document.getElementById("f-from").value = app.state.from;
  document.getElementById("f-to").value = app.state.to;
  document.getElementById("f-month-label").textContent = formatMonth(month);
}

// ---------------------------------------------------------------- start

const OVERLAY_NAMES = {
  regions: "Regions", segments: "Border sections (risk level)", crossings: "Crossing points",
  incidents: "Incidents", hotspots: "Hot spots", density: "Density (KDE)",
  emerging: "Emerging hot spots", alerts: "Alerts",
};

function addLayerControl() {
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
  // Added in this order: crossing points and alerts stay above the dense layers.
  for (const id of ["regions", "density", "hotspots", "emerging", "incidents", "segments",
                    "alerts", "crossings"]) {
    const layer = app.layers[id];
    app.overlays[id] = layer;
    overlays[t(OVERLAY_NAMES[id])] = layer;
    if (app.state.layers.includes(id)) layer.addTo(app.map);
  }
  L.control.layers(bases, overlays, { collapsed: true, position: "topright" }).addTo(app.map);
  const changed = (event, visible) => {
    const id = Object.keys(app.overlays).find((key) => app.overlays[key] === event.layer);
    if (!id) return;
    const set = new Set(app.state.layers);
    if (visible) set.add(id); else set.delete(id);
    app.state.layers = Object.keys(OVERLAY_NAMES).filter((key) => set.has(key));
    if (visible && ["hotspots", "density", "emerging", "incidents"].includes(id)) {
      scheduleRefresh(0);
    } else {
      writeURL();
      renderLegend();
    }
  };
  app.map.on("overlayadd", (e) => changed(e, true));
  app.map.on("overlayremove", (e) => changed(e, false));
}

function showNotice(collections) {
  const kinds = new Set();
  for (const fc of collections) {
    for (const f of fc.features) {
      const provenance = f.properties.provenance;
      if (provenance && provenance !== "reported") {
        kinds.add(t(PROVENANCE_LABELS[provenance] || provenance));
      }
    }
  }
  if (kinds.size === 0) return;
  const notice = document.getElementById("data-notice");
  notice.textContent = t("Demonstration data: not real records. Contains {kinds} data " +
                         "(see the README for sources).", { kinds: [...kinds].join(", ") });
  notice.hidden = false;
}

async function main() {
  setCsrfToken(config.csrfToken);
  await loadCatalogue(config.i18n, config.locale);
  app.wms = config.wms !== "";
  app.state = readState(window.location);
  app.map = L.map("map", { zoomSnap: 0.5, keyboard: true }).setView([42.2, 43.5], 7);
  app.map.attributionControl.addAttribution(t("Border: Natural Earth (public domain)"));
  // The ranking is the slowest answer: ask for it as soon as the period is known,
  // while the reference layers are still loading.
  const newestPromise = getJSON(`${config.api}/incidents?limit=1&sortby=-occurred_at`)
    .then((newest) => {
      if (!app.state.from || !app.state.to) {
        const last = newest.features.length
          ? new Date(newest.features[0].properties.occurred_at) : clockNow();
        const month = new Date(Date.UTC(last.getUTCFullYear(), last.getUTCMonth(), 1));
        app.state.from = isoDate(month);
        app.state.to = isoDate(monthEnd(month));
      }
      const url = rankingURL();
      const promise = getJSON(url);
      promise.catch(() => {}); // reported when loadRanking awaits it
      app.prefetched = { url, promise };
      return newest;
    });
  const [regions, segments, crossings, newest, oldest] = await Promise.all([
    getJSON(`${config.api}/regions?limit=10000`),
    getJSON(`${config.api}/segments?limit=10000`),
    getJSON(`${config.api}/crossings?limit=10000`),
    newestPromise,
    getJSON(`${config.api}/incidents?limit=1&sortby=occurred_at`),
  ]);
  buildStaticLayers(regions, segments, crossings);
  const regionSelect = document.getElementById("f-region");
  const sorted = [...regions.features].sort((a, b) =>
    regionName(a.properties).localeCompare(regionName(b.properties), currentLocale()));
  for (const feature of sorted) {
    const option = document.createElement("option");
    option.value = feature.properties.code;
    option.textContent = regionName(feature.properties);
    regionSelect.append(option);
  }
  // A user restricted to several regions has no "All regions": start in the first.
  if (![...regionSelect.options].some((o) => o.value === app.state.region)) {
    app.state.region = regionSelect.options[0]?.value ?? "";
  }
  const last = newest.features.length
    ? new Date(newest.features[0].properties.occurred_at) : clockNow();
  const first = oldest.features.length
    ? new Date(oldest.features[0].properties.occurred_at) : last;
  app.months = monthsBetween(first, last);
  const slider = document.getElementById("f-month");
  slider.max = String(Math.max(0, app.months.length - 1));
  applyStateToForm();
  // The view first: the WMS images are then asked for once, for the right extent.
  const v = app.state.view;
  if (v) {
    app.map.setView([v.lat, v.lon], v.zoom, { animate: false });
  } else {
    const layer = app.regionsByCode.get(app.state.region) || app.layers.regions;
    if (layer.getBounds().isValid()) app.map.fitBounds(layer.getBounds(), { animate: false });
  }
  addLayerControl();
  addLegendControl();
  L.control.scale({ imperial: false }).addTo(app.map);
  app.selected = app.state.section;
  const rememberView = () => {
    const c = app.map.getCenter();
    app.state.view = { zoom: app.map.getZoom(), lat: c.lat, lon: c.lng };
  };
  rememberView();
  app.map.on("moveend", () => {
    rememberView();
    writeURL();
    loadPoints().catch((error) => {
      if (error.name !== "AbortError") setStatus(error.message, true);
    });
  });
  bindFilters();
  app.map.on("click", incidentInfo);
  const addIncident = setUpIncidentForm(config.api, () => refresh(true));
  const addButton = document.getElementById("add-incident");
  if (addIncident && addButton) {
    const place = (event) => {
      app.map.getContainer().classList.remove("placing");
      addIncident(event.latlng);
    };
    addButton.addEventListener("click", () => {
      setStatus(t("Click the map where the incident happened (Esc cancels)."));
      app.map.getContainer().classList.add("placing");
      app.map.once("click", place);
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && app.map.getContainer().classList.contains("placing")) {
        app.map.getContainer().classList.remove("placing");
        app.map.off("click", place);
        setStatus(t("Cancelled."));
      }
    });
  }
  setUpImportForm(config.api, () => refresh(true));
  setUpLevelForm(config.api, () => app.selected, () => refresh(true));
  showNotice([regions, segments, crossings]);
  // A handle for end-to-end tests, the benchmark and the browser console.
  window.borderRisk = { map: app.map, layers: app.layers, app, selectSection, refresh };
  await refresh();
  root.dataset.loaded = "true";
}

main().catch((error) => {
  setStatus(t("Could not load the map layers: {detail}", { detail: error.message }), true);
});
