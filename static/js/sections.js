// Border sections on the map: their risk colours, the selected one (highlighted on the
// map and in the panel) and the outlines of those with an alert.

import { writeURL } from "./links.js";
import { showMonthlyTrend } from "./monthlytrend.js";
import { faded } from "./opacity.js";
import { colour, colourOf } from "./palettes.js";
import { markSelected, renderDetails } from "./panel.js";
import { app } from "./workspace.js";

export function segmentStyle(feature) {
  const section = app.sections.get(feature.id);
  const level = section ? section.level : "none";
  const selected = app.state.section === feature.id;
  return { color: colourOf("risk_levels", level), weight: selected ? 8 : 4,
           opacity: faded("segments"), lineCap: "round" };
}

/** Selects a section; `from` is "map" (clicked there), "restore" or the panel. */
export function selectSection(sectionId, from) {
  const previous = app.state.section;
  app.state.section = sectionId;
  for (const id of [previous, sectionId]) {
    const layer = app.segmentLayers.get(id);
    if (!layer) continue;
    layer.setStyle(segmentStyle(layer.feature));
    layer.getElement()?.classList.toggle("section-selected", id === sectionId);
    if (id === sectionId) {
      layer.bringToFront();
      // the emerging categories, when drawn, stay above the risk colours
      const emerging = app.layers.emergingSections;
      if (app.map.hasLayer(emerging)) emerging.bringToFront();
      app.layers.crossings.bringToFront(); // crossing points stay visible on top
    }
  }
  const panel = document.getElementById("panel");
  markSelected(panel, sectionId);
  const layer = app.segmentLayers.get(sectionId);
  if (layer && from !== "map" && from !== "restore") {
    app.map.flyToBounds(layer.getBounds(), { maxZoom: 12, duration: 0.6, padding: [40, 40] });
  }
  if (from === "map" || from === "restore") {
    const row = panel.querySelector(`.section-row[data-section-id="${sectionId}"]`);
    row?.scrollIntoView({ block: "nearest" });
  }
  const section = app.sections.get(sectionId);
  const details = document.getElementById("section-details");
  details.hidden = !section;
  if (section) {
    const body = document.getElementById("details-body");
    renderDetails(body, section, app.rankingModel);
    showMonthlyTrend(body, sectionId);
  }
  writeURL();
}

/** Dashed outlines of the ranked sections that have an alert, in the alerts layer. */
export function drawAlerts(sections) {
  app.layers.alerts.clearLayers();
  for (const section of sections.filter((s) => s.alert && s.alert.alert)) {
    const layer = app.segmentLayers.get(section.section_id);
    if (!layer) continue;
    const outline = L.geoJSON(layer.feature, {
      renderer: layer.options.renderer, pane: "sections",
      style: { color: colour("alert"), weight: 10, opacity: 0.6, dashArray: "4 8" },
    });
    outline.on("click", (event) => {
      L.DomEvent.stopPropagation(event);
      selectSection(section.section_id, "map");
    });
    app.layers.alerts.addLayer(outline);
  }
}
