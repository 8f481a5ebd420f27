"""The member archive: search, create, edit, the member page, consent and verification."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import Response

from careplan.access import (
    get_member,
    may_choose_owner,
    may_erase_members,
    may_record_complaint,
    may_set_grade,
    may_set_outlook,
)
from careplan.adherence import measured
from careplan.adherence.purchases import purchases_of
from careplan.config import get_settings
from careplan.errors import N_, CareplanError, InvalidInput
from careplan.lectures import lectures
from careplan.members import archive
from careplan.members.consent import withdraw_health_consent
from careplan.members.health_records import effects_of, health_checks_of
from careplan.models import Member
from careplan.outreach import outbox, preview
from careplan.outreach.consent import consents_of
from careplan.plans import caseload
from careplan.plans.contacts import contact_log, last_answer
from careplan.plans.lifecycle import open_escalations, plans_of_member
from careplan.plans.measurements import MEASUREMENTS
from careplan.staff import names_of, store_staff
from careplan.value import complaints, grades
from careplan.value import outlook as outlooks
from careplan.vocab import MessageChannel, Outlook, Sex
from web.access_log import looked
from web.charts import Series, line_chart
from web.deps import DbSession, Now
from web.labels import GRADE_NAMES
from web.pages.common import (
    Form,
    FormData,
    date_of,
    int_of,
    pages_router,
    parse_model,
    redirect,
    text_of,
)
from web.pages.plans import plan_view
from web.session import User, Visitor
from web.templating import render

pages = pages_router()
SPLIT = re.compile(r"[\n,，、;；]+")
LIST_FIELDS = ("medical_history", "drug_allergies", "chronic_conditions", "hobbies")
TEXT_FIELDS = (
    "name", "birthday", "mobile", "landline", "email", "address", "residential_area",
    "consumption_feedback", "employer", "position", "health_status", "habits", "diet",
    "exercise", "education", "income_band", "marital_status",
)  # fmt: skip


def _list(form: FormData, name: str) -> list[str]:
    return [p.strip() for p in SPLIT.split(text_of(form, name)) if p.strip()]


def _medicines(form: FormData) -> list[dict[str, str]]:
    """One per line: name, dose, schedule (dose and schedule optional)."""
    found = []
    for line in text_of(form, "regular_medicines").splitlines():
        parts = [p.strip() for p in re.split(r"[,，]", line, maxsplit=2)]
        if parts and parts[0]:
            parts += [""] * (3 - len(parts))
            found.append({"name": parts[0], "dose": parts[1], "schedule": parts[2]})
    return found


def _special_dates(form: FormData, current: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kept = [d for d in current if d.get("kind") not in ("wedding_anniversary", "spouse_birthday")]
    for kind in ("wedding_anniversary", "spouse_birthday"):
        on = date_of(form, kind)
        if on is not None:
            kept.append({"kind": kind, "date": on})
    return kept


def archive_values(form: FormData, member: Member | None, consent: bool) -> dict[str, Any]:
    """Every archive field from the form; blank means cleared."""
    values: dict[str, Any] = {f: text_of(form, f) or None for f in TEXT_FIELDS}
    values["sex"] = text_of(form, "sex") or None
    values |= {f: _list(form, f) for f in LIST_FIELDS}
    values["regular_medicines"] = _medicines(form)
    values["special_dates"] = _special_dates(form, member.special_dates if member else [])
    values["referred_by_card"] = text_of(form, "referred_by_card") or None
    if not consent:
        # The health part of the form is disabled without consent: never send it.
        for f in archive.HEALTH_FIELDS:
            values.pop(f, None)
    return values


def _form_context(session: DbSession, visitor: Visitor, member: Member | None) -> dict[str, Any]:
    assert visitor.staff is not None
    store_id = member.home_store_id if member else visitor.staff.store_id
    owners = [s for s in store_staff(session, store_id) if s.role.value in
              ("clerk", "pharmacist", "store_manager")] if store_id else []  # fmt: skip
    return {
        "nav": "members",
        "member": member,
        "sexes": list(Sex),
        "owners": owners,
        "may_choose_owner": may_choose_owner(visitor.actor),
        "values": {},
        "error": None,
    }


def form_values_of(member: Member) -> dict[str, str]:
    """The archive as form text, for the edit form."""
    values: dict[str, str] = {f: str(getattr(member, f) or "") for f in TEXT_FIELDS}
    values["sex"] = member.sex.value if member.sex else ""
    values |= {f: "\n".join(getattr(member, f) or []) for f in LIST_FIELDS}
    values["regular_medicines"] = "\n".join(
        ", ".join(p for p in (m.get("name"), m.get("dose"), m.get("schedule")) if p)
        for m in member.regular_medicines or []
    )
    for d in member.special_dates or []:
        if d.get("kind") in ("wedding_anniversary", "spouse_birthday"):
            values[d["kind"]] = str(d["date"])
    return values


def _refused(
    request: Request,
    visitor: Visitor,
    session: DbSession,
    member: Member | None,
    form: FormData,
    exc: CareplanError,
) -> Response:
    """The archive form again, with what was typed and why it was refused; nothing kept."""
    session.rollback()
    context = _form_context(session, visitor, member) | {"values": dict(form), "error": exc}
    return render(request, visitor, "members/form.html", context, status=422)


@pages.get("/members")
def search_page(
    request: Request,
    visitor: User,
    session: DbSession,
    clock: Now,
    q: str = "",
    grade: Annotated[list[str], Query()] = [],  # noqa: B006
) -> Response:
    """Search by words, by relationship grade (one or more), or both."""
    chosen = sorted({int(g) for g in grade if g.isdigit() and int(g) in GRADE_NAMES})
    searched = bool(q.strip() or chosen)
    found = (
        archive.search_members(session, visitor.actor, q=q, grades=chosen, limit=50)
        if searched
        else []
    )
    lines = caseload.lines_of(session, found, clock.today)
    context = {
        "nav": "members",
        "q": q,
        "grades": chosen,
        "found": lines,
        "names": names_of(session, {m.owner_id for m in found}),
        "searched": searched,
    }
    if request.headers.get("HX-Request") == "true":
        return render(request, visitor, "members/_results.html", context, fragment=True)
    return render(request, visitor, "members/search.html", context)


@pages.get("/my-members")
def my_members_page(
    request: Request, visitor: User, session: DbSession, clock: Now, q: str = "", sort: str = "next"
) -> Response:
    """The members I own with a live plan: next step, last contact; sortable, searchable."""
    assert visitor.staff is not None
    sort = sort if sort in caseload.SORTS else "next"
    lines = caseload.my_members(
        session, visitor.actor, visitor.staff.id, today=clock.today, q=q, sort=sort
    )
    context = {"nav": "my_members", "q": q, "sort": sort, "lines": lines, "today": clock.today}
    if request.headers.get("HX-Request") == "true":
        return render(request, visitor, "members/_my_members.html", context, fragment=True)
    return render(request, visitor, "members/my_members.html", context)


@pages.get("/members/mobile-check")
def mobile_check(
    request: Request,
    visitor: User,
    session: DbSession,
    mobile: str = "",
    member_id: int | None = None,
) -> Response:
    """As the mobile is typed: is it already someone's? (likely a double registration)"""
    digits = re.sub(r"[\s-]", "", mobile)[-11:]
    others = []
    if len(digits) == 11:
        others = archive.members_with_mobile(session, visitor.actor, digits, exclude_id=member_id)
    return render(request, visitor, "members/_duplicates.html", {"others": others}, fragment=True)


@pages.get("/members/new")
def new_member_page(request: Request, visitor: User, session: DbSession) -> Response:
    return render(request, visitor, "members/form.html", _form_context(session, visitor, None))


@pages.post("/members")
def create_member(
    request: Request, form: Form, visitor: User, session: DbSession, clock: Now
) -> Response:
    consent = form.get("health_consent") == "on"
    try:
        values = archive_values(form, None, consent=True)
        values |= {
            "card_number": text_of(form, "card_number"),
            "health_consent": consent,
            "owner_id": int_of(form, "owner_id"),
        }
        given = {k: v_ for k, v_ in values.items() if v_ not in ([], None, "")}
        data = parse_model(archive.MemberCreate, given)
        member = archive.create_member(session, visitor.actor, data, now=clock.now)
    except CareplanError as exc:
        return _refused(request, visitor, session, None, form, exc)
    return redirect(request, f"/members/{member.id}?created=1")


@pages.get("/members/{member_id}/edit")
def edit_member_page(
    request: Request, member_id: int, visitor: User, session: DbSession
) -> Response:
    member = get_member(session, visitor.actor, member_id)
    values = form_values_of(member)
    if member.referred_by_id and (referrer := session.get(Member, member.referred_by_id)):
        values["referred_by_card"] = referrer.card_number
    context = _form_context(session, visitor, member) | {"values": values}
    return render(request, visitor, "members/form.html", context)


@pages.post("/members/{member_id}")
def update_member(
    request: Request, member_id: int, form: Form, visitor: User, session: DbSession, clock: Now
) -> Response:
    member = get_member(session, visitor.actor, member_id)
    try:
        if form.get("health_consent") == "on" and not member.health_consent:
            archive.give_health_consent(session, visitor.actor, member.id, now=clock.now)
        values = archive_values(form, member, consent=member.health_consent)
        data = parse_model(archive.MemberFields, values)
        archive.update_member(session, visitor.actor, member.id, data, now=clock.now)
    except CareplanError as exc:
        return _refused(request, visitor, session, member, form, exc)
    return redirect(request, f"/members/{member.id}?saved=1")


@pages.post("/members/{member_id}/grade")
def set_grade(
    request: Request, member_id: int, form: Form, visitor: User, session: DbSession, clock: Now
) -> Response:
    """Staff set the relationship grade 80 or 100, or clear it, with a reason."""
    reason = text_of(form, "reason")
    try:
        if form.get("action") == "clear":
            grades.clear_grade(session, visitor.actor, member_id, reason, now=clock.now)
        else:
            level = int_of(form, "grade")
            if level is None:
                raise InvalidInput(N_("choose 80 or 100"), field="grade")
            grades.set_grade(session, visitor.actor, member_id, level, reason, now=clock.now)
    except CareplanError as exc:
        session.rollback()
        return member_view(request, visitor, session, clock, member_id, grade_error=exc)
    return redirect(request, f"/members/{member_id}?saved=1#h-grade")


@pages.post("/members/{member_id}/verified")
def confirm_today(
    request: Request, member_id: int, visitor: User, session: DbSession, clock: Now
) -> Response:
    """'Is your phone still ...?' confirmed with the member: one click."""
    member = archive.mark_verified(session, visitor.actor, member_id, today=clock.today)
    if request.headers.get("HX-Request") == "true":
        context = {"member": member, "today": clock.today, "stale": False}
        return render(request, visitor, "members/_verified.html", context, fragment=True)
    return redirect(request, f"/members/{member.id}")


@pages.post("/members/{member_id}/consent")
def record_consent(
    request: Request, member_id: int, visitor: User, session: DbSession, clock: Now
) -> Response:
    archive.give_health_consent(session, visitor.actor, member_id, now=clock.now)
    return redirect(request, f"/members/{member_id}")


@pages.post("/members/{member_id}/consent/withdraw")
def withdraw_consent(
    request: Request, member_id: int, visitor: User, session: DbSession, clock: Now
) -> Response:
    withdraw_health_consent(session, visitor.actor, member_id, now=clock.now)
    return redirect(request, f"/members/{member_id}")


@pages.post("/members/{member_id}/outlook")
def set_outlook(
    request: Request, member_id: int, form: Form, visitor: User, session: DbSession, clock: Now
) -> Response:
    """Set (or confirm) how soon the member is likely to buy again: it starts the
    outlook's contact plan from today in place of the last one."""
    try:
        chosen, why = text_of(form, "outlook"), text_of(form, "outlook_reason")
        outlooks.set_outlook(
            session, visitor.actor, member_id, chosen, why, today=clock.today, now=clock.now
        )
    except CareplanError as exc:
        session.rollback()
        return member_view(request, visitor, session, clock, member_id, outlook_error=exc)
    return redirect(request, f"/members/{member_id}?outlook=1#h-outlook")


def _charts(checks: list[Any], lang: str) -> list[dict[str, Any]]:
    by_kind: dict[str, list[Any]] = {}
    for hc in checks:
        by_kind.setdefault(hc.kind, []).append(hc)
    charts = []
    for kind, rows in by_kind.items():
        m = MEASUREMENTS[kind]
        series = [
            Series(
                c.en if lang == "en" else c.zh,
                [(r.measured_at, float(r.values[c.key])) for r in rows if c.key in r.values],
            )
            for c in m.components
        ]
        title = m.en if lang == "en" else m.zh
        charts.append(
            {
                "measurement": m,
                "rows": rows,
                "svg": line_chart(
                    series, title=title, unit=m.unit, date_fmt="%m-%d", language=lang
                ),
            }
        )
    return charts


@pages.get("/members/{member_id}")
def member_page(
    request: Request,
    member_id: int,
    visitor: User,
    session: DbSession,
    clock: Now,
    created: bool = False,
    saved: bool = False,
    lecture: str = "",
    enrolled: int | None = None,
    outlook: bool = False,
) -> Response:
    return member_view(request, visitor, session, clock, member_id, created=created, saved=saved,
                       lecture_done=lecture, enrolled=enrolled, outlook_saved=outlook)  # fmt: skip


def member_view(
    request: Request,
    visitor: Visitor,
    session: DbSession,
    clock: Now,
    member_id: int,
    *,
    created: bool = False,
    saved: bool = False,
    lecture_done: str = "",
    error: CareplanError | None = None,
    enrolled: int | None = None,
    message_error: CareplanError | None = None,
    grade_error: CareplanError | None = None,
    outlook_error: CareplanError | None = None,
    outlook_saved: bool = False,
) -> Response:
    """The member's page; `error` is a refused change made from it (shown, nothing saved),
    `message_error` one about messages, `outlook_error` one about the outlook (shown in
    their sections)."""
    actor = visitor.actor
    member = get_member(session, actor, member_id)
    # A page answering a write (its refusal) records in that write's transaction.
    writing = session if request.method != "GET" else None
    looked(request, actor, [member.id], "page", clock.now, writing)
    plans = []
    checkpoint_ids: list[int] = []
    escalations = open_escalations(session, member_id=member.id)
    for plan in plans_of_member(session, actor, member.id):
        of_plan = [e for e in escalations if e.plan_id == plan.id]
        view = plan_view(session, plan, clock.today, of_plan)
        checkpoint_ids += [step["cp"].id for step in view["steps"]]
        plans.append(view)
    checks = health_checks_of(session, actor, member.id) if member.health_consent else []
    log = contact_log(session, checkpoint_ids)
    ownerships = archive.ownership_history(session, actor, member.id)
    ids = {member.owner_id} | {o.staff_id for o in ownerships}
    ids |= {o.changed_by_id for o in ownerships if o.changed_by_id}
    ids |= {e.by for e in log}
    ids |= {e.assignee_id for e in escalations if e.assignee_id}
    message_consents = consents_of(session, member.id)
    ids |= {c.granted_by_id for c in message_consents.values() if c.granted_by_id}
    ids |= {c.withdrawn_by_id for c in message_consents.values() if c.withdrawn_by_id}
    ids |= {member.died_recorded_by_id} if member.died_recorded_by_id else set()
    grade_changes = grades.grade_history(session, actor, member.id)
    ids |= {c.by_id for c in grade_changes if c.by_id}
    ids |= {member.outlook_by_id} if member.outlook_by_id else set()
    measured_from = clock.today - timedelta(days=measured.MEASURED_DAYS - 1)
    context = {
        "nav": "members",
        "member": member,
        "today": clock.today,
        "plans": plans,
        "live": any(p["status"] in ("active", "paused") for p in plans),
        "charts": _charts(checks, visitor.language),
        "effects": effects_of(session, actor, member.id) if member.health_consent else [],
        "purchases": purchases_of(session, actor, member.id),
        "log": log,
        "ownerships": ownerships,
        "names": names_of(session, ids),
        "duplicates": archive.members_with_mobile(
            session, actor, member.mobile, exclude_id=member.id
        )
        if member.mobile
        else [],
        "completeness": archive.completeness(member),
        "stale": archive.stale(member, clock.today),
        "created": created,
        "saved": saved,
        "age": _age(member.birthday, clock.today),
        "adherence": measured.member_adherence(
            session,
            actor,
            member.id,
            start=measured_from,
            end=clock.today,
            plans=[p["plan"] for p in plans],
        ),
        "pdc_days": measured.MEASURED_DAYS,
        "last_answer": last_answer(log),
        "lecture_seats": (seats := lectures.member_lectures(session, actor, member.id)),
        "waitlist_places": {s.id: lectures.waitlist_place(session, s) for s in seats},
        "lecture_place": request.query_params.get("place", ""),
        "open_lectures": lectures.open_for_registration(session, actor, member.id, now=clock.now),
        "lecture_done": lecture_done,
        "open_escalations": escalations,
        "member_complaints": complaints.complaints_of_member(session, actor, member.id),
        "may_record_complaint": may_record_complaint(actor),
        # After an enrolment: which plan was just made, to say so.
        "enrolled": next((p for p in plans if p["plan"].id == enrolled), None),
        "error": error,
        "now": clock.now,
        "may_erase": may_erase_members(actor),
        "message_consents": message_consents,
        "message_channels": list(MessageChannel),
        "message_templates": preview.template_choices(get_settings()),
        "messages": outbox.of_member(session, member.id, limit=20),
        "message_error": message_error,
        "grade": grades.grade_facts(session, actor, member.id),
        "grade_error": grade_error,
        "grade_changes": grade_changes,
        "may_set_grade": may_set_grade(actor, member),
        "referrer": session.get(Member, member.referred_by_id) if member.referred_by_id else None,
        "referred": archive.referred_by(session, member.id),
        "outlook": outlooks.outlook_of(session, actor, member.id, clock.today),
        "outlooks": list(Outlook),
        "may_set_outlook": may_set_outlook(actor, member),
        "outlook_error": outlook_error,
        "outlook_saved": outlook_saved,
    }
    refused = error or message_error or grade_error or outlook_error
    return render(request, visitor, "members/page.html", context, status=422 if refused else 200)


def _age(birthday: date | None, today: date) -> int | None:
    if birthday is None:
        return None
    return today.year - birthday.year - ((today.month, today.day) < (birthday.month, birthday.day))
