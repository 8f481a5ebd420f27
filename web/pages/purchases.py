"""Till imports (a store manager uploads the day's export) and the product → drug-class
mapping PDC is measured with."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from careplan.access import may_change_chain_settings, require_manager
from careplan.adherence import drug_classes, import_history, import_jobs
from careplan.adherence.drug_classes import MappingIn
from careplan.adherence.till_import import (
    ImportRefused,
    ImportResult,
    import_csv_committed,
    template_csv,
)
from careplan.errors import N_, CareplanError, InvalidInput
from careplan.jobs import lease
from careplan.staff import names_of
from careplan.vocab import DRUG_CLASSES, ImportOutcome, ImportState, JobStanding
from web.deps import DbSession, Now
from web.pages.common import Form, pages_router, redirect, text_of
from web.session import User, Visitor
from web.templating import render

pages = pages_router()


def _import_page(
    request: Request,
    visitor: Visitor,
    session: DbSession,
    clock: Now,
    *,
    result: ImportResult | None = None,
    error: CareplanError | None = None,
) -> Response:
    recent = import_history.recent_imports(session, visitor.actor)
    unfinished = import_jobs.unfinished_jobs(session, visitor.actor)
    context = {
        "unfinished": [(job, lease.standing(job, clock.now)) for job in unfinished],
        "nav": "purchases",
        "result": result,
        "error": error,
        "problems": error.problems if isinstance(error, ImportRefused) else [],
        "total": error.total if isinstance(error, ImportRefused) else 0,
        "recent": recent,
        "names": names_of(session, [r.imported_by_id for r in recent]),
    }
    return render(request, visitor, "purchases/import.html", context, status=422 if error else 200)


@pages.get("/purchases/import/template.csv")
def import_template(visitor: User) -> Response:
    """A CSV to fill in, headed as the import reads it, in Chinese."""
    require_manager(visitor.actor)
    return Response(
        template_csv(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="till-import-template.csv"'},
    )


def _refusal(report: dict[str, Any]) -> InvalidInput:
    """A refusal as the import history, and a refused job, keep its report."""
    params = report.get("params", {})
    return InvalidInput(str(report.get("message", "")), field=report.get("field"), **params)


@pages.get("/purchases/import/{import_id}")
def import_report(request: Request, import_id: int, visitor: User, session: DbSession) -> Response:
    """One import of the history; a refused one with the report its importer saw."""
    record = import_history.get_import(session, visitor.actor, import_id)
    report = record.report or {}
    refusal = _refusal(report) if record.outcome is ImportOutcome.refused else None
    context = {
        "nav": "purchases",
        "record": record,
        "error": refusal,
        "problems": report.get("problems", []),
        "total": report.get("total", 0),
        "names": names_of(session, [record.imported_by_id]),
    }
    return render(request, visitor, "purchases/report.html", context)


@pages.get("/purchases/import")
def import_page(request: Request, visitor: User, session: DbSession, clock: Now) -> Response:
    # Uploads no job will read (a consumer's sweep does this too, every minute).
    import_jobs.sweep_uploads(session, request.app.state.work_dir, clock.now)
    return _import_page(request, visitor, session, clock)


# A file this size imports in a few seconds while the manager waits; a larger one is a
# job, run by a consumer process, and the page shows its progress.
INLINE_BYTES = 2_000_000


@pages.post("/purchases/import")
def upload(request: Request, form: Form, visitor: User, session: DbSession, clock: Now) -> Response:
    """The file is checked whole before anything is kept; a refusal lists every bad line."""
    file = form.get("file")
    try:
        if not isinstance(file, UploadFile) or not file.filename:
            raise InvalidInput(N_("choose the till's CSV file"), field="file")
        require_manager(visitor.actor)
        if (file.size or 0) > request.app.state.import_inline_bytes:
            session.rollback()  # no lock is held while the file is copied
            job = import_jobs.queue(
                session, request.app.state.work_dir, file.file, file_name=file.filename,
                actor=visitor.actor, today=clock.today, now=clock.now,
            )  # fmt: skip
            session.commit()  # the job's task must find its row
            request.app.state.import_worker(job.id)
            return redirect(request, f"/purchases/import/jobs/{job.id}")
        session.commit()  # the import commits on its own: this request holds no lock
        result = import_csv_committed(
            request.app.state.session_factory, visitor.actor, file.file, file_name=file.filename,
            today=clock.today, now=clock.now,
        )  # fmt: skip
    except CareplanError as exc:
        session.rollback()
        return _import_page(request, visitor, session, clock, error=exc)
    return _import_page(request, visitor, session, clock, result=result)


def _job_context(
    request: Request, visitor: Visitor, session: DbSession, job_id: int, clock: Now
) -> dict[str, Any]:
    job = import_jobs.get_job(session, visitor.actor, job_id)
    standing = lease.standing(job, clock.now)
    if standing is JobStanding.stopped:  # no consumer will read it: members' purchases
        import_jobs.forget_upload(request.app.state.work_dir, job.id)
    refused = job.state is ImportState.refused
    report = (job.result or {}) if refused else {}
    return {
        "nav": "purchases",
        "job": job,
        "standing": standing,
        "error": _refusal(report) if refused else None,
        "problems": report.get("problems", []),
        "total": report.get("total", 0),
    }


@pages.get("/purchases/import/jobs/{job_id}")
def job_page(
    request: Request, job_id: int, visitor: User, session: DbSession, clock: Now
) -> Response:
    context = _job_context(request, visitor, session, job_id, clock)
    status = 422 if context["error"] else 200
    return render(request, visitor, "purchases/job.html", context, status=status)


@pages.get("/purchases/import/jobs/{job_id}/progress")
def job_progress(
    request: Request, job_id: int, visitor: User, session: DbSession, clock: Now
) -> Response:
    context = _job_context(request, visitor, session, job_id, clock)
    return render(request, visitor, "purchases/_job.html", context, fragment=True)


@pages.get("/purchases/classes")
def classes_page(request: Request, visitor: User, session: DbSession) -> Response:
    return _classes_page(request, visitor, session)


def _classes_page(
    request: Request, visitor: Visitor, session: DbSession, error: CareplanError | None = None
) -> Response:
    context = {
        "nav": "purchases",
        "mappings": drug_classes.mappings(session),
        "classes": DRUG_CLASSES,
        "may_edit": may_change_chain_settings(visitor.actor),
        "error": error,
    }
    return render(request, visitor, "purchases/classes.html", context, status=422 if error else 200)


@pages.post("/purchases/classes")
def set_class(
    request: Request, form: Form, visitor: User, session: DbSession, clock: Now
) -> Response:
    data = MappingIn(
        text_of(form, "product_code"), text_of(form, "product_name"), text_of(form, "drug_class")
    )
    try:
        drug_classes.set_class(session, visitor.actor, data, now=clock.now)
    except CareplanError as exc:
        session.rollback()
        return _classes_page(request, visitor, session, exc)
    return redirect(request, "/purchases/classes")


@pages.post("/purchases/classes/remove")
def remove_class(request: Request, form: Form, visitor: User, session: DbSession) -> Response:
    drug_classes.remove_class(session, visitor.actor, text_of(form, "product_code"))
    return redirect(request, "/purchases/classes")
