"""Every API error leaves as {"error": {"message", "field", "request_id"}} with a fitting
status code; pages (anything outside /api/) get an error page in the visitor's language
instead. Anything unexpected too: a 500 in the same shape (its page shows the id), with
the request id that its logged traceback and the request's log line carry."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException

from careplan.errors import N_, CareplanError, Conflict, Forbidden, InvalidInput, NotFound
from careplan.validation import refusal
from web import headers
from web.pages import common as pages
from web.request_id import HEADER, request_id

log = logging.getLogger(__name__)
STATUS = {InvalidInput: 422, NotFound: 404, Forbidden: 403, Conflict: 409}


def _status(exc: CareplanError) -> int:
    for cls, code in STATUS.items():
        if isinstance(exc, cls):
            return code
    return 400


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def api_error(
    request: Request,
    error: dict[str, object],
    status: int,
    *,
    headers: dict[str, str] | None = None,
    **more: object,
) -> JSONResponse:
    """An API error's answer: the error with the request's id, which its log lines carry,
    so what an integrator reports can be found."""
    body = {"error": error | {"request_id": request_id(request)}, **more}
    return JSONResponse(body, status_code=status, headers=headers)


def unexpected(request: Request, exc: Exception) -> Response:
    """The last resort. Starlette runs it in ServerErrorMiddleware, outside every other
    middleware (and re-raises for the server's own log): the security headers and the
    request id are set here."""
    rid = request_id(request)
    log.error("unexpected error, request %s: %s %s", rid, request.method, request.url.path,
              exc_info=exc)  # fmt: skip
    if _is_api(request):
        message = "an unexpected error stopped this request: report its request_id"
        response: Response = api_error(request, {"message": message, "field": None}, 500)
    else:
        response = pages.unexpected_error_page(request, rid)
    response.headers[HEADER] = rid
    headers.secure(request.url.path, response.headers)
    return response


def install(app: FastAPI) -> None:
    pages.install(app)
    app.add_exception_handler(Exception, unexpected)

    @app.exception_handler(CareplanError)
    async def _domain(request: Request, exc: CareplanError) -> Response:
        if not _is_api(request):
            return pages.domain_error_page(request, exc)
        more: dict[str, object] = {}
        report = getattr(exc, "report", None)  # a refused file: every bad line
        if callable(report):
            more = {"errors": report(), "problems_in_all": getattr(exc, "total", None)}
        return api_error(request, exc.as_dict(), _status(exc), **more)

    @app.exception_handler(DataError)
    async def _out_of_range(request: Request, exc: DataError) -> Response:
        # The last guard: a number the database's column cannot hold (a 32-bit version
        # or count) that no schema bound caught. Refused as input, nothing written.
        refused = InvalidInput(N_("a value is out of range for the database"), field=None)
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
        return api_error(request, detail, exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        # Said in our words with a key, never pydantic's (which quote the regular
        # expression a value failed): the API in English, a page in the reader's language.
        problems = [refusal(dict(e)) for e in exc.errors()] or [refusal({})]
        if not _is_api(request):
            return pages.domain_error_page(request, problems[0])
        return api_error(request, problems[0].as_dict(), 422,
                         errors=[p.as_dict() for p in problems])  # fmt: skip
