"""Working a checkpoint: the step's checklist, channel, adherence, measurements, effect
and notes; or "unreachable, call back at ...". htmx swaps the row in place; without
JavaScript the same forms post and redirect."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response

from careplan.access import Actor, get_checkpoint
from careplan.errors import CareplanError, Conflict, InvalidInput, StaleVersion
from careplan.members.health_records import HealthCheckIn
from careplan.models import Checkpoint
from careplan.plans import worklist
from careplan.plans.checkpoints import ResultIn, record_result, snapshot
from careplan.plans.contacts import step_contacts
from careplan.plans.escalations import raised_at_checkpoint
from careplan.plans.lifecycle import (
    allowed_channels,
    asks_health_answers,
    protocol_of,
    status_of,
    step_of,
    step_title,
)
from careplan.plans.measurements import MEASUREMENTS, implausible
from careplan.plans.outcomes import VISIT_HORIZON_DAYS, AttemptIn, record_attempt
from careplan.staff import names_of
from careplan.validation import whole_number
from careplan.vocab import (
    OFFERED_OUTCOMES,
    Adherence,
    AttemptOutcome,
    Channel,
    RemovalReason,
    StopReason,
)
from web.deps import DbSession, Now
from web.i18n import N_
from web.pages.common import (
    Form,
    FormData,
    date_of,
    local_datetime_of,
    pages_router,
    parse_model,
    redirect,
    text_of,
)
from web.session import User, Visitor
from web.templating import is_htmx, render

pages = pages_router()
EFFECT_FIELDS = ("before", "after", "side_effects", "member_words")
OUT_OF_RANGE = N_("outside the plausible range shown under the box")
NO_CHANNEL = N_("choose how you reached the member")


def _form_context(session: DbSession, cp: Checkpoint, today: date, actor: Actor) -> dict[str, Any]:
    protocol = protocol_of(cp.plan)
    step = step_of(protocol, cp.key)
    contacts = step_contacts(session, cp.id)
    attempts, result = contacts.attempts, contacts.result
    ids = {a.staff_id for a in attempts} | ({result.recorded_by_id} if result else set())
    return {
        "cp": cp,
        "member": cp.plan.member,
        "protocol": protocol,
        "step": step,
        "status": status_of(cp, today),
        "channels": allowed_channels(protocol, step),
        "home_visit_rule": step.home_visit_after_phone,
        # The adherence question and the effect record: not for a plan holding no health
        # data (a complaint visit, a contact plan); the domain decides, the form follows.
        "asks_health": asks_health_answers(protocol),
        "effect_open": step.effect_record,
        "measurements": [MEASUREMENTS[k] for k in step.measurements],
        "adherences": list(Adherence),
        "stop_reasons": list(StopReason),
        "outcomes": OFFERED_OUTCOMES,
        "removal_reasons": list(RemovalReason),
        "visit_last": today + timedelta(days=VISIT_HORIZON_DAYS),
        "attempts": attempts,
        "result": result,
        "escalations": raised_at_checkpoint(session, cp.id),
        "staff_names": names_of(session, ids),
        "today": today,
        "values": {},
        "error": None,
        "stale": None,
        "notice": None,
        "step_title": step_title(protocol, cp.key),
        "also": worklist.also_due_with(session, actor, cp, None, today),
    }


@pages.get("/checkpoints/{checkpoint_id}")
def checkpoint_page(
    request: Request,
    checkpoint_id: int,
    visitor: User,
    session: DbSession,
    clock: Now,
    done: str = "",
    tab: str = "due",
) -> Response:
    """`done`: what a plain (no-JavaScript) save just recorded, said back on the page;
    `tab`: the worklist tab the person came from, where a save returns them."""
    cp = get_checkpoint(session, visitor.actor, checkpoint_id)
    context = _form_context(session, cp, clock.today, visitor.actor)
    context |= {"full_page": True, "nav": "worklist"}
    context["tab"] = tab if tab in worklist.TABS else "due"
    context["notice"] = done if done in ("attempt", "result") else None
    return render(request, visitor, "checkpoints/page.html", context, fragment=False)


@pages.get("/checkpoints/{checkpoint_id}/form")
def checkpoint_form(
    request: Request,
    checkpoint_id: int,
    visitor: User,
    session: DbSession,
    clock: Now,
    tab: str = "due",
) -> Response:
    cp = get_checkpoint(session, visitor.actor, checkpoint_id)
    context = _form_context(session, cp, clock.today, visitor.actor) | {"full_page": False}
    context["tab"] = tab if tab in worklist.TABS else "due"
    return render(request, visitor, "checkpoints/_form.html", context, fragment=True)


def _measurements(form: FormData, kinds: tuple[str, ...]) -> list[HealthCheckIn]:
    """A measurement counts when any of its boxes is filled; then all must be."""
    found = []
    for kind in kinds:
        m = MEASUREMENTS[kind]
        raw = {c.key: text_of(form, f"m.{kind}.{c.key}") for c in m.components}
        if not any(raw.values()):
            continue
        values: dict[str, float] = {}
        for key, value in raw.items():
            try:
                values[key] = float(value)
            except ValueError:
                raise InvalidInput(N_("enter a number"), field=f"m.{kind}.{key}") from None
        box = implausible(kind, values)
        if box is not None:
            # Marked on the exact box (systolic, diastolic, value), beside its range.
            raise InvalidInput(OUT_OF_RANGE, field=f"m.{kind}.{box.key}")
        found.append(parse_model(HealthCheckIn, {"kind": kind, "values": values}))
    return found


def _effect(form: FormData) -> dict[str, Any] | None:
    effect: dict[str, Any] = {k: text_of(form, f"effect.{k}") for k in EFFECT_FIELDS}
    rating = text_of(form, "effect.rating")
    if rating:
        effect["rating"] = rating
    return effect if any(effect.values()) else None


def parse_result(form: FormData, cp: Checkpoint) -> ResultIn:
    protocol = protocol_of(cp.plan)
    step = step_of(protocol, cp.key)
    checklist = {item.key: form.get(f"checklist.{item.key}") == "on" for item in step.checklist}
    if not text_of(form, "channel"):
        # Nothing is preselected, so a phone call is never saved as a visit by default.
        raise InvalidInput(NO_CHANNEL, field="channel")
    data: dict[str, Any] = {
        "version": text_of(form, "version") or None,
        "channel": text_of(form, "channel") or None,
        "adherence": text_of(form, "adherence") or None,
        "stop_reason": text_of(form, "stop_reason") or None,
        "checklist": checklist,
        "notes": text_of(form, "notes"),
        "contacted_on": date_of(form, "contacted_on"),
        "measurements": _measurements(form, step.measurements),
        "effect": _effect(form),
    }
    if data["adherence"] != Adherence.stopped.value:
        data["stop_reason"] = None  # the select may hold a leftover choice
    if not asks_health_answers(protocol):
        data |= {"adherence": None, "stop_reason": None, "effect": None}  # the form asked none
    return parse_model(ResultIn, data)


def _form_error(
    request: Request,
    visitor: Visitor,
    session: DbSession,
    cp: Checkpoint,
    today: date,
    form: FormData,
    exc: CareplanError,
) -> Response:
    session.rollback()  # nothing of a refused save may remain
    context = _form_context(session, cp, today, visitor.actor) | {
        "full_page": text_of(form, "full_page") == "1",
        "tab": _tab(form),
        "values": dict(form),
        "error": exc,
        "stale": exc.current if isinstance(exc, StaleVersion) else None,
    }
    if isinstance(exc, Conflict) and not isinstance(exc, StaleVersion):
        context["stale"] = snapshot(session, cp, today)
    if context["stale"] and context["stale"].get("result"):
        who = context["stale"]["result"]["recorded_by_id"]
        context["staff_names"] |= names_of(session, {who})
    status = 409 if isinstance(exc, Conflict) else 422
    template = "checkpoints/page.html" if not is_htmx(request) else "checkpoints/_form.html"
    return render(request, visitor, template, context, status=status, fragment=is_htmx(request))


def _after_save(
    request: Request,
    visitor: Visitor,
    session: DbSession,
    cp: Checkpoint,
    today: date,
    notice: str,
    form: FormData,
) -> Response:
    """Say back what was saved, where the person is: in the worklist row, or on the step's
    own page, which keeps its layout (the form again, with the notice on top)."""
    full_page = text_of(form, "full_page") == "1"
    if not is_htmx(request):
        if notice == "attempt":
            back = urlencode({"done": notice, "tab": _tab(form)})
            return redirect(request, f"/checkpoints/{cp.id}?{back}")
        return redirect(request, f"/?{urlencode({'tab': _tab(form), 'saved': cp.id})}")
    assert visitor.staff is not None
    session.refresh(cp)
    context = _form_context(session, cp, today, visitor.actor) | {
        "notice": notice,
        "full_page": full_page,
        "tab": _tab(form),
    }
    if full_page:
        return render(request, visitor, "checkpoints/_form.html", context, fragment=True)
    query = worklist.WorklistQuery(staff_id=visitor.staff.id)
    context |= {
        "counts": worklist.counts(session, visitor.actor, query, today=today),
        "item": worklist.work_item(cp, cp.plan.member, today, context["also"]),
    }
    response = render(request, visitor, "checkpoints/_saved.html", context, fragment=True)
    response.headers["HX-Retarget"] = f"#cp-{cp.id}"
    response.headers["HX-Reswap"] = "outerHTML"
    return response


def _tab(form: FormData) -> str:
    tab = text_of(form, "tab")
    return tab if tab in worklist.TABS else "due"


@pages.post("/checkpoints/{checkpoint_id}/result")
def save_result(
    request: Request, checkpoint_id: int, form: Form, visitor: User, session: DbSession, clock: Now
) -> Response:
    cp = get_checkpoint(session, visitor.actor, checkpoint_id)
    try:
        data = parse_result(form, cp)
        record_result(session, visitor.actor, cp.id, data, today=clock.today, now=clock.now)
    except CareplanError as exc:
        return _form_error(request, visitor, session, cp, clock.today, form, exc)
    return _after_save(request, visitor, session, cp, clock.today, "result", form)


@pages.post("/checkpoints/{checkpoint_id}/attempt")
def save_attempt(
    request: Request, checkpoint_id: int, form: Form, visitor: User, session: DbSession, clock: Now
) -> Response:
    cp = get_checkpoint(session, visitor.actor, checkpoint_id)
    try:
        data = parse_attempt(form)
        record_attempt(session, visitor.actor, cp.id, data, today=clock.today, now=clock.now)
    except CareplanError as exc:
        return _form_error(request, visitor, session, cp, clock.today, form, exc)
    return _after_save(request, visitor, session, cp, clock.today, "attempt", form)


# The boxes each outcome reads; a box of another outcome may hold a leftover entry.
OUTCOME_BOXES: dict[str, tuple[str, ...]] = {
    AttemptOutcome.unreachable: ("call_back_at",),
    AttemptOutcome.call_back: ("call_back_at",),
    AttemptOutcome.agreed_to_visit: ("visit_on",),
    AttemptOutcome.remind_later: ("remind_days",),
    AttemptOutcome.removed: ("removal_reason", "died_on"),
}


def parse_attempt(form: FormData) -> AttemptIn:
    outcome = text_of(form, "outcome") or AttemptOutcome.unreachable.value
    boxes = OUTCOME_BOXES.get(outcome, ())

    def box(name: str) -> str:
        return text_of(form, name) if name in boxes else ""

    reason = box("removal_reason")
    data: dict[str, Any] = {
        "channel": text_of(form, "attempt_channel") or Channel.phone.value,
        "outcome": outcome,
        "call_back_at": local_datetime_of(form, "call_back_at") if box("call_back_at") else None,
        "visit_on": date_of(form, "visit_on") if box("visit_on") else None,
        "remind_days": whole_number(box("remind_days"), "remind_days")
        if box("remind_days")
        else None,
        "removal_reason": reason or None,
        "died_on": date_of(form, "died_on") if reason == RemovalReason.died.value else None,
        "note": text_of(form, "attempt_note"),
        "version": text_of(form, "version") or None,
    }
    return parse_model(AttemptIn, data)
