"""/api/v1/audit: the supervisor audit as JSON, and every view as streamed CSV."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from careplan.audit import audit
from web import audit_params as shared_csv
from web.audit_params import Audit, Steps, csv_response, filename, streamed_steps
from web.deps import CurrentActor, DbSession, Now
from web.routing import router

api = router(tags=["audit"])


class FiguresOut(BaseModel):
    overdue: dict[str, int]
    overdue_total: int
    missed: int
    due: int
    done: int
    on_time: int
    completion_rate: float | None
    on_time_rate: float | None
    open_escalations: int


class RowOut(BaseModel):
    level: str
    key: str | int | None
    name: str
    code: str
    figures: FiguresOut


class StepRowOut(BaseModel):
    protocol_id: str
    step_key: str
    overdue: dict[str, int]
    total: int


class ReportOut(BaseModel):
    level: str
    region: str | None
    store_id: int | None
    staff_id: int | None
    as_of: date
    period_from: date
    period_to: date
    protocol_id: str | None
    total: FiguresOut
    rows: list[RowOut]
    by_step: list[StepRowOut]
    open_escalations_by_age: dict[str, int]


class StepPageOut(BaseModel):
    total: int
    limit: int
    offset: int
    steps: list[audit.AuditStep]  # pydantic reads the domain dataclass as it is


def _buckets(
    values: list[int], buckets: tuple[audit.Bucket, ...] = audit.BUCKETS
) -> dict[str, int]:
    return {b.label: v for b, v in zip(buckets, values, strict=True)}


def _figures(f: audit.Figures) -> FiguresOut:
    return FiguresOut(
        overdue=_buckets(f.overdue), overdue_total=f.overdue_total, missed=f.missed, due=f.due,
        done=f.done, on_time=f.on_time, completion_rate=f.completion_rate,
        on_time_rate=f.on_time_rate, open_escalations=f.escalations,
    )  # fmt: skip


def report_out(r: audit.Report) -> ReportOut:
    q, s = r.query, r.query.scope
    return ReportOut(
        level=s.level, region=s.region, store_id=s.store_id, staff_id=s.staff_id,
        as_of=q.as_of, period_from=q.period_from, period_to=q.period_to,
        protocol_id=q.protocol_id, total=_figures(r.total),
        rows=[RowOut(level=x.level, key=x.key, name=x.label, code=x.code,
                     figures=_figures(x.figures)) for x in r.rows],
        by_step=[StepRowOut(protocol_id=x.protocol_id, step_key=x.key,
                            overdue=_buckets(x.overdue), total=x.total) for x in r.by_step],
        open_escalations_by_age=_buckets(r.escalation_ages, audit.AGE_BUCKETS),
    )  # fmt: skip


@api.get("/audit/report", response_model=ReportOut)
def report(p: Audit, session: DbSession, actor: CurrentActor, clock: Now) -> ReportOut:
    """Overdue steps by aging bucket, missed steps, completion and on-time rates and
    open escalations, for the scope (chain, region, store or staff) and one level down."""
    return report_out(audit.report(session, actor, p.query(session, actor, clock.today)))


@api.get("/audit/report.csv", response_class=StreamingResponse)
def report_csv(p: Audit, session: DbSession, actor: CurrentActor, clock: Now) -> Any:
    r = audit.report(session, actor, p.query(session, actor, clock.today))
    return shared_csv.report_csv(r, audit.ROW_FIELDS)


@api.get("/audit/by-step.csv", response_class=StreamingResponse)
def by_step_csv(p: Audit, session: DbSession, actor: CurrentActor, clock: Now) -> Any:
    q = p.query(session, actor, clock.today)
    return shared_csv.by_step_csv(session, q, audit.BY_STEP_FIELDS)


@api.get("/audit/steps", response_model=StepPageOut)
def steps(
    p: Audit,
    sp: Steps,
    session: DbSession,
    actor: CurrentActor,
    clock: Now,
    limit: Annotated[int, Query(ge=1, le=audit.MAX_PAGE_SIZE)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> StepPageOut:
    """The steps themselves (overdue, missed in the period, or due in it), oldest first."""
    q = p.query(session, actor, clock.today)
    found = audit.list_steps(session, actor, q, sp.filter, limit=limit, offset=offset)
    return StepPageOut(
        total=audit.count_steps(session, actor, q, sp.filter), limit=limit, offset=offset,
        steps=found,
    )  # fmt: skip


@api.get("/audit/steps.csv", response_class=StreamingResponse)
def steps_csv(
    p: Audit, sp: Steps, request: Request, session: DbSession, actor: CurrentActor, clock: Now
) -> Any:
    q = p.query(session, actor, clock.today)
    factory = request.app.state.session_factory
    lines = streamed_steps(factory, actor, q, sp.filter, audit.STEP_FIELDS)
    return csv_response(filename(q, sp.status), lines)
