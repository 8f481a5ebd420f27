"""What every page route shares: the router (CSRF-checked, committing), form helpers,
and how domain errors become pages."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from careplan.config import get_settings
from careplan.errors import CareplanError, Forbidden, InvalidInput, NotFound
from careplan.validation import parse as parse_model
from careplan.validation import whole_number
from web.deps import get_clock, read_clock
from web.i18n import N_, gettext_for
from web.routing import router
from web.session import (
    CsrfRefused,
    PasswordChangeRequired,
    SignInRequired,
    Visitor,
    check_csrf,
    current_visitor,
    language_of,
)
from web.templating import error_text, is_htmx, render

__all__ = ["FormData", "pages_router", "parse_model", "redirect"]

FormData = Mapping[str, Any]


def pages_router() -> APIRouter:
    return router(include_in_schema=False, dependencies=[Depends(check_csrf)])


def redirect(request: Request, url: str) -> Response:
    """After a POST: 303 for a plain form, HX-Location for htmx (a full navigation)."""
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def text_of(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def optional(form: FormData, name: str) -> str | None:
    return text_of(form, name) or None


def int_of(form: FormData, name: str) -> int | None:
    value = text_of(form, name)
    return whole_number(value, name, N_("choose a value from the list")) if value else None


def ints_of(form: FormData, name: str) -> list[int]:
    """Every value of a repeated field (checkboxes of ids)."""
    values = form.getlist(name)  # type: ignore[attr-defined]  (Starlette's FormData)
    return [whole_number(str(v).strip(), name, N_("choose a value from the list")) for v in values]


def date_of(form: FormData, name: str) -> date | None:
    value = text_of(form, name)
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(N_("not a date (YYYY-MM-DD)"), field=name) from None


def local_datetime_of(form: FormData, name: str) -> datetime | None:
    """A datetime-local input: wall-clock time in the chain's time zone."""
    value = text_of(form, name)
    if not value:
        return None
    try:
        naive = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(N_("not a date and time"), field=name) from None
    return naive.replace(tzinfo=get_settings().zone)


def _error_page(
    request: Request,
    status: int,
    heading: str,
    message: str,
    *,
    language: str | None = None,
    request_id: str | None = None,
) -> HTMLResponse:
    # Error pages are rendered without the session: the request's own session may
    # be mid-failure, and an error page needs only the language.
    visitor = getattr(request.state, "visitor", None) or Visitor(
        None, language or _language(request), "", None
    )
    _ = gettext_for(visitor.language)
    context = {"heading": _(heading), "message": message, "request_id": request_id}
    return render(request, visitor, "errors/page.html", context, status=status, fragment=False)


def _language(request: Request) -> str:
    """The visitor's language, also for errors raised before any page dependency ran
    (an unknown URL): then the session cookie is looked up here."""
    visitor = getattr(request.state, "visitor", None)
    if visitor is not None:
        return visitor.language
    clock = request.app.dependency_overrides.get(get_clock, read_clock)()
    with request.app.state.session_factory() as session:
        return current_visitor(request, session, clock).language


def domain_error_page(request: Request, exc: CareplanError) -> Response:
    _ = gettext_for(_language(request))
    if isinstance(exc, NotFound):
        return _error_page(request, 404, N_("Not found"), _("There is nothing here for you."))
    if isinstance(exc, Forbidden):
        return _error_page(request, 403, N_("Not allowed"), error_text(_, exc))
    return _error_page(request, 422, N_("That did not work"), error_text(_, exc))


def http_error_page(request: Request, status: int) -> Response:
    _ = gettext_for(_language(request))
    if status == 404:
        return _error_page(request, 404, N_("Not found"), _("There is nothing here for you."))
    if status == 405:
        return _error_page(request, 405, N_("Not allowed"), _("Use the buttons on the page."))
    return _error_page(request, status, N_("Something went wrong"), _("Please try again."))


def unexpected_error_page(request: Request, request_id: str) -> Response:
    """A server error's page, showing the request id to report. Nothing may fail here: the
    language comes from the visitor already known, else the cookie or the browser (no
    database: it may be what failed), and a page that cannot render falls back to text."""
    visitor = getattr(request.state, "visitor", None)
    language = visitor.language if visitor is not None else language_of(request)
    _ = gettext_for(language)
    message = _("Something unexpected stopped this request. Please try again; if it "
                "happens again, tell your administrator the request ID below.")  # fmt: skip
    try:
        return _error_page(request, 500, N_("Something went wrong"), message,
                           language=language, request_id=request_id)  # fmt: skip
    except Exception:
        return PlainTextResponse(f"{message}\n{_('Request ID')}: {request_id}", status_code=500)


def install(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, _exc: SignInRequired) -> Response:
        return redirect(request, "/sign-in?next=" + quote(request.url.path))

    @app.exception_handler(PasswordChangeRequired)
    async def _new_password(request: Request, _exc: PasswordChangeRequired) -> Response:
        return redirect(request, "/change-password?next=" + quote(request.url.path))

    @app.exception_handler(CsrfRefused)
    async def _csrf(request: Request, _exc: CsrfRefused) -> Response:
        _ = gettext_for(_language(request))
        return _error_page(
            request,
            403,
            N_("This form has expired"),
            _("Reload the page and try again (the security token was missing or old)."),
        )


async def form_data(request: Request) -> FormData:
    """The posted form, read once (the CSRF check has usually read it already)."""
    return await request.form()


Form = Annotated[FormData, Depends(form_data)]
