// What a click on a feature shows: its properties as a table, as text only.

import { agencyName, releasabilityText } from "./agencies.js";
import { formatDate, formatNumber, localName, t } from "./i18n.js";
import { app } from "./workspace.js";

export function propertiesTable(properties) {
  const table = document.createElement("table");
  table.className = "feature-props";
  for (const [key, value] of Object.entries(properties)) {
    if (value === null || value === undefined || value === "" || typeof value === "object") {
      continue;
    }
    const row = table.insertRow();
    const name = document.createElement("th");
    name.textContent = t(key);
    row.append(name);
    let text = String(value);
    if (typeof value === "number") text = formatNumber(value, 2);
    else if (/_at$/.test(key)) text = formatDate(value, true);
    row.insertCell().textContent = text;
  }
  return table;
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
  return propertiesTable({
    agency: agency ? `${agencyName(agency)} (${agency})` : null,
    reporting_unit: unit ? regionLabel(unit) : null,
    releasability: releasabilityText(releasability),
    aggregate: typeof aggregate === "boolean" ? t(aggregate ? "yes" : "no") : null,
    ...rest,
  });
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
  box.append(propertiesTable(properties));
  return box;
}
