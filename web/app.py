"""The FastAPI application: pages at /, the JSON API under /api/v1, assets at /static."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session, sessionmaker

from careplan.config import get_settings
from careplan.db import make_engine, make_session_factory
from careplan.jobs import tasks
from web import admission, api_docs, errors, headers, health, request_id, request_log
from web.api import audit, auth, checkpoints, lectures, members, misc, plans, purchases
from web.pages import admin as admin_pages
from web.pages import audit as audit_pages
from web.pages import auth as auth_pages
from web.pages import checkpoints as checkpoint_pages
from web.pages import complaints as complaint_pages
from web.pages import contact_floor as contact_floor_pages
from web.pages import lectures as lecture_pages
from web.pages import member_rights as member_rights_pages
from web.pages import members as member_pages
from web.pages import messages as message_pages
from web.pages import plans as plan_pages
from web.pages import purchases as purchase_pages
from web.pages import sheets as sheet_pages
from web.pages import staff_month as staff_month_pages
from web.pages import store as store_pages
from web.pages import value as value_pages
from web.pages import value_spend as value_spend_pages
from web.pages import worklist as worklist_pages
from web.sheet_pdf import check_font

HERE = Path(__file__).resolve().parent
# Front-end packages installed by `make` from the npm registry (package-lock.json).
NODE_MODULES = HERE.parent / "node_modules"
VENDOR = {
    "htmx": NODE_MODULES / "htmx.org" / "dist",
    "noto-sans-sc": NODE_MODULES / "@fontsource" / "noto-sans-sc",
    "swagger-ui": NODE_MODULES / "swagger-ui-dist",
}


# What a page calls, once a job's row is committed, with the row's id.
QueueJob = Callable[[int], None]


def create_app(
    session_factory: sessionmaker[Session] | None = None,
    sheet_worker: QueueJob | None = None,
    import_worker: QueueJob | None = None,
) -> FastAPI:
    app = FastAPI(
        title="careplan",
        version="1",
        summary="Chronic-disease care plans for pharmacy chains",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # served by web.api_docs, offline
        redoc_url=None,
    )
    app.state.session_factory = session_factory or make_session_factory(make_engine())
    # Batches of guidance sheets and large till files are jobs: their tasks are queued on
    # the job engine, for a consumer process to run (tests may run them inline).
    app.state.sheet_worker = sheet_worker or tasks.queue_sheet_batch
    app.state.import_worker = import_worker or tasks.queue_import
    app.state.work_dir = get_settings().work_dir
    app.state.import_inline_bytes = purchase_pages.INLINE_BYTES
    check_font()
    errors.install(app)
    headers.install(app)
    admission.install(app)  # inside the log's: a request's wait for its turn is logged
    request_log.install(app)  # inside the request id's: its line carries the id
    request_id.install(app)  # outermost: every answer carries it
    health.install(app)
    api_docs.install(app)
    for module in (auth, members, plans, checkpoints, lectures, purchases, misc, audit):
        app.include_router(module.api, prefix="/api/v1")
    for page in (
        auth_pages,
        worklist_pages,
        member_pages,
        member_rights_pages,
        plan_pages,
        checkpoint_pages,
        store_pages,
        staff_month_pages,
        complaint_pages,
        sheet_pages,
        audit_pages,
        value_pages,
        contact_floor_pages,
        lecture_pages,
        purchase_pages,
        admin_pages,
        message_pages,
        value_spend_pages,
    ):
        app.include_router(page.pages)
    app.include_router(message_pages.callbacks)  # no session, no CSRF: signed by the provider
    for name, directory in VENDOR.items():
        if not directory.is_dir():
            raise RuntimeError(f"{directory} is missing: run `make install` (npm ci)")
        app.mount(f"/static/vendor/{name}", StaticFiles(directory=directory), name=name)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> RedirectResponse:  # browsers ask for it whatever the page links
        return RedirectResponse("/static/favicon.svg", status_code=308)

    return app
