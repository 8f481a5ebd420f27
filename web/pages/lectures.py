"""Health lectures: the list, scheduling, one lecture's roster and its day (register,
waitlist, reminders, check-in, walk-ins), invitations, the sign-in sheet and .ics."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import select

from careplan import lectures
from careplan import members as archive
from careplan.audit import csv_lines
from careplan.errors import N_, CareplanError, InvalidInput
from careplan.models import Store
from careplan.staff import names_of
from careplan.validation import whole_number
from careplan.vocab import Channel
from web.audit_params import csv_response
from web.deps import DbSession, Now
from web.lecture_files import ics_of, sign_in_pdf
from web.pages.common import (
    Form,
    int_of,
    ints_of,
    local_datetime_of,
    pages_router,
    redirect,
    text_of,
)
from web.pages.members import member_view
from web.session import User, Visitor
from web.templating import render

pages = pages_router()


def _stores(session: DbSession, v: Visitor) -> list[Store]:
    stmt = select(Store).order_by(Store.code)
    if not v.actor.chain_wide:
        stmt = stmt.where(Store.id == v.actor.store_id)
    return list(session.scalars(stmt))


@pages.get("/lectures")
def lecture_list(request: Request, v: User, session: DbSession, now: Now) -> Response:
    return _list_page(request, v, session, now, {}, None)


def _list_page(
    request: Request,
    v: Visitor,
    session: DbSession,
    now: Now,
    entered: dict[str, str],
    error: CareplanError | None,
) -> Response:
    shown = lectures.list_lectures(session, v.actor, since=now.now - timedelta(days=30))
    per_lecture, per_store = lectures.attendance(session, v.actor, until=now.now)
    context = {
        "nav": "lectures",
        "lectures": shown,
        "counts": lectures.seat_counts(session, [x.id for x in shown]),
        "attendance": per_lecture,
        "per_store": per_store,
        "stores": _stores(session, v),
        "entered": entered,
        "error": error,
        "now": now.now,
    }
    return render(request, v, "lectures/list.html", context, status=422 if error else 200)


def _lecture_in(form: Form) -> lectures.LectureIn:
    def keys(name: str) -> list[str]:
        return [k.strip() for k in text_of(form, name).replace("，", ",").split(",") if k.strip()]

    capacity = whole_number(text_of(form, "capacity"), "capacity", N_("a whole number of seats"))
    data: dict[str, Any] = {
        "title_zh": text_of(form, "title_zh"),
        "title_en": text_of(form, "title_en"),
        "topic": text_of(form, "topic"),
        "conditions": keys("conditions"),
        "protocols": keys("protocols"),
        "speaker": text_of(form, "speaker"),
        "store_id": int_of(form, "store_id"),
        "venue": text_of(form, "venue"),
        "starts_at": local_datetime_of(form, "starts_at"),
        "ends_at": local_datetime_of(form, "ends_at"),
        "capacity": capacity,
        "register_by": local_datetime_of(form, "register_by"),
    }
    return lectures.parse_lecture(data)


@pages.post("/lectures")
def create(request: Request, form: Form, v: User, session: DbSession, now: Now) -> Response:
    try:
        lecture = lectures.create_lecture(session, v.actor, _lecture_in(form), now=now.now)
    except CareplanError as exc:
        session.rollback()
        entered = {k: text_of(form, k) for k in form}
        return _list_page(request, v, session, now, entered, exc)
    return redirect(request, f"/lectures/{lecture.id}")


@pages.get("/lectures/{lecture_id}")
def lecture_page(
    request: Request,
    lecture_id: int,
    v: User,
    session: DbSession,
    now: Now,
    q: str = "",
    find: str = "",
    done: str = "",
) -> Response:
    return _lecture_page(request, v, session, now, lecture_id, q=q, find=find, done=done)


def _lecture_page(
    request: Request,
    v: Visitor,
    session: DbSession,
    now: Now,
    lecture_id: int,
    *,
    q: str = "",
    find: str = "",
    done: str = "",
    error: CareplanError | None = None,
) -> Response:
    lecture = lectures.get_lecture(session, v.actor, lecture_id)
    seats = lectures.roster(session, v.actor, lecture.id)
    context = {
        "nav": "lectures",
        "lecture": lecture,
        "seats": seats,
        "counts": lectures.seat_counts(session, [lecture.id])[lecture.id],
        "reminders": lectures.to_remind(seats),
        "reminder_due": lectures.reminder_due(lecture, now.now),
        "q": q,
        "candidates": archive.search_members(session, v.actor, q=q, limit=20) if q else [],
        "find": find,
        "found": lectures.find_for_check_in(session, v.actor, lecture.id, find),
        "names": names_of(session, [s.told_by_id for s in seats]),  # the page names only them
        "done": done,
        "error": error,
        "now": now.now,
    }
    return render(request, v, "lectures/page.html", context, status=422 if error else 200)


def _act(
    request: Request, v: Visitor, session: DbSession, now: Now, lecture_id: int, action: Any,
    done: str,
) -> Response:  # fmt: skip
    """Run one change; a refusal shows the lecture again with the reason, nothing saved."""
    try:
        action()
    except CareplanError as exc:
        session.rollback()
        return _lecture_page(request, v, session, now, lecture_id, error=exc)
    return redirect(request, f"/lectures/{lecture_id}?done={done}")


@pages.post("/lectures/{lecture_id}/register")
def register(
    request: Request, lecture_id: int, form: Form, v: User, session: DbSession, now: Now
) -> Response:
    walk_in = text_of(form, "walk_in") == "1"

    def go() -> None:
        member_id = int_of(form, "member_id")
        if member_id is None:
            raise InvalidInput(N_("choose a member"), field="member_id")
        lectures.register(session, v.actor, lecture_id, member_id, now=now.now, walk_in=walk_in)

    return _act(request, v, session, now, lecture_id, go, "walk_in" if walk_in else "registered")


@pages.post("/members/{member_id}/lectures")
def register_from_member(
    request: Request, member_id: int, form: Form, v: User, session: DbSession, now: Now
) -> Response:
    """Registering from the member's page: back to it, with a seat or a waitlist place."""
    try:
        lecture_id = int_of(form, "lecture_id")
        if lecture_id is None:
            raise InvalidInput(N_("choose a lecture"), field="lecture_id")
        seat = lectures.register(session, v.actor, lecture_id, member_id, now=now.now)
    except CareplanError as exc:
        session.rollback()
        return member_view(request, v, session, now, member_id, error=exc)
    return redirect(request, f"/members/{member_id}?lecture={seat.status.value}#h-lectures")


_SEAT_ACTIONS = {
    "cancel": (lectures.cancel_seat, "cancelled"),
    "remind": (lectures.mark_reminded, "reminded"),
    "check-in": (lectures.check_in, "checked_in"),
    "told": (lectures.mark_told, "told"),
}


@pages.post("/lectures/{lecture_id}/seats/{seat_id}/{action}")
def seat_action(
    request: Request, lecture_id: int, seat_id: int, action: str, v: User, session: DbSession,
    now: Now,
) -> Response:  # fmt: skip
    if action not in _SEAT_ACTIONS:
        raise InvalidInput(N_("unknown action"), field="action")
    run, done = _SEAT_ACTIONS[action]
    return _act(
        request, v, session, now, lecture_id,
        lambda: run(session, v.actor, lecture_id, seat_id, now=now.now), done,
    )  # fmt: skip


@pages.post("/lectures/{lecture_id}/cancel")
def cancel(
    request: Request, lecture_id: int, form: Form, v: User, session: DbSession, now: Now
) -> Response:
    reason = text_of(form, "reason")
    return _act(
        request, v, session, now, lecture_id,
        lambda: lectures.cancel_lecture(session, v.actor, lecture_id, reason, now=now.now),
        "lecture_cancelled",
    )  # fmt: skip


def _audience(request: Request) -> lectures.Audience:
    p = request.query_params

    def age(name: str) -> int | None:
        value = p.get(name, "").strip()
        return whole_number(value, name, N_("an age in whole years")) if value else None

    def keys(name: str) -> tuple[str, ...]:
        return tuple(k.strip() for k in p.get(name, "").replace("，", ",").split(",") if k.strip())

    return lectures.Audience(
        conditions=keys("conditions"),
        protocols=keys("protocols"),
        store_id=int_of(p, "store_id"),
        min_age=age("min_age"),
        max_age=age("max_age"),
    )


@pages.get("/lectures/{lecture_id}/invite")
def invite_page(
    request: Request, lecture_id: int, v: User, session: DbSession, now: Now
) -> Response:
    lecture = lectures.get_lecture(session, v.actor, lecture_id)
    params = request.query_params
    if "conditions" not in params and "protocols" not in params:  # first visit: the lecture's
        audience = lectures.Audience(tuple(lecture.conditions), tuple(lecture.protocols))
    else:
        audience = _audience(request)
    listed = lectures.invitation_list(session, v.actor, lecture.id, audience, today=now.today)
    context = {
        "nav": "lectures",
        "lecture": lecture,
        "audience": audience,
        "listed": listed,
        "names": names_of(session, [i.invited_by_id for _, i in listed if i]),
        "channels": list(Channel),
        "query": str(params),
    }
    return render(request, v, "lectures/invite.html", context)


@pages.get("/lectures/{lecture_id}/invite.csv")
def invite_csv(request: Request, lecture_id: int, v: User, session: DbSession, now: Now) -> Any:
    """The call list: who to phone, with whether they were invited already."""
    listed = lectures.invitation_list(
        session, v.actor, lecture_id, _audience(request), today=now.today
    )
    header = ["member_id", "card_number", "name", "mobile", "landline", "invited_at", "channel"]
    rows = [
        (m.id, m.card_number, m.name, m.mobile, m.landline,
         i.invited_at.isoformat() if i else None, i.channel.value if i else None)
        for m, i in listed
    ]  # fmt: skip
    return csv_response(f"lecture-{lecture_id}-call-list.csv", csv_lines(header, rows))


@pages.post("/lectures/{lecture_id}/invite")
def invite(
    request: Request, lecture_id: int, form: Form, v: User, session: DbSession, now: Now
) -> Response:
    ids = ints_of(form, "member_id")
    channel = text_of(form, "channel") or Channel.phone.value
    if channel not in {c.value for c in Channel}:
        raise InvalidInput(N_("choose a channel from the list"), field="channel")
    lectures.mark_invited(session, v.actor, lecture_id, ids, Channel(channel), now=now.now)
    return redirect(request, f"/lectures/{lecture_id}/invite?{text_of(form, 'query')}")


@pages.get("/lectures/{lecture_id}/sign-in.pdf")
def sign_in_sheet(lecture_id: int, v: User, session: DbSession) -> Response:
    lecture = lectures.get_lecture(session, v.actor, lecture_id)
    seats = lectures.roster(session, v.actor, lecture.id)
    pdf = sign_in_pdf(lecture, seats, v.language)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="lecture-{lecture.id}-sign-in.pdf"'},
    )


@pages.get("/lectures/{lecture_id}/lecture.ics")
def lecture_ics(lecture_id: int, v: User, session: DbSession, now: Now) -> Response:
    lecture = lectures.get_lecture(session, v.actor, lecture_id)
    return Response(
        ics_of(lecture, now.now),
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="lecture-{lecture.id}.ics"'},
    )
