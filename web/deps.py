"""Request-scoped dependencies: the session, the clock, and who is asking."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from careplan import clock
from careplan.access import Actor
from careplan.db import begin_for_writing
from careplan.sessions import staff_for_token
from careplan.staff import needs_new_password
from web.routing import READS_FIRST, marked

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def writes_at_once(request: Request) -> bool:
    """A state-changing request takes SQLite's write lock at BEGIN (careplan/db.py), unless
    its route reads and does slow work first (web.routing.reads_first)."""
    return request.method not in SAFE_METHODS and not marked(request, READS_FIRST)


async def get_session(request: Request) -> AsyncIterator[Session]:
    """Async, so a page read costs no trip to the thread pool for it: making a Session
    does no I/O, and closing one only hands its connection back (a rollback, which never
    waits for a lock). Taking SQLite's write lock may wait, so it goes to the pool."""
    session = request.app.state.session_factory()
    try:
        if writes_at_once(request):
            await run_in_threadpool(begin_for_writing, session)
        yield session
    finally:
        session.close()  # rolls back anything the route did not commit


@dataclass(frozen=True)
class Clock:
    now: datetime
    today: date


def read_clock() -> Clock:
    return Clock(now=clock.now(), today=clock.today())


async def get_clock() -> Clock:
    # Async: no I/O, so no trip to the thread pool.
    return read_clock()


def client_address(request: Request) -> str:
    """The peer's address (behind a reverse proxy, the proxy's: see docs/security.md)."""
    return request.client.host if request.client else ""


DbSession = Annotated[Session, Depends(get_session)]
Now = Annotated[Clock, Depends(get_clock)]


def current_actor(
    session: DbSession, clock: Now, authorization: Annotated[str | None, Header()] = None
) -> Actor:
    scheme, _, token = (authorization or "").partition(" ")
    staff = staff_for_token(session, token, now=clock.now) if scheme.lower() == "bearer" else None
    if staff is None:
        raise HTTPException(
            status_code=401,
            detail={"message": "sign in first (Authorization: Bearer <token>)", "field": None},
            headers={"WWW-Authenticate": "Bearer"},
        )
    if needs_new_password(staff):
        # A one-time password opens nothing but the page where its owner replaces it.
        message = "change the one-time password on the sign-in page first"
        detail = {"message": message, "field": "password", "key": message}
        raise HTTPException(status_code=403, detail=detail)
    actor = Actor.of(staff, via="api")
    session.info["actor"] = actor
    return actor


CurrentActor = Annotated[Actor, Depends(current_actor)]
