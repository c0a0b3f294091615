// The analyst's workspace: a Leaflet map of our layers (WMS for the dense ones, GeoJSON
// from /api/v1 for what is clicked and highlighted), filters that drive every layer and
// the panel at once, and the state of all of it in the URL. User text goes into the DOM
// as text only (textContent), never as HTML.
//
// This module starts the page; the rest is by job: workspace.js (the one state object),
// layers.js, legend.js, filters.js, loading.js and cells.js (data), sections.js,
// wms.js, links.js, params.js, popups.js, palettes.js (the server's colours),
// agencies.js (the agencies, their names and rings), and the map tools: search.js,
// measure.js, coordinates.js, opacity.js, incidenttable.js, printlayout.js (with
// snapshot.js, the map drawn as the screen shows it).

import { setUpCoordinates } from "./coordinates.js";
import { explain, setCsrfToken } from "./api.js";
import {
  applyStateToForm, bindFilters, fillAgencyFilter, fillRegionFilter, regionBounds,
} from "./filters.js";
import {
  fillIncidentChoices, setUpImportForm, setUpIncidentForm, setUpLevelForm,
} from "./forms.js";
import { t } from "./i18n.js";
import { setUpInbox } from "./inbox.js";
import { setUpIncidentTable } from "./incidenttable.js";
import { addLayerControl, buildStaticLayers } from "./layers.js";
import { translateLeafletControls, translateLeafletDefaults } from "./leaflet-i18n.js";
import { addLegendControl } from "./legend.js";
import { writeURL } from "./links.js";
import { loadPoints, refresh } from "./loading.js";
import { setUpMeasure } from "./measure.js";
import { setUpOpacityControls } from "./opacity.js";
import { setUpPrintLayout } from "./printlayout.js";
import { setUpSearch } from "./search.js";
import { selectSection } from "./sections.js";
import { basics, initialState, references } from "./startup.js";
import { clockNow, monthsBetween } from "./state.js";
import { incidentInfo } from "./wms.js";
import { app, config, root, setStatus } from "./workspace.js";

const PROVENANCE_LABELS = {
  generalised: "generalised (Natural Earth 1:10m)", approximate: "approximate",
  synthetic: "synthetic",
};

function showNotice(collections) {
  const kinds = new Set();
  for (const fc of collections) {
    for (const f of fc.features) {
      const provenance = f.properties.provenance;
      if (provenance && provenance !== "reported") {
        kinds.add(t(PROVENANCE_LABELS[provenance] || provenance));
      }
    }
  }
  if (kinds.size === 0) return;
  const notice = document.getElementById("data-notice");
  notice.textContent = t("Demonstration data: not real records. Contains {kinds} data " +
                         "(see the README for sources).", { kinds: [...kinds].join(", ") });
  notice.hidden = false;
}

/** The date of the first incident of a one-incident collection, else `otherwise`. */
function occurredAt(collection, otherwise) {
  return collection.features.length
    ? new Date(collection.features[0].properties.occurred_at) : otherwise;
}

/** The "add an incident" button: the next click on the map places it (Esc cancels). */
function bindIncidentPlacing() {
  const addIncident = setUpIncidentForm(config.api, () => refresh(true));
  const addButton = document.getElementById("add-incident");
  if (!addIncident || !addButton) return;
  const place = (event) => {
    app.map.getContainer().classList.remove("placing");
    addIncident(event.latlng);
  };
  addButton.addEventListener("click", () => {
    setStatus(t("Click the map where the incident happened (Esc cancels)."));
    app.map.getContainer().classList.add("placing");
    app.map.once("click", place);
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && app.map.getContainer().classList.contains("placing")) {
      app.map.getContainer().classList.remove("placing");
      app.map.off("click", place);
      setStatus(t("Cancelled."));
    }
  });
}

/** The map tools: search, measure, coordinates, opacity, the incidents' table and the
 *  print layout, which draw in their own pane above the layers. */
function setUpMapTools() {
  app.map.createPane("tools").style.zIndex = "500";
  app.tools = L.layerGroup().addTo(app.map);
  setUpSearch();
  setUpMeasure();
  setUpCoordinates();
  setUpOpacityControls();
  setUpIncidentTable();
  setUpPrintLayout();
}

async function main() {
  setCsrfToken(config.csrfToken);
  // The page's first requests went out from startup.js, before these modules loaded.
  await basics;
  setUpInbox(config.api);
  app.wms = config.wms !== "";
  app.state = initialState;
  translateLeafletDefaults();
  app.map = L.map("map", { zoomSnap: 0.5, keyboard: true }).setView([42.2, 43.5], 7);
  // The notes over the map (index.html): their clicks and scrolling are theirs, not the
  // map's (no incident placed, no measure point, no zoom through a fix's button).
  const notes = document.getElementById("map-notes");
  L.DomEvent.disableClickPropagation(notes);
  L.DomEvent.disableScrollPropagation(notes);
  app.map.attributionControl.addAttribution(t("Border: Natural Earth (public domain)"));
  const [regions, segments, crossings, newest, oldest] = await Promise.all(references);
  // The demonstration data's notice before the view is fitted, and the map told of the
  // height it leaves (Leaflet keeps the size it read): else the WMS images are asked
  // for the height before, then again once the resize is observed. (The coordinates'
  // line under the map holds its place from the start: index.html.)
  showNotice([regions, segments, crossings]);
  app.map.invalidateSize({ animate: false });
  fillRegionFilter(regions); // first: it corrects a region that is not the user's
  buildStaticLayers(regions, segments, crossings);
  fillAgencyFilter();
  fillIncidentChoices(regions);
  const last = occurredAt(newest, clockNow());
  app.months = monthsBetween(occurredAt(oldest, last), last);
  applyStateToForm();
  // The view first: the WMS images are then asked for once, for the right extent.
  const v = app.state.view;
  if (v) {
    app.map.setView([v.lat, v.lon], v.zoom, { animate: false });
  } else if (regionBounds().isValid()) {
    app.map.fitBounds(regionBounds(), { animate: false });
  }
  // Lines under the map come and go (the status, the incidents' table; the notes lie
  // over the map, index.html):
  // Leaflet is told when its box changes, so that what it draws fills it. Only then:
  // invalidateSize forgets the exact centre of the view even when the size is the one
  // it knows (the observer's first call), and the centre read afterwards would differ
  // by a fraction of a pixel from the one the coordinates' line shows.
  new ResizeObserver(() => {
    const container = app.map.getContainer();
    const known = app.map.getSize();
    if (container.clientWidth !== known.x || container.clientHeight !== known.y) {
      app.map.invalidateSize({ animate: false });
    }
  }).observe(app.map.getContainer());
  addLayerControl();
  addLegendControl();
  L.control.scale({ imperial: false }).addTo(app.map);
  translateLeafletControls(app.map);
  const rememberView = () => {
    const c = app.map.getCenter();
    app.state.view = { zoom: app.map.getZoom(), lat: c.lat, lon: c.lng };
  };
  rememberView();
  app.map.on("moveend", () => {
    rememberView();
    writeURL();
    loadPoints().catch((error) => {
      if (error.name !== "AbortError") setStatus(explain(error), true);
    });
  });
  bindFilters();
  setUpMapTools();
  app.map.on("click", incidentInfo);
  bindIncidentPlacing();
  setUpImportForm(config.api, () => refresh(true));
  setUpLevelForm(config.api, () => app.state.section, () => refresh(true));
  // A handle for end-to-end tests, the benchmark and the browser console.
  window.borderRisk = { map: app.map, layers: app.layers, app, selectSection, refresh };
  await refresh();
  root.dataset.loaded = "true";
}

main().catch((error) => {
  setStatus(t("Could not load the map layers: {detail}", { detail: explain(error) }), true);
});
