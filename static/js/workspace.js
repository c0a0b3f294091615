// The map page's one state object (`app`), with every field declared here, and the
// page's fixed settings (`config`, the #workspace element's data attributes). The
// object is sealed: a module that needs a new field adds it here, with its comment.

export const root = document.getElementById("workspace");
export const config = root.dataset;

const statusLine = document.getElementById("map-status");

export const app = Object.seal({
  // The filters, layers, selected section and view, as the URL holds them (state.js).
  state: null,
  // Whether the server has a WMS: without one, every layer is GeoJSON.
  wms: false,
  // The Leaflet map.
  map: null,
  // Leaflet layers by name: regions, segments, crossings, alerts, points, incidentsWms,
  // incidents (points and WMS), hotspots, density, emerging.
  layers: {},
  // The layers of the layer control by state name (what its add/remove events map to).
  overlays: {},
  // Border-section id -> its Leaflet layer.
  segmentLayers: new Map(),
  // Border-section id -> its entry in the last risk ranking (/risk/segments).
  sections: new Map(),
  // Region code -> its Leaflet layer.
  regionsByCode: new Map(),
  // First days (UTC) of the months from the oldest incident to the newest: the slider.
  months: [],
  // The id of the selected border section, or null.
  selected: null,
  // The legend's body (null until the legend control is on the map).
  legendBox: null,
  // Lower bounds of the density classes drawn, one per colour of the ramp, or null.
  densityBreaks: null,
  // The emerging hot-spot categories drawn (sorted), or null.
  emergingPresent: null,
  // The ranking asked for at start-up, before the layers: { url, promise } until used.
  prefetched: null,
  // The number of the latest refresh: an older one that ends later changes nothing.
  sequence: 0,
  // Aborts the requests of the refresh in progress.
  controller: null,
  // Aborts the request of incident points in progress.
  pointsController: null,
  // The URL of the incident points loaded or loading (null: none).
  pointsURL: null,
  // The promise of those points.
  pointsPromise: null,
  // Part of the page -> the key of the inputs it was last loaded for (refresh reuses).
  loadedFor: {},
  // Part of the page -> what that load returned.
  loadedValue: {},
  // The timer of the refresh a filter change scheduled.
  refreshTimer: null,
  // The interval of the month player while it plays, else null.
  player: null,
});

export function setStatus(text, isError = false) {
  statusLine.textContent = text;
  statusLine.classList.toggle("error", isError);
}
