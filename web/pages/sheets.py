"""Printing guidance sheets: one from a checkpoint or a member's plan, or a day's contacts
as one PDF. Every print is a POST (it is recorded in the member's contact log); a batch of
more than a few sheets is a job, rendered by a consumer process (careplan/jobs) while the
page shows progress."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from careplan.access import may_print_for_others
from careplan.db import begin_writing_after_reads
from careplan.errors import N_, CareplanError, InvalidInput, NotFound
from careplan.jobs import lease
from careplan.models import SheetBatch, Store
from careplan.sheets import sheets
from careplan.staff import names_of, store_staff
from careplan.stores import visible_stores
from careplan.vocab import BatchState, Paper
from web.access_log import looked
from web.audit_params import disposition
from web.deps import DbSession, Now
from web.pages.common import Form, date_of, int_of, pages_router, redirect, text_of
from web.routing import reads_first
from web.session import User, Visitor
from web.sheet_pdf import render_pdf
from web.templating import render

pages = pages_router()
# Up to this many sheets are rendered while the person waits (about a second); more
# are a job, with a progress page.
INLINE_MAX = 3


def pdf_response(pdf: bytes, filename: str, *, inline: bool = True) -> Response:
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": disposition(filename, inline=inline),
            # Health data: never kept by a shared browser or a proxy.
            "Cache-Control": "no-store",
        },
    )


def _paper(form: Form) -> Paper:
    value = text_of(form, "paper") or Paper.a4.value
    if value not in Paper.__members__:
        raise InvalidInput(N_("choose A4 or A5"), field="paper")
    return Paper(value)


def _language(form: Form) -> str | None:
    value = text_of(form, "language")
    return None if value in ("", "member") else value


def print_checkpoints(
    request: Request, session: DbSession, visitor: Visitor, ids: list[int], form: Form, clock: Now
) -> Response:
    """Lay the sheets out while only reading, then record the prints and the look in a
    short write (routes that call this are `reads_first`)."""
    paper = _paper(form)
    found = sheets.build_sheets(
        session, visitor.actor, ids, now=clock.now, language=_language(form)
    )
    pdf = render_pdf(found, paper)
    begin_writing_after_reads(session)
    looked(request, visitor.actor, [s.member_id for s in found], "sheet", clock.now, session)
    sheets.record_prints(session, visitor.actor, found, paper=paper, now=clock.now)
    name = f"sheet-{found[0].code}.pdf" if len(found) == 1 else f"sheets-{clock.today}.pdf"
    return pdf_response(pdf, name)


@pages.post("/checkpoints/{checkpoint_id}/sheet")
@reads_first
def print_checkpoint_sheet(
    request: Request, checkpoint_id: int, visitor: User, session: DbSession, clock: Now, form: Form
) -> Response:
    return print_checkpoints(request, session, visitor, [checkpoint_id], form, clock)


@pages.post("/plans/{plan_id}/sheet")
@reads_first
def print_plan_sheet(
    request: Request, plan_id: int, visitor: User, session: DbSession, clock: Now, form: Form
) -> Response:
    cp = sheets.current_checkpoint(session, visitor.actor, plan_id, clock.today)
    return print_checkpoints(request, session, visitor, [cp.id], form, clock)


# --- A day's contacts --------------------------------------------------------------------


def _batches_context(
    session: DbSession, visitor: Visitor, clock: Now, store_id: int | None
) -> dict[str, Any]:
    stores = visible_stores(session, visitor.actor)
    store = next((s for s in stores if s.id == store_id), stores[0] if stores else None)
    if store is None:
        raise NotFound(N_("store not found"), field="store")
    manager = may_print_for_others(visitor.actor)
    recent = sheets.recent_batches(session, visitor.actor)
    staff = store_staff(session, store.id) if manager else []
    return {
        "nav": "sheets",
        "stores": stores,
        "store": store,
        "manager": manager,
        "staff": [s for s in staff if s.role.value != "admin"],
        "today": clock.today,
        "recent": recent,
        "standings": {b.id: lease.standing(b, clock.now) for b in recent},
        "names": names_of(session, [b.staff_id for b in recent]),
        "store_names": {s.id: s.name for s in stores},
        "found": None,
        "error": None,
        "values": {},
    }


@pages.get("/sheets")
def sheets_page(
    request: Request,
    visitor: User,
    session: DbSession,
    clock: Now,
    store: int | None = None,
    code: str | None = None,
) -> Response:
    context = _batches_context(session, visitor, clock, store)
    if code:
        try:
            found = sheets.find_print(session, visitor.actor, code)
            context["found"] = found
            context["names"] |= names_of(session, [found.printed_by_id])
        except CareplanError as exc:
            context["error"] = exc
        context["values"] = {"code": code}
    return render(request, visitor, "sheets/index.html", context)


def _whose(form: Form, visitor: Visitor) -> int | None:
    """'me', 'store', or a colleague's id; a clerk or pharmacist prints their own."""
    value = text_of(form, "staff") or "me"
    if value == "me":
        return visitor.actor.staff_id
    if value == "store":
        return None
    return int_of(form, "staff")


@pages.post("/sheets")
@reads_first
def print_day(
    request: Request, visitor: User, session: DbSession, clock: Now, form: Form
) -> Response:
    try:
        store_id = int_of(form, "store") or visitor.actor.store_id
        on = date_of(form, "on_date") or clock.today
        staff_id = _whose(form, visitor)
        paper = _paper(form)
        if store_id is None:
            raise InvalidInput(N_("choose a store"), field="store")
        ids = sheets.todays_contacts(
            session, visitor.actor, store_id=store_id, on=on, staff_id=staff_id
        )
        if not ids:
            raise InvalidInput(N_("there are no contacts that day"), field="on_date")
        if len(ids) <= INLINE_MAX:
            return print_checkpoints(request, session, visitor, ids, form, clock)
        begin_writing_after_reads(session)
        batch = sheets.create_batch(
            session,
            visitor.actor,
            store_id=store_id,
            on=on,
            paper=paper,
            now=clock.now,
            staff_id=staff_id,
            contacts=ids,
        )
    except CareplanError as exc:
        session.rollback()
        context = _batches_context(session, visitor, clock, int_of(form, "store"))
        context |= {"error": exc, "values": dict(form)}
        return render(request, visitor, "sheets/index.html", context, status=422)
    # The job's task must find the batch: commit first, then queue it.
    session.commit()
    request.app.state.sheet_worker(batch.id)
    return redirect(request, f"/sheets/batches/{batch.id}")


def _batch_context(
    session: DbSession, visitor: Visitor, batch: SheetBatch, clock: Now
) -> dict[str, Any]:
    store = session.get_one(Store, batch.store_id)
    return {
        "nav": "sheets",
        "batch": batch,
        "store": store,
        "names": names_of(session, [batch.staff_id]),
        "standing": lease.standing(batch, clock.now),
        "percent": round(100 * batch.done / batch.total) if batch.total else 0,
        "BatchState": BatchState,
    }


@pages.get("/sheets/batches/{batch_id}")
def batch_page(
    request: Request, batch_id: int, visitor: User, session: DbSession, clock: Now
) -> Response:
    batch = sheets.get_batch(session, visitor.actor, batch_id)
    return render(
        request, visitor, "sheets/batch.html", _batch_context(session, visitor, batch, clock)
    )


@pages.get("/sheets/batches/{batch_id}/progress")
def batch_progress(
    request: Request, batch_id: int, visitor: User, session: DbSession, clock: Now
) -> Response:
    batch = sheets.get_batch(session, visitor.actor, batch_id)
    context = _batch_context(session, visitor, batch, clock)
    return render(request, visitor, "sheets/_progress.html", context, fragment=True)


@pages.get("/sheets/batches/{batch_id}/pdf")
def batch_download(
    request: Request, batch_id: int, visitor: User, session: DbSession, clock: Now
) -> Response:
    batch = sheets.get_batch(session, visitor.actor, batch_id)
    pdf = sheets.batch_pdf(session, visitor.actor, batch_id)
    looked(request, visitor.actor, sheets.batch_members(session, batch), "sheet", clock.now)
    return pdf_response(pdf, f"sheets-{batch.on_date}-{batch.id}.pdf", inline=False)
