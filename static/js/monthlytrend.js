// A border section's trend by calendar month, in its details: the incidents of each
// month (the last 24 complete ones and the current, partial one) against the band the
// ranking's alert model expects (/risk/segments/<id>/months, geo/risk/monthly.py), and
// the same incidents by category. Everything from the API goes into the DOM as text.

import { explain, getJSON } from "./api.js";
import { formatMonth, formatNumber, formatPercent, incidentValue, t } from "./i18n.js";
import { config } from "./workspace.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 300;
const HEIGHT = 96;
const LEFT = 18; // room for the peak's label
const BOTTOM = 14; // room for the first and last months' names

let controller = null; // the request of the section shown last

function svgNode(tag, attributes = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

function htmlNode(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

/** A month's name in the page's language ("June 2025"), from its first day. */
function monthName(entry) {
  return formatMonth(new Date(entry.start));
}

/** One month as a sentence: its name, count and band (the partial one says so). */
function monthSentence(entry) {
  const [low, high] = entry.expected_range;
  return t(entry.partial ? "{month} (partial, so far): {n}, expected {low}–{high}"
    : "{month}: {n}, expected {low}–{high}",
  { month: monthName(entry), n: formatNumber(entry.incidents), low: formatNumber(low),
    high: formatNumber(high) });
}

/** What the band is, for the tooltip and the note under the chart. */
function bandNote(body) {
  return t("The band: the counts the ranking's alert model expects in each month from " +
           "the {k} months before it (above it, the ranking alerts). The current month " +
           "is partial.", { k: formatNumber(body.band.baseline_months) });
}

/**
 * The incidents per calendar month (`body`: the API's answer) against each month's
 * expected band, as an inline SVG: a shaded band per month, the counts as a line with a
 * dot each (red above the band, hollow for the partial month).
 */
export function monthlyChart(body) {
  const months = body.months;
  const counts = months.map((m) => m.incidents);
  const top = Math.max(1, ...counts, ...months.map((m) => m.expected_range[1]));
  const step = (WIDTH - LEFT - 4) / Math.max(1, months.length);
  const x = (i) => LEFT + step * (i + 0.5);
  const y = (v) => HEIGHT - BOTTOM - (v / top) * (HEIGHT - BOTTOM - 8);
  const svg = svgNode("svg", { class: "monthly-chart", width: WIDTH, height: HEIGHT,
                               viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img" });
  svg.dataset.months = months.map((m) => m.month).join(",");
  svg.dataset.counts = counts.join(",");
  svg.dataset.low = months.map((m) => m.expected_range[0]).join(",");
  svg.dataset.high = months.map((m) => m.expected_range[1]).join(",");
  const label = t("Incidents per calendar month, with the expected range: {series}",
                  { series: months.map(monthSentence).join("; ") });
  svg.setAttribute("aria-label", label);
  const title = svgNode("title");
  title.textContent = `${label}. ${bandNote(body)}`;
  svg.append(title);
  months.forEach((entry, i) => {
    const [low, high] = entry.expected_range;
    const band = svgNode("rect", { class: "expected-band", x: x(i) - step / 2, width: step,
                                   y: y(high), height: Math.max(1, y(low) - y(high)) });
    const bandTitle = svgNode("title");
    bandTitle.textContent = monthSentence(entry);
    band.append(bandTitle);
    svg.append(band);
  });
  svg.append(svgNode("polyline", { class: "trend-line",
    points: counts.map((v, i) => `${x(i)},${y(v)}`).join(" ") }));
  months.forEach((entry, i) => {
    const classes = [entry.incidents > entry.expected_range[1] ? "above" : "",
                     entry.partial ? "partial" : ""].filter(Boolean).join(" ");
    const dot = svgNode("circle", { cx: x(i), cy: y(entry.incidents), r: 2.2 });
    if (classes) dot.setAttribute("class", classes);
    const dotTitle = svgNode("title");
    dotTitle.textContent = monthSentence(entry);
    dot.append(dotTitle);
    svg.append(dot);
  });
  const peak = svgNode("text", { x: 2, y: 10 });
  peak.textContent = formatNumber(top);
  const first = svgNode("text", { x: LEFT, y: HEIGHT - 3 });
  first.textContent = monthName(months[0]);
  const last = svgNode("text", { x: WIDTH - 2, y: HEIGHT - 3, "text-anchor": "end" });
  last.textContent = monthName(months[months.length - 1]);
  svg.append(peak, first, last);
  return svg;
}

/** The months' incidents by category (the API's `categories`), most first: a table. */
export function monthlyCategories(body) {
  const table = htmlNode("table", "monthly-categories");
  const months = body.months;
  table.createCaption().textContent = t("By category, {from} – {to}", {
    from: monthName(months[0]), to: monthName(months[months.length - 1]) });
  const head = table.createTHead().insertRow();
  for (const name of ["Category", "Incidents", "share"]) head.append(htmlNode("th", null, t(name)));
  const total = Object.values(body.categories).reduce((a, b) => a + b, 0);
  const tbody = table.createTBody();
  const entries = Object.entries(body.categories).sort((a, b) => b[1] - a[1]);
  for (const [category, n] of entries) {
    const row = tbody.insertRow();
    row.dataset.category = category;
    row.append(htmlNode("th", null, incidentValue("category", category)));
    row.insertCell().textContent = formatNumber(n);
    row.insertCell().textContent = formatPercent(n / total);
  }
  if (entries.length === 0) {
    tbody.insertRow().append(htmlNode("td", "empty", t("No incidents in these months.")));
  }
  return table;
}

/** Loads the section's monthly trend into a figure appended to `container`; a newer
 *  section's request aborts an older one still running. */
export async function showMonthlyTrend(container, sectionId) {
  controller?.abort();
  const mine = new AbortController();
  controller = mine;
  const figure = htmlNode("figure", "monthly-trend");
  figure.dataset.state = "loading";
  const caption = htmlNode("figcaption", null, t("Incidents per calendar month"));
  figure.append(caption, htmlNode("p", "help", t("Loading…")));
  container.append(figure);
  try {
    const body = await getJSON(`${config.api}/risk/segments/${sectionId}/months`, mine.signal);
    figure.replaceChildren(caption, monthlyChart(body),
                           htmlNode("p", "help band-note", bandNote(body)),
                           monthlyCategories(body));
    figure.dataset.state = "ready";
  } catch (error) {
    if (mine.signal.aborted) return;
    figure.replaceChildren(caption, htmlNode("p", "error", t(
      "Could not load the monthly trend: {detail}", { detail: explain(error) })));
    figure.dataset.state = "error";
  }
}
