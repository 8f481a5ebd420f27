"""Security headers on every response.

No inline script anywhere (htmx is a file under /static, and no template has a <script>
body or an on… attribute), so the policy allows scripts from this origin only. Inline
styles stay allowed: the guidance-sheet preview carries its own stylesheet. Pages and
API answers hold health data: shared pharmacy computers must not keep them in a cache.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'self'",  # the sheet preview frames our own PDF; nobody else may
    )
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


_STORABLE = ("/static/",)


def secure(path: str, headers: MutableHeaders) -> None:
    for name, value in HEADERS.items():
        headers.setdefault(name, value)
    if not path.startswith(_STORABLE):
        headers.setdefault("Cache-Control", "no-store")


class SecurityHeaders:
    """Plain ASGI, not BaseHTTPMiddleware: that one runs every request through a task
    and a memory stream (about a millisecond a page), and buffers nothing we need."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                secure(path, MutableHeaders(scope=message))
            await send(message)

        await self.app(scope, receive, send_secured)


def install(app: FastAPI) -> None:
    app.add_middleware(SecurityHeaders)
