"""Health lectures: the list, scheduling, one lecture's roster and its day (register,
waitlist, reminders, check-in, walk-ins), invitations, the sign-in sheet and .ics."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import BackgroundTasks, Request
from fastapi.responses import Response
from starlette.datastructures import QueryParams

from careplan.access import may_manage_lectures
from careplan.config import get_settings
from careplan.csv_export import csv_lines
from careplan.errors import N_, CareplanError, InvalidInput
from careplan.jobs import tasks
from careplan.lectures import lectures
from careplan.members import archive
from careplan.models import Lecture
from careplan.outreach import build, wiring
from careplan.staff import names_of
from careplan.stores import visible_stores
from careplan.validation import whole_number
from careplan.vocab import Channel
from web.audit_params import csv_response
from web.deps import DbSession, Now
from web.lecture_files import ics_of, sign_in_pdf
from web.pages.common import (
    Form,
    FormData,
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
CHANNELS = frozenset(c.value for c in Channel)


@pages.get("/lectures")
def lecture_list(request: Request, visitor: User, session: DbSession, clock: Now) -> Response:
    return _list_page(request, visitor, session, clock, {}, None)


def _list_page(
    request: Request,
    visitor: Visitor,
    session: DbSession,
    clock: Now,
    entered: dict[str, str],
    error: CareplanError | None,
    entered_form: FormData | None = None,
) -> Response:
    entered_form = entered_form or QueryParams()
    shown = lectures.list_lectures(session, visitor.actor, since=clock.now - timedelta(days=30))
    per_lecture, per_store = lectures.attendance(session, visitor.actor, until=clock.now)
    context = {
        "nav": "lectures",
        "phases": {x.id: lectures.phase(x, clock.now) for x in shown},
        "choices": lectures.lecture_choices(session),
        "may_schedule": may_manage_lectures(visitor.actor),
        "picked": {k: set(_picked(entered_form, k)) for k in ("conditions", "protocols")},
        "lectures": shown,
        "counts": lectures.seat_counts(session, [x.id for x in shown]),
        "attendance": per_lecture,
        "per_store": per_store,
        "stores": visible_stores(session, visitor.actor),
        "entered": entered,
        "error": error,
        "now": clock.now,
    }
    return render(request, visitor, "lectures/list.html", context, status=422 if error else 200)


def _picked(form: FormData, name: str) -> list[str]:
    """Every value ticked in a list of checkboxes (or given in a query string)."""
    return [str(x).strip() for x in form.getlist(name) if str(x).strip()]  # type: ignore[attr-defined]


def _lecture_in(form: Form) -> lectures.LectureIn:
    def keys(name: str) -> list[str]:
        return _picked(form, name)

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
def create(request: Request, form: Form, visitor: User, session: DbSession, clock: Now) -> Response:
    try:
        lecture = lectures.create_lecture(session, visitor.actor, _lecture_in(form), now=clock.now)
    except CareplanError as exc:
        session.rollback()
        entered = {k: text_of(form, k) for k in form}
        return _list_page(request, visitor, session, clock, entered, exc, form)
    return redirect(request, f"/lectures/{lecture.id}")


@pages.get("/lectures/{lecture_id}")
def lecture_page(
    request: Request,
    lecture_id: int,
    visitor: User,
    session: DbSession,
    clock: Now,
    q: str = "",
    find: str = "",
    done: str = "",
    place: str = "",
) -> Response:
    return _lecture_page(
        request, visitor, session, clock, lecture_id, q=q, find=find, done=done, place=place
    )


def _lecture_page(
    request: Request,
    visitor: Visitor,
    session: DbSession,
    clock: Now,
    lecture_id: int,
    *,
    q: str = "",
    find: str = "",
    done: str = "",
    place: str = "",
    error: CareplanError | None = None,
) -> Response:
    lecture = lectures.get_lecture(session, visitor.actor, lecture_id)
    seats = lectures.roster(session, visitor.actor, lecture.id)
    # Only this lecture's figures are shown: the query need not count earlier ones.
    per_lecture, _ = lectures.attendance(
        session, visitor.actor, until=clock.now, since=lecture.starts_at
    )
    context = {
        "nav": "lectures",
        "lecture": lecture,
        "choices": lectures.lecture_choices(session),
        "may_manage": may_manage_lectures(visitor.actor),
        "seats": seats,
        "counts": lectures.seat_counts(session, [lecture.id])[lecture.id],
        "reminders": lectures.to_remind(seats),
        "reminder_due": lectures.reminder_due(lecture, clock.now),
        "q": q,
        "candidates": archive.search_members(session, visitor.actor, q=q, limit=20) if q else [],
        "find": find,
        "found": lectures.find_for_check_in(session, visitor.actor, lecture.id, find),
        "names": names_of(session, [s.told_by_id for s in seats]),  # the page names only them
        "done": done,
        "place": place if place.isdigit() else "",
        "places": lectures.waitlist_places(session, lecture.id),
        "phase": lectures.phase(lecture, clock.now),
        "check_in_open": lectures.check_in_open(lecture, clock.now),
        "attendance": per_lecture.get(lecture.id),
        "error": error,
        "now": clock.now,
    }
    return render(request, visitor, "lectures/page.html", context, status=422 if error else 200)


def _act(
    request: Request, visitor: Visitor, session: DbSession, clock: Now, lecture_id: int,
    action: Any, done: str | list[str],
) -> Response:  # fmt: skip
    """Run one change; a refusal shows the lecture again with the reason, nothing saved.
    `done` says what to confirm; a list, when the action itself decides it."""
    try:
        action()
    except CareplanError as exc:
        session.rollback()
        return _lecture_page(request, visitor, session, clock, lecture_id, error=exc)
    said = done[0] if isinstance(done, list) else done
    return redirect(request, f"/lectures/{lecture_id}?done={said}")


@pages.post("/lectures/{lecture_id}/register")
def register(
    request: Request, lecture_id: int, form: Form, visitor: User, session: DbSession, clock: Now
) -> Response:
    walk_in = text_of(form, "walk_in") == "1"
    done = ["walk_in" if walk_in else "registered"]

    def go() -> None:
        member_id = int_of(form, "member_id")
        if member_id is None:
            raise InvalidInput(N_("choose a member"), field="member_id")
        seat = lectures.register(
            session, visitor.actor, lecture_id, member_id, now=clock.now, walk_in=walk_in
        )
        place = lectures.waitlist_place(session, seat)
        if place is not None:  # full: the member is told where they wait
            done[0] = f"waitlisted&place={place}"

    return _act(request, visitor, session, clock, lecture_id, go, done)


@pages.post("/members/{member_id}/lectures")
def register_from_member(
    request: Request, member_id: int, form: Form, visitor: User, session: DbSession, clock: Now
) -> Response:
    """Registering from the member's page: back to it, with a seat or a waitlist place."""
    try:
        lecture_id = int_of(form, "lecture_id")
        if lecture_id is None:
            raise InvalidInput(N_("choose a lecture"), field="lecture_id")
        seat = lectures.register(session, visitor.actor, lecture_id, member_id, now=clock.now)
        place = lectures.waitlist_place(session, seat)
    except CareplanError as exc:
        session.rollback()
        return member_view(request, visitor, session, clock, member_id, error=exc)
    said = f"{seat.status.value}&place={place}" if place else seat.status.value
    return redirect(request, f"/members/{member_id}?lecture={said}#h-lectures")


_SEAT_ACTIONS = {
    "cancel": (lectures.cancel_seat, "cancelled"),
    "remind": (lectures.mark_reminded, "reminded"),
    "check-in": (lectures.check_in, "checked_in"),
    "told": (lectures.mark_told, "told"),
}


@pages.post("/lectures/{lecture_id}/seats/{seat_id}/{action}")
def seat_action(
    request: Request, lecture_id: int, seat_id: int, action: str, visitor: User, session: DbSession,
    clock: Now,
) -> Response:  # fmt: skip
    if action not in _SEAT_ACTIONS:
        raise InvalidInput(N_("unknown action"), field="action")
    run, done = _SEAT_ACTIONS[action]
    return _act(
        request, visitor, session, clock, lecture_id,
        lambda: run(session, visitor.actor, lecture_id, seat_id, now=clock.now), done,
    )  # fmt: skip


@pages.post("/lectures/{lecture_id}/cancel")
def cancel(
    request: Request, lecture_id: int, form: Form, visitor: User, session: DbSession, clock: Now
) -> Response:
    reason = text_of(form, "reason")
    return _act(
        request, visitor, session, clock, lecture_id,
        lambda: lectures.cancel_lecture(session, visitor.actor, lecture_id, reason, now=clock.now),
        "lecture_cancelled",
    )  # fmt: skip


def _audience(params: FormData, lecture: Lecture) -> lectures.Audience:
    """Whom the list shows: the filters as last chosen, or on a first visit (no
    `filtered` mark) the lecture's own conditions and protocols."""
    if "filtered" not in params:
        return lectures.Audience(tuple(lecture.conditions), tuple(lecture.protocols))

    def age(name: str) -> int | None:
        value = text_of(params, name)
        return whole_number(value, name, N_("an age in whole years")) if value else None

    return lectures.Audience(
        conditions=tuple(_picked(params, "conditions")),
        protocols=tuple(_picked(params, "protocols")),
        store_id=int_of(params, "store_id"),
        min_age=age("min_age"),
        max_age=age("max_age"),
    )


def _audience_query(audience: lectures.Audience) -> str:
    """The filters as a query string: the list comes back as it was after inviting."""
    pairs: list[tuple[str, object]] = [("filtered", 1)]
    pairs += [("conditions", c) for c in audience.conditions]
    pairs += [("protocols", p) for p in audience.protocols]
    for name in ("store_id", "min_age", "max_age"):
        if (value := getattr(audience, name)) is not None:
            pairs.append((name, value))
    return urlencode(pairs)


@pages.get("/lectures/{lecture_id}/invite")
def invite_page(
    request: Request, lecture_id: int, visitor: User, session: DbSession, clock: Now
) -> Response:
    lecture = lectures.get_lecture(session, visitor.actor, lecture_id)
    return _invite_page(request, visitor, session, clock, lecture, request.query_params)


def _invite_page(
    request: Request,
    visitor: Visitor,
    session: DbSession,
    clock: Now,
    lecture: Lecture,
    params: FormData,
    error: CareplanError | None = None,
) -> Response:
    try:
        audience = _audience(params, lecture)
        listed = lectures.invitation_list(
            session, visitor.actor, lecture.id, audience, today=clock.today
        )
    except CareplanError as exc:  # a bad filter: said beside the filters, nobody listed
        audience, listed, error = lectures.Audience(), [], error or exc
    query, choices = request.query_params, lectures.lecture_choices(session)
    known = [choices.condition(c) for c in audience.conditions]
    context = {
        "nav": "lectures",
        "lecture": lecture,
        "choices": choices,
        "audience": audience,
        "picked_conditions": {c.code for c in known if c is not None},
        "entered": {k: text_of(params, k) for k in ("min_age", "max_age")},
        "listed": listed,
        "names": names_of(session, [i.invited_by_id for _, i in listed if i]),
        "channels": lectures.INVITATION_CHANNELS,
        "query": _audience_query(audience),
        # What the last "mark as invited" recorded (see invite below).
        "invited": text_of(query, "invited"),
        "before": text_of(query, "before"),
        "invited_by": text_of(query, "channel") if text_of(query, "channel") in CHANNELS else "",
        "error": error,
    }
    return render(request, visitor, "lectures/invite.html", context, status=422 if error else 200)


@pages.get("/lectures/{lecture_id}/invite.csv")
def invite_csv(
    request: Request, lecture_id: int, visitor: User, session: DbSession, clock: Now
) -> Any:
    """The call list: who to phone, with whether they were invited already."""
    lecture = lectures.get_lecture(session, visitor.actor, lecture_id)
    audience = _audience(request.query_params, lecture)
    listed = lectures.invitation_list(
        session, visitor.actor, lecture_id, audience, today=clock.today
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
    request: Request,
    lecture_id: int,
    form: Form,
    visitor: User,
    session: DbSession,
    clock: Now,
    background: BackgroundTasks,
) -> Response:
    """Record the ticked members as invited, then show the same list again (its filters
    kept) saying what was recorded; a refusal keeps the list and says why."""
    lecture = lectures.get_lecture(session, visitor.actor, lecture_id)
    filters = QueryParams(text_of(form, "query"))
    try:
        ids = list(dict.fromkeys(ints_of(form, "member_id")))
        channel = text_of(form, "channel")
        if channel not in CHANNELS:
            raise InvalidInput(N_("choose a value from the list"), field="invitation_channel")
        context = wiring.context(get_settings(), now=clock.now, by=visitor.actor.staff_id)
        added, built = build.invite_to_lecture(session, visitor.actor, lecture.id, ids,
                                               Channel(channel), context)  # fmt: skip
        background.add_task(tasks.queue_messages, built.ids)  # once committed
    except CareplanError as exc:
        session.rollback()
        return _invite_page(request, visitor, session, clock, lecture, filters, error=exc)
    said = urlencode({"invited": added, "before": len(ids) - added, "channel": channel})
    query = _audience_query(_audience(filters, lecture))
    return redirect(request, f"/lectures/{lecture_id}/invite?{query}&{said}#invited")


@pages.get("/lectures/{lecture_id}/sign-in.pdf")
def sign_in_sheet(lecture_id: int, visitor: User, session: DbSession) -> Response:
    lecture = lectures.get_lecture(session, visitor.actor, lecture_id)
    seats = lectures.roster(session, visitor.actor, lecture.id)
    pdf = sign_in_pdf(lecture, seats, visitor.language)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="lecture-{lecture.id}-sign-in.pdf"'},
    )


@pages.get("/lectures/{lecture_id}/lecture.ics")
def lecture_ics(lecture_id: int, visitor: User, session: DbSession, clock: Now) -> Response:
    lecture = lectures.get_lecture(session, visitor.actor, lecture_id)
    return Response(
        ics_of(lecture, clock.now),
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="lecture-{lecture.id}.ics"'},
    )
