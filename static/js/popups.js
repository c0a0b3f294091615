// What a click on a feature shows: its properties as a table, as text only.

import { agencyName, releasabilityText } from "./agencies.js";
import {
  featureValue, formatDate, formatNumber, formatPercent, incidentFieldLabel, incidentValue,
  localName, t,
} from "./i18n.js";
import { app } from "./workspace.js";

/** `properties` as a table of name and value; `label` names a field (default: its
 *  catalogue translation). */
export function propertiesTable(properties, label = t) {
  const table = document.createElement("table");
  table.className = "feature-props";
  for (const [key, value] of Object.entries(properties)) {
    if (value === null || value === undefined || value === "" || typeof value === "object") {
      continue;
    }
    const row = table.insertRow();
    const name = document.createElement("th");
    name.textContent = label(key);
    row.append(name);
    let text = String(value);
    if (typeof value === "number") text = formatNumber(value, 2);
    else if (/_at$/.test(key)) text = formatDate(value, true);
    row.insertCell().textContent = text;
  }
  return table;
}

/** A region's, section's or crossing point's properties: its name in the page's
 *  language (not both names), coded values in words. */
export function featureTable(properties) {
  const { name_en: english, name_ka: georgian, name, ...rest } = properties;
  const shown = { name: localName(properties), ...rest };
  return propertiesTable(Object.fromEntries(Object.entries(shown).map(([key, value]) =>
    [key, key === "name" ? value : featureValue(key, value)])));
}

/** The name of the region `code` in the page's language (its code if not on the map). */
function regionLabel(code) {
  const layer = app.regionsByCode.get(code);
  return layer ? `${localName(layer.feature.properties)} (${code})` : code;
}

/** An incident's properties, first who reported it and to whom it is released: its
 *  agency, reporting unit, releasability and whether it counts in aggregates. */
export function incidentTable(properties) {
  const { agency, reporting_unit: unit, releasability, aggregate, ...rest } = properties;
  // coded values (category, outcome, ...) in words; the others as they are
  const coded = Object.fromEntries(Object.entries(rest).map(([key, value]) =>
    [key, incidentValue(key, value)]));
  return propertiesTable({
    agency: agency ? `${agencyName(agency)} (${agency})` : null,
    reporting_unit: unit ? regionLabel(unit) : null,
    releasability: releasabilityText(releasability),
    aggregate: typeof aggregate === "boolean" ? t(aggregate ? "yes" : "no") : null,
    ...coded,
  }, incidentFieldLabel);
}

/** A border section's properties with its risk from the last ranking and its
 *  emerging hot-spot category and count trend. */
export function sectionPopup(feature) {
  const box = document.createElement("div");
  const section = app.sections.get(feature.id);
  const trend = app.sectionTrends.get(feature.id);
  const properties = { ...feature.properties };
  if (section) {
    Object.assign(properties, { level: t(section.level), risk: section.risk,
      threat: section.threat, vulnerability: section.vulnerability, impact: section.impact,
      incidents: section.incidents });
  }
  if (trend) {
    Object.assign(properties, { category: t(trend.category),
      count_trend_tau: trend.count_trend_tau, count_trend_p: trend.count_trend_p });
  }
  box.append(featureTable(properties));
  return box;
}

// Gi* bins' confidence (geo.hotspots.spatial_stats: 99/95/90 %).
const BIN_CONFIDENCE = { 3: 0.99, 2: 0.95, 1: 0.9 };
// What each emerging pattern means, in one sentence ("hot" wording; cold mirrors it).
const EMERGING_SENTENCES = {
  new: "Significant in the last month for the first time in the window.",
  consecutive: "Significant in an unbroken run of recent months, ending in the last, " +
    "and not before.",
  intensifying: "Significant in at least nine months in ten, including the last, and " +
    "growing stronger.",
  persistent: "Significant in at least nine months in ten, including the last, with no " +
    "clear trend.",
  diminishing: "Significant in at least nine months in ten, including the last, and " +
    "weakening.",
  sporadic: "Significant on and off, including the last month, never the opposite.",
  oscillating: "Significant in the last month, but the opposite in an earlier one.",
  historical: "Significant in at least nine months in ten, but not in the last.",
};

/** A two-sided p value as a person reads it: "p < 0.001" or "p = 0.012". */
export function formatP(p) {
  if (p === null || p === undefined || Number.isNaN(p)) return "p –";
  return p < 0.001 ? `p < ${formatNumber(0.001, 3)}` : `p = ${formatNumber(p, 3)}`;
}

function paragraph(text, className) {
  const element = document.createElement("p");
  element.textContent = text;
  if (className) element.className = className;
  return element;
}

/** A cell's counts per step as a small line chart (inline SVG), its last step marked. */
export function seriesChart(series, label) {
  const width = 200;
  const height = 48;
  const top = Math.max(1, ...series);
  const x = (k) => (series.length > 1 ? (k * (width - 8)) / (series.length - 1) : 0) + 4;
  const y = (v) => height - 4 - (v * (height - 8)) / top;
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("class", "cell-series");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("width", String(width));
  svg.setAttribute("height", String(height));
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  const line = document.createElementNS(svg.namespaceURI, "polyline");
  line.setAttribute("points", series.map((v, k) => `${x(k)},${y(v)}`).join(" "));
  const last = document.createElementNS(svg.namespaceURI, "circle");
  last.setAttribute("cx", String(x(series.length - 1)));
  last.setAttribute("cy", String(y(series[series.length - 1])));
  last.setAttribute("r", "2.5");
  svg.append(line, last);
  return svg;
}

/** The how of a cell map: method, cells, band and period, one line each. */
function methodLines(kind, metadata, period) {
  const lines = [];
  const method = { gistar: t("Getis-Ord Gi*"), lisa: t("Local Moran (LISA)"),
                   kde: t("kernel density (quartic)"),
                   emerging: t("emerging hot-spot analysis (Gi* per month, Mann-Kendall trend)"),
  }[metadata.method] || metadata.method;
  lines.push(t("Method: {method}", { method: metadata.fdr && kind === "hotspots"
    ? t("{method}, false discovery rate corrected", { method }) : method }));
  lines.push(t("Cells: hexagons of {m} m", { m: formatNumber(metadata.cell_size_m) }));
  if (metadata.distance_band_m) {
    lines.push(t("Neighbourhood: cells within {m} m", {
      m: formatNumber(metadata.distance_band_m) }));
  } else if (metadata.bandwidth_m) {
    lines.push(t("Bandwidth: {m} m", { m: formatNumber(metadata.bandwidth_m) }));
  }
  lines.push(t("Period: {period}", { period }));
  return lines;
}

/** "Why is this cell hot?": a cell of the hot-spot, density or emerging layer in words,
 *  with the `metadata` of its map and the `period` it covers (as text). */
export function cellPopup(kind, properties, metadata, period) {
  const box = document.createElement("div");
  box.className = "cell-popup";
  const heading = document.createElement("h3");
  const p = properties;
  const count = formatNumber(p.count);
  if (kind === "hotspots" && p.bin !== undefined && p.bin !== null) {
    heading.textContent = t(p.bin > 0 ? "Hot spot, {p} confidence" : "Cold spot, {p} confidence",
                            { p: formatPercent(BIN_CONFIDENCE[Math.abs(p.bin)]) });
  } else if (kind === "hotspots") {
    heading.textContent = t(`LISA ${p.cluster}`);
  } else if (kind === "density") {
    heading.textContent = t("{d} incidents per km²", { d: formatNumber(p.density, 3) });
  } else {
    heading.textContent = t(p.category);
  }
  box.append(heading);
  if (kind === "hotspots" && p.neighbourhood_count !== undefined && metadata?.cells) {
    box.append(paragraph(t("{count} incidents in this cell; {total} in it and its " +
      "neighbours ({cells} cells): {mean} per cell, against {overall} per cell over the " +
      "study area.", { count, total: formatNumber(p.neighbourhood_count),
      cells: formatNumber(p.neighbourhood_cells),
      mean: formatNumber(p.neighbourhood_count / p.neighbourhood_cells, 2),
      overall: formatNumber(metadata.incidents / metadata.cells, 2) })));
  } else {
    box.append(paragraph(t("{count} incidents in this cell.", { count })));
  }
  if (kind === "emerging" && p.category) {
    const [pattern, ...rest] = p.category.split(" ");
    if (EMERGING_SENTENCES[pattern]) {
      box.append(paragraph(t(rest.join(" ") === "cold spot"
        ? "As a cold spot (fewer incidents than around): {sentence}"
        : "As a hot spot (more incidents than around): {sentence}",
      { sentence: t(EMERGING_SENTENCES[pattern]) })));
    }
    if (Array.isArray(p.count_series) && p.count_series.length) {
      const label = t("Incidents per month: {series}",
                      { series: p.count_series.map((v) => formatNumber(v)).join(", ") });
      box.append(seriesChart(p.count_series, label), paragraph(label, "cell-series-label"));
    }
  }
  if (p.z !== undefined && p.z !== null) {
    box.append(paragraph(`z = ${formatNumber(p.z, 2)}, ${formatP(p.p)}`));
  }
  if (metadata) {
    for (const line of methodLines(kind, metadata, period)) box.append(paragraph(line));
  }
  return box;
}
