// The month the month slider shows next, asked for ahead (issue 19: a month never
// computed took seconds to show). Once the page has settled on a month and nothing has
// changed for a moment, the analyses a step of the slider would request (the ranking,
// the count, the cells drawn, the sections' emerging categories) are requested in the
// background at low priority, by the very URLs the step will use: the server computes
// them into its shared results, and the step takes the answers kept in app.prefetched
// (takePrefetched) instead of waiting for them. One month ahead, the way the slider last
// went (back until it has gone forward), never before the first month of data; one
// month's requests at a time; any other change aborts them. The server may turn it off
// (PREFETCH_NEXT_MONTH: the #workspace element's data-prefetch-month).

import { ProblemError, getJSON } from "./api.js";
import { CELL_LAYERS, MIN_INCIDENTS, cellLayerOn, cellsURL } from "./cells.js";
import { countURL, rankingURL } from "./startup.js";
import { isoDate, monthEnd, monthIndex } from "./state.js";
import { sectionTrendsURL } from "./trends.js";
import { app, config, root } from "./workspace.js";

// How long the page stays as it is, once settled, before the next month is asked for
// (ms): not for every month a quick run of steps passes through.
const SETTLE_MS = 500;
// How long answers asked ahead are shown (ms): after that, the step asks again (the
// server's shared results answer it, keyed by the data's stamps, should the data have
// changed meanwhile).
const KEEP_MS = 60_000;

/** The URLs of the analyses a refresh (loading.js) asks for `state`: the ranking, the
 *  count, the sections' emerging categories, and the cells drawn (the hot-spot and
 *  density cells only when the count has MIN_INCIDENTS, cells.js). Answers asked ahead
 *  for one state are another's when these agree (an overlay turned off elsewhere does
 *  not change them). */
function analysisURLs(state) {
  return {
    ranking: rankingURL(state), count: countURL(state), trends: sectionTrendsURL(state),
    cells: CELL_LAYERS.filter((kind) => cellLayerOn(kind, state))
      .map((kind) => [kind, cellsURL(kind, {}, state)]),
  };
}

function stateKey(state) {
  return JSON.stringify(analysisURLs(state));
}

/** The state a step of the month slider by `step` (-1 back, +1 forward) from `state`
 *  shows (filters.js: the whole month, the other filters as they are), or null when the
 *  slider has no such month (none before the first month of data or after the last). */
function steppedState(state, step) {
  const index = monthIndex(app.months, state.to);
  const month = index < 0 ? undefined : app.months[index + step];
  if (!month) return null;
  return { ...state, from: isoDate(month), to: isoDate(monthEnd(month)) };
}

/** Asks for the analyses of `state` (analysisURLs), at low priority. A request that
 *  fails is forgotten (the step asks it again), unless the API answered why (a 4xx
 *  problem: the step's answer too, e.g. too few cells for the map). */
function askAhead(state) {
  const controller = new AbortController();
  const urls = [];
  const keep = (url, promise) => {
    urls.push(url);
    app.prefetched.set(url, promise);
    promise.catch((error) => {
      const answered = error instanceof ProblemError && error.status < 500;
      if (!answered && app.prefetched.get(url) === promise) app.prefetched.delete(url);
    });
    return promise;
  };
  const ask = (url) => getJSON(url, controller.signal, "low");
  const wanted = analysisURLs(state);
  keep(wanted.ranking, ask(wanted.ranking));
  const counted = keep(wanted.count, ask(wanted.count));
  keep(wanted.trends, ask(wanted.trends));
  for (const [kind, url] of wanted.cells) {
    keep(url, kind === "emerging" ? ask(url) : counted.then((collection) =>
      (collection.numberMatched < MIN_INCIDENTS ? null : ask(url))));
  }
  app.prefetch = { key: JSON.stringify(wanted), urls, controller, at: performance.now(),
                   adopted: false };
}

/** Forgets the month asked ahead: its requests aborted (unless a refresh has taken
 *  them: they end with it), its answers not taken dropped. */
function dropPrefetch() {
  const prefetch = app.prefetch;
  app.prefetch = null;
  if (!prefetch) return;
  if (!prefetch.adopted) prefetch.controller.abort();
  for (const url of prefetch.urls) app.prefetched.delete(url);
}

/** At the start of a refresh (after the previous one is aborted): the month asked ahead
 *  is the refresh's when it was asked for the page's state now, recently and with the
 *  data unchanged (not `force`): its answers are taken and its requests end with the
 *  refresh's `signal`. Else it is dropped. */
export function adoptPrefetch(signal, force) {
  clearTimeout(app.prefetchTimer);
  const prefetch = app.prefetch;
  if (prefetch && !prefetch.adopted && !force && stateKey(app.state) === prefetch.key &&
      performance.now() - prefetch.at < KEEP_MS) {
    prefetch.adopted = true;
    signal.addEventListener("abort", () => prefetch.controller.abort(), { once: true });
    return;
  }
  dropPrefetch();
}

/** Once a refresh has drawn the page: the answers it did not take dropped, and the next
 *  month asked for after SETTLE_MS, should the page still be as it is then. */
export function prefetchNextMonth() {
  if (app.prefetch?.adopted) dropPrefetch();
  clearTimeout(app.prefetchTimer);
  if (config.prefetchMonth !== "true") return;
  app.prefetchTimer = setTimeout(() => {
    if (app.prefetch || root.dataset.busy === "true" || document.hidden) return;
    const next = steppedState(app.state, app.monthStep);
    if (next) askAhead(next);
  }, SETTLE_MS);
}
