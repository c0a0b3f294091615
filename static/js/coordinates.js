// The coordinates readout under the map: latitude and longitude (WGS 84 degrees) under
// the pointer, or of the map's centre when the pointer is elsewhere (as for keyboard
// users, whose arrow keys move the map).

import { formatNumber, t } from "./i18n.js";
import { app } from "./workspace.js";

/** The coordinates under the pointer (the map's centre when the pointer is elsewhere),
 *  in degrees, in a line under the map. */
export function setUpCoordinates() {
  const readout = document.getElementById("pointer-coordinates");
  if (!readout) return;
  const write = (latlng, pointer) => {
    const values = { lat: formatNumber(latlng.lat, 5), lon: formatNumber(latlng.lng, 5) };
    readout.textContent = pointer ? t("Pointer: latitude {lat}°, longitude {lon}°", values)
      : t("Map centre: latitude {lat}°, longitude {lon}°", values);
    readout.dataset.lat = latlng.lat.toFixed(6);
    readout.dataset.lon = latlng.lng.toFixed(6);
  };
  const centre = () => write(app.map.getCenter(), false);
  // The container's own pointer events: over a canvas of cells Leaflet drops a move
  // that follows another within 32 ms, and the readout would lag where the pointer stops.
  const container = app.map.getContainer();
  container.addEventListener("mousemove", (event) =>
    write(app.map.mouseEventToLatLng(event), true));
  container.addEventListener("mouseleave", centre);
  app.map.on("moveend", centre);
  centre();
}
