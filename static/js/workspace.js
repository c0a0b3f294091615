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
  // The Leaflet layers, made once by layers.js; the overlays' names are the state's.
  layers: Object.seal({
    // Regional units (GeoJSON, not clickable).
    regions: null,
    // Border sections in their risk colours (GeoJSON).
    segments: null,
    // Crossing points (GeoJSON markers).
    crossings: null,
    // Dashed outlines of the sections with an alert.
    alerts: null,
    // The incidents of the view as clickable points (when zoomed in, or without a WMS).
    points: null,
    // The incidents as the WMS draws them (null without a WMS).
    incidentsWms: null,
    // The incidents overlay: incidentsWms and points together.
    incidents: null,
    // Hot-spot cells (Gi* bins or LISA clusters).
    hotspots: null,
    // Kernel density cells.
    density: null,
    // Emerging hot-spot cells.
    emerging: null,
    // The "Hot spots" overlay: the three cell layers, the method list's one filled.
    analysis: null,
    // Border sections in the colours of their emerging hot-spot categories (GeoJSON).
    emergingSections: null,
  }),
  // Border-section id -> its Leaflet layer.
  segmentLayers: new Map(),
  // Border-section id -> its entry in the last risk ranking (/risk/segments).
  sections: new Map(),
  // The risk model the last ranking was scored with (its `model`: formula, bands).
  rankingModel: null,
  // Border-section id -> its emerging hot-spot properties (/hotspots/emerging?unit=section).
  sectionTrends: new Map(),
  // Region code -> its Leaflet layer.
  regionsByCode: new Map(),
  // First days (UTC) of the months from the oldest incident to the newest: the slider.
  months: [],
  // The legend's body (null until the legend control is on the map).
  legendBox: null,
  // Lower bounds of the density classes drawn, one per colour of the ramp, or null.
  densityBreaks: null,
  // Kind of cell layer ("hotspots", "density", "emerging") -> the metadata of the cells
  // it draws (the API's), for their popups.
  cellMetadata: {},
  // The emerging hot-spot categories drawn (sorted), or null.
  emergingPresent: null,
  // Answers asked for before the page needs them: the ranking and the count at start-up
  // (startup.js), before the layers, and the analyses of the month a step of the month
  // slider shows next (prefetch.js): URL -> promise of its JSON, until used
  // (takePrefetched).
  prefetched: new Map(),
  // The month asked for ahead (prefetch.js): { key, urls, controller, at, adopted }
  // while its answers wait in `prefetched` (or a refresh has taken them), else null.
  prefetch: null,
  // The timer that starts it once the page has settled.
  prefetchTimer: null,
  // The direction of the month slider's last step: -1 back (the default), +1 forward.
  monthStep: -1,
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
  // Overlay -> how opaque it is drawn (0 to 1), set by the opacity sliders (opacity.js).
  opacity: Object.seal({ basemap: 1, regions: 1, segments: 1, hotspots: 1, incidents: 1 }),
  // The measure tool, the coordinates, the incidents' table and the search draw in this
  // layer group (tools: measure.js, incidenttable.js), null until the map has it.
  tools: null,
});

export function setStatus(text, isError = false) {
  statusLine.textContent = text;
  statusLine.classList.toggle("error", isError);
}
