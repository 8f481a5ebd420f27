"""Messages to members: consent per channel on the member's page, a store's messages of
the day, what the log provider kept, and the providers' callbacks (receipts, replies)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import PlainTextResponse, Response

from careplan.access import (
    get_member,
    may_build_messages,
    may_read_message_log,
    require_manager,
)
from careplan.config import get_settings
from careplan.errors import N_, CareplanError, InvalidInput
from careplan.jobs import tasks
from careplan.outreach import callbacks as outreach_callbacks
from careplan.outreach import consent, outbox, preview
from careplan.outreach.provider import callback_headers
from careplan.stores import visible_stores
from careplan.vocab import MessageChannel
from web.deps import DbSession, Now
from web.pages.common import Form, pages_router, redirect, text_of
from web.pages.members import member_view
from web.pages.store import store_of
from web.routing import reads_first, router
from web.session import User
from web.templating import render

pages = pages_router()
LOG_LINES = 200


def _channel(form: Form) -> MessageChannel:
    try:
        return MessageChannel(text_of(form, "channel"))
    except ValueError:
        raise InvalidInput(N_("choose a value from the list"), field="channel") from None


@pages.post("/members/{member_id}/messages/consent")
def give_consent(
    request: Request, member_id: int, form: Form, visitor: User, session: DbSession, clock: Now
) -> Response:
    try:
        consent.grant(
            session,
            visitor.actor,
            member_id,
            _channel(form),
            now=clock.now,
            address=text_of(form, "openid") or None,
        )
    except CareplanError as exc:
        session.rollback()
        return member_view(request, visitor, session, clock, member_id, message_error=exc)
    return redirect(request, f"/members/{member_id}#h-messages")


@pages.post("/members/{member_id}/messages/consent/withdraw")
def withdraw_consent(
    request: Request, member_id: int, form: Form, visitor: User, session: DbSession, clock: Now
) -> Response:
    try:
        consent.withdraw(session, visitor.actor, member_id, _channel(form), now=clock.now)
    except CareplanError as exc:
        session.rollback()
        return member_view(request, visitor, session, clock, member_id, message_error=exc)
    return redirect(request, f"/members/{member_id}#h-messages")


@pages.get("/members/{member_id}/messages/preview")
def preview_message(
    request: Request, member_id: int, visitor: User, session: DbSession, template: str = ""
) -> Response:
    """A template as this member would read it, with their own name, store, next step or
    lecture where there is one: nothing is sent."""
    member = get_member(session, visitor.actor, member_id)
    settings = get_settings()
    try:
        text = preview.render_for(session, member, template, settings=settings)
    except CareplanError as exc:
        return render(request, visitor, "members/_preview.html", {"member": member, "error": exc},
                      status=422)  # fmt: skip
    return render(request, visitor, "members/_preview.html", {"member": member, "text": text})


@pages.get("/store/messages")
def store_messages(
    request: Request,
    visitor: User,
    session: DbSession,
    clock: Now,
    store: int | None = None,
    day: date | None = None,
    building: int | None = None,
) -> Response:
    """The messages of a store's day, with their state: a manager's (and head office's)."""
    require_manager(visitor.actor)
    shown = store_of(session, visitor, store)
    on = day or clock.today
    rows = outbox.of_store_day(session, shown.id, on)
    context = {
        "nav": "store",
        "store": shown,
        "day": on,
        "today": clock.today,
        "rows": rows,
        "counts": outbox.counts_by_state([m for m, _ in rows]),
        "building": building,
        "stores": visible_stores(session, visitor.actor) if visitor.actor.chain_wide else [],
        "may_build": may_build_messages(visitor.actor),
        "may_read_log": may_read_message_log(visitor.actor),
    }
    return render(request, visitor, "store/messages.html", context)


@pages.post("/store/messages/build")
@reads_first  # it writes nothing itself: the job builds, in transactions of its own
def build_messages(request: Request, form: Form, visitor: User, session: DbSession) -> Response:
    """Build today's messages now, as a job (the consumers also do it hourly; nothing is
    built twice)."""
    require_manager(visitor.actor)
    queued = tasks.queue_build(visitor.actor.staff_id)
    store = text_of(form, "store")
    said = f"building={int(queued)}" + (f"&store={store}" if store else "")
    return redirect(request, f"/store/messages?{said}")


@pages.get("/messages/log")
def message_log(request: Request, visitor: User, session: DbSession) -> Response:
    """What the log provider kept (the demo's and the tests' "sent" messages), newest
    first, of the stores the reader sees."""
    require_manager(visitor.actor)
    lines = outbox.kept_by_log(session, visitor.actor, get_settings().work_dir, last=LOG_LINES)
    return render(request, visitor, "store/message_log.html", {"nav": "store", "lines": lines})


async def raw_body(request: Request) -> bytes:
    return await request.body()


callbacks = router(include_in_schema=False)


@callbacks.get("/callbacks/messages/{provider}")
def provider_check(request: Request, provider: str) -> Response:
    """WeChat's server check when the push URL is configured: its echostr, if signed."""
    answer = outreach_callbacks.verify(get_settings(), provider, dict(request.query_params))
    return PlainTextResponse(answer.body, status_code=answer.status)


@callbacks.post("/callbacks/messages/{provider}")
def provider_callback(
    request: Request,
    provider: str,
    session: DbSession,
    clock: Now,
    body: Annotated[bytes, Depends(raw_body)],
) -> Response:
    """A provider's push: delivery receipts and members' replies, signed by it."""
    headers = callback_headers(request.headers, request.query_params)
    answer = outreach_callbacks.receive(
        session, get_settings(), provider, headers, body, now=clock.now
    )
    return PlainTextResponse(answer.body, status_code=answer.status)
