// The inbox in the top bar: the unread count (asked every 30 s), a panel listing the
// user's notifications (alerts, decisions, bulletins of their regions), marking one or
// all read, and, when the installation sends e-mail, the user's subscriptions. Text
// goes into the DOM as text only; links only to this service or to http(s).

import { ProblemError, explain, sendJSON } from "./api.js";
import { showProblem } from "./forms.js";
import { formatDate, t } from "./i18n.js";

const POLL_MS = 30_000;
const KIND_LABELS = {
  alert: "Alert", decision: "Level decision", bulletin: "Bulletin", webhook: "Webhook",
};

let api = "";
let newestShown = 0;

// Polls say so (X-BorderRisk-Poll): they are not the user's activity, so they do not
// keep an idle session alive.
async function poll(url) {
  const response = await fetch(url, {
    headers: { Accept: "application/json", "X-BorderRisk-Poll": "1" },
    credentials: "same-origin",
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new ProblemError(response.status, body);
  return body;
}

/** A link of a notification, if it is one we follow: a path here, or http(s). */
function safeLink(link) {
  if (typeof link !== "string" || link === "") return null;
  if (link.startsWith("/") && !link.startsWith("//")) return link;
  try {
    const url = new URL(link);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}

function showCount(count) {
  const badge = document.getElementById("inbox-badge");
  badge.textContent = count > 99 ? "99+" : String(count);
  badge.hidden = count === 0;
  const toggle = document.getElementById("inbox-toggle");
  toggle.dataset.unread = String(count);
  toggle.title = t("{n} unread", { n: count });
}

async function markRead(id) {
  const answer = await sendJSON("POST", `${api}/notifications/${id}/read`, {});
  showCount(answer.unread_count);
  const item = document.querySelector(`#inbox-list li[data-id="${id}"]`);
  if (item) {
    item.classList.remove("unread");
    item.querySelector("button.inbox-mark")?.remove();
  }
}

function item(notification) {
  const li = document.createElement("li");
  li.dataset.id = String(notification.id);
  li.dataset.kind = notification.kind;
  if (!notification.read) li.classList.add("unread");
  const title = document.createElement(safeLink(notification.link) ? "a" : "span");
  title.className = "inbox-title";
  title.textContent = notification.title;
  const link = safeLink(notification.link);
  if (link) {
    title.href = link;
    title.addEventListener("click", () => { if (!notification.read) markRead(notification.id); });
  }
  const meta = document.createElement("div");
  meta.className = "inbox-meta";
  meta.textContent = `${t(KIND_LABELS[notification.kind] || notification.kind)} · ` +
    formatDate(notification.created_at, true);
  li.append(meta, title);
  if (notification.body) {
    const body = document.createElement("p");
    body.className = "inbox-body";
    body.textContent = notification.body;
    li.append(body);
  }
  if (!notification.read) {
    const mark = document.createElement("button");
    mark.type = "button";
    mark.className = "inbox-mark";
    mark.textContent = t("Mark read");
    mark.addEventListener("click", () => markRead(notification.id));
    li.append(mark);
  }
  return li;
}

async function refreshCount() {
  try {
    showCount((await poll(`${api}/notifications?limit=1`)).unread_count);
  } catch {
    // A failed poll (offline, signed out) is tried again at the next one.
  }
}

async function loadList() {
  const status = document.getElementById("inbox-status");
  const list = document.getElementById("inbox-list");
  try {
    const page = await poll(`${api}/notifications?limit=50`);
    showCount(page.unread_count);
    newestShown = page.notifications.length ? page.notifications[0].id : newestShown;
    list.replaceChildren(...page.notifications.map(item));
    status.textContent = page.notifications.length ? "" : t("No notifications.");
  } catch (error) {
    status.textContent = t("Could not load the inbox: {detail}", { detail: explain(error) });
  }
  document.getElementById("workspace")?.setAttribute("data-inbox-loaded", "true");
}

function setUpMailForm() {
  const form = document.getElementById("inbox-mail");
  if (!form) return;
  const fill = (settings) => {
    form.elements.email.value = settings.email || "";
    form.elements.email_alerts.checked = settings.email_alerts;
    form.elements.email_bulletins.checked = settings.email_bulletins;
  };
  poll(`${api}/me/notifications`).then(fill).catch(() => {});
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const node of form.querySelectorAll(".field-error")) node.textContent = "";
    try {
      fill(await sendJSON("PATCH", `${api}/me/notifications`, {
        email: form.elements.email.value.trim() || null,
        email_alerts: form.elements.email_alerts.checked,
        email_bulletins: form.elements.email_bulletins.checked,
      }));
      form.querySelector(".form-status").textContent = t("Saved.");
    } catch (error) {
      showProblem(form, error);
    }
  });
}

export function setUpInbox(apiRoot) {
  const toggle = document.getElementById("inbox-toggle");
  const panel = document.getElementById("inbox-panel");
  if (!toggle || !panel) return;
  api = apiRoot;
  toggle.addEventListener("click", () => {
    const open = panel.hidden;
    panel.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
    if (open) loadList();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !panel.hidden) {
      panel.hidden = true;
      toggle.setAttribute("aria-expanded", "false");
      toggle.focus();
    }
  });
  document.getElementById("inbox-read-all").addEventListener("click", async () => {
    const answer = await sendJSON("POST", `${api}/notifications/read-all`,
                                  newestShown ? { through: newestShown } : {});
    showCount(answer.unread_count);
    await loadList();
  });
  setUpMailForm();
  refreshCount();
  window.setInterval(() => (panel.hidden ? refreshCount() : loadList()), POLL_MS);
}
