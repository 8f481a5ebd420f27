"""My worklist (the home page): due, overdue, upcoming, escalations, greetings."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from careplan import worklist
from careplan.access import MANAGERS
from careplan.config import get_settings
from careplan.errors import N_
from careplan.protocol_schema import Protocol
from careplan.protocols import newest_definitions
from careplan.staff import store_staff
from careplan.validation import whole_number
from web.deps import DbSession, Now
from web.pages.common import pages_router
from web.pages.store import escalation_names
from web.session import AnyVisitor, SignInRequired
from web.templating import render

pages = pages_router()


def protocol_choices(session: DbSession) -> list[tuple[str, Protocol]]:
    """The newest version of each protocol: (id, definition)."""
    return list(newest_definitions(session).items())


@pages.get("/")
def home(
    request: Request,
    v: AnyVisitor,
    session: DbSession,
    now: Now,
    tab: str = "due",
    protocol: str = "",
    step: str = "",
    staff: str = "",
    saved: int | None = None,
) -> Response:
    if v.staff is None:
        raise SignInRequired
    actor = v.actor
    staff_id: int | None = v.staff.id
    colleagues = []
    if actor.role in MANAGERS and v.staff.store_id is not None:
        colleagues = store_staff(session, v.staff.store_id)
    if actor.role in MANAGERS and staff == "all":
        staff_id = None
    elif actor.role in MANAGERS and staff:
        staff_id = whole_number(staff, "staff", N_("choose a value from the list"))
    query = worklist.WorklistQuery(
        staff_id=staff_id,
        protocol_id=protocol or None,
        step_key=step or None,
        tab=tab if tab in worklist.TABS else "due",
    )
    wl = worklist.build(session, actor, query, today=now.today)
    protocols = protocol_choices(session)
    steps = [s for pid, d in protocols if pid == protocol for s in d.checkpoints]
    local_now = now.now.astimezone(get_settings().zone)
    context = {
        "nav": "worklist",
        "wl": wl,
        "today": now.today,
        "protocols": protocols,
        "steps": steps,
        "colleagues": colleagues,
        "staff_param": staff,
        "good_time": worklist.in_best_call_hours(local_now),
        "saved": saved,
        "filters": {"protocol": protocol, "step": step, "staff": staff},
        **escalation_names(session, wl.escalations),
    }
    return render(request, v, "worklist/index.html", context)
