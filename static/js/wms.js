// Our WMS in the page: one GetMap image per view, the incidents' GetFeatureInfo at
// small scales, and the incidents' legend graphic.

import { explain, getJSON, query } from "./api.js";
import { wmsFilterParams } from "./params.js";
import { incidentTable } from "./popups.js";
import { app, config, setStatus } from "./workspace.js";

export const ZOOM_POINTS = 11; // from this zoom on, incidents are clickable points

/** Whether the incidents are drawn by the WMS at this zoom: not with an agency filter,
 *  which the WMS does not know (the points show the agencies chosen at every zoom). */
export function wmsDrawsIncidents() {
  return app.wms && app.state.agencies.length === 0 && app.map.getZoom() < ZOOM_POINTS;
}

function viewBBox3857() {
  const bounds = app.map.getBounds();
  const sw = L.CRS.EPSG3857.project(bounds.getSouthWest());
  const ne = L.CRS.EPSG3857.project(bounds.getNorthEast());
  return [sw.x, sw.y, ne.x, ne.y].map((v) => v.toFixed(1)).join(",");
}

// One WMS GetMap image for the whole view (as OpenLayers' ImageWMS), not a grid of
// tiles: one request per view instead of a dozen, which matters when the server has
// two workers. The old image stays until the new one has loaded (no flicker). Leaflet
// is a classic script (window.L), loaded before the modules run.
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

export function wmsLayer(layers, options = {}) {
  const { pane = "overlayPane", transparent = true } = options;
  return new SingleImageWms(config.wms, { LAYERS: layers,
    TRANSPARENT: transparent ? "TRUE" : "FALSE" }, { pane });
}

// At small scales the incidents are WMS pictures: a click asks the WMS what is there.
export async function incidentInfo(event) {
  const s = app.state;
  const container = app.map.getContainer();
  if (!wmsDrawsIncidents() || !s.layers.includes("incidents") ||
      container.classList.contains("placing") || container.classList.contains("measuring")) {
    return;
  }
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
    setStatus(explain(error), true);
    return;
  }
  if (!collection.features || collection.features.length === 0) return;
  const box = document.createElement("div");
  box.className = "feature-info";
  for (const feature of collection.features) box.append(incidentTable(feature.properties));
  L.popup({ maxWidth: 380, maxHeight: 320 }).setLatLng(event.latlng).setContent(box)
    .openOn(app.map);
}
