// The colours of the map's layers and legend: the server's (geo.maps.palette, served at
// /ui/palettes.json), the same the WMS draws with. None is written here, so the page
// and the WMS cannot disagree.

import { getJSON } from "./api.js";

let palettes = null;

/** Loads the palettes once, before anything is drawn. */
export async function loadPalettes(url) {
  palettes = Object.freeze(await getJSON(url));
}

/**
 * The colour of `key` in one of the palettes (risk_levels, hotspot_bins, lisa_clusters,
 * emerging_categories, outlines), or the colour of what has no colour of its own.
 */
export function colourOf(palette, key) {
  return palettes[palette][key] ?? palettes.unclassified;
}

/** The density ramp, low to peak. */
export function densityRamp() {
  return palettes.density_ramp;
}

/** A single colour: incident, crossing_point, alert, unclassified, region_fill, measure
 *  or highlight. */
export function colour(name) {
  return palettes[name];
}

/**
 * The ring of an agency's incidents: its own colour, else one of the extra colours in
 * the order of `codes` (every agency's code) among the agencies without their own.
 */
export function agencyColour(code, codes) {
  const own = palettes.agencies[code];
  if (own) return own;
  const others = [...codes].sort().filter((c) => !(c in palettes.agencies));
  const index = others.indexOf(code);
  return index < 0 ? palettes.unclassified
    : palettes.agency_extra[index % palettes.agency_extra.length];
}

/** The print layout's colours: paper, ink, muted and frame. */
export function printColour(name) {
  return palettes.print[name];
}
