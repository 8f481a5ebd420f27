// Starts Swagger UI on /api/v1/docs. A file, not an inline script: the CSP allows
// scripts from this origin only.
const root = document.getElementById("swagger-ui");
window.ui = SwaggerUIBundle({ url: root.dataset.openapiUrl, dom_id: "#swagger-ui" });
