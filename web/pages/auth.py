"""Sign-in, sign-out, and the language setting."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import Response

from careplan.config import get_settings
from careplan.errors import CareplanError
from careplan.sessions import end_session
from careplan.sign_in import SignIn
from careplan.sign_in import sign_in as attempt
from careplan.staff import choose_password, needs_new_password, set_language
from web.deps import DbSession, Now, client_address
from web.i18n import LANGUAGES, gettext_for
from web.pages.common import Form, pages_router, redirect, text_of
from web.routing import anonymous_form
from web.session import (
    LANG_COOKIE,
    SESSION_COOKIE,
    AnyVisitor,
    SignedOut,
    SignInRequired,
    User,
    set_cookie,
)
from web.templating import render

pages = pages_router()


def _safe_next(target: str) -> str:
    """Only a path on this site: a crafted ?next= must not send staff elsewhere."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


@pages.get("/sign-in")
def sign_in_page(request: Request, visitor: AnyVisitor, next: str = "/") -> Response:
    if visitor.staff is not None:
        return redirect(request, _safe_next(next))
    return render(request, visitor, "auth/sign_in.html", {"next": _safe_next(next), "username": ""})


def _refusal(outcome: SignIn, now: datetime, _: Callable[..., str]) -> str:
    if outcome.locked_until is None:
        return _("Wrong username or password.")
    minutes = max(1, int((outcome.locked_until - now).total_seconds() // 60) + 1)
    if outcome.by_address:
        return _(
            "Too many wrong passwords from this computer. Sign-in from here is paused; "
            "try again in %(n)s minutes.",
            n=minutes,
        )
    return _(
        "Too many wrong passwords. The account is locked; try again in %(n)s minutes "
        "or ask your store manager.",
        n=minutes,
    )


@pages.post("/sign-in")
@anonymous_form
def sign_in(request: Request, form: Form, clock: Now, visitor: SignedOut) -> Response:
    username, password = text_of(form, "username"), str(form.get("password") or "")
    target = _safe_next(text_of(form, "next") or "/")
    hours = get_settings().session_hours
    outcome = attempt(
        request.app.state.session_factory, username, password,
        now=clock.now, address=client_address(request), kind="web", hours=hours,
    )  # fmt: skip
    if outcome.token is None:
        error = _refusal(outcome, clock.now, gettext_for(visitor.language))
        context = {"next": target, "username": username, "error": error}
        return render(request, visitor, "auth/sign_in.html", context, status=401, fragment=False)
    if outcome.staff is not None and needs_new_password(outcome.staff):
        target = "/change-password?next=" + quote(target)
    response = redirect(request, target)
    set_cookie(response, SESSION_COOKIE, outcome.token, max_age=hours * 3600)
    return response


@pages.get("/change-password")
def change_password_page(request: Request, visitor: AnyVisitor, next: str = "/") -> Response:
    """Also for an account on a one-time password, which every other page sends here."""
    if visitor.staff is None:
        raise SignInRequired
    context = {"next": _safe_next(next), "forced": needs_new_password(visitor.staff), "error": None}
    return render(request, visitor, "auth/change_password.html", context)


@pages.post("/change-password")
def change_password(
    request: Request, form: Form, visitor: AnyVisitor, session: DbSession
) -> Response:
    if visitor.staff is None:
        raise SignInRequired
    target = _safe_next(text_of(form, "next") or "/")
    try:
        choose_password(session, visitor.staff.id, str(form.get("new_password") or ""),
                        str(form.get("repeat_password") or ""))  # fmt: skip
    except CareplanError as exc:
        session.rollback()
        context = {"next": target, "forced": needs_new_password(visitor.staff), "error": exc}
        return render(request, visitor, "auth/change_password.html", context, status=422)
    return redirect(request, "/" if target.startswith("/change-password") else target)


@pages.post("/sign-out")
def sign_out(request: Request, session: DbSession, clock: Now) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        end_session(session, token, now=clock.now)
    response = redirect(request, "/sign-in")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@pages.post("/language")
@anonymous_form
def choose_language(request: Request, form: Form) -> Response:
    """Before sign-in: remember the choice in a cookie (after it, the staff setting rules)."""
    language = text_of(form, "language")
    response = redirect(request, _safe_next(text_of(form, "next") or "/sign-in"))
    if language in LANGUAGES:
        set_cookie(response, LANG_COOKIE, language, max_age=365 * 86400)
    return response


@pages.get("/settings")
def settings_page(request: Request, visitor: User, saved: bool = False) -> Response:
    return render(request, visitor, "settings/index.html", {"saved": saved})


@pages.post("/settings")
def save_settings(request: Request, form: Form, session: DbSession, visitor: User) -> Response:
    assert visitor.staff is not None
    set_language(session, visitor.staff.id, text_of(form, "language"))
    return redirect(request, "/settings?saved=1")
