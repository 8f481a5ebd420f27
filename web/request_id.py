"""A request id on every answer (the X-Request-ID header): the client's own when it is a
sane short token, so a proxy's id follows the request through both logs; else a new one.
A server error shows it to the person and logs it beside the traceback, so what they
report can be found. Every line logged while the request runs carries it too
(careplan/logs.py)."""

from __future__ import annotations

import re
import uuid

from fastapi import FastAPI, Request
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from careplan.logs import set_request_id

HEADER = "X-Request-ID"
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,64}", re.ASCII)


def request_id(request: Request) -> str:
    """This request's id (a new one, kept for the rest of the request, if it was raised
    before the middleware ran)."""
    found = getattr(request.state, "request_id", None)
    if not isinstance(found, str):
        found = request.state.request_id = uuid.uuid4().hex
    return found


class RequestIdMiddleware:
    """Plain ASGI, so streamed answers (CSV exports) pass through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get(HEADER, "")
        rid = given if _SANE.fullmatch(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        set_request_id(rid)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = rid
            await send(message)

        await self.app(scope, receive, send_with_id)


def install(app: FastAPI) -> None:
    """Added last, so it wraps every other middleware and every answer gets the header
    (but for the last resort's, sent from outside all middleware: it sets its own)."""
    app.add_middleware(RequestIdMiddleware)
