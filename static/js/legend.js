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

function legendSwatch(swatchColour, label, shape = "box") {
  const item = document.createElement("li");
  const swatch = document.createElement("span");
  swatch.className = `swatch swatch-${shape}`;
  swatch.style.setProperty("--swatch", swatchColour);
  item.append(swatch, document.createTextNode(label));
  return item;
}

function legendBlock(title, entries, period = "") {
  const block = document.createElement("section");
  const heading = document.createElement("h3");
  heading.textContent = title;
  const list = document.createElement("ul");
  list.append(...entries);
  block.append(heading);
  if (period) { // what a cell layer covers (cells.js): emerging hot spots span a year
    const note = document.createElement("p");
    note.className = "legend-period";
    note.textContent = period;
    block.append(note);
  }
  block.append(list);
  return block;
}

/** One ring per agency: those of the agency filter, else every agency. */
function agencyEntries() {
  const chosen = app.state.agencies;
  return agencies().filter((a) => chosen.length === 0 || chosen.includes(a.code))
    .map((a) => {
      const item = legendSwatch(ringColour(a.code), `${agencyName(a.code)} (${a.code})`,
                                "ring");
      item.dataset.agency = a.code;
      return item;
    });
}

/** The WMS's incident symbols (it draws the incidents at small scales), from the
 *  colours it draws with: a dot per category and a box per class of aggregated cells. */
function wmsIncidentEntries() {
  const note = document.createElement("li");
  note.textContent = t("incident (aggregated at small scales)");
  const categories = Object.entries(colour("incident_categories")).map(([code, c]) =>
    legendSwatch(c, incidentValue("category", code), "dot"));
  const cells = colour("incident_cells").map((k) => legendSwatch(k.colour,
    k.to === null ? t("over {n} per cell", { n: formatNumber(k.from - 1) })
      : k.from === k.to ? t("{n} per cell", { n: formatNumber(k.from) })
        : t("{from}–{to} per cell", { from: formatNumber(k.from), to: formatNumber(k.to) })));
  return [note, ...categories, ...cells];
}

export function renderLegend() {
  const box = app.legendBox;
  if (!box) return;
  box.replaceChildren();
  const on = (id) => app.state.layers.includes(id);
  if (on("segments")) {
    box.append(legendBlock(t("Border sections: risk level"), LEVELS.map((level) =>
      legendSwatch(colourOf("risk_levels", level),
                   t(level === "none" ? "not assessed" : level), "line"))));
  }
  if (on("incidents")) {
    const entries = [legendSwatch(colour("incident"), t("incident (clickable when zoomed in)"),
                                  "dot")];
    if (app.wms) entries.push(...wmsIncidentEntries());
    box.append(legendBlock(t("Incidents"), entries));
    box.append(legendBlock(t("Originating agency (ring)"), agencyEntries()));
  }
  if (on("crossings")) {
    box.append(legendBlock(t("Crossing points"), [legendSwatch(colour("crossing_point"),
      t("crossing point"), "dot")]));
  }
  if (cellLayerOn("hotspots")) {
    const entries = app.state.method === "lisa"
      ? LISA_CLUSTERS.map((k) => legendSwatch(colourOf("lisa_clusters", k), t(`LISA ${k}`)))
      : GI_BINS.map((bin) => legendSwatch(colourOf("hotspot_bins", bin),
          t(bin > 0 ? "hot spot, confidence {p}" : "cold spot, confidence {p}",
            { p: formatPercent(GI_CONFIDENCE[Math.abs(bin)]) })));
    box.append(legendBlock(t("Hot spots"), entries, cellPeriod("hotspots")));
  }
  if (cellLayerOn("density") && app.densityBreaks) {
    box.append(legendBlock(t("Density (KDE), incidents per km²"), densityRamp().map(
      (c, i) => legendSwatch(c, `≥ ${formatNumber(app.densityBreaks[i], 3)}`)),
      cellPeriod("density")));
  }
  if (cellLayerOn("emerging") && app.emergingPresent) {
    box.append(legendBlock(t("Emerging hot spots"), app.emergingPresent.map(
      (category) => legendSwatch(colourOf("emerging_categories", category), t(category))),
      cellPeriod("emerging")));
  }
  if (on("emergingSections") && app.sectionTrends.size) {
    const present = [...new Set([...app.sectionTrends.values()].map((p) => p.category))].sort();
    box.append(legendBlock(t("Border sections: emerging hot spots"), present.map(
      (category) => legendSwatch(colourOf("emerging_categories", category), t(category),
                                 "line"))));
  }
  if (on("alerts")) {
    box.append(legendBlock(t("Alerts"), [legendSwatch(colour("alert"),
      t("section above its expected count"), "dash")]));
  }
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
