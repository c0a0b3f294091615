// The first map: regions, border sections, crossing points and the last 90 days of
// incidents, read from the GeoJSON API. User text goes into the DOM as text only.

const DAYS = 90;
const SEGMENT_COLOURS = { land: "#b2182b", river: "#2166ac", sea: "#1b7837" };
const PROVENANCE_LABELS = {
  generalised: "generalised (Natural Earth 1:10m)",
  approximate: "approximate",
  synthetic: "synthetic",
};

function propertiesTable(properties) {
  const table = document.createElement("table");
  table.className = "feature-props";
  for (const [key, value] of Object.entries(properties)) {
    if (value === null || value === undefined || value === "") continue;
    const row = table.insertRow();
    const name = document.createElement("th");
    name.textContent = key;
    const cell = row.insertCell();
    cell.textContent = String(value);
    row.prepend(name);
  }
  return table;
}

async function fetchLayer(url, query) {
  const response = await fetch(`${url}?${query}`, {
    headers: { Accept: "application/geo+json" },
    credentials: "same-origin",
  });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

function showNotice(collections) {
  const kinds = new Set();
  for (const fc of collections) {
    for (const f of fc.features) {
      if (f.properties.provenance && f.properties.provenance !== "reported") {
        kinds.add(PROVENANCE_LABELS[f.properties.provenance] || f.properties.provenance);
      }
    }
  }
  if (kinds.size === 0) return;
  const notice = document.getElementById("data-notice");
  notice.textContent =
    "Demonstration data: not real records. Contains " + [...kinds].join(", ") +
    " data (see the README for sources).";
  notice.hidden = false;
}

async function main() {
  const element = document.getElementById("map");
  const urls = element.dataset;
  const map = L.map(element, { preferCanvas: true }).setView([42.2, 43.5], 7);
  map.attributionControl.addAttribution("Border: Natural Earth (public domain)");
  const status = document.getElementById("map-status");
  const since = new Date(Date.now() - DAYS * 86400 * 1000).toISOString();

  try {
    const [regions, segments, crossings, incidents] = await Promise.all([
      fetchLayer(urls.regions, "limit=10000"),
      fetchLayer(urls.segments, "limit=10000"),
      fetchLayer(urls.crossings, "limit=10000"),
      fetchLayer(urls.incidents, `limit=10000&datetime=${encodeURIComponent(since)}/..`),
    ]);
    const bind = (layer) =>
      layer.bindPopup((l) => propertiesTable(l.feature.properties), { maxWidth: 360 });

    // Drawn in this order: crossing points stay visible above dense incidents.
    const layers = {
      Regions: bind(L.geoJSON(regions, {
        style: { color: "#555", weight: 1, fillColor: "#f2efe9", fillOpacity: 0.6 },
      })),
      "Border sections": bind(L.geoJSON(segments, {
        style: (f) => ({ color: SEGMENT_COLOURS[f.properties.kind] || "#000", weight: 3 }),
      })),
      [`Incidents (last ${DAYS} days)`]: bind(L.geoJSON(incidents, {
        pointToLayer: (f, latlng) => L.circleMarker(latlng, {
          radius: 3, stroke: false, fillColor: "#762a83", fillOpacity: 0.6,
        }),
      })),
      "Crossing points": bind(L.geoJSON(crossings, {
        pointToLayer: (f, latlng) => L.circleMarker(latlng, {
          radius: 6, color: "#000", weight: 1, fillColor: "#ffd92f", fillOpacity: 1,
        }),
      })),
    };
    for (const layer of Object.values(layers)) layer.addTo(map);
    L.control.layers(null, layers, { collapsed: false }).addTo(map);
    const bounds = layers.Regions.getBounds();
    if (bounds.isValid()) map.fitBounds(bounds);
    showNotice([regions, segments, crossings, incidents]);
    status.textContent =
      `${regions.numberReturned} regions, ${segments.numberReturned} border sections, ` +
      `${crossings.numberReturned} crossing points, ` +
      `${incidents.numberReturned} incidents in the last ${DAYS} days` +
      (incidents.numberMatched > incidents.numberReturned
        ? ` (first ${incidents.numberReturned} of ${incidents.numberMatched})` : "");
    // A handle for end-to-end tests and the browser console.
    window.borderRisk = { map, layers };
    element.dataset.loaded = "true";
  } catch (error) {
    status.textContent = `Could not load the map layers: ${error.message}`;
    status.classList.add("error");
  }
}

main();
