// Requests to our API: JSON in and out, the CSRF token on writes, and RFC 7807
// problems turned into errors that keep their field messages.

import { currentLocale, t } from "./i18n.js";

export class ProblemError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

// What a problem's status (its stable code) means, in words any language has: the
// server's own detail is English, shown as it is on English pages only.
const STATUS_SENTENCES = {
  400: "The server could not read the request.",
  401: "Your session has ended: sign in again.",
  403: "You are not allowed to see this.",
  404: "Not found: it may have been deleted or moved.",
  409: "It was changed meanwhile: reload the page and try again.",
  413: "The file or request is too large.",
  422: "The server could not use the filters or values as given: check them.",
  429: "Too many requests: wait a moment and try again.",
  503: "The server is busy or a query took too long: try again in a moment.",
};

/** What went wrong, for the person: the server's detail on an English page, else a
 *  sentence in the page's language chosen by the answer's status. */
export function explain(error) {
  if (currentLocale() === "en" || !error) return error?.message ?? String(error);
  if (error instanceof ProblemError) {
    const sentence = STATUS_SENTENCES[error.status] ||
      (error.status >= 500 ? "The server failed to answer: try again later." : null);
    if (sentence) return t(sentence);
  }
  if (error instanceof TypeError) return t("The server cannot be reached.");
  return error.message ?? String(error);
}

let csrfToken = "";

export function setCsrfToken(token) {
  csrfToken = token;
}

async function answer(response) {
  const type = response.headers.get("Content-Type") || "";
  const body = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    throw new ProblemError(response.status,
      typeof body === "object" ? body : { detail: `HTTP ${response.status}` });
  }
  return body;
}

/** GET a JSON document; `signal` aborts it when a newer request replaces it; `priority`
 *  is the fetch's ("low": behind the page's own requests). */
export async function getJSON(url, signal, priority = "auto") {
  const response = await fetch(url, {
    headers: { Accept: "application/geo+json, application/json" },
    credentials: "same-origin", signal, priority,
  });
  return answer(response);
}

export async function sendJSON(method, url, body) {
  const response = await fetch(url, {
    method, credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json",
               "X-CSRFToken": csrfToken },
    body: JSON.stringify(body),
  });
  return answer(response);
}

export async function sendForm(url, formData) {
  const response = await fetch(url, {
    method: "POST", credentials: "same-origin",
    headers: { Accept: "application/json", "X-CSRFToken": csrfToken },
    body: formData,
  });
  return answer(response);
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === null || value === undefined || value === "" ||
        (Array.isArray(value) && value.length === 0)) continue;
    search.set(key, Array.isArray(value) ? value.join(",") : String(value));
  }
  return search.toString();
}
