"""Every API error leaves as {"error": {"message", "field"}} with a fitting status code;
pages (anything outside /api/) get an error page in the visitor's language instead."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException

from careplan.errors import CareplanError, Conflict, Forbidden, InvalidInput, NotFound
from careplan.validation import describe
from web.pages import common as pages

STATUS = {InvalidInput: 422, NotFound: 404, Forbidden: 403, Conflict: 409}


def _status(exc: CareplanError) -> int:
    for cls, code in STATUS.items():
        if isinstance(exc, cls):
            return code
    return 400


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def install(app: FastAPI) -> None:
    pages.install(app)

    @app.exception_handler(CareplanError)
    async def _domain(request: Request, exc: CareplanError) -> Response:
        if not _is_api(request):
            return pages.domain_error_page(request, exc)
        body: dict[str, object] = {"error": exc.as_dict()}
        report = getattr(exc, "report", None)  # a refused file: every bad line
        if callable(report):
            body["errors"], body["problems_in_all"] = report(), getattr(exc, "total", None)
        return JSONResponse(body, status_code=_status(exc))

    @app.exception_handler(DataError)
    async def _out_of_range(request: Request, exc: DataError) -> Response:
        # The last guard: a number the database's column cannot hold (a 32-bit version
        # or count) that no schema bound caught. Refused as input, nothing written.
        refused = InvalidInput("a value is out of range for the database", field=None)
        return await _domain(request, refused)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        if not _is_api(request) and not request.url.path.startswith("/static/"):
            return pages.http_error_page(request, exc.status_code)
        detail = (
            exc.detail
            if isinstance(exc.detail, dict)
            else {"message": str(exc.detail), "field": None}
        )
        return JSONResponse({"error": detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = [describe(dict(e)) for e in exc.errors()]
        field, message = problems[0] if problems else (None, "invalid request")
        if not _is_api(request):
            return pages.domain_error_page(request, InvalidInput(message, field=field))
        return JSONResponse(
            {
                "error": {"message": message, "field": field},
                "errors": [{"field": f, "message": m} for f, m in problems],
            },
            status_code=422,
        )
