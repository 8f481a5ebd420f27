"""Store management: hand members between staff (with history), and the escalation queue."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import select

from careplan import members as archive
from careplan.access import may_end_sessions_of, may_hand_over_members_of, require_manager
from careplan.errors import N_, CareplanError, InvalidInput, NotFound
from careplan.escalations import list_escalations, resolve_escalation
from careplan.models import Escalation, Member, Store
from careplan.sessions import end_sessions_of
from careplan.staff import get_staff, names_of, store_staff
from careplan.vocab import EscalationStatus
from web.deps import DbSession, Now
from web.pages.common import Form, int_of, ints_of, pages_router, redirect, text_of
from web.session import User, Visitor
from web.templating import render

pages = pages_router()


def _store_of(session: DbSession, v: Visitor, store: int | None) -> Store:
    """A manager's own store; a supervisor picks any."""
    actor = v.actor
    store_id = store if actor.chain_wide and store else actor.store_id
    if store_id is None:
        store_id = session.scalar(select(Store.id).order_by(Store.code).limit(1))
    found = session.get(Store, store_id) if store_id else None
    if found is None or not actor.may_see_store(found.id):
        raise NotFound(N_("store not found"), field="store")
    return found


def _staff_context(
    session: DbSession, v: Visitor, store: Store, owner: int | None
) -> dict[str, Any]:
    staff = store_staff(session, store.id, active_only=False)
    shown = archive.search_members(session, v.actor, store_id=store.id, owner_id=owner, limit=500)
    return {
        "nav": "store",
        "store": store,
        "stores": list(session.scalars(select(Store).order_by(Store.code)))
        if v.actor.chain_wide
        else [],
        "staff": staff,
        "active_staff": [s for s in staff if archive.may_own_members(s)],
        "handing_over": [s for s in staff if may_hand_over_members_of(v.actor, s)],
        "may_sign_out": {s.id for s in staff if may_end_sessions_of(v.actor, s)},
        "counts": archive.owner_counts(session, v.actor, store.id),
        "members": shown,
        "owner": owner,
        "names": {s.id: s.name for s in staff},
        "handovers": archive.recent_handovers(session, v.actor, store.id),
        "error": None,
        "done": None,
        "signed_out": None,
    }


@pages.get("/store/staff")
def staff_page(
    request: Request,
    v: User,
    session: DbSession,
    store: int | None = None,
    owner: int | None = None,
    moved: int | None = None,
    signed_out: int | None = None,
) -> Response:
    require_manager(v.actor)
    context = _staff_context(session, v, _store_of(session, v, store), owner)
    context |= {"done": moved, "signed_out": signed_out}
    return render(request, v, "store/staff.html", context)


@pages.post("/store/reassign")
def reassign(request: Request, form: Form, v: User, session: DbSession, now: Now) -> Response:
    """Selected members, or every member of one staff member (e.g. who is leaving)."""
    require_manager(v.actor)
    store = _store_of(session, v, int_of(form, "store"))
    try:
        to_staff = int_of(form, "to_staff_id")
        if to_staff is None:
            raise InvalidInput(N_("required"), field="to_staff_id")
        note = text_of(form, "note")[:255]
        if form.get("mode") == "all":
            from_staff = int_of(form, "from_staff_id")
            if from_staff is None:
                raise InvalidInput(N_("required"), field="from_staff_id")
            moved = archive.reassign_all(
                session, v.actor, from_staff, to_staff,
                staff_left=form.get("staff_left") == "on", note=note, now=now.now,
            )  # fmt: skip
        else:
            ids = ints_of(form, "member_ids")
            moved = archive.reassign_members(
                session, v.actor, ids, to_staff, note=note, now=now.now
            )
    except CareplanError as exc:
        session.rollback()
        context = _staff_context(session, v, store, int_of(form, "owner")) | {"error": exc}
        return render(request, v, "store/staff.html", context, status=422)
    return redirect(request, f"/store/staff?store={store.id}&moved={moved}")


@pages.post("/store/staff/{staff_id}/sessions/end")
def end_staff_sessions(
    request: Request, staff_id: int, form: Form, v: User, session: DbSession, now: Now
) -> Response:
    ended = end_sessions_of(session, v.actor, get_staff(session, staff_id), now=now.now)
    store = int_of(form, "store")
    return redirect(request, f"/store/staff?store={store or ''}&signed_out={ended}")


def escalation_names(session: DbSession, rows: list[Escalation]) -> dict[str, dict[int, str]]:
    """Member and handler names for a list of escalations, in two queries."""
    member_ids = {e.member_id for e in rows}
    members = select(Member.id, Member.name).where(Member.id.in_(member_ids))
    return {
        "names": {i: n for i, n in session.execute(members)} if member_ids else {},
        "staff_names": names_of(session, (e.assignee_id for e in rows)),
    }


@pages.get("/escalations")
def escalations_page(
    request: Request, v: User, session: DbSession, now: Now, status: str = "open"
) -> Response:
    actor = v.actor
    assert v.staff is not None
    wanted = EscalationStatus.resolved if status == "resolved" else EscalationStatus.open
    # Store staff see what involves them; managers their store; supervisors every store.
    involving = None if actor.role.value in ("store_manager", "supervisor", "admin") else v.staff.id
    rows = list_escalations(session, actor, status=wanted, involving_staff_id=involving, limit=200)
    context = escalation_names(session, rows) | {
        "nav": "escalations",
        "escalations": rows,
        "can_resolve": True,
        "status": wanted,
        "today": now.today,
    }
    return render(request, v, "store/escalations.html", context)


@pages.post("/escalations/{escalation_id}/resolve")
def resolve(
    request: Request, escalation_id: int, form: Form, v: User, session: DbSession, now: Now
) -> Response:
    resolution = text_of(form, "resolution")[:1000]
    resolve_escalation(session, v.actor, escalation_id, resolution, now=now.now)
    return redirect(request, "/escalations")
