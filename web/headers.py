"""Security headers on every response.

No inline script anywhere (htmx is a file under /static, and no template has a <script>
body or an on… attribute), so the policy allows scripts from this origin only. Inline
styles stay allowed: the guidance-sheet preview carries its own stylesheet. Pages and
API answers hold health data: shared pharmacy computers must not keep them in a cache.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response

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


Next = Callable[[Request], Awaitable[Response]]


def secure(request: Request, response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if not request.url.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def install(app: FastAPI) -> None:
    @app.middleware("http")
    async def _secure(request: Request, call_next: Next) -> Response:
        return secure(request, await call_next(request))
