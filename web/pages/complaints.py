"""Complaints (顾客投诉): the store's list, recording one, its page with its whole path,
closing it and handing a member over after a service complaint."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from careplan.access import may_record_complaint, require_record_complaint
from careplan.errors import N_, CareplanError, InvalidInput
from careplan.members import archive
from careplan.members.archive import may_own_members
from careplan.models import Complaint, Member
from careplan.staff import names_of, store_staff
from careplan.stores import visible_stores
from careplan.value import complaints
from careplan.value.complaints import ComplaintFilter, ComplaintIn
from careplan.vocab import (
    ComplaintCause,
    ComplaintChannel,
    ComplaintSeverity,
    ComplaintState,
    Satisfaction,
)
from web.deps import DbSession, Now
from web.i18n import gettext_for
from web.pages.common import Form, date_of, int_of, pages_router, redirect, text_of
from web.session import User, Visitor
from web.templating import render

pages = pages_router()

CHOICES = {
    "causes": list(ComplaintCause),
    "severities": list(ComplaintSeverity),
    "channels": list(ComplaintChannel),
    "states": list(ComplaintState),
    "satisfactions": list(Satisfaction),
    "follow_up_days": complaints.FOLLOW_UP_DAYS,
}


def _choice(vocab: Any, value: str, field: str) -> Any:
    if not value:
        return None
    try:
        return vocab(value)
    except ValueError:
        raise InvalidInput(N_("choose a value from the list"), field=field) from None


def _month(value: str) -> date | None:
    """A month box's value (YYYY-MM)."""
    if not value:
        return None
    try:
        return date.fromisoformat(value + "-01")
    except ValueError:
        raise InvalidInput(N_("not a month (YYYY-MM)"), field="month") from None


def _who(session: DbSession, rows: list[Complaint]) -> dict[str, Any]:
    """Members' and staff names for a list of complaints, in two queries."""
    people = {c.about_staff_id for c in rows} | {c.recorded_by_id for c in rows}
    return {
        "member_names": archive.member_names(session, (c.member_id for c in rows if c.member_id)),
        "staff_names": names_of(session, people),
    }


@pages.get("/complaints")
def list_page(
    request: Request,
    visitor: User,
    session: DbSession,
    clock: Now,
    state: str = "",
    cause: str = "",
    month: str = "",
    store: int | None = None,
) -> Response:
    actor = visitor.actor
    error = None
    try:
        f = ComplaintFilter(
            store_id=store if actor.chain_wide else None,
            state=_choice(ComplaintState, state, "state"),
            cause=_choice(ComplaintCause, cause, "cause"),
            month=_month(month),
        )
    except InvalidInput as refused:
        f, error = ComplaintFilter(), refused
    rows = complaints.list_complaints(session, actor, f)
    context = (
        _who(session, rows)
        | CHOICES
        | {
            "nav": "complaints",
            "rows": rows,
            "f": f,
            "month": month if error is None else "",
            "stores": visible_stores(session, actor) if actor.chain_wide else [],
            "store_names": {s.id: s.name for s in visible_stores(session, actor)},
            "may_record": may_record_complaint(actor),
            "error": error,
            "today": clock.today,
        }
    )
    return render(request, visitor, "complaints/list.html", context, status=422 if error else 200)


def _form_context(
    session: DbSession, visitor: Visitor, q: str, member_id: int | None
) -> dict[str, Any]:
    actor = visitor.actor
    found = archive.search_members(session, actor, q=q, limit=20) if q.strip() else []
    if member_id is not None and all(m.id != member_id for m in found):
        chosen = session.get(Member, member_id)
        if chosen is not None and actor.may_see_member(chosen):
            found.insert(0, chosen)
    staff = store_staff(session, actor.store_id) if actor.store_id is not None else []
    return CHOICES | {
        "nav": "complaints",
        "q": q,
        "found": found,
        "searched": bool(q.strip()),
        "member_id": member_id,
        "staff": staff,
        "values": {},
        "error": None,
    }


@pages.get("/complaints/new")
def new_page(
    request: Request,
    visitor: User,
    session: DbSession,
    clock: Now,
    q: str = "",
    member_id: int | None = None,
) -> Response:
    require_record_complaint(visitor.actor)
    context = _form_context(session, visitor, q, member_id) | {"today": clock.today}
    return render(request, visitor, "complaints/new.html", context)


def _complaint_in(form: Form) -> ComplaintIn:
    member = text_of(form, "member_id")
    return ComplaintIn(
        member_id=int_of(form, "member_id") if member else None,
        walk_in_name=text_of(form, "walk_in_name"),
        walk_in_phone=text_of(form, "walk_in_phone"),
        received_on=date_of(form, "received_on"),
        what=text_of(form, "what"),
        place=text_of(form, "place"),
        cause=text_of(form, "cause"),
        severity=text_of(form, "severity"),
        channel=text_of(form, "complaint_channel"),
        about_staff_id=int_of(form, "about_staff_id"),
        on_the_spot=text_of(form, "on_the_spot"),
    )


@pages.post("/complaints")
def create(request: Request, form: Form, visitor: User, session: DbSession, clock: Now) -> Response:
    try:
        complaint = complaints.record(session, visitor.actor, _complaint_in(form), now=clock.now)
    except CareplanError as exc:
        session.rollback()
        member_id = None
        if text_of(form, "member_id").isdigit():
            member_id = int(text_of(form, "member_id"))
        context = _form_context(session, visitor, text_of(form, "q"), member_id)
        context |= {"values": dict(form), "error": exc, "today": clock.today}
        return render(request, visitor, "complaints/new.html", context, status=422)
    return redirect(request, f"/complaints/{complaint.id}?recorded=1")


def _page(
    request: Request,
    visitor: Visitor,
    session: DbSession,
    complaint_id: int,
    *,
    error: CareplanError | None = None,
    notice: str = "",
) -> Response:
    path = complaints.path_of(session, visitor.actor, complaint_id)
    c = path.complaint
    people = {c.recorded_by_id, c.about_staff_id, c.handed_from_id, c.handed_to_id,
              c.closed_by_id, path.member.owner_id if path.member else None,
              path.visit.recorded_by_id if path.visit else None,
              path.handover.changed_by_id if path.handover else None}  # fmt: skip
    takers = []
    if path.may_hand_over and path.member is not None:
        takers = [s for s in store_staff(session, c.store_id)
                  if may_own_members(s) and s.id != path.member.owner_id]  # fmt: skip
    context = CHOICES | {
        "nav": "complaints",
        "p": path,
        "c": c,
        "names": names_of(session, people),
        "takers": takers,
        "error": error,
        "notice": notice,
        "values": {},
    }
    return render(request, visitor, "complaints/page.html", context, status=422 if error else 200)


@pages.get("/complaints/{complaint_id}")
def complaint_page(
    request: Request,
    complaint_id: int,
    visitor: User,
    session: DbSession,
    recorded: bool = False,
    closed: bool = False,
    handed: bool = False,
) -> Response:
    notice = "recorded" if recorded else "closed" if closed else "handed" if handed else ""
    return _page(request, visitor, session, complaint_id, notice=notice)


@pages.post("/complaints/{complaint_id}/close")
def close(
    request: Request, complaint_id: int, form: Form, visitor: User, session: DbSession, clock: Now
) -> Response:
    try:
        complaints.close(session, visitor.actor, complaint_id,
                         satisfaction=text_of(form, "satisfaction"),
                         note=text_of(form, "closing_note"), now=clock.now)  # fmt: skip
    except CareplanError as exc:
        session.rollback()
        return _page(request, visitor, session, complaint_id, error=exc)
    return redirect(request, f"/complaints/{complaint_id}?closed=1")


@pages.post("/complaints/{complaint_id}/hand-over")
def hand_over(
    request: Request, complaint_id: int, form: Form, visitor: User, session: DbSession, clock: Now
) -> Response:
    try:
        complaints.hand_over(session, visitor.actor, complaint_id, int_of(form, "to_staff_id"),
                             note=text_of(form, "note"), now=clock.now)  # fmt: skip
    except CareplanError as exc:
        session.rollback()
        return _page(request, visitor, session, complaint_id, error=exc)
    return redirect(request, f"/complaints/{complaint_id}?handed=1")


# --- Figures on the store page and in the audit ------------------------------------------

Rows = list[tuple[str, complaints.ComplaintFigures]]


def staff_rows(
    session: DbSession,
    visitor: Visitor,
    store_id: int,
    start: date,
    end: date,
    *,
    only: int | None = None,
) -> Rows:
    """The store as a whole, then each person complaints were about, most first;
    `only`: one person's row alone (the audit's last level)."""
    _ = gettext_for(visitor.language)
    by = complaints.figures_by_staff(session, visitor.actor, store_id, start=start, end=end)
    if only is not None:
        mine = by.get(only, complaints.ComplaintFigures(0, 0, 0, 0))
        return [(names_of(session, [only]).get(only, ""), mine)]
    names = names_of(session, by)
    people = sorted((k for k in by if k is not None), key=lambda k: (-by[k].count, names[k]))
    rows: Rows = [(_("Whole store"), complaints.total(by.values()))]
    rows += [(names[k], by[k]) for k in people]
    if None in by:
        rows.append((_("Nobody in particular"), by[None]))
    return rows


def store_rows(
    session: DbSession, visitor: Visitor, store_ids: list[int], start: date, end: date
) -> Rows:
    """Each store asked for, in the order given, and their total."""
    _ = gettext_for(visitor.language)
    by = complaints.figures_by_store(session, visitor.actor, start=start, end=end)
    names = {s.id: s.name for s in visible_stores(session, visitor.actor)}
    empty = complaints.ComplaintFigures(0, 0, 0, 0)
    rows: Rows = [(names.get(i, ""), by.get(i, empty)) for i in store_ids]
    return [(_("All"), complaints.total(f for _n, f in rows)), *rows]
