// What a click on a feature shows: its properties as a table, as text only.

import { formatDate, formatNumber, t } from "./i18n.js";
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

/** A border section's properties with its risk from the last ranking. */
export function sectionPopup(feature) {
  const box = document.createElement("div");
  const section = app.sections.get(feature.id);
  const properties = { ...feature.properties };
  if (section) {
    Object.assign(properties, { level: t(section.level), risk: section.risk,
      threat: section.threat, vulnerability: section.vulnerability, impact: section.impact,
      incidents: section.incidents });
  }
  box.append(propertiesTable(properties));
  return box;
}
