"""/api/v1/plans — preview, enrol, pause, resume, stop, and version migration."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from careplan.access import get_plan
from careplan.plans import lifecycle
from web.api.present import dates_out, plan_out
from web.api.schemas import MigrationOut, PlanOut, PreviewOut, PreviewStepOut, StepChangeOut
from web.deps import CurrentActor, DbSession, Now
from web.routing import router

api = router(prefix="/plans", tags=["plans"])


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    protocol_id: str = Field(min_length=1, max_length=64)
    version: int | None = Field(default=None, ge=1)
    start_date: date


class EnrollIn(PreviewIn):
    member_id: int


class StopIn(BaseModel):
    reason: str = Field(min_length=1, max_length=255)


class MigrationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plan_ids: list[int] = Field(min_length=1, max_length=1000)
    to_version: int = Field(ge=1)


@api.post("/preview", response_model=PreviewOut)
def preview(body: PreviewIn, session: DbSession, _actor: CurrentActor, clock: Now) -> PreviewOut:
    row, steps = lifecycle.preview(
        session, body.protocol_id, body.version, body.start_date, today=clock.today
    )
    return PreviewOut(
        protocol_id=row.protocol_id,
        version=row.version,
        start_date=body.start_date,
        steps=[
            PreviewStepOut(
                key=s.key,
                title_zh=s.title.zh,
                title_en=s.title.en,
                routine=s.routine,
                **s.dates.__dict__,
            )
            for s in steps
        ],
    )


@api.post("", response_model=PlanOut, status_code=201)
def enroll(body: EnrollIn, session: DbSession, actor: CurrentActor, clock: Now) -> PlanOut:
    plan = lifecycle.enroll(
        session,
        actor,
        member_id=body.member_id,
        protocol_id=body.protocol_id,
        version=body.version,
        start=body.start_date,
        today=clock.today,
        now=clock.now,
    )
    return plan_out(plan, lifecycle.checkpoints_of(session, plan), clock.today)


@api.get("/{plan_id}", response_model=PlanOut)
def read(plan_id: int, session: DbSession, actor: CurrentActor, clock: Now) -> PlanOut:
    plan = get_plan(session, actor, plan_id)
    return plan_out(plan, lifecycle.checkpoints_of(session, plan), clock.today)


@api.post("/{plan_id}/pause", response_model=PlanOut)
def pause(plan_id: int, session: DbSession, actor: CurrentActor, clock: Now) -> PlanOut:
    plan = lifecycle.pause(session, actor, plan_id, today=clock.today)
    return plan_out(plan, lifecycle.checkpoints_of(session, plan), clock.today)


@api.post("/{plan_id}/resume", response_model=PlanOut)
def resume(plan_id: int, session: DbSession, actor: CurrentActor, clock: Now) -> PlanOut:
    plan = lifecycle.resume(session, actor, plan_id, today=clock.today)
    return plan_out(plan, lifecycle.checkpoints_of(session, plan), clock.today)


@api.post("/{plan_id}/stop", response_model=PlanOut)
def stop(
    plan_id: int, body: StopIn, session: DbSession, actor: CurrentActor, clock: Now
) -> PlanOut:
    plan = lifecycle.stop(session, actor, plan_id, body.reason, today=clock.today)
    return plan_out(plan, lifecycle.checkpoints_of(session, plan), clock.today)


def _migration_out(items: list[lifecycle.MigrationPreview]) -> list[MigrationOut]:
    return [
        MigrationOut(
            plan_id=i.plan_id,
            member_id=i.member_id,
            from_version=i.from_version,
            to_version=i.to_version,
            changes=[
                StepChangeOut(
                    key=c.key, action=c.action, old=dates_out(c.old), new=dates_out(c.new)
                )
                for c in i.changes
            ],
        )
        for i in items
    ]


@api.post("/migration/preview", response_model=list[MigrationOut])
def migration_preview(
    body: MigrationIn, session: DbSession, actor: CurrentActor
) -> list[MigrationOut]:
    return _migration_out(
        lifecycle.preview_migration(session, actor, body.plan_ids, body.to_version)
    )


@api.post("/migration", response_model=list[MigrationOut])
def migrate(body: MigrationIn, session: DbSession, actor: CurrentActor) -> list[MigrationOut]:
    return _migration_out(lifecycle.migrate(session, actor, body.plan_ids, body.to_version))
