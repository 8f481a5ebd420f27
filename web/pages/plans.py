"""Enrolling a member in a protocol (with a preview of the dates) and the plan page."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from careplan.access import get_member, get_plan
from careplan.errors import N_, CareplanError, InvalidInput
from careplan.members.archive import require_alive
from careplan.models import CarePlan, Escalation, Member
from careplan.plans.checkpoints import days_overdue
from careplan.plans.lifecycle import (
    check_no_live_plan,
    checkpoints_of,
    effective_status,
    enroll,
    open_escalations,
    preview,
    protocol_of,
    status_of,
    step_title,
)
from careplan.plans.protocols import definition_of
from careplan.staff import store_staff
from careplan.value.complaints import FOLLOW_UP_PROTOCOL
from web.deps import DbSession, Now
from web.pages.common import Form, FormData, date_of, int_of, pages_router, redirect, text_of
from web.pages.worklist import protocol_choices
from web.session import User, Visitor
from web.templating import is_htmx, render

pages = pages_router()
ASSIGNABLE = ("clerk", "pharmacist", "store_manager")


def _enrol_context(session: DbSession, member: Member, today: Any) -> dict[str, Any]:
    staff = [s for s in store_staff(session, member.home_store_id) if s.role.value in ASSIGNABLE]
    return {
        "nav": "members",
        "member": member,
        # A complaint's follow-up visit is made by recording the complaint, not here.
        "protocols": [p for p in protocol_choices(session) if p[0] != FOLLOW_UP_PROTOCOL],
        "staff": staff,
        "today": today,
        "values": {"start": today.isoformat(), "assignee_id": str(member.owner_id)},
        "planned": None,
        "error": None,
        "hide_consent_button": True,
    }


@pages.get("/members/{member_id}/enrol")
def enrol_page(
    request: Request, member_id: int, visitor: User, session: DbSession, clock: Now
) -> Response:
    member = get_member(session, visitor.actor, member_id)
    context = _enrol_context(session, member, clock.today)
    try:
        require_alive(member)  # said before anything is filled in
    except CareplanError as exc:
        context["error"] = exc
    return render(request, visitor, "plans/enrol.html", context)


def _choice(form: FormData) -> dict[str, Any]:
    return {
        "protocol_id": text_of(form, "protocol_id"),
        "start": date_of(form, "start"),
        "assignee_id": int_of(form, "assignee_id"),
    }


@pages.post("/members/{member_id}/enrol")
def enrol(
    request: Request, member_id: int, form: Form, visitor: User, session: DbSession, clock: Now
) -> Response:
    """'Preview' shows the dates; 'Confirm' enrols. Both post the same form."""
    member = get_member(session, visitor.actor, member_id)
    context = _enrol_context(session, member, clock.today) | {"values": dict(form)}
    try:
        choice = _choice(form)
        if not choice["protocol_id"]:
            raise InvalidInput(N_("required"), field="protocol_id")
        if choice["start"] is None:
            raise InvalidInput(N_("required"), field="start_date")
        if form.get("action") == "confirm":
            plan = enroll(
                session,
                visitor.actor,
                member_id=member.id,
                protocol_id=choice["protocol_id"],
                start=choice["start"],
                today=clock.today,
                now=clock.now,
                assignee_id=choice["assignee_id"],
            )
            return redirect(request, f"/members/{member.id}?enrolled={plan.id}")
        check_no_live_plan(session, member.id, choice["protocol_id"])
        row, steps = preview(
            session, choice["protocol_id"], None, choice["start"], today=clock.today
        )
        definition = definition_of(row)
        titles = {s.key: step_title(definition, s.key) for s in steps}
        context["planned"] = {
            "version": row, "steps": steps, "protocol": definition, "titles": titles,
        }  # fmt: skip
    except CareplanError as exc:
        session.rollback()
        context["error"] = exc
        return _respond(request, visitor, context, 422)
    return _respond(request, visitor, context, 200)


def _respond(request: Request, visitor: Visitor, context: dict[str, Any], status: int) -> Response:
    if is_htmx(request):
        return render(
            request, visitor, "plans/_preview.html", context, status=status, fragment=True
        )
    return render(request, visitor, "plans/enrol.html", context, status=status, fragment=False)


def plan_view(
    session: DbSession,
    plan: CarePlan,
    today: date,
    escalations: list[Escalation] | None = None,
) -> dict[str, Any]:
    """A plan with its timeline: every step's status as of today. `escalations`: the
    plan's open ones, when the caller has read them (the member page reads them all)."""
    protocol = protocol_of(plan)
    checkpoints = checkpoints_of(session, plan)
    steps = []
    for cp in checkpoints:
        status = status_of(cp, today)
        steps.append(
            {
                "cp": cp,
                "status": status,
                "title": step_title(protocol, cp.key),
                "overdue": days_overdue(cp, today) if status == "overdue" else 0,
            }
        )
    if escalations is None:
        escalations = open_escalations(session, plan_id=plan.id)
    return {
        "plan": plan,
        "protocol": protocol,
        "steps": steps,
        "status": effective_status(
            session, plan, today, steps=checkpoints, escalations=escalations
        ),
        # A "stopped taking" answer shows on the plan until its escalation is resolved.
        "escalations": escalations,
    }


@pages.get("/plans/{plan_id}")
def plan_page(
    request: Request, plan_id: int, visitor: User, session: DbSession, clock: Now
) -> Response:
    plan = get_plan(session, visitor.actor, plan_id)
    context = {
        "nav": "members",
        "member": plan.member,
        "p": plan_view(session, plan, clock.today),
        "today": clock.today,
    }
    return render(request, visitor, "plans/page.html", context)
