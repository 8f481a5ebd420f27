"""Store management: hand members between staff (with history), and the escalation queue."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from careplan.access import (
    may_end_sessions_of,
    may_hand_over_members_of,
    may_resolve_escalation,
    require_manager,
    sees_every_escalation_in_sight,
)
from careplan.errors import N_, CareplanError, InvalidInput, NotFound
from careplan.members import archive
from careplan.models import Escalation, Store
from careplan.plans.escalations import list_escalations, resolve_escalation
from careplan.plans.workload import store_workload
from careplan.sessions import end_sessions_of
from careplan.staff import get_staff, names_of, store_staff
from careplan.stores import store_names as visible_store_names
from careplan.stores import visible_stores
from careplan.value.complaints import month_bounds
from careplan.vocab import EscalationStatus
from web.deps import DbSession, Now
from web.pages.common import Form, date_of, int_of, ints_of, pages_router, redirect, text_of
from web.pages.complaints import staff_rows
from web.session import User, Visitor
from web.templating import render

pages = pages_router()


def store_of(session: DbSession, visitor: Visitor, store: int | None) -> Store:
    """A manager's own store; a supervisor picks any."""
    actor = visitor.actor
    store_id = store if actor.chain_wide and store else actor.store_id
    if store_id is None:
        store_id = next((s.id for s in visible_stores(session, actor)), None)
    found = session.get(Store, store_id) if store_id else None
    if found is None or not actor.may_see_store(found.id):
        raise NotFound(N_("store not found"), field="store")
    return found


def _this_month(today: date) -> tuple[date, date]:
    first, after = month_bounds(today)
    return first, after - timedelta(days=1)


def _staff_context(
    session: DbSession, visitor: Visitor, store: Store, owner: int | None, today: date
) -> dict[str, Any]:
    staff = store_staff(session, store.id, active_only=False)
    shown = archive.search_members(
        session, visitor.actor, store_id=store.id, owner_id=owner, limit=500
    )
    return {
        "nav": "store",
        "store": store,
        "stores": visible_stores(session, visitor.actor) if visitor.actor.chain_wide else [],
        "staff": staff,
        "active_staff": [s for s in staff if archive.may_own_members(s)],
        "handing_over": [s for s in staff if may_hand_over_members_of(visitor.actor, s)],
        "may_sign_out": {s.id for s in staff if may_end_sessions_of(visitor.actor, s)},
        "counts": archive.owner_counts(session, visitor.actor, store.id),
        "workload": store_workload(session, visitor.actor, store.id, today=today),
        "members": shown,
        "owner": owner,
        "names": {s.id: s.name for s in staff},
        "handovers": archive.recent_handovers(session, visitor.actor, store.id),
        "covers": archive.covers_in_force(session, visitor.actor, store.id),
        # The store's complaint figures this month (the audit has any period).
        "cf_rows": staff_rows(session, visitor, store.id, *_this_month(today)),
        "today": today,
        "error": None,
        "done": None,
        "signed_out": None,
        "returned": None,
    }


@pages.get("/store/staff")
def staff_page(
    request: Request,
    visitor: User,
    session: DbSession,
    clock: Now,
    store: int | None = None,
    owner: int | None = None,
    moved: int | None = None,
    signed_out: int | None = None,
    returned: int | None = None,
) -> Response:
    require_manager(visitor.actor)
    context = _staff_context(
        session, visitor, store_of(session, visitor, store), owner, clock.today
    )
    context |= {"done": moved, "signed_out": signed_out, "returned": returned}
    return render(request, visitor, "store/staff.html", context)


@pages.post("/store/reassign")
def reassign(
    request: Request, form: Form, visitor: User, session: DbSession, clock: Now
) -> Response:
    """Selected members, or every member of one staff member (e.g. who is leaving)."""
    require_manager(visitor.actor)
    store = store_of(session, visitor, int_of(form, "store"))
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
                session, visitor.actor, from_staff, to_staff,
                staff_left=form.get("staff_left") == "on", note=note, now=clock.now,
                until=date_of(form, "until"),
            )  # fmt: skip
        else:
            ids = ints_of(form, "member_ids")
            moved = archive.reassign_members(
                session, visitor.actor, ids, to_staff, note=note, now=clock.now
            )
    except CareplanError as exc:
        session.rollback()
        owner = int_of(form, "owner")
        context = _staff_context(session, visitor, store, owner, clock.today) | {"error": exc}
        return render(request, visitor, "store/staff.html", context, status=422)
    return redirect(request, f"/store/staff?store={store.id}&moved={moved}")


@pages.post("/store/covers/{staff_id}/end")
def end_cover(
    request: Request, staff_id: int, form: Form, visitor: User, session: DbSession, clock: Now
) -> Response:
    """The person is back before their cover's last day: their members return clock."""
    back = archive.end_covers(session, visitor.actor, now=clock.now, returning_to=staff_id)
    store = int_of(form, "store")
    return redirect(request, f"/store/staff?store={store or ''}&returned={back}")


@pages.post("/store/staff/{staff_id}/sessions/end")
def end_staff_sessions(
    request: Request, staff_id: int, form: Form, visitor: User, session: DbSession, clock: Now
) -> Response:
    ended = end_sessions_of(session, visitor.actor, get_staff(session, staff_id), now=clock.now)
    store = int_of(form, "store")
    return redirect(request, f"/store/staff?store={store or ''}&signed_out={ended}")


def escalation_names(session: DbSession, rows: list[Escalation]) -> dict[str, dict[int, str]]:
    """Member, handler and resolver names for a list of escalations, in two queries."""
    people = [e.assignee_id for e in rows] + [e.resolved_by_id for e in rows]
    return {
        "names": archive.member_names(session, (e.member_id for e in rows)),
        "staff_names": names_of(session, people),
    }


def store_names(session: DbSession, visitor: Visitor) -> dict[int, str]:
    """Store names for a list that spans stores (head office's); empty for one store."""
    if not visitor.actor.chain_wide:
        return {}
    return visible_store_names(session, visitor.actor)


@pages.get("/escalations")
def escalations_page(
    request: Request, visitor: User, session: DbSession, clock: Now, status: str = "open"
) -> Response:
    actor = visitor.actor
    assert visitor.staff is not None
    wanted = EscalationStatus.resolved if status == "resolved" else EscalationStatus.open
    # Store staff see what involves them; managers their store; supervisors every store.
    involving = None if sees_every_escalation_in_sight(actor) else visitor.staff.id
    rows = list_escalations(session, actor, status=wanted, involving_staff_id=involving, limit=200)
    context = escalation_names(session, rows) | {
        "nav": "escalations",
        "escalations": rows,
        "resolvable": {e.id for e in rows if may_resolve_escalation(actor, e)},
        "store_names": store_names(session, visitor),
        "status": wanted,
        "today": clock.today,
    }
    return render(request, visitor, "store/escalations.html", context)


@pages.post("/escalations/{escalation_id}/resolve")
def resolve(
    request: Request, escalation_id: int, form: Form, visitor: User, session: DbSession, clock: Now
) -> Response:
    resolution = text_of(form, "resolution")[:1000]
    resolve_escalation(session, visitor.actor, escalation_id, resolution, now=clock.now)
    return redirect(request, "/escalations")
