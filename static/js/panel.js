// The side panel: border sections ranked by CIRAM risk, alerts, and the details of the
// selected section. Everything from the API goes into the DOM as text.

import { explain } from "./api.js";
import { formatChange, formatDate, formatNumber, formatPercent, incidentValue, localName,
         riskFactor, t } from "./i18n.js";
import { colourOf } from "./palettes.js";

const SVG = "http://www.w3.org/2000/svg";
const FACTOR_GROUPS = [["threat", "Threat"], ["vulnerability", "Vulnerability"],
                       ["impact", "Impact"]];

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

/** The model the ranking was scored with (the API's `model`): the formula and the
 *  levels' risk ranges, as risk.yaml sets them. */
export function renderModel(node, model) {
  node.replaceChildren();
  node.hidden = !model;
  if (!model) return;
  const [low, high] = model.component_range;
  node.append(element("span", "formula", t("{formula}, each of T (threat), V (vulnerability) " +
    "and I (impact) scored {low}–{high}", { formula: t(model.formula), low, high })));
  const bands = element("span", "bands");
  bands.append(t("Levels:"));
  // lowest first (the JSON object's keys come sorted by name)
  const ordered = Object.entries(model.bands).sort((a, b) => a[1][0] - b[1][0]);
  for (const [level, [from, to]] of ordered) {
    const band = levelBadge(level);
    band.dataset.level = level;
    band.textContent = t("{level} {from}–{to}", { level: t(level), from, to });
    bands.append(" ", band);
  }
  node.append(" ", bands);
}

/**
 * The incidents of a section per period (the API's `period_counts`: the baseline periods
 * oldest first, then this one) against the range its count model expects (the alert's
 * `expected_range`, a band): an inline SVG.
 */
export function periodChart(section) {
  const counts = section.period_counts || [];
  const [low, high] = section.alert?.expected_range || [0, 0];
  const width = 260;
  const height = 70;
  const top = Math.max(1, high, ...counts);
  const x = (i) => 6 + (i * (width - 12)) / Math.max(1, counts.length - 1);
  const y = (v) => height - 6 - (v / top) * (height - 16);
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "period-chart");
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("role", "img");
  svg.dataset.counts = counts.join(",");
  const title = document.createElementNS(SVG, "title");
  title.textContent = t("Incidents per period: {series}; expected {low}–{high}", {
    series: counts.map((c) => formatNumber(c)).join(", "), low, high });
  svg.append(title);
  svg.setAttribute("aria-label", title.textContent);
  const band = document.createElementNS(SVG, "rect");
  band.setAttribute("class", "expected-band");
  band.setAttribute("x", 0);
  band.setAttribute("width", width);
  band.setAttribute("y", y(high));
  band.setAttribute("height", Math.max(1, y(low) - y(high)));
  band.dataset.low = low;
  band.dataset.high = high;
  const bandTitle = document.createElementNS(SVG, "title");
  bandTitle.textContent = `${t("expected range")}: ${low}–${high}`;
  band.append(bandTitle);
  svg.append(band);
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute("class", "trend-line");
  line.setAttribute("points", counts.map((v, i) => `${x(i)},${y(v)}`).join(" "));
  svg.append(line);
  counts.forEach((v, i) => {
    const dot = document.createElementNS(SVG, "circle");
    dot.setAttribute("cx", x(i));
    dot.setAttribute("cy", y(v));
    dot.setAttribute("r", i === counts.length - 1 ? 3 : 2);
    if (v > high) dot.setAttribute("class", "above");
    svg.append(dot);
  });
  const peak = document.createElementNS(SVG, "text");
  peak.setAttribute("x", 2);
  peak.setAttribute("y", 9);
  peak.textContent = formatNumber(top);
  svg.append(peak);
  return svg;
}

/** The section's incidents of the period by category, most first. */
function categoryBreakdown(section) {
  const list = element("ul", "category-breakdown");
  const entries = Object.entries(section.categories || {}).sort((a, b) => b[1] - a[1]);
  for (const [category, n] of entries) {
    const item = element("li", null, t("{name}: {value}", {
      name: incidentValue("category", category), value: formatNumber(n) }));
    item.dataset.category = category;
    list.append(item);
  }
  return list;
}

/** Each component's factors: translated name, value with its unit, weight, share. */
function factorTables(section, model) {
  const days = model?.reference_days ?? 30;
  const tables = [];
  for (const [key, label] of FACTOR_GROUPS) {
    const table = element("table", "factors");
    table.dataset.component = key;
    table.createCaption().textContent = `${t(label)}: ${section[key]}`;
    const head = table.createTHead().insertRow();
    for (const name of ["factor", "value", "score", "weight", "share"]) {
      head.append(element("th", null, t(name)));
    }
    const body = table.createTBody();
    for (const factor of (section.explanation || {})[key] || []) {
      const shown = riskFactor(factor.factor, factor.value, days);
      const row = body.insertRow();
      row.dataset.factor = factor.factor;
      row.append(element("th", null, shown.name));
      row.insertCell().textContent = shown.value;
      row.insertCell().textContent = String(factor.score);
      row.insertCell().textContent = formatNumber(factor.weight, 2);
      row.insertCell().textContent = formatPercent(factor.share);
    }
    tables.push(table);
  }
  if (model && model.impact_periods > 1) {
    tables.push(element("p", "help", t("Impact is measured over {n} periods: values are " +
      "means per {days} days.", { n: model.impact_periods, days: formatNumber(days) })));
  }
  return tables;
}

/** What a row's "Factors and trend" opens: the factors, the trend against its band, categories. */
function explanation(section, model) {
  const details = element("details", "explain");
  const summary = element("summary", null, t("Factors and trend"));
  summary.setAttribute("aria-label", t("Factors and trend of {code}", { code: section.code }));
  details.append(summary);
  // built when first opened: a region ranks a hundred sections
  details.addEventListener("toggle", () => {
    if (!details.open || details.childElementCount > 1) return;
    details.append(...factorTables(section, model), periodChart(section),
                   element("p", "help", t("By category")), categoryBreakdown(section));
  });
  return details;
}

function historyEntry(entry) {
  const item = element("li", `history-${entry.kind}`);
  const when = formatDate(entry.at, true);
  if (entry.kind === "assessment") {
    item.textContent = `${when} · ${t("assessed")}: ${t("{level} (risk {risk}), {period}", {
      level: t(entry.level), risk: entry.risk,
      period: (entry.period || []).map((d) => formatDate(d)).join(" – ") })} · ${entry.by || ""}`;
  } else {
    const what = entry.level ? `${t("decided")}: ${t(entry.level)}` : t("lifted");
    item.textContent = `${when} · ${what} · ${t("by {who}: {why}", {
      who: entry.by || "", why: entry.justification || "" })}`;
  }
  return item;
}

/** A supervisor's "History" button: loads the section's assessed levels and decisions
 *  (`loadHistory(sectionId)`, a promise of the API's answer) into a list below it. */
function historyButton(section, loadHistory) {
  const wrapper = element("div", "history");
  const button = element("button", "history-button", t("History"));
  button.type = "button";
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-label", t("History of {code}", { code: section.code }));
  const list = element("ol", "history-list");
  list.hidden = true;
  button.addEventListener("click", async () => {
    const open = list.hidden;
    list.hidden = !open;
    button.setAttribute("aria-expanded", String(open));
    if (!open) return;
    list.replaceChildren();
    try {
      const body = await loadHistory(section.section_id);
      const entries = body.history.slice().reverse(); // newest first
      if (entries.length === 0) list.append(element("li", "empty",
        t("No assessments or decisions yet.")));
      list.append(...entries.map(historyEntry));
    } catch (error) {
      list.append(element("li", "error", t("Could not load the history: {detail}",
                                              { detail: explain(error) })));
    }
  });
  wrapper.append(button, list);
  return wrapper;
}

/** The ranked sections; `loadHistory`, given to supervisors, adds a "History" button. */
export function renderRanking(list, ranking, onSelect, loadHistory = null) {
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
    button.append(head, element("span", "name", localName(section)), scores, numbers,
                  trendChart(section));
    button.addEventListener("click", () => onSelect(section.section_id, "panel"));
    item.append(button, explanation(section, ranking.model));
    if (loadHistory) item.append(historyButton(section, loadHistory));
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

export function renderDetails(container, section, model = null) {
  container.replaceChildren();
  container.append(element("p", "details-name", `${section.code} · ${localName(section)}`));
  const levels = element("p", "details-levels");
  levels.append(levelBadge(section.level), document.createTextNode(" "),
    document.createTextNode(t("computed: {level}", { level: t(section.computed_level) })));
  container.append(levels);
  if (section.decision) {
    container.append(element("p", "decision", t("Decision by {who}: {why}", {
      who: section.decision.decided_by || "", why: section.decision.justification || "" })));
  }
  container.append(...factorTables(section, model));
}
