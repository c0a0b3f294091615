// The legend of the layers that are on, in the server's colours (palettes.js), with
// every label as text.

import { agencies, agencyName, ringColour } from "./agencies.js";
import { cellLayerOn, cellPeriod } from "./cells.js";
import { formatNumber, formatPercent, incidentValue, t } from "./i18n.js";
import { colour, colourOf, densityRamp } from "./palettes.js";
import { app } from "./workspace.js";

const LEVELS = ["low", "medium", "high", "critical", "none"];
const GI_BINS = [3, 2, 1, -1, -2, -3];
const GI_CONFIDENCE = { 3: 0.99, 2: 0.95, 1: 0.9 };
const LISA_CLUSTERS = ["HH", "HL", "LH", "LL"];

// A legend block is data, { title, period, entries }, each entry { colour, label, shape }
// (shape: box, line, dot, ring, dash), { image, label } (a picture) or { label } (a line
// of text): the legend control shows the blocks as HTML, the print layout
// (printlayout.js) draws them.

const swatch = (fill, label, shape = "box") => ({ colour: fill, label, shape });

/** One ring per agency: those of the agency filter, else every agency. */
function agencyEntries() {
  const chosen = app.state.agencies;
  return agencies().filter((a) => chosen.length === 0 || chosen.includes(a.code))
    .map((a) => ({ ...swatch(ringColour(a.code), `${agencyName(a.code)} (${a.code})`, "ring"),
                   agency: a.code }));
}

/** The WMS's incident symbols (it draws the incidents at small scales), from the
 *  colours it draws with: a dot per category and a box per class of aggregated cells,
 *  after a line of text (an entry without a colour). */
function wmsIncidentEntries() {
  const categories = Object.entries(colour("incident_categories")).map(([code, c]) =>
    swatch(c, incidentValue("category", code), "dot"));
  const cells = colour("incident_cells").map((k) => swatch(k.colour,
    k.to === null ? t("over {n} per cell", { n: formatNumber(k.from - 1) })
      : k.from === k.to ? t("{n} per cell", { n: formatNumber(k.from) })
        : t("{from}–{to} per cell", { from: formatNumber(k.from), to: formatNumber(k.to) })));
  return [{ label: t("incident (aggregated at small scales)") }, ...categories, ...cells];
}

/** The legend of the layers that are on, as blocks of entries (top to bottom). */
export function legendBlocks() {
  const blocks = [];
  const block = (title, entries, period = "") => blocks.push({ title, entries, period });
  const on = (id) => app.state.layers.includes(id);
  if (on("segments")) {
    block(t("Border sections: risk level"), LEVELS.map((level) =>
      swatch(colourOf("risk_levels", level), t(level === "none" ? "not assessed" : level),
             "line")));
  }
  if (on("incidents")) {
    const entries = [swatch(colour("incident"), t("incident (clickable when zoomed in)"), "dot")];
    if (app.wms) entries.push(...wmsIncidentEntries());
    block(t("Incidents"), entries);
    block(t("Originating agency (ring)"), agencyEntries());
  }
  if (on("crossings")) {
    block(t("Crossing points"), [swatch(colour("crossing_point"), t("crossing point"), "dot")]);
  }
  if (cellLayerOn("hotspots")) {
    const entries = app.state.method === "lisa"
      ? LISA_CLUSTERS.map((k) => swatch(colourOf("lisa_clusters", k), t(`LISA ${k}`)))
      : GI_BINS.map((bin) => swatch(colourOf("hotspot_bins", bin),
          t(bin > 0 ? "hot spot, confidence {p}" : "cold spot, confidence {p}",
            { p: formatPercent(GI_CONFIDENCE[Math.abs(bin)]) })));
    block(t("Hot spots"), entries, cellPeriod("hotspots"));
  }
  if (cellLayerOn("density") && app.densityBreaks) {
    block(t("Density (KDE), incidents per km²"), densityRamp().map(
      (c, i) => swatch(c, `≥ ${formatNumber(app.densityBreaks[i], 3)}`)),
      cellPeriod("density"));
  }
  if (cellLayerOn("emerging") && app.emergingPresent) {
    block(t("Emerging hot spots"), app.emergingPresent.map(
      (category) => swatch(colourOf("emerging_categories", category), t(category))),
      cellPeriod("emerging"));
  }
  if (on("emergingSections") && app.sectionTrends.size) {
    const present = [...new Set([...app.sectionTrends.values()].map((p) => p.category))].sort();
    block(t("Border sections: emerging hot spots"), present.map((category) =>
      swatch(colourOf("emerging_categories", category), t(category), "line")));
  }
  if (on("alerts")) {
    block(t("Alerts"), [swatch(colour("alert"), t("section above its expected count"), "dash")]);
  }
  return blocks;
}

function legendItem(entry) {
  const item = document.createElement("li");
  if (entry.image) {
    const image = document.createElement("img");
    image.src = entry.image;
    image.alt = entry.label;
    item.append(image);
    return item;
  }
  if (!entry.colour) {
    item.textContent = entry.label;
    return item;
  }
  const box = document.createElement("span");
  box.className = `swatch swatch-${entry.shape}`;
  box.style.setProperty("--swatch", entry.colour);
  item.append(box, document.createTextNode(entry.label));
  if (entry.agency) item.dataset.agency = entry.agency;
  return item;
}

function legendSection({ title, entries, period }) {
  const section = document.createElement("section");
  const heading = document.createElement("h3");
  heading.textContent = title;
  const list = document.createElement("ul");
  list.append(...entries.map(legendItem));
  section.append(heading);
  if (period) { // what a cell layer covers (cells.js): emerging hot spots span a year
    const note = document.createElement("p");
    note.className = "legend-period";
    note.textContent = period;
    section.append(note);
  }
  section.append(list);
  return section;
}

export function renderLegend() {
  const box = app.legendBox;
  if (!box) return;
  box.replaceChildren(...legendBlocks().map(legendSection));
}

export function addLegendControl() {
  const Legend = L.Control.extend({
    options: { position: "bottomright" },
    onAdd() {
      const container = L.DomUtil.create("div", "legend leaflet-bar");
      container.setAttribute("aria-label", t("Legend"));
      // The toggle inside a heading (a disclosure's usual pattern): the blocks' h3
      // headings follow an h2, in the page's outline.
      const title = L.DomUtil.create("h2", "legend-title", container);
      const toggle = L.DomUtil.create("button", "legend-toggle", title);
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
