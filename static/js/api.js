// Requests to our API: JSON in and out, the CSRF token on writes, and RFC 7807
// problems turned into errors that keep their field messages.

export class ProblemError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
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

/** GET a JSON document; `signal` aborts it when a newer request replaces it. */
export async function getJSON(url, signal) {
  const response = await fetch(url, {
    headers: { Accept: "application/geo+json, application/json" },
    credentials: "same-origin", signal,
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
