// Search by place or section code, in our own layers (no online geocoder): the server's
// /search (geo/places.py) finds the regions, border sections and crossing points the user
// may see by code or name, English or Georgian, ranked. Typing asks it after a short
// pause, a newer request aborting the older; choosing a result zooms the map to it, from
// the place's extent in the answer, whether or not the page has loaded it (a loaded
// section is selected as on its risk line, a loaded crossing point's popup opens).

import { explain, getJSON, query } from "./api.js";
import { localName, t } from "./i18n.js";
import { selectSection } from "./sections.js";
import { app, config } from "./workspace.js";

const MAX_RESULTS = 8;
const PAUSE_MS = 200; // typing pause before asking the server
const KINDS = { region: "Region", section: "Border section", crossing: "Crossing point" };

/** How a found place reads in the list, in the page's language. */
function label(place) {
  const name = localName(place);
  if (place.kind === "section") return `${place.code} ${name === place.code ? "" : name}`.trim();
  return `${name} (${place.code})`;
}

function crossingLayer(code) {
  return app.layers.crossings?.getLayers().find((layer) => layer.feature.properties.code === code);
}

/** Zooms the map to a found place (the API's `bbox` and `centroid`, EPSG:4326). */
function go(place) {
  const [west, south, east, north] = place.bbox;
  const [lon, lat] = place.centroid;
  if (place.kind === "section" && app.segmentLayers.has(place.id)) {
    selectSection(place.id, "search");
  } else if (place.kind === "crossing") {
    const layer = crossingLayer(place.code);
    app.map.setView(layer ? layer.getLatLng() : [lat, lon], Math.max(app.map.getZoom(), 12),
                    { animate: false });
    layer?.openPopup();
  } else {
    app.map.flyToBounds([[south, west], [north, east]],
                        { maxZoom: 12, duration: 0.6, padding: [40, 40] });
  }
}

/** The places matching `text`, best first (the server's order); `signal` aborts. */
export async function searchPlaces(text, signal) {
  const body = await getJSON(`${config.api}/search?${query({ q: text, limit: MAX_RESULTS })}`,
                             signal);
  return body.places.map((place) => ({ ...place, kind_label: t(KINDS[place.kind]),
                                       label: label(place) }));
}

export function setUpSearch() {
  const form = document.getElementById("place-search");
  if (!form) return;
  const input = document.getElementById("search-input");
  const list = document.getElementById("search-results");
  const status = document.getElementById("search-status");
  let results = [];
  let timer = null;
  let waiting = false; // text typed that the pause has not yet asked for
  let controller = null;
  let pending = Promise.resolve();

  const close = () => {
    list.replaceChildren();
    list.hidden = true;
  };
  const choose = (place) => {
    close();
    input.value = place.label;
    status.textContent = t("Showing {place}.", { place: `${place.kind_label}: ${place.label}` });
    go(place);
  };
  const show = (text) => {
    list.replaceChildren(...results.map((place) => {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.kind = place.kind;
      button.dataset.code = place.code;
      button.textContent = `${place.kind_label}: ${place.label}`;
      button.addEventListener("click", () => choose(place));
      item.append(button);
      return item;
    }));
    list.hidden = results.length === 0;
    status.textContent = results.length
      ? t("{n} places found: Enter shows the first.", { n: results.length })
      : t("No region, crossing point or section matches “{text}”.", { text });
  };
  // Asks the server now for the input's text; an older request still running is aborted.
  const run = () => {
    clearTimeout(timer);
    waiting = false;
    controller?.abort();
    const text = input.value.trim();
    form.dataset.busy = "true";
    if (!text) {
      results = [];
      close();
      status.textContent = "";
      form.dataset.busy = "false";
      pending = Promise.resolve();
      return pending;
    }
    const mine = new AbortController();
    controller = mine;
    pending = searchPlaces(text, mine.signal).then((found) => {
      results = found;
      show(text);
    }, (error) => {
      if (mine.signal.aborted) return;
      results = [];
      close();
      status.textContent = t("The search failed: {detail}", { detail: explain(error) });
    }).finally(() => {
      if (controller === mine) form.dataset.busy = "false";
    });
    return pending;
  };
  input.addEventListener("input", () => {
    clearTimeout(timer);
    waiting = true;
    form.dataset.busy = "true";
    timer = setTimeout(run, PAUSE_MS);
  });
  input.addEventListener("keydown", async (event) => {
    if (event.key === "Escape") close();
    if (event.key === "ArrowDown") {
      event.preventDefault();
      await (waiting ? run() : pending);
      list.querySelector("button")?.focus();
    }
  });
  list.addEventListener("keydown", (event) => {
    const buttons = [...list.querySelectorAll("button")];
    const index = buttons.indexOf(document.activeElement);
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const next = index + (event.key === "ArrowDown" ? 1 : -1);
      if (next < 0) input.focus();
      else buttons[Math.min(next, buttons.length - 1)].focus();
    }
    if (event.key === "Escape") {
      close();
      input.focus();
    }
  });
  // The list closes when the focus leaves the search (a click elsewhere, Tab).
  form.addEventListener("focusout", (event) => {
    if (!form.contains(event.relatedTarget)) close();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await run();
    if (results.length) choose(results[0]);
  });
}
