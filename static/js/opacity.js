// Layer opacity: a slider per overlay (basemap, regions, border sections, hot-spot cells,
// incidents). Panes that hold one overlay fade as a whole; the vector layers that share
// the canvas or the sections' SVG multiply their style's opacity (`faded`).

import { formatPercent, t } from "./i18n.js";
import { segmentStyle } from "./sections.js";
import { app } from "./workspace.js";

const LABELS = { basemap: "Basemap", regions: "Regions",
                 segments: "Border sections (risk level)", hotspots: "Hot spots",
                 incidents: "Incidents" };

/** `opacity` (0-1) of a style faded by the slider of overlay `id`. */
export function faded(id, opacity = 1) {
  return opacity * app.opacity[id];
}

/** Redraws overlay `id` at its slider's opacity. */
function applyOpacity(id) {
  const value = String(app.opacity[id]);
  if (id === "basemap") app.map.getPane("tilePane").style.opacity = value;
  if (id === "regions") app.map.getPane("regions").style.opacity = value;
  if (id === "segments") {
    app.layers.segments.setStyle(segmentStyle);
    app.layers.emergingSections.resetStyle();
  }
  if (id === "hotspots") {
    for (const kind of ["hotspots", "density", "emerging"]) app.layers[kind].resetStyle();
  }
  if (id === "incidents") {
    app.map.getPane("incidents").style.opacity = value;
    app.layers.points.resetStyle();
  }
}

/** The sliders, in `container` (the "Layer opacity" disclosure of the map tools). */
export function setUpOpacityControls() {
  const container = document.getElementById("opacity-sliders");
  if (!container) return;
  for (const id of Object.keys(LABELS)) {
    const row = document.createElement("div");
    row.className = "opacity-row";
    const label = document.createElement("label");
    label.htmlFor = `opacity-${id}`;
    label.textContent = t(LABELS[id]);
    const slider = document.createElement("input");
    Object.assign(slider, { type: "range", id: `opacity-${id}`, min: "0", max: "100",
                            step: "5", value: String(Math.round(app.opacity[id] * 100)) });
    const shown = document.createElement("output");
    shown.htmlFor = slider.id;
    shown.textContent = formatPercent(app.opacity[id]);
    slider.addEventListener("input", () => {
      app.opacity[id] = Number(slider.value) / 100;
      shown.textContent = formatPercent(app.opacity[id]);
      slider.setAttribute("aria-valuetext", shown.textContent);
      applyOpacity(id);
    });
    row.append(label, slider, shown);
    container.append(row);
  }
}
