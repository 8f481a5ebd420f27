"""My worklist (the home page): due, overdue, upcoming, escalations, greetings."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from careplan.access import may_see_colleagues_worklists, starts_on_the_audit
from careplan.adherence import risk
from careplan.config import get_settings
from careplan.errors import N_
from careplan.plans import worklist
from careplan.plans.protocol_schema import Protocol
from careplan.plans.protocols import newest_definitions
from careplan.staff import names_of, store_staff
from careplan.validation import whole_number
from web.deps import DbSession, Now
from web.pages.common import pages_router, redirect
from web.pages.store import escalation_names
from web.session import AnyVisitor, require_signed_in
from web.templating import render

pages = pages_router()


def protocol_choices(session: DbSession) -> list[tuple[str, Protocol]]:
    """The newest version of each protocol: (id, definition)."""
    return list(newest_definitions(session).items())


@pages.get("/")
def home(
    request: Request,
    visitor: AnyVisitor,
    session: DbSession,
    clock: Now,
    tab: str = "due",
    protocol: str = "",
    step: str = "",
    staff: str = "",
    saved: int | None = None,
) -> Response:
    require_signed_in(visitor)  # AnyVisitor above, so its own check (sign-in, a one-time password)
    actor = visitor.actor
    if starts_on_the_audit(actor) and not request.query_params:
        return redirect(request, "/audit")  # home (and the landing after sign-in)
    staff_id: int | None = visitor.staff.id
    colleagues = []
    others = may_see_colleagues_worklists(actor)
    if others and visitor.staff.store_id is not None:
        colleagues = store_staff(session, visitor.staff.store_id)
    if others and staff == "all":
        staff_id = None
    elif others and staff:
        staff_id = whole_number(staff, "staff", N_("choose a value from the list"))
    query = worklist.WorklistQuery(
        staff_id=staff_id,
        protocol_id=protocol or None,
        step_key=step or None,
        tab=tab if tab in worklist.TABS else "due",
    )
    wl = worklist.build(session, actor, query, today=clock.today)
    if query.tab == "overdue":
        wl.items = risk.risk_first(session, wl.items, clock.today)
    # Whose list this is, for its title; on any list but one's own, each row's owner.
    owners = names_of(session, {i.checkpoint.assignee_id for i in wl.items})
    whose = "mine" if staff_id == visitor.staff.id else "store" if staff_id is None else "colleague"
    colleague = names_of(session, {staff_id}).get(staff_id, "") if whose == "colleague" else ""
    protocols = protocol_choices(session)
    steps = [s for pid, d in protocols if pid == protocol for s in d.checkpoints]
    local_now = clock.now.astimezone(get_settings().zone)
    context = {
        "nav": "worklist",
        "wl": wl,
        "today": clock.today,
        "protocols": protocols,
        "steps": steps,
        "colleagues": colleagues,
        "staff_param": staff,
        "good_time": worklist.in_best_call_hours(local_now),
        "saved": saved,
        "tab": query.tab,
        "whose": whose,
        "colleague": colleague,
        "owners": owners if whose != "mine" else {},
        "filters": {"protocol": protocol, "step": step, "staff": staff},
        **escalation_names(session, wl.escalations),
    }
    return render(request, visitor, "worklist/index.html", context)
