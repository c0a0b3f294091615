// The page's strings in the user's language (loaded from /ui/i18n.json, English keys),
// and numbers and dates formatted for that language with Intl. Where the browser has no
// Intl data for the language (Chromium builds without Georgian), the CLDR symbols and
// month names sent with the catalogue are used instead.

let catalogue = {};
let incidentLabels = { fields: {}, values: {} };
let riskFactorLabels = {};
let featureLabels = { values: {} };
let locale = "en";
let formats = null;
let native = true;

export async function loadCatalogue(url, fallbackLocale) {
  locale = fallbackLocale || "en";
  const response = await fetch(url, { credentials: "same-origin" });
  if (response.ok) {
    const body = await response.json();
    catalogue = body.messages || {};
    locale = body.locale || locale;
    formats = body.formats || null;
    incidentLabels = body.incident_labels || incidentLabels;
    riskFactorLabels = body.risk_factor_labels || riskFactorLabels;
    featureLabels = body.feature_labels || featureLabels;
  }
  native = Intl.NumberFormat.supportedLocalesOf([locale]).length > 0 || !formats;
}

/** The translation of `text`, with {name} placeholders filled from `values`. */
export function t(text, values = {}) {
  const template = catalogue[text] || text;
  return template.replace(/\{(\w+)\}/g, (match, name) =>
    name in values ? String(values[name]) : match);
}

/** What an incident's field `name` is called in the page's language (the server's
 *  labels). */
export function incidentFieldLabel(name) {
  return incidentLabels.fields[name] || t(name);
}

/** What an incident's coded `value` of field `name` reads as in the page's language, or
 *  `value` itself when the field has no codes. */
export function incidentValue(name, value) {
  return incidentLabels.values[name]?.[String(value)] ?? value;
}

/** What a region's, section's or crossing point's coded `value` of field `name` reads
 *  as in the page's language, or `value` itself when the field has no codes. */
export function featureValue(name, value) {
  return featureLabels.values[name]?.[String(value)] ?? value;
}

/** How the risk factor `name` reads (the server's table, app/ui/messages.py): its name,
 *  and its value with its unit; `days` is the model's reference period. */
export function riskFactor(name, value, days) {
  const label = riskFactorLabels[name];
  if (!label) return { name, value: value === null || value === undefined ? "–" : String(value) };
  let shown;
  if (value === null || value === undefined) shown = "–";
  else if (typeof value === "number") shown = formatNumber(value * label.scale, label.digits);
  else shown = label.values[String(value)] ?? String(value);
  return { name: label.name,
           value: label.unit.replace("{value}", shown).replace("{days}", formatNumber(days)) };
}

export function currentLocale() {
  return locale;
}

/** The name of a region, an agency, a border section or a crossing point in the page's
 *  language (`name_ka` in Georgian, else `name_en` or `name`), or its code when it has
 *  no name. */
export function localName(properties) {
  return (locale === "ka" ? properties.name_ka : properties.name_en) ||
    properties.name_en || properties.name || properties.code;
}

function numberFormat(options) {
  if (native) return new Intl.NumberFormat(locale, options);
  const english = new Intl.NumberFormat("en", options);
  return { format: (value) => english.format(value).replace(/[,.]/g,
    (c) => (c === "," ? formats.group : formats.decimal)) };
}

export function formatNumber(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return numberFormat({ maximumFractionDigits: digits, minimumFractionDigits: 0 })
    .format(value);
}

/** A signed percentage change ("+12 %"), or "–" when there is no base. */
export function formatChange(percent) {
  if (percent === null || percent === undefined) return "–";
  return numberFormat({ style: "percent", signDisplay: "exceptZero",
                        maximumFractionDigits: 0 }).format(percent / 100);
}

export function formatPercent(share) {
  return numberFormat({ style: "percent" }).format(share);
}

export function formatDate(value, withTime = false) {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  if (!native) {
    const day = `${date.getUTCDate()} ${formats.months[date.getUTCMonth()]} ` +
      `${date.getUTCFullYear()}`;
    return withTime ? `${day}, ${date.toISOString().slice(11, 16)} UTC` : day;
  }
  const options = withTime
    ? { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" }
    : { dateStyle: "medium", timeZone: "UTC" };
  return new Intl.DateTimeFormat(locale, options).format(date);
}

export function formatMonth(date) {
  if (!native) {
    return `${formats.standalone_months[date.getUTCMonth()]} ${date.getUTCFullYear()}`;
  }
  return new Intl.DateTimeFormat(locale, { year: "numeric", month: "long", timeZone: "UTC" })
    .format(date);
}
