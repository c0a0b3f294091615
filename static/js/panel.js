// The side panel: border sections ranked by CIRAM risk, alerts, and the details of the
// selected section. Everything from the API goes into the DOM as text.

import { formatChange, formatNumber, t } from "./i18n.js";
import { colourOf } from "./palettes.js";

const SVG = "http://www.w3.org/2000/svg";

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

export function levelBadge(level) {
  const badge = element("span", `level level-${level || "none"}`,
                        t(level || "not assessed"));
  badge.style.setProperty("--level-colour", colourOf("risk_levels", level || "none"));
  return badge;
}

/**
 * A small trend chart (inline SVG): incidents in the same period last year, the
 * previous period, this period and the expected count of the next one.
 */
export function trendChart(section) {
  const c = section.comparison || {};
  const points = [
    [t("same period last year"), c.same_period_last_year],
    [t("previous period"), c.previous_period],
    [t("this period"), section.incidents],
    [t("expected next period"), section.expected_next],
  ];
  const width = 72;
  const height = 22;
  const values = points.map(([, v]) => (typeof v === "number" ? v : 0));
  const top = Math.max(1, ...values);
  const x = (i) => 4 + (i * (width - 8)) / (points.length - 1);
  const y = (v) => height - 3 - (v / top) * (height - 6);
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "trend");
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("role", "img");
  const title = document.createElementNS(SVG, "title");
  title.textContent = points.map(([label, v]) => `${label}: ${formatNumber(v, 1)}`).join("; ");
  svg.append(title);
  svg.setAttribute("aria-label", title.textContent);
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute("points", values.slice(0, 3).map((v, i) => `${x(i)},${y(v)}`).join(" "));
  line.setAttribute("class", "trend-line");
  svg.append(line);
  const forecast = document.createElementNS(SVG, "polyline");
  forecast.setAttribute("points", `${x(2)},${y(values[2])} ${x(3)},${y(values[3])}`);
  forecast.setAttribute("class", "trend-forecast");
  svg.append(forecast);
  values.forEach((v, i) => {
    const dot = document.createElementNS(SVG, "circle");
    dot.setAttribute("cx", x(i));
    dot.setAttribute("cy", y(v));
    dot.setAttribute("r", i === 2 ? 2.4 : 1.6);
    svg.append(dot);
  });
  return svg;
}

function changeCell(label, percent) {
  const cell = element("span", "change", `${label} ${formatChange(percent)}`);
  if (percent > 0) cell.classList.add("up");
  if (percent < 0) cell.classList.add("down");
  return cell;
}

export function renderRanking(list, ranking, onSelect) {
  list.replaceChildren();
  for (const section of ranking.sections) {
    const item = element("li");
    const button = element("button", "section-row");
    button.type = "button";
    button.dataset.sectionId = section.section_id;
    button.setAttribute("aria-pressed", "false");
    const head = element("span", "row-head");
    head.append(element("span", "rank", section.rank), element("span", "code", section.code),
                levelBadge(section.level));
    const scores = element("span", "scores",
      `T ${section.threat} · V ${section.vulnerability} · I ${section.impact} · ` +
      `${t("risk")} ${section.risk}`);
    const numbers = element("span", "numbers");
    const c = section.comparison || {};
    numbers.append(
      element("span", "incidents", t("{n} incidents", { n: formatNumber(section.incidents) })),
      // A partial period is not compared with full ones: no "-89 %" for a month begun.
      ...(c.partial ? [element("span", "change partial", t("partial period"))]
        : [changeCell(t("vs previous"), c.change_previous_pct),
           changeCell(t("vs last year"), c.change_last_year_pct)]),
    );
    button.append(head, element("span", "name", section.name), scores, numbers,
                  trendChart(section));
    button.addEventListener("click", () => onSelect(section.section_id, "panel"));
    item.append(button);
    list.append(item);
  }
  // The list is one stop in the tab order (roving tabindex); arrow keys, Home and End
  // move between its rows, Enter or Space shows the focused one.
  const rows = [...list.querySelectorAll(".section-row")];
  rows.forEach((row, i) => { row.tabIndex = i === 0 ? 0 : -1; });
  list.onkeydown = (event) => {
    if (!["ArrowDown", "ArrowUp", "Home", "End"].includes(event.key)) return;
    const index = rows.indexOf(document.activeElement);
    if (index < 0) return;
    event.preventDefault();
    const next = { ArrowDown: index + 1, ArrowUp: index - 1, Home: 0, End: rows.length - 1 };
    const target = rows[Math.max(0, Math.min(rows.length - 1, next[event.key]))];
    rows[index].tabIndex = -1;
    target.tabIndex = 0;
    target.focus();
  };
}

/**
 * Each ranked section's emerging hot-spot category (`trends`: section id -> the
 * properties of /hotspots/emerging?unit=section) as a badge in its row's head.
 */
export function markEmerging(list, trends) {
  for (const row of list.querySelectorAll(".section-row")) {
    row.querySelector(".emerging")?.remove();
    const trend = trends.get(Number(row.dataset.sectionId));
    if (!trend) continue;
    const badge = element("span", "emerging", t(trend.category));
    badge.dataset.category = trend.category;
    badge.style.setProperty("--emerging-colour", colourOf("emerging_categories",
                                                          trend.category));
    row.querySelector(".row-head").append(badge);
  }
}

export function renderSummary(node, ranking) {
  const s = ranking.summary || {};
  const counts = { sections: formatNumber(s.sections), incidents: formatNumber(s.incidents) };
  node.textContent = ranking.period_partial
    ? t("{sections} sections, {incidents} incidents; partial period (not over): not " +
        "compared with full periods", counts)
    : t("{sections} sections, {incidents} incidents; {change} vs previous period, {year} " +
        "vs last year", { ...counts, change: formatChange(s.change_previous_pct),
                          year: formatChange(s.change_last_year_pct) });
  // What the number counts: not the incidents linked to the region (the status line's).
  node.title = t("Incidents within {km} km of a border section, each counted for its " +
                 "nearest section whatever region it lies in, including other agencies' " +
                 "records counted in aggregates; categories, outcome and agency filters " +
                 "do not apply.", { km: formatNumber((ranking.corridor_m ?? 0) / 1000, 1) });
  node.dataset.partial = String(Boolean(ranking.period_partial));
}

export function renderAlerts(list, countNode, sections, onSelect) {
  list.replaceChildren();
  const flagged = sections.filter((s) => s.alert && s.alert.alert);
  countNode.textContent = `(${formatNumber(flagged.length)})`;
  if (flagged.length === 0) {
    list.append(element("li", "empty", t("No section is above its expected count.")));
    return;
  }
  for (const section of flagged) {
    const item = element("li");
    const button = element("button", "alert-row");
    button.type = "button";
    button.dataset.sectionId = section.section_id;
    button.append(
      element("span", "code", section.code),
      element("span", "alert-numbers", t("{observed} observed, {expected} expected (p = {p})", {
        observed: formatNumber(section.alert.observed),
        expected: formatNumber(section.alert.expected, 1),
        p: formatNumber(section.alert.p_value, 4),
      })),
    );
    button.addEventListener("click", () => onSelect(section.section_id, "alert"));
    item.append(button);
    list.append(item);
  }
}

export function markSelected(panel, sectionId) {
  for (const row of panel.querySelectorAll(".section-row, .alert-row")) {
    const selected = Number(row.dataset.sectionId) === sectionId;
    row.classList.toggle("selected", selected);
    if (row.classList.contains("section-row")) {
      row.setAttribute("aria-pressed", String(selected));
    }
  }
}

const FACTOR_GROUPS = [["threat", "Threat"], ["vulnerability", "Vulnerability"],
                       ["impact", "Impact"]];

export function renderDetails(container, section) {
  container.replaceChildren();
  container.append(element("p", "details-name", `${section.code} · ${section.name}`));
  const levels = element("p", "details-levels");
  levels.append(levelBadge(section.level), document.createTextNode(" "),
    document.createTextNode(t("computed: {level}", { level: t(section.computed_level) })));
  container.append(levels);
  if (section.decision) {
    container.append(element("p", "decision", t("Decision by {who}: {why}", {
      who: section.decision.decided_by || "", why: section.decision.justification || "" })));
  }
  for (const [key, label] of FACTOR_GROUPS) {
    const table = element("table", "factors");
    table.createCaption().textContent = `${t(label)}: ${section[key]}`;
    for (const factor of (section.explanation || {})[key] || []) {
      const row = table.insertRow();
      row.append(element("th", null, t(factor.factor)));
      const value = typeof factor.value === "number" ? formatNumber(factor.value, 2)
        : String(factor.value ?? "–");
      row.insertCell().textContent = factor.unit ? `${value} ${factor.unit}` : value;
      row.insertCell().textContent = `${t("score")} ${factor.score}`;
    }
    container.append(table);
  }
}
