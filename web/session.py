"""Browser sessions: an HTTP-only SameSite cookie, CSRF tokens, the page's language.

The cookie holds a random token whose hash is an AuthSession row of kind "web" (API
bearer tokens are kind "api"; neither works in place of the other). The CSRF token is an
HMAC of the cookie under the secret key, so it needs no storage, changes at every
sign-in, and a page of another site can neither read nor forge it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request, Response

from careplan.access import Actor
from careplan.config import get_settings
from careplan.db import begin_for_writing
from careplan.models import AuthSession, Staff
from careplan.sessions import live_session, needs_touch, touch
from web.deps import SAFE_METHODS, DbSession, Now
from web.i18n import LANGUAGES, negotiate

SESSION_COOKIE = "careplan_session"
ANON_COOKIE = "careplan_anon"  # seeds the CSRF token of the sign-in form
LANG_COOKIE = "careplan_lang"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


class SignInRequired(Exception):
    """Raised by pages that need a signed-in user; answered with a redirect."""


class CsrfRefused(Exception):
    """A state-changing request without the page's CSRF token."""


def csrf_for(seed: str) -> str:
    key = get_settings().secret_key.encode()
    return hmac.new(key, b"csrf:" + seed.encode(), hashlib.sha256).hexdigest()


def set_cookie(response: Response, name: str, value: str, *, max_age: int | None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=get_settings().environment == "production",
        path="/",
    )


@dataclass
class Visitor:
    """Who is looking at a page: maybe signed in, always with a language and CSRF token."""

    staff: Staff | None
    language: str
    csrf: str
    anon_seed: str | None  # set when a new anonymous cookie must be sent

    @property
    def actor(self) -> Actor:
        if self.staff is None:
            raise SignInRequired
        return Actor.of(self.staff, via="web")


def _language(request: Request, staff: Staff | None) -> str:
    if staff is not None and staff.language in LANGUAGES:
        return staff.language
    return language_of(request)


def language_of(request: Request) -> str:
    """The language chosen on this browser (the cookie), else the one it asks for."""
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return negotiate(request.headers.get("accept-language"))


def _signed_in(request: Request, session: DbSession, now: datetime) -> AuthSession | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    idle = timedelta(minutes=get_settings().idle_minutes)
    row = live_session(session, token, now=now, kind="web", idle=idle)
    if row is not None and needs_touch(row, now):
        _touch(request, session, row.id, now)
    return row


def _touch(request: Request, session: DbSession, session_id: int, now: datetime) -> None:
    """A page read holds no write lock, so it touches in a short transaction of its own
    (as the access log does); a form post writes anyway and touches in its own."""
    if request.method not in SAFE_METHODS:
        touch(session, session_id, now)
        return
    with request.app.state.session_factory() as own:
        begin_for_writing(own)
        touch(own, session_id, now)
        own.commit()


def visitor(request: Request, session: DbSession, now: Now) -> Visitor:
    row = _signed_in(request, session, now.now)
    staff = row.staff if row is not None else None
    token = request.cookies.get(SESSION_COOKIE)
    anon = request.cookies.get(ANON_COOKIE)
    new_anon = None
    if staff is None and not anon:
        anon = new_anon = secrets.token_urlsafe(24)
    seed = token if staff is not None and token else anon or ""
    v = Visitor(staff, _language(request, staff), csrf_for(seed), new_anon)
    if staff is not None:
        session.info["actor"] = Actor.of(staff, via="web")
    request.state.visitor = v
    return v


async def check_csrf(request: Request) -> None:
    """Every POST from a page carries the token: a form field, or htmx's header."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    # compare_digest takes ASCII text only (a TypeError otherwise): tokens are hex.
    if not sent or not sent.isascii():
        raise CsrfRefused
    # The page was made for the session cookie, or (signed out) for the anonymous one.
    seeds = [request.cookies.get(SESSION_COOKIE), request.cookies.get(ANON_COOKIE)]
    if not any(s and hmac.compare_digest(sent, csrf_for(s)) for s in seeds):
        raise CsrfRefused


def signed_in(v: Annotated[Visitor, Depends(visitor)]) -> Visitor:
    if v.staff is None:
        raise SignInRequired
    return v


AnyVisitor = Annotated[Visitor, Depends(visitor)]
User = Annotated[Visitor, Depends(signed_in)]
