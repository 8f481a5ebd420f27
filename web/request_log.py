"""One log line per request (replacing the server's own access log): method, path,
status, how long it took, and the client's address, with the request's id.

The path is logged without its query string: a search (`/members?q=王秀英`) would write
a member's name or card number into every log and every copy of it. /healthz is not
logged: a load balancer asks every few seconds, and its lines would bury the real ones.
"""

from __future__ import annotations

import logging
import time

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("careplan.requests")
NOT_LOGGED = frozenset({"/healthz"})


class RequestLogMiddleware:
    """Plain ASGI, inside the request id's middleware (so the id is set) and around
    everything else; an answer that fails with an exception is logged as the 500 that
    Starlette's last resort will send."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in NOT_LOGGED:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            _log_line(scope, status, time.perf_counter() - started)


def _log_line(scope: Scope, status: int, seconds: float) -> None:
    method, path = scope["method"], scope["path"]
    client = scope.get("client")
    duration_ms = round(seconds * 1000, 1)
    fields = {
        "method": method,
        "path": path,
        "status": status,
        "duration_ms": duration_ms,
        "client": client[0] if client else None,  # behind a trusted proxy: forwarded
    }
    log.info("%s %s %s %.1f ms", method, path, status, duration_ms, extra=fields)


def install(app: FastAPI) -> None:
    """Before request_id.install, so that its middleware wraps this one."""
    app.add_middleware(RequestLogMiddleware)
