// Writes from the workspace: a new incident placed on the map, a file import with its
// report, and a supervisor's level decision. The API checks everything; its problem+json
// messages are shown next to the field they name.

import { ProblemError, getJSON, sendForm, sendJSON } from "./api.js";
import { agencies, agencyName, ownAgency } from "./agencies.js";
import { currentLocale, formatNumber, localName, t } from "./i18n.js";
import { clockNow } from "./state.js";

function clearErrors(form) {
  for (const node of form.querySelectorAll(".field-error")) node.textContent = "";
  for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  const status = form.querySelector(".form-status");
  if (status) status.textContent = "";
}

/** The field a problem names: "properties.category", "features[0].geometry", "file"... */
function fieldName(pointer) {
  return String(pointer || "").replace(/^features\[\d+\]\./, "").replace(/^properties\./, "");
}

export function showProblem(form, error) {
  const status = form.querySelector(".form-status");
  const problems = error instanceof ProblemError
    ? (error.problem.errors || [{ field: error.problem.field, message: error.message }])
    : [{ field: null, message: error.message }];
  let shown = 0;
  for (const problem of problems) {
    const name = fieldName(problem.field || problem.pointer);
    const slot = name && form.querySelector(`.field-error[data-field="${CSS.escape(name)}"]`);
    if (slot) {
      slot.textContent = problem.message;
      const input = form.querySelector(`[name="${CSS.escape(name)}"]`);
      if (input) input.setAttribute("aria-invalid", "true");
      shown += 1;
    }
  }
  if (status) {
    status.textContent = shown === problems.length && shown > 0
      ? t("Please correct the marked fields.") : error.message;
  }
}

function closeOnCancel(dialog) {
  for (const button of dialog.querySelectorAll(".dialog-cancel")) {
    button.addEventListener("click", () => dialog.close());
  }
}

/** The incident form's choices: the regions as reporting units, and a box for each
 *  active agency but the user's own to release a record to. */
export function fillIncidentChoices(regions) {
  const form = document.getElementById("incident-form");
  if (!form) return;
  const units = form.elements.reporting_unit;
  const sorted = [...regions.features].map((f) => f.properties).sort((a, b) =>
    localName(a).localeCompare(localName(b), currentLocale()));
  for (const region of sorted) {
    units.append(new Option(`${localName(region)} (${region.code})`, region.code));
  }
  const boxes = document.getElementById("i-release-to");
  for (const agency of agencies()) {
    if (!agency.active || agency.code === ownAgency()?.code) continue;
    const label = document.createElement("label");
    label.className = "inline";
    const box = document.createElement("input");
    Object.assign(box, { type: "checkbox", name: "release_to", value: agency.code });
    label.append(box, document.createTextNode(`${agencyName(agency.code)} (${agency.code})`));
    boxes.append(label);
  }
  form.addEventListener("change", (event) => {
    if (event.target.name === "releasability") enableReleaseList(form);
  });
}

/** The agency boxes are a choice only when "these agencies" is. */
function enableReleaseList(form) {
  const listed = form.querySelector("input[name='releasability']:checked")?.value === "list";
  for (const box of form.querySelectorAll("input[name='release_to']")) box.disabled = !listed;
}

/** The release controls at the user's agency's defaults (all agencies, counted, when
 *  the agency is not known). */
function applyReleaseDefaults(form) {
  const agency = ownAgency();
  const release = agency?.default_releasability ?? "all";
  const listed = Array.isArray(release) ? release : [];
  const choice = Array.isArray(release) ? "list" : release;
  for (const radio of form.querySelectorAll("input[name='releasability']")) {
    radio.checked = radio.value === choice;
  }
  for (const box of form.querySelectorAll("input[name='release_to']")) {
    box.checked = listed.includes(box.value);
  }
  form.elements.aggregate.checked = agency?.default_aggregate ?? true;
  enableReleaseList(form);
}

/** The releasability the form says: "all", "agency" or the agency codes ticked. */
function chosenReleasability(form) {
  const choice = form.querySelector("input[name='releasability']:checked")?.value ?? "all";
  if (choice !== "list") return choice;
  return [...form.querySelectorAll("input[name='release_to']:checked")].map((b) => b.value);
}

export function setUpIncidentForm(apiBase, onSaved) {
  const dialog = document.getElementById("incident-dialog");
  if (!dialog) return null;
  const form = dialog.querySelector("form");
  closeOnCancel(dialog);
  let where = null;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const data = new FormData(form);
    const occurred = data.get("occurred_at");
    const properties = {
      source: data.get("source"), external_id: data.get("external_id"),
      category: data.get("category") || null, outcome: data.get("outcome"),
      persons_count: data.get("persons_count") === "" ? null : Number(data.get("persons_count")),
      occurred_at: occurred ? `${occurred}${occurred.length === 16 ? ":00" : ""}Z` : null,
      description: data.get("description") || null,
      releasability: chosenReleasability(form), aggregate: form.elements.aggregate.checked,
    };
    // No unit chosen: the server's default (none).
    if (data.get("reporting_unit")) properties.reporting_unit = data.get("reporting_unit");
    try {
      const feature = await sendJSON("POST", `${apiBase}/incidents`, {
        type: "Feature", properties,
        geometry: { type: "Point", coordinates: [where.lng, where.lat] },
      });
      dialog.close();
      onSaved(feature);
    } catch (error) {
      showProblem(form, error);
    }
  });
  return (latlng) => {
    where = latlng;
    clearErrors(form);
    form.reset();
    applyReleaseDefaults(form);
    const now = clockNow();
    form.elements.occurred_at.value = now.toISOString().slice(0, 16);
    form.elements.external_id.value = `UI-${now.getTime()}`;
    document.getElementById("incident-where").textContent =
      t("At {lat}, {lon}", { lat: formatNumber(latlng.lat, 5), lon: formatNumber(latlng.lng, 5) });
    dialog.showModal();
    form.elements.category.focus();
  };
}

function reportTable(report) {
  const table = document.createElement("table");
  table.className = "report";
  const rows = [["inserted", report.inserted], ["updated", report.updated],
                ["unchanged", report.unchanged], ["errors", report.error_count]];
  for (const [label, value] of rows) {
    if (value === undefined) continue;
    const row = table.insertRow();
    const head = document.createElement("th");
    head.textContent = t(label);
    row.append(head);
    row.insertCell().textContent = formatNumber(value);
  }
  return table;
}

function errorList(errors) {
  const list = document.createElement("ul");
  list.className = "report-errors";
  for (const error of (errors || []).slice(0, 50)) {
    const item = document.createElement("li");
    const where = error.line ?? error.feature ?? error.index ?? error.row ?? "";
    item.textContent = `${where} ${error.field || ""}: ${error.message}`;
    list.append(item);
  }
  return list;
}

// How often the import dialog asks a running import job how far it got (ms).
const JOB_POLL_MS = 1000;

/** Follow an import job (a 202's body) until it ends, showing the rows read so far;
 *  its report, or a ProblemError of the problem its request would have answered. */
async function awaitImportJob(job, report) {
  while (job.status === "queued" || job.status === "running") {
    report.textContent = t("Importing… {rows} rows read", { rows: formatNumber(job.rows_read) });
    await new Promise((resolve) => { setTimeout(resolve, JOB_POLL_MS); });
    job = await getJSON(job.url);
  }
  if (job.http_status === 200) return job.result;
  throw new ProblemError(job.http_status || 503, job.result || {});
}

export function setUpImportForm(apiBase, onImported) {
  const dialog = document.getElementById("import-dialog");
  const opener = document.getElementById("open-import");
  if (!dialog || !opener) return;
  const form = dialog.querySelector("form");
  const report = document.getElementById("import-report");
  closeOnCancel(dialog);
  opener.addEventListener("click", () => {
    clearErrors(form);
    report.replaceChildren();
    dialog.showModal();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    report.replaceChildren();
    const data = new FormData(form);
    const layer = data.get("layer");
    data.delete("layer");
    if (!form.elements.dry_run.checked) data.delete("dry_run");
    if (!data.get("source")) data.delete("source");
    report.textContent = t("Importing…");
    try {
      const answer = await sendForm(`${apiBase}/import/${encodeURIComponent(layer)}`, data);
      const body = "rows_read" in answer ? await awaitImportJob(answer, report) : answer;
      report.replaceChildren(document.createTextNode(
        body.dry_run ? t("Checked, nothing written:") : t("Imported:")), reportTable(body));
      if (!body.dry_run) onImported();
    } catch (error) {
      report.replaceChildren();
      const problem = error instanceof ProblemError ? error.problem : {};
      const message = document.createElement("p");
      message.className = "error";
      message.textContent = error.message;
      report.append(message);
      const errors = problem.errors || problem.report?.errors;
      if (errors?.length) report.append(errorList(errors));
      if (problem.field === "file") showProblem(form, error);
    }
  });
}

export function setUpLevelForm(apiBase, currentSection, onDecided) {
  const form = document.getElementById("level-form");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const section = currentSection();
    if (!section) return;
    try {
      await sendJSON("PATCH", `${apiBase}/risk/segments/${section}/level`, {
        level: form.elements.level.value || null,
        justification: form.elements.justification.value,
      });
      form.querySelector(".form-status").textContent = t("Level saved.");
      form.elements.justification.value = "";
      onDecided();
    } catch (error) {
      showProblem(form, error);
    }
  });
}
