// The URL of the page and the links that carry its state: the language links, the
// export and the bulletin (the map as a PNG is printlayout.js's).

import { query } from "./api.js";
import { selectionParams } from "./params.js";
import { datetimeInterval, stateURL } from "./state.js";
import { app, config } from "./workspace.js";

export function writeURL() {
  const url = stateURL(app.state, window.location);
  window.history.replaceState(null, "", url);
  // The language links keep the whole state.
  for (const link of document.querySelectorAll(".languages a[data-lang]")) {
    const target = new URL(url, window.location.href);
    target.searchParams.set("lang", link.dataset.lang);
    link.href = target.pathname + target.search + target.hash;
  }
  updateActionLinks();
}

export function updateActionLinks() {
  const s = app.state;
  if (!s || !app.map) return;
  const format = document.getElementById("export-format").value;
  document.getElementById("export-link").href = `${config.api}/incidents?${query({
    // CSV and GeoPackage without a limit hold the whole selection; GeoJSON is the
    // API's page (largest 10,000), which names numberMatched and links the next page.
    ...selectionParams(), f: format, ...(format === "geojson" ? { limit: 10000 } : {}) })}`;
  document.getElementById("export-link").download = `incidents.${format}`;
  // The ranking as the panel shows it, named for its region and period (as the API does).
  const name = `ranking-${s.region || "all"}-${s.from.replaceAll("-", "")}-` +
    `${s.to.replaceAll("-", "")}`;
  for (const format of ["csv", "geojson"]) {
    const link = document.getElementById(`ranking-${format}`);
    link.href = `${config.api}/risk/segments?${query({
      region: s.region, datetime: datetimeInterval(s), f: format })}`;
    link.download = `${name}.${format}`;
  }
  // (a region without border sections has none: loading.js turns the link off)
  const bulletin = document.getElementById("bulletin-link");
  if (bulletin && bulletin.getAttribute("aria-disabled") !== "true") bulletin.href = `${config.api}/reports/bulletin?${query({
    region: s.region, datetime: datetimeInterval(s), f: "html" })}`;
}
