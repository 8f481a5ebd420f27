"""The FastAPI application: JSON API under /api/v1, pages at /, assets at /static."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session, sessionmaker

from careplan.db import make_engine, make_session_factory
from web import errors
from web.api import auth, checkpoints, members, misc, plans

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")


def create_app(session_factory: sessionmaker[Session] | None = None) -> FastAPI:
    app = FastAPI(
        title="careplan",
        version="1",
        summary="Chronic-disease care plans for pharmacy chains",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
    )
    app.state.session_factory = session_factory or make_session_factory(make_engine())
    errors.install(app)
    for module in (auth, members, plans, checkpoints, misc):
        app.include_router(module.api, prefix="/api/v1")
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(request, "home.html", {})

    return app
