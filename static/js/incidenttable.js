// The attribute table of the incidents in view: those the filters select inside the
// map's current extent (the API's page of TABLE_LIMIT, newest first), sortable by each
// column; a row's button zooms to its incident and rings it on the map. Reloaded when
// the view or the filters change, while the table is open.

import { agencyName } from "./agencies.js";
import { getJSON, query } from "./api.js";
import { formatDate, formatNumber, incidentFieldLabel, incidentValue, t } from "./i18n.js";
import { colour } from "./palettes.js";
import { selectionParams } from "./params.js";
import { ZOOM_POINTS } from "./wms.js";
import { app, config, root, setStatus } from "./workspace.js";

const TABLE_LIMIT = 1000;
const COLUMNS = ["external_id", "occurred_at", "category", "outcome", "persons_count",
                 "status", "agency"];

/** The API's URL of the incidents the filters select in the current view. */
export function incidentsInViewURL() {
  const b = app.map.getBounds();
  return `${config.api}/incidents?${query({
    ...selectionParams(), limit: TABLE_LIMIT, sortby: "-occurred_at",
    bbox: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(5)),
  })}`;
}

function compare(a, b) {
  if (a === b) return 0;
  if (a === null || a === undefined) return 1; // blanks last
  if (b === null || b === undefined) return -1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b));
}

/** A cell's text: dates and numbers formatted, codes in words. */
function cellText(name, value) {
  if (value === null || value === undefined || value === "") return "–";
  if (name === "occurred_at") return formatDate(value, true);
  if (typeof value === "number") return formatNumber(value);
  if (name === "agency") return `${agencyName(value)} (${value})`;
  return String(incidentValue(name, value));
}

export function setUpIncidentTable() {
  const toggle = document.getElementById("table-toggle");
  const section = document.getElementById("incident-table-section");
  if (!toggle || !section) return;
  const table = document.getElementById("incident-table");
  const summary = document.getElementById("incident-table-summary");
  const highlight = L.layerGroup().addTo(app.tools);
  let features = [];
  let sort = { column: "occurred_at", descending: true };
  let selected = null; // the id of the incident picked
  let controller = null;

  const headRow = table.createTHead().insertRow();
  const body = table.createTBody();
  const headers = COLUMNS.map((name) => {
    const th = document.createElement("th");
    th.scope = "col";
    th.dataset.column = name;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "sort";
    button.textContent = incidentFieldLabel(name);
    button.addEventListener("click", () => {
      sort = { column: name, descending: sort.column === name ? !sort.descending : false };
      render();
    });
    th.append(button);
    headRow.append(th);
    return th;
  });

  const pick = (feature) => {
    selected = feature.id;
    const [lon, lat] = feature.geometry.coordinates;
    const latlng = L.latLng(lat, lon);
    highlight.clearLayers();
    L.circleMarker(latlng, { pane: "tools", radius: 12, color: colour("highlight"), weight: 4,
                             fill: false, interactive: false }).addTo(highlight);
    app.map.setView(latlng, Math.max(app.map.getZoom(), ZOOM_POINTS));
    for (const row of body.rows) {
      if (row.dataset.id === String(selected)) row.setAttribute("aria-current", "true");
      else row.removeAttribute("aria-current");
    }
  };

  function render() {
    for (const th of headers) {
      th.setAttribute("aria-sort", th.dataset.column !== sort.column ? "none"
        : sort.descending ? "descending" : "ascending");
    }
    const sorted = [...features].sort((a, b) => {
      const order = compare(a.properties[sort.column], b.properties[sort.column]);
      return sort.descending ? -order : order;
    });
    body.replaceChildren(...sorted.map((feature) => {
      const row = document.createElement("tr");
      row.dataset.id = String(feature.id);
      if (feature.id === selected) row.setAttribute("aria-current", "true");
      for (const name of COLUMNS) {
        const cell = row.insertCell();
        const text = cellText(name, feature.properties[name]);
        if (name === "external_id") {
          const button = document.createElement("button");
          button.type = "button";
          button.className = "link-button";
          button.textContent = text;
          button.title = t("Show on the map");
          button.addEventListener("click", () => pick(feature));
          cell.append(button);
        } else {
          cell.textContent = text;
        }
      }
      // the whole row answers a click as its button does
      row.addEventListener("click", (event) => {
        if (!event.target.closest("button")) pick(feature);
      });
      return row;
    }));
  }

  async function load() {
    if (section.hidden) return;
    controller?.abort();
    controller = new AbortController();
    section.dataset.loading = "true";
    try {
      const collection = await getJSON(incidentsInViewURL(), controller.signal);
      features = collection.features;
      const matched = collection.numberMatched ?? features.length;
      summary.textContent = matched > features.length
        ? t("The {shown} newest of the {n} incidents in view (zoom in to see them all).",
            { shown: formatNumber(features.length), n: formatNumber(matched) })
        : t("{n} incidents in view.", { n: formatNumber(features.length) });
      render();
      section.dataset.loading = "false";
    } catch (error) {
      if (error.name !== "AbortError") {
        section.dataset.loading = "false";
        setStatus(t("Could not load a layer: {detail}", { detail: error.message }), true);
      }
    }
  }

  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    section.hidden = !open;
    if (open) load();
    else highlight.clearLayers();
  });
  app.map.on("moveend", load);
  root.addEventListener("refreshed", load);
}
