"""Every error leaves as {"error": {"message", "field"}} with a fitting status code."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from careplan.errors import CareplanError, Conflict, Forbidden, InvalidInput, NotFound
from careplan.validation import describe

STATUS = {InvalidInput: 422, NotFound: 404, Forbidden: 403, Conflict: 409}


def _status(exc: CareplanError) -> int:
    for cls, code in STATUS.items():
        if isinstance(exc, cls):
            return code
    return 400


def install(app: FastAPI) -> None:
    @app.exception_handler(CareplanError)
    async def _domain(_request: Request, exc: CareplanError) -> JSONResponse:
        return JSONResponse({"error": exc.as_dict()}, status_code=_status(exc))

    @app.exception_handler(HTTPException)
    async def _http(_request: Request, exc: HTTPException) -> JSONResponse:
        detail = (
            exc.detail
            if isinstance(exc.detail, dict)
            else {"message": str(exc.detail), "field": None}
        )
        return JSONResponse({"error": detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [describe(dict(e)) for e in exc.errors()]
        field, message = problems[0] if problems else (None, "invalid request")
        return JSONResponse(
            {
                "error": {"message": message, "field": field},
                "errors": [{"field": f, "message": m} for f, m in problems],
            },
            status_code=422,
        )
