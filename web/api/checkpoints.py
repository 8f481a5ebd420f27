"""/api/v1/checkpoints — the filtered lists, and recording what happened at a step.

The overdue filter puts the riskiest members first within each page, with each row's
risk reasons (careplan/adherence/risk.py); a call's attempt takes every outcome
(careplan/plans/outcomes.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, Field

from careplan.access import get_checkpoint
from careplan.adherence import risk
from careplan.models import Checkpoint
from careplan.plans import checkpoints, outcomes
from careplan.plans.checkpoints import CheckpointFilter, ResultIn
from careplan.plans.escalations import raised_at_checkpoint
from careplan.plans.outcomes import AttemptIn
from careplan.validation import IsoDate
from careplan.vocab import CheckpointStatus
from web.api.present import checkpoint_out
from web.api.schemas import AttemptOut, CheckpointOut, RecordedOut, ResultOut
from web.deps import CurrentActor, DbSession, Now
from web.routing import router

api = router(prefix="/checkpoints", tags=["checkpoints"])


@api.get("", response_model=list[CheckpointOut])
def list_(
    session: DbSession,
    actor: CurrentActor,
    clock: Now,
    status: CheckpointStatus | None = None,
    staff_id: int | None = None,
    store_id: int | None = None,
    protocol_id: str | None = None,
    member_id: int | None = None,
    due_from: IsoDate | None = None,
    due_to: IsoDate | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[CheckpointOut]:
    f = CheckpointFilter(
        status=status,
        staff_id=staff_id,
        store_id=store_id,
        protocol_id=protocol_id,
        member_id=member_id,
        due_from=due_from,
        due_to=due_to,
        limit=limit,
        offset=offset,
    )
    rows = checkpoints.list_checkpoints(session, actor, f, today=clock.today)
    if status is CheckpointStatus.overdue:
        # Riskiest first within the page (pages are cut in due-date order).
        ranked = risk.risk_first_rows(session, rows, clock.today)
        return [checkpoint_out(cp, m, clock.today, risks) for cp, m, risks in ranked]
    return [checkpoint_out(cp, m, clock.today) for cp, m in rows]


@api.get("/{checkpoint_id}", response_model=CheckpointOut)
def read(checkpoint_id: int, session: DbSession, actor: CurrentActor, clock: Now) -> CheckpointOut:
    cp = get_checkpoint(session, actor, checkpoint_id)
    return checkpoint_out(cp, cp.plan.member, clock.today)


@api.post(
    "/{checkpoint_id}/result",
    response_model=RecordedOut,
    status_code=201,
    responses={409: {"description": "changed since read; body carries the current state"}},
)
def record(
    checkpoint_id: int, body: ResultIn, session: DbSession, actor: CurrentActor, clock: Now
) -> RecordedOut:
    result = checkpoints.record_result(
        session, actor, checkpoint_id, body, today=clock.today, now=clock.now
    )
    cp = session.get_one(Checkpoint, result.checkpoint_id)  # access checked by record_result
    raised = [e.id for e in raised_at_checkpoint(session, cp.id)]
    return RecordedOut(
        result=ResultOut.model_validate(result),
        checkpoint=checkpoint_out(cp, cp.plan.member, clock.today),
        escalation_ids=raised,
        plan_status=cp.plan.status,
    )


@api.post("/{checkpoint_id}/attempts", response_model=AttemptOut, status_code=201)
def attempt(
    checkpoint_id: int, body: AttemptIn, session: DbSession, actor: CurrentActor, clock: Now
) -> AttemptOut:
    row = outcomes.record_attempt(
        session, actor, checkpoint_id, body, today=clock.today, now=clock.now
    )
    return AttemptOut.model_validate(row)


class SkipIn(BaseModel):
    reason: str = Field(min_length=1, max_length=255)
    version: int | None = None


@api.post("/{checkpoint_id}/skip", response_model=CheckpointOut)
def skip(
    checkpoint_id: int, body: SkipIn, session: DbSession, actor: CurrentActor, clock: Now
) -> CheckpointOut:
    cp = checkpoints.skip(
        session, actor, checkpoint_id, body.reason, body.version, today=clock.today
    )
    return checkpoint_out(cp, cp.plan.member, clock.today)
