"""Sign-in for API clients: a bearer token in exchange for username and password."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from careplan.config import get_settings
from careplan.sessions import end_session
from careplan.sign_in import sign_in as attempt
from web.api.schemas import TokenOut
from web.deps import CurrentActor, DbSession, Now, client_address
from web.errors import api_error
from web.routing import router

api = router(prefix="/auth", tags=["auth"])


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


@api.post("/token", response_model=TokenOut, responses={401: {}, 423: {}})
def sign_in(request: Request, body: Credentials, clock: Now) -> TokenOut | JSONResponse:
    hours = get_settings().session_hours
    outcome = attempt(
        request.app.state.session_factory, body.username, body.password,
        now=clock.now, address=client_address(request), kind="api", hours=hours,
    )  # fmt: skip
    if outcome.token is None or outcome.staff is None:
        if outcome.locked_until is not None:
            until = outcome.locked_until.isoformat(timespec="minutes")
            what = "sign-in from this address" if outcome.by_address else "sign-in for this name"
            message = f"too many wrong passwords: {what} locked until {until}"
            return api_error(request, {"message": message, "field": "username"}, 423)
        message = "wrong username or password"
        return api_error(request, {"message": message, "field": "password"}, 401)
    staff = outcome.staff
    return TokenOut(token=outcome.token, expires_in_hours=hours, staff_id=staff.id, role=staff.role)


@api.post("/sign-out", status_code=204)
def sign_out(
    _actor: CurrentActor, session: DbSession, clock: Now, authorization: Annotated[str, Header()]
) -> None:
    end_session(session, authorization.partition(" ")[2], now=clock.now)
