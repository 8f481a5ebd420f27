"""Sign-in for API clients: a bearer token in exchange for username and password."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from careplan.config import get_settings
from careplan.sessions import end_session, open_session
from careplan.staff import authenticate
from web.api.schemas import TokenOut
from web.deps import CurrentActor, DbSession, Now, client_address
from web.routing import router

api = router(prefix="/auth", tags=["auth"])


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


@api.post("/token", response_model=TokenOut, responses={401: {}, 423: {}})
def sign_in(
    request: Request, body: Credentials, session: DbSession, now: Now
) -> TokenOut | JSONResponse:
    # A refusal is returned, not raised, so the route still commits the failure count.
    address = client_address(request)
    outcome = authenticate(session, body.username, body.password, now=now.now, address=address)
    if outcome.staff is None and outcome.locked_until is not None:
        until = outcome.locked_until.isoformat(timespec="minutes")
        what = "sign-in from this address" if outcome.by_address else "account"
        message = f"too many wrong passwords: {what} locked until {until}"
        return JSONResponse({"error": {"message": message, "field": "username"}}, 423)
    if outcome.staff is None:
        message = "wrong username or password"
        return JSONResponse({"error": {"message": message, "field": "password"}}, 401)
    staff = outcome.staff
    hours = get_settings().session_hours
    token = open_session(session, staff, kind="api", hours=hours, now=now.now)
    return TokenOut(token=token, expires_in_hours=hours, staff_id=staff.id, role=staff.role)


@api.post("/sign-out", status_code=204)
def sign_out(
    _actor: CurrentActor, session: DbSession, now: Now, authorization: Annotated[str, Header()]
) -> None:
    end_session(session, authorization.partition(" ")[2], now=now.now)
