"""At most IN_FLIGHT requests of a process are worked at once; the rest wait their turn
here, in the event loop, holding nothing.

A request holds up to two database connections: its own, and a short one of its own for
the access log or the session's touch (committed apart, so that a page read never holds
a write lock). With more requests in flight than half the pool, each could hold its
first connection while waiting for a second that only another's end would free: under
30 clients the pool ran dry and requests failed after its 30-second wait. Working a
handful at a time loses nothing either: the work is Python, one core's worth a process.
"""

from __future__ import annotations

import asyncio
import weakref

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from careplan.db import POOL_CONNECTIONS

CONNECTIONS_PER_REQUEST = 2
IN_FLIGHT = POOL_CONNECTIONS // CONNECTIONS_PER_REQUEST - 2  # two spare: healthz, a CLI
UNLIMITED = ("/static/",)  # files, no database


class Admission:
    def __init__(self, app: ASGIApp, limit: int = IN_FLIGHT) -> None:
        self.app = app
        self.limit = limit
        # One per event loop: a server has one, but a test client may run several at
        # once (a loop per thread), and an asyncio semaphore serves only its own loop.
        self._turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]
        self._turns = weakref.WeakKeyDictionary()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(UNLIMITED):
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        turns = self._turns.get(loop)
        if turns is None:
            turns = self._turns[loop] = asyncio.Semaphore(self.limit)
        async with turns:
            await self.app(scope, receive, send)


def install(app: FastAPI) -> None:
    app.add_middleware(Admission)
