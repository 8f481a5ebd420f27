"""GET /healthz: the probes of careplan/health.py as JSON, 200 when all pass, 503 naming
the failed ones. No sign-in (a load balancer asks), no access-log line (web/request_log.py),
and no commit: the probes only read."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from careplan import health


def healthz(request: Request) -> JSONResponse:
    found = health.check(request.app.state.session_factory)
    return JSONResponse(found.as_dict(), status_code=200 if found.ok else 503)


def install(app: FastAPI) -> None:
    app.add_api_route("/healthz", healthz, methods=["GET"], include_in_schema=False)
