"""Till imports (a store manager uploads the day's export) and the product → drug-class
mapping PDC is measured with."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import select
from starlette.datastructures import UploadFile

from careplan import drug_classes
from careplan.access import require_manager
from careplan.drug_classes import MappingIn
from careplan.errors import CareplanError, InvalidInput
from careplan.models import PurchaseImport, Staff
from careplan.purchase_import import ImportRefused, ImportResult, import_csv
from careplan.staff import names_of
from careplan.vocab import DRUG_CLASSES
from web.deps import DbSession, Now
from web.pages.common import Form, pages_router, redirect, text_of
from web.session import User, Visitor
from web.templating import render

pages = pages_router()


def _import_page(
    request: Request,
    v: Visitor,
    session: DbSession,
    *,
    result: ImportResult | None = None,
    error: CareplanError | None = None,
) -> Response:
    require_manager(v.actor)
    stmt = select(PurchaseImport).order_by(PurchaseImport.imported_at.desc()).limit(20)
    if not v.actor.chain_wide:
        stmt = stmt.where(PurchaseImport.imported_by_id.in_(_store_staff(session, v)))
    recent = list(session.scalars(stmt))
    context = {
        "nav": "purchases",
        "result": result,
        "error": error,
        "problems": error.problems if isinstance(error, ImportRefused) else [],
        "total": error.total if isinstance(error, ImportRefused) else 0,
        "recent": recent,
        "names": names_of(session, [r.imported_by_id for r in recent]),
    }
    return render(request, v, "purchases/import.html", context, status=422 if error else 200)


def _store_staff(session: DbSession, v: Visitor) -> list[int]:
    return list(session.scalars(select(Staff.id).where(Staff.store_id == v.actor.store_id)))


@pages.get("/purchases/import")
def import_page(request: Request, v: User, session: DbSession) -> Response:
    return _import_page(request, v, session)


@pages.post("/purchases/import")
def upload(request: Request, form: Form, v: User, session: DbSession, now: Now) -> Response:
    """The file is checked whole before anything is kept; a refusal lists every bad line."""
    file = form.get("file")
    try:
        if not isinstance(file, UploadFile) or not file.filename:
            raise InvalidInput("choose the till's CSV file", field="file")
        result = import_csv(
            session, v.actor, file.file.read(), file_name=file.filename, today=now.today,
            now=now.now,
        )  # fmt: skip
    except CareplanError as exc:
        session.rollback()
        return _import_page(request, v, session, error=exc)
    return _import_page(request, v, session, result=result)


@pages.get("/purchases/classes")
def classes_page(request: Request, v: User, session: DbSession) -> Response:
    return _classes_page(request, v, session)


def _classes_page(
    request: Request, v: Visitor, session: DbSession, error: CareplanError | None = None
) -> Response:
    context = {
        "nav": "purchases",
        "mappings": drug_classes.mappings(session),
        "classes": DRUG_CLASSES,
        "may_edit": v.actor.role.value in ("store_manager", "supervisor", "admin"),
        "error": error,
    }
    return render(request, v, "purchases/classes.html", context, status=422 if error else 200)


@pages.post("/purchases/classes")
def set_class(request: Request, form: Form, v: User, session: DbSession, now: Now) -> Response:
    data = MappingIn(
        text_of(form, "product_code"), text_of(form, "product_name"), text_of(form, "drug_class")
    )
    try:
        drug_classes.set_class(session, v.actor, data, now=now.now)
    except CareplanError as exc:
        session.rollback()
        return _classes_page(request, v, session, exc)
    return redirect(request, "/purchases/classes")


@pages.post("/purchases/classes/remove")
def remove_class(request: Request, form: Form, v: User, session: DbSession) -> Response:
    drug_classes.remove_class(session, v.actor, text_of(form, "product_code"))
    return redirect(request, "/purchases/classes")
