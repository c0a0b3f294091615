// The ministry's agencies (GET /api/v1/agencies) and the user's own (the page's
// data-agency): their names in the page's language, the ring colour of their incidents
// and the text of an incident's releasability.

import { getJSON } from "./api.js";
import { localName, t } from "./i18n.js";
import { agencyColour } from "./palettes.js";

let list = [];
let own = "";

/** Loads the agencies once, before anything is drawn. */
export async function loadAgencies(apiBase, ownCode) {
  own = ownCode || "";
  list = (await getJSON(`${apiBase}/agencies`)).agencies;
}

/** Every agency, by code (inactive ones too: their records keep them). */
export function agencies() {
  return list;
}

/** The user's agency (its release defaults), or null when it is not listed. */
export function ownAgency() {
  return list.find((agency) => agency.code === own) || null;
}

export function agencyName(code) {
  const agency = list.find((a) => a.code === code);
  return agency ? localName(agency) : code;
}

/** The ring colour of the incidents of agency `code` (the server's palette). */
export function ringColour(code) {
  return agencyColour(code, list.map((agency) => agency.code));
}

/** An incident's releasability as text: "all agencies", "originating agency only" or
 *  the names of the agencies listed; null when the value is not known. */
export function releasabilityText(value) {
  if (value === "all") return t("all agencies");
  if (value === "agency") return t("originating agency only");
  if (Array.isArray(value)) return value.map(agencyName).join(", ");
  return null;
}
