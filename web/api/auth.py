"""Sign-in for API clients: a bearer token in exchange for username and password."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, HTTPException
from pydantic import BaseModel, Field

from careplan.config import get_settings
from careplan.staff import authenticate, end_session, open_session
from web.api.schemas import TokenOut
from web.deps import CurrentActor, DbSession, Now
from web.routing import router

api = router(prefix="/auth", tags=["auth"])


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


@api.post("/token", response_model=TokenOut)
def sign_in(body: Credentials, session: DbSession, now: Now) -> TokenOut:
    staff = authenticate(session, body.username, body.password)
    if staff is None:
        raise HTTPException(
            401, detail={"message": "wrong username or password", "field": "password"}
        )
    hours = get_settings().session_hours
    token = open_session(session, staff, kind="api", hours=hours, now=now.now)
    return TokenOut(token=token, expires_in_hours=hours, staff_id=staff.id, role=staff.role)


@api.post("/sign-out", status_code=204)
def sign_out(
    _actor: CurrentActor, session: DbSession, now: Now, authorization: Annotated[str, Header()]
) -> None:
    end_session(session, authorization.partition(" ")[2], now=now.now)
