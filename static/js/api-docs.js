// The API documentation page: Swagger UI on our OpenAPI document. Requests made with
// "Try it out" use the browser's session, so writes carry the page's CSRF token.

const UNSAFE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** Landmarks and headings Swagger UI leaves out: its title and description in a named
 *  region (the rest is in its <main>), and a heading over the operations' groups (its
 *  title is an h1 and each group an h3; a page's headings go down one level at a time). */
function landmarksAndHeadings({ aboutLabel, operationsHeading }) {
  return () => ({
    wrapComponents: {
      InfoContainer: (Original, system) => (props) => system.React.createElement(
        "div", { role: "region", "aria-label": aboutLabel },
        system.React.createElement(Original, props)),
      operations: (Original, system) => (props) => system.React.createElement(
        "div", null,
        system.React.createElement("h2", { className: "visually-hidden" }, operationsHeading),
        system.React.createElement(Original, props)),
    },
  });
}

function startSwaggerUi() {
  const container = document.getElementById("api-docs");
  const csrfToken = container.dataset.csrfToken;
  window.borderRisk = window.borderRisk || {};
  window.borderRisk.apiDocs = window.SwaggerUIBundle({
    url: container.dataset.specUrl,
    domNode: container,
    // No deep links: Swagger UI draws them as links inside the operations' buttons
    // (nested controls a screen reader cannot reach, axe-core's nested-interactive).
    deepLinking: false,
    validatorUrl: null, // no badge fetched from a third-party validator
    presets: [window.SwaggerUIBundle.presets.apis],
    plugins: [landmarksAndHeadings(container.dataset)],
    requestInterceptor: (request) => {
      if (UNSAFE_METHODS.has(String(request.method).toUpperCase())) {
        request.headers["X-CSRFToken"] = csrfToken;
      }
      return request;
    },
  });
}

document.addEventListener("DOMContentLoaded", startSwaggerUi);
