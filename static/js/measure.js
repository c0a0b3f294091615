// The measure tool: clicks on the map (or Enter, which adds the map's centre) lay a line
// whose length is summed along the great circles between its points (Leaflet's
// haversine, Earth radius 6,371 km); from three points on, the area they enclose is
// shown too. While it measures, the map's features let clicks through to it.

import { formatNumber, t } from "./i18n.js";
import { colour } from "./palettes.js";
import { app } from "./workspace.js";

const EARTH_RADIUS_M = 6371000; // L.CRS.Earth.R, the radius of map.distance

/** The area (m²) enclosed by `latlngs` on a sphere of EARTH_RADIUS_M: the spherical
 *  polygon formula of Chamberlain and Duquette (2007), as OpenLayers' getArea. */
export function sphericalArea(latlngs) {
  const rad = Math.PI / 180;
  let sum = 0;
  latlngs.forEach((a, i) => {
    const b = latlngs[(i + 1) % latlngs.length];
    sum += (b.lng - a.lng) * rad * (2 + Math.sin(a.lat * rad) + Math.sin(b.lat * rad));
  });
  return Math.abs((sum * EARTH_RADIUS_M * EARTH_RADIUS_M) / 2);
}

/** The length (m) of the line through `latlngs`. */
export function pathLength(latlngs) {
  let metres = 0;
  for (let i = 1; i < latlngs.length; i += 1) {
    metres += app.map.distance(latlngs[i - 1], latlngs[i]);
  }
  return metres;
}

export function setUpMeasure() {
  const toggle = document.getElementById("measure-toggle");
  const clear = document.getElementById("measure-clear");
  const result = document.getElementById("measure-result");
  if (!toggle) return;
  const points = [];
  const drawn = L.layerGroup().addTo(app.tools);
  const line = L.polyline([], { pane: "tools", color: colour("measure"), weight: 3,
                                dashArray: "6 4", interactive: false }).addTo(drawn);
  // The result and its "clear" button are shown on the map, where they do not push
  // the map about as they come and go.
  const box = L.DomUtil.create("div", "measure-result");
  box.append(result, clear);
  box.hidden = true;
  L.DomEvent.disableClickPropagation(box);
  const Result = L.Control.extend({ options: { position: "bottomleft" }, onAdd: () => box });
  new Result().addTo(app.map);
  const container = app.map.getContainer();
  const measuring = () => toggle.getAttribute("aria-pressed") === "true";

  const show = () => {
    line.setLatLngs(points);
    const parts = [];
    if (points.length >= 2) {
      parts.push(t("Distance: {km} km", { km: formatNumber(pathLength(points) / 1000, 2) }));
    }
    if (points.length >= 3) {
      parts.push(t("Area: {km2} km²", { km2: formatNumber(sphericalArea(points) / 1e6, 2) }));
    }
    result.textContent = parts.join("; ") ||
      (measuring() ? t("Click the map to add points; Enter adds the map's centre; Esc ends.")
        : "");
    result.dataset.metres = points.length >= 2 ? String(pathLength(points)) : "";
    result.dataset.points = String(points.length);
    clear.hidden = points.length === 0;
    box.hidden = !result.textContent;
  };
  const add = (latlng) => {
    points.push(latlng);
    L.circleMarker(latlng, { pane: "tools", radius: 4, color: colour("measure"), weight: 2,
                             fillOpacity: 1, interactive: false }).addTo(drawn);
    show();
  };
  const onClick = (event) => add(event.latlng);
  const onKey = (event) => {
    if (event.key === "Enter" && event.target === container) add(app.map.getCenter());
  };
  const stop = () => {
    toggle.setAttribute("aria-pressed", "false");
    toggle.textContent = t("Measure distance");
    container.classList.remove("measuring");
    app.map.off("click", onClick);
    container.removeEventListener("keydown", onKey);
    app.map.doubleClickZoom.enable();
    show();
  };
  const reset = () => {
    points.length = 0;
    drawn.clearLayers();
    line.addTo(drawn);
    show();
  };
  toggle.addEventListener("click", () => {
    if (measuring()) {
      stop();
      return;
    }
    reset();
    app.map.closePopup();
    toggle.setAttribute("aria-pressed", "true");
    toggle.textContent = t("Finish measuring");
    container.classList.add("measuring");
    app.map.doubleClickZoom.disable(); // quick clicks add points, they do not zoom
    app.map.on("click", onClick);
    container.addEventListener("keydown", onKey);
    show();
  });
  clear.addEventListener("click", () => {
    reset();
    if (!measuring()) clear.hidden = true;
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && measuring()) stop();
  });
}
