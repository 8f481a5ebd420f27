"""The API's reference page at /api/v1/docs, readable on an intranet with no internet.

FastAPI's own page loads Swagger UI from a CDN and starts it with an inline script; the
security policy allows neither. Here Swagger UI comes from npm's `swagger-ui-dist`
(installed by `make`, served at /static/vendor/swagger-ui) and starts from a file of ours.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

DOCS_URL = "/api/v1/docs"
PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>careplan API</title>
  <link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="/static/vendor/swagger-ui/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
  <script src="/static/vendor/swagger-ui/swagger-ui-bundle.js"></script>
  <script src="/static/api-docs.js"></script>
</body>
</html>
"""


def install(app: FastAPI) -> None:
    openapi_url = app.openapi_url or "/api/v1/openapi.json"

    @app.get(DOCS_URL, include_in_schema=False)
    def api_docs() -> HTMLResponse:
        return HTMLResponse(PAGE.format(openapi_url=openapi_url))
