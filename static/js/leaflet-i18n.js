// Leaflet's own words in the page's language: it writes its controls' titles, the
// popups' close button and its attribution's tooltip in English.

import { t } from "./i18n.js";

const LEAFLET_TOOLTIP = "A JavaScript library for interactive maps";

function attribute(text) {
  return text.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
}

/** Leaflet's defaults in the page's language: call before the map is made. */
export function translateLeafletDefaults() {
  L.Control.Zoom.prototype.options.zoomInTitle = t("Zoom in");
  L.Control.Zoom.prototype.options.zoomOutTitle = t("Zoom out");
  const attribution = L.Control.Attribution.prototype.options;
  attribution.prefix = attribution.prefix.replace(LEAFLET_TOOLTIP, attribute(t(LEAFLET_TOOLTIP)));
}

/** The words Leaflet writes into its controls once they are on `map`: the layer
 *  switcher's title, and each popup's close button as it opens. */
export function translateLeafletControls(map) {
  for (const toggle of map.getContainer().querySelectorAll(".leaflet-control-layers-toggle")) {
    toggle.title = t("Layers");
    toggle.setAttribute("aria-label", t("Layers"));
  }
  map.on("popupopen", (event) => {
    event.popup.getElement()?.querySelector(".leaflet-popup-close-button")
      ?.setAttribute("aria-label", t("Close popup"));
  });
}
