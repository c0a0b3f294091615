// The map page's first requests, sent as soon as this small module has run: before the
// rest of the page's modules and Leaflet have loaded (index.html loads it as its own
// entry point, async, at the end of the page; a module graph runs only once all of its
// modules are in, and deferred scripts in order). The message
// catalogue, the palettes, the agencies, the reference layers and, for a view whose
// region is the user's, the risk ranking (the slowest answer of the page) and the
// incidents' count (which the Gi* cells wait for). map.js awaits what is started here;
// nothing here draws.

import { getJSON, query } from "./api.js";
import { loadAgencies } from "./agencies.js";
import { loadCatalogue } from "./i18n.js";
import { loadPalettes } from "./palettes.js";
import { selectionParams } from "./params.js";
import { datetimeInterval, readState } from "./state.js";
import { app, config } from "./workspace.js";

/** The ranking's address for a state (default: the page's). */
export function rankingURL(state = app.state) {
  return `${config.api}/risk/segments?${query({
    region: state.region, datetime: datetimeInterval(state) })}`;
}

/** The address of the count of the incidents a state's filters select (default: the
 *  page's). */
export function countURL(state = app.state) {
  return `${config.api}/incidents?${query({ ...selectionParams(state), limit: 1 })}`;
}

/** The promise of `url`'s JSON when start-up asked for it (once), else null. */
export function takePrefetched(url) {
  const promise = app.prefetched.get(url) || null;
  app.prefetched.delete(url);
  return promise;
}

/** The state the link asks for; without dates, the server's default period (the last
 *  complete month, geo/products/periods.py), the one the API uses without datetime. */
function linkState() {
  const state = readState(window.location);
  if (!state.from || !state.to) {
    state.from = config.periodFrom;
    state.to = config.periodTo;
  }
  return state;
}

/** A promise whose failure is reported where it is awaited, not as unhandled here. */
function started(promise) {
  promise.catch(() => {});
  return promise;
}

export const initialState = linkState();
app.state = initialState;

// The catalogue, palettes and agencies, which map.js awaits before drawing anything.
export const basics = started(Promise.all([
  loadCatalogue(config.i18n, config.locale), loadPalettes(config.palettes),
  loadAgencies(config.api, config.agency)]));

const regions = started(getJSON(`${config.api}/regions?limit=10000`));

// The reference layers, in the order map.js reads them.
export const references = [
  regions,
  started(getJSON(`${config.api}/border_segments?limit=10000`)),
  started(getJSON(`${config.api}/crossing_points?limit=10000`)),
  started(getJSON(`${config.api}/incidents?limit=1&sortby=-occurred_at`)),
  started(getJSON(`${config.api}/incidents?limit=1&sortby=occurred_at`)),
];

/** The ranking and the count asked for now (loading.js takes them, takePrefetched; the
 *  Gi* cells wait for the count), when the view's region is the user's: at once for all
 *  regions (a user restricted to several has no "all regions" choice, and the page
 *  picks one), else once the user's regions say. */
function prefetchRankingAndCount(state) {
  const ask = () => {
    for (const url of [rankingURL(state), countURL(state)]) {
      if (!app.prefetched.has(url)) app.prefetched.set(url, started(getJSON(url)));
    }
  };
  if (!state.region) {
    if (document.querySelector("#f-region option[value='']") !== null) ask();
    return;
  }
  regions.then((collection) => {
    const codes = collection.features.map((f) => f.properties.code);
    if (codes.includes(state.region)) ask();
  }, () => {});
}

prefetchRankingAndCount(initialState);
