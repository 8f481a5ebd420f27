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
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response

from careplan.access import (
    Actor,
    complaints_in_header,
    may_administer,
    may_see_spend_tiers,
    sees_store_management,
    starts_on_the_audit,
)
from careplan.config import get_settings
from careplan.db import begin_for_writing
from careplan.models import AuthSession, Staff
from careplan.sessions import live_session, needs_touch, touch
from careplan.staff import needs_new_password
from web.deps import SAFE_METHODS, DbSession, Now, writes_at_once
from web.i18n import LANGUAGES, negotiate
from web.routing import ANONYMOUS_FORM, marked

SESSION_COOKIE = "careplan_session"
ANON_COOKIE = "careplan_anon"  # seeds the CSRF token of the sign-in form
LANG_COOKIE = "careplan_lang"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


class SignInRequired(Exception):
    """Raised by pages that need a signed-in user; answered with a redirect."""


class PasswordChangeRequired(Exception):
    """A signed-in account still on a one-time password: it must choose its own first."""


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

    @property
    def may_administer(self) -> bool:
        """Whether the header offers the admin console."""
        return self.staff is not None and may_administer(self.actor)

    @property
    def has_worklist(self) -> bool:
        """Whether the header offers a worklist of their own (head office has none)."""
        return self.staff is not None and not starts_on_the_audit(self.actor)

    @property
    def may_see_value(self) -> bool:
        """Whether the header offers member value (spend tiers and quadrants). Not the
        admin's: their header is full at 1280 px; the audit page links to it."""
        return (
            self.staff is not None
            and may_see_spend_tiers(self.actor)
            and not may_administer(self.actor)
        )

    @property
    def sees_complaints(self) -> bool:
        """Whether the header offers the complaints (store staff and supervisors)."""
        return self.staff is not None and complaints_in_header(self.actor)

    @property
    def may_manage(self) -> bool:
        """Whether the header offers the store pages, the audit and the till imports."""
        return self.staff is not None and sees_store_management(self.actor)


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
    """A request that holds no write lock (a page read, or a write that reads first)
    touches in a short transaction of its own, as the access log does; one that holds
    the lock anyway touches in the request's transaction."""
    if writes_at_once(request):
        touch(session, session_id, now)
        return
    with request.app.state.session_factory() as own:
        begin_for_writing(own)
        touch(own, session_id, now)
        own.commit()


def _anonymous(request: Request) -> Visitor:
    anon = request.cookies.get(ANON_COOKIE)
    new_anon = None
    if not anon:
        anon = new_anon = secrets.token_urlsafe(24)
    return Visitor(None, _language(request, None), csrf_for(anon), new_anon)


def current_visitor(request: Request, session: DbSession, clock: Now) -> Visitor:
    row = _signed_in(request, session, clock.now)
    token = request.cookies.get(SESSION_COOKIE)
    if row is not None and token:
        visitor = Visitor(row.staff, _language(request, row.staff), csrf_for(token), None)
        session.info["actor"] = Actor.of(row.staff, via="web")
    else:
        visitor = _anonymous(request)
    request.state.visitor = visitor
    return visitor


def signed_out_visitor(request: Request) -> Visitor:
    """The sign-in form's visitor, found without the database: its post must not open a
    transaction before the password is checked (careplan/sign_in.py)."""
    visitor = _anonymous(request)
    request.state.visitor = visitor
    return visitor


async def check_csrf(request: Request) -> None:
    """Every POST from a page carries the token of the session that got the page (a form
    field, or htmx's header), and comes from a page of this site."""
    if request.method in SAFE_METHODS:
        return
    if not same_origin(request):
        raise CsrfRefused
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    # compare_digest takes ASCII text only (a TypeError otherwise): tokens are hex.
    if not sent or not sent.isascii():
        raise CsrfRefused
    # Bound to one cookie: the anonymous one only where no one is signed in yet, so a
    # token planted from the sign-in page opens no signed-in form.
    cookie = ANON_COOKIE if marked(request, ANONYMOUS_FORM) else SESSION_COOKIE
    seed = request.cookies.get(cookie)
    if not seed or not hmac.compare_digest(sent, csrf_for(seed)):
        raise CsrfRefused


def same_origin(request: Request) -> bool:
    """The Origin (or, without it, the Referer) names this site's host, as the browser
    reached it. A request with neither (not from a browser) is judged by its token alone;
    an opaque origin ("null": a sandboxed frame, a data: page) is refused."""
    origin = request.headers.get("origin")
    if origin is None:
        origin = request.headers.get("referer")
        if origin is None:
            return True
    host = request.headers.get("host", "")
    return bool(host) and urlsplit(origin).netloc.lower() == host.lower()


def require_signed_in(visitor: Visitor) -> Visitor:
    """Every signed-in page; an account on a one-time password is sent to choose its own
    password before anything else (the change-password page itself asks for AnyVisitor)."""
    if visitor.staff is None:
        raise SignInRequired
    if needs_new_password(visitor.staff):
        raise PasswordChangeRequired
    return visitor


async def signed_in(visitor: Annotated[Visitor, Depends(current_visitor)]) -> Visitor:
    # Async: it only looks at what current_visitor found, so no trip to the thread pool.
    return require_signed_in(visitor)


AnyVisitor = Annotated[Visitor, Depends(current_visitor)]
SignedOut = Annotated[Visitor, Depends(signed_out_visitor)]
User = Annotated[Visitor, Depends(signed_in)]
