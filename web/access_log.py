"""Recording a look at members' health data from a request (careplan/trust/access_log.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from careplan.access import Actor, get_member
from careplan.trust import access_log
from web.deps import CurrentActor, DbSession, Now, client_address


def looked(
    request: Request,
    actor: Actor,
    member_ids: Iterable[int],
    what: str,
    now: datetime,
    session: Session | None = None,
) -> None:
    """Record the look on its own (a GET), or in `session` when the request writes."""
    address = client_address(request)
    look = access_log.Look(what=what, target=request.url.path, address=address, now=now)
    if session is not None:
        access_log.record_in(session, actor, member_ids, look)
    else:
        access_log.record(request.app.state.session_factory, actor, member_ids, look)


def _api_look(what: str) -> Callable[..., None]:
    """For API routes that return a member's health data: after the member is found
    visible to the caller (else the route's own 404), the look is recorded."""

    def look(
        request: Request, member_id: int, session: DbSession, actor: CurrentActor, clock: Now
    ) -> None:
        get_member(session, actor, member_id)
        looked(request, actor, [member_id], what, clock.now)

    return look


LOOK = Depends(_api_look("api"))
LOOK_EXPORT = Depends(_api_look("export"))
