// The filter form: region, dates, month slider and player, categories, outcome, hot-spot
// method and cell size. A change updates the state and schedules a refresh.

import { agencies, agencyName } from "./agencies.js";
import { currentLocale, formatMonth, formatNumber, localName, t } from "./i18n.js";
import { updateActionLinks } from "./links.js";
import { refresh, scheduleRefresh } from "./loading.js";
import { DEFAULT_CELL_SIZE, isoDate, monthEnd, monthIndex } from "./state.js";
import { app, root } from "./workspace.js";

const PLAY_STEP_MS = 1500;

const filters = document.getElementById("filters");

/** Lists the regions in the region filter, by name in the page's language. */
export function fillRegionFilter(regions) {
  const regionSelect = document.getElementById("f-region");
  const sorted = [...regions.features].sort((a, b) =>
    localName(a.properties).localeCompare(localName(b.properties), currentLocale()));
  for (const feature of sorted) {
    const option = document.createElement("option");
    option.value = feature.properties.code;
    option.textContent = localName(feature.properties);
    regionSelect.append(option);
  }
  // A user restricted to several regions has no "All regions": start in the first.
  if (![...regionSelect.options].some((o) => o.value === app.state.region)) {
    const asked = app.state.region;
    app.state.region = regionSelect.options[0]?.value ?? "";
    // A link to a region outside the user's (or to none that exists): say so, rather
    // than silently showing their own under its name.
    if (asked) noteOutOfScope(asked, regionSelect.options[0]);
  }
}

function noteOutOfScope(asked, option) {
  const notice = document.getElementById("scope-notice");
  // "All regions" of a user restricted to one region is that region: name it.
  const mine = [...option.parentElement.options].filter((o) => o.value);
  const shown = option.value || mine.length !== 1 ? option.textContent
    : `${option.textContent} (${mine[0].textContent})`;
  notice.textContent = t("The link is for region {region}, which is not among your regions " +
                         "(or does not exist): the page shows {shown} instead.",
                         { region: asked, shown });
  notice.hidden = false;
}

/** Lists the agencies in the agency filter (a box each, by name in the page's language);
 *  codes of the URL that are no agency are dropped. */
export function fillAgencyFilter() {
  const fieldset = document.getElementById("f-agencies");
  const known = new Set();
  for (const agency of agencies()) {
    known.add(agency.code);
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.name = "agency";
    box.value = agency.code;
    label.append(box, document.createTextNode(` ${agencyName(agency.code)} (${agency.code})`));
    fieldset.append(label);
  }
  app.state.agencies = app.state.agencies.filter((code) => known.has(code));
}

function setMonthFromRange() {
  const slider = document.getElementById("f-month");
  const index = monthIndex(app.months, app.state.to);
  slider.value = String(Math.max(0, index));
  document.getElementById("f-month-label").textContent =
    index >= 0 ? formatMonth(app.months[index]) : "";
}

/** Sets the month slider's range to `app.months` and the form to the state. */
export function applyStateToForm() {
  const s = app.state;
  document.getElementById("f-month").max = String(Math.max(0, app.months.length - 1));
  document.getElementById("f-region").value = s.region;
  document.getElementById("f-from").value = s.from;
  document.getElementById("f-to").value = s.to;
  // A list's value that is none of its options would leave it blank: its default then
  // (readState has set it from the link), and the link's parameter is named.
  for (const [id, key, name, fallback] of [
    ["f-outcome", "outcome", "outcome", ""], ["f-method", "method", "method", "gistar"],
    ["f-cell", "cellSize", "cell_size", DEFAULT_CELL_SIZE]]) {
    const list = document.getElementById(id);
    list.value = s[key];
    if (list.value !== s[key]) {
      s[key] = fallback;
      list.value = fallback;
      if (!s.refused.includes(name)) s.refused.push(name);
    }
  }
  showRefused();
  for (const box of filters.querySelectorAll("input[name='category']")) {
    box.checked = s.categories.includes(box.value);
  }
  for (const box of filters.querySelectorAll("input[name='agency']")) {
    box.checked = s.agencies.includes(box.value);
  }
  updateCategoryCount();
  setMonthFromRange();
}

/** Says which of the link's parameters could not be read (until a filter changes). */
function showRefused() {
  const note = document.getElementById("link-note");
  const names = app.state.refused;
  note.hidden = names.length === 0;
  note.textContent = note.hidden ? "" : t(
    "This link's {names} could not be read: the map shows the defaults instead.",
    { names: names.join(", ") });
}

/** "(n)" chosen, or "(all)" when none is: the filter keeps everything. */
function chosenCount(n) {
  return n ? `(${formatNumber(n)})` : `(${t("all")})`;
}

function updateCategoryCount() {
  document.getElementById("f-category-count").textContent =
    chosenCount(app.state.categories.length);
  document.getElementById("f-agency-count").textContent =
    chosenCount(app.state.agencies.length);
}

/** The region's bounds (every region's without one), as Leaflet bounds. */
export function regionBounds() {
  return (app.regionsByCode.get(app.state.region) || app.layers.regions).getBounds();
}

function zoomToRegion() {
  const bounds = regionBounds();
  if (bounds.isValid()) app.map.flyToBounds(bounds, { duration: 0.6 });
}

export function bindFilters() {
  filters.addEventListener("submit", (event) => event.preventDefault());
  filters.addEventListener("change", (event) => {
    const target = event.target;
    const s = app.state;
    if (target.id === "f-month") return; // handled on input
    s.refused.length = 0; // the person has chosen now
    showRefused();
    if (target.name === "category") {
      s.categories = [...filters.querySelectorAll("input[name='category']:checked")]
        .map((box) => box.value);
      updateCategoryCount();
    } else if (target.name === "agency") {
      s.agencies = [...filters.querySelectorAll("input[name='agency']:checked")]
        .map((box) => box.value);
      updateCategoryCount();
    } else if (target.id === "f-region") {
      s.region = target.value;
      zoomToRegion();
    } else if (target.id === "f-from" || target.id === "f-to") {
      if (!target.value) return;
      s[target.id === "f-from" ? "from" : "to"] = target.value;
      if (s.from > s.to) {
        target.setCustomValidity(t("The start must not be after the end."));
        target.reportValidity();
        return;
      }
      target.setCustomValidity("");
      setMonthFromRange();
    } else if (target.id === "f-outcome") {
      s.outcome = target.value;
    } else if (target.id === "f-method") {
      s.method = target.value;
      // a method chosen is a map wanted: the overlay's own handler then refreshes
      if (!s.layers.includes("hotspots")) {
        app.layers.analysis.addTo(app.map);
        return;
      }
    } else if (target.id === "f-cell") {
      s.cellSize = target.value;
    }
    scheduleRefresh();
  });
  // A fix offered on the page (e.g. cells.js's wider period for an empty hot-spot
  // layer): the state changes it names, shown in the form, then loaded.
  root.addEventListener("apply-state", (event) => {
    Object.assign(app.state, event.detail);
    applyStateToForm();
    scheduleRefresh(0);
  });
  document.getElementById("f-month").addEventListener("input", (event) => {
    const index = Number(event.target.value);
    // the way the analyst is going: the month asked for ahead is the next that way
    app.monthStep = index < monthIndex(app.months, app.state.to) ? -1 : 1;
    showMonth(index);
    scheduleRefresh(300);
  });
  const play = document.getElementById("f-play");
  play.addEventListener("click", () => {
    if (app.player) {
      stopPlaying();
      return;
    }
    play.setAttribute("aria-pressed", "true");
    play.textContent = t("Pause");
    app.player = setInterval(() => {
      if (root.dataset.busy === "true") return;
      const slider = document.getElementById("f-month");
      const next = Number(slider.value) + 1;
      if (next >= app.months.length) {
        stopPlaying();
        return;
      }
      slider.value = String(next);
      app.monthStep = 1;
      showMonth(next);
      refresh();
    }, PLAY_STEP_MS);
  });
  document.getElementById("export-format").addEventListener("change", updateActionLinks);
}

function stopPlaying() {
  clearInterval(app.player);
  app.player = null;
  const play = document.getElementById("f-play");
  play.setAttribute("aria-pressed", "false");
  play.textContent = t("Play");
}

function showMonth(index) {
  const month = app.months[index];
  if (!month) return;
  app.state.from = isoDate(month);
  app.state.to = isoDate(monthEnd(month));
  document.getElementById("f-from").value = app.state.from;
  document.getElementById("f-to").value = app.state.to;
  document.getElementById("f-month-label").textContent = formatMonth(month);
}
