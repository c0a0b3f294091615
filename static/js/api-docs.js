// The API documentation page: Swagger UI on our OpenAPI document. Requests made with
// "Try it out" use the browser's session, so writes carry the page's CSRF token.

const UNSAFE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

function startSwaggerUi() {
  const container = document.getElementById("api-docs");
  const csrfToken = container.dataset.csrfToken;
  window.borderRisk = window.borderRisk || {};
  window.borderRisk.apiDocs = window.SwaggerUIBundle({
    url: container.dataset.specUrl,
    domNode: container,
    deepLinking: true,
    validatorUrl: null, // no badge fetched from a third-party validator
    presets: [window.SwaggerUIBundle.presets.apis],
    requestInterceptor: (request) => {
      if (UNSAFE_METHODS.has(String(request.method).toUpperCase())) {
        request.headers["X-CSRFToken"] = csrfToken;
      }
      return request;
    },
  });
}

document.addEventListener("DOMContentLoaded", startSwaggerUi);
