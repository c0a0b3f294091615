// Search by place or section code, in our own layers (no online geocoder): the regions
// (code, English and Georgian names), the border sections (code, name) and the crossing
// points (code, name) the page has loaded, which are those the user may see. Choosing a
// result zooms the map to it (a section is selected as on its risk line).

import { localName, t } from "./i18n.js";
import { selectSection } from "./sections.js";
import { app } from "./workspace.js";

const MAX_RESULTS = 8;

/** Lower case without diacritics, for matching typed text. */
function normalised(text) {
  return String(text ?? "").normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase().trim();
}

/** Every searchable place: { kind, code, names, label, go }. */
function places() {
  const found = [];
  for (const [code, layer] of app.regionsByCode) {
    const p = layer.feature.properties;
    found.push({ kind: t("Region"), code, names: [p.name_en, p.name_ka],
                 label: `${localName(p)} (${code})`,
                 go: () => app.map.flyToBounds(layer.getBounds(), { duration: 0.6 }) });
  }
  for (const [id, layer] of app.segmentLayers) {
    const p = layer.feature.properties;
    found.push({ kind: t("Border section"), code: p.code, names: [p.name],
                 label: `${p.code} ${p.name || ""}`.trim(),
                 go: () => selectSection(id, "search") });
  }
  for (const layer of app.layers.crossings.getLayers()) {
    const p = layer.feature.properties;
    found.push({ kind: t("Crossing point"), code: p.code, names: [p.name],
                 label: `${p.name || ""} (${p.code})`,
                 go: () => {
                   app.map.setView(layer.getLatLng(), Math.max(app.map.getZoom(), 12),
                                   { animate: false });
                   layer.openPopup();
                 } });
  }
  return found;
}

/** The places matching `text`, best first: the code itself, then codes and names that
 *  begin with it, then those that hold it. */
export function searchPlaces(text) {
  const q = normalised(text);
  if (!q) return [];
  const scored = [];
  for (const place of places()) {
    const code = normalised(place.code);
    const names = place.names.map(normalised);
    let score = null;
    if (code === q) score = 0;
    else if (code.startsWith(q) || names.some((n) => n.startsWith(q))) score = 1;
    else if (code.includes(q) || names.some((n) => n.includes(q))) score = 2;
    if (score !== null) scored.push({ score, place });
  }
  scored.sort((a, b) => a.score - b.score || a.place.label.localeCompare(b.place.label));
  return scored.slice(0, MAX_RESULTS).map((s) => s.place);
}

export function setUpSearch() {
  const form = document.getElementById("place-search");
  if (!form) return;
  const input = document.getElementById("search-input");
  const list = document.getElementById("search-results");
  const status = document.getElementById("search-status");
  let results = [];

  const close = () => {
    list.replaceChildren();
    list.hidden = true;
  };
  const choose = (place) => {
    close();
    input.value = place.label;
    status.textContent = t("Showing {place}.", { place: `${place.kind}: ${place.label}` });
    place.go();
  };
  const show = () => {
    results = searchPlaces(input.value);
    list.replaceChildren(...results.map((place) => {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = `${place.kind}: ${place.label}`;
      button.addEventListener("click", () => choose(place));
      item.append(button);
      return item;
    }));
    list.hidden = results.length === 0;
    status.textContent = !input.value.trim() ? ""
      : results.length ? t("{n} places found: Enter shows the first.", { n: results.length })
        : t("No region, crossing point or section matches “{text}”.", { text: input.value });
  };
  input.addEventListener("input", show);
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape") close();
    if (event.key === "ArrowDown" && !list.hidden) {
      event.preventDefault();
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
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    show();
    if (results.length) choose(results[0]);
  });
}
