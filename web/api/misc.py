"""/api/v1 protocols, escalations, staff hand-over and the change log."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Path, Query
from pydantic import BaseModel, Field

from careplan.members import archive
from careplan.plans import escalations, protocols
from careplan.sessions import end_sessions_of
from careplan.staff import get_staff
from careplan.trust.change_log import history
from careplan.vocab import EscalationStatus
from web.api.present import protocol_out
from web.api.schemas import ChangeOut, EscalationOut, ProtocolOut
from web.deps import CurrentActor, DbSession, Now
from web.routing import router

api = router(tags=["protocols, escalations, staff"])


@api.get("/protocols", response_model=list[ProtocolOut])
def list_protocols(session: DbSession, _actor: CurrentActor) -> list[ProtocolOut]:
    return [protocol_out(r) for r in protocols.list_versions(session)]


@api.get("/protocols/{protocol_id}/{version}", response_model=ProtocolOut)
def read_protocol(
    protocol_id: str,
    version: Annotated[int, Path(ge=1, le=2**31 - 1)],
    session: DbSession,
    _actor: CurrentActor,
) -> ProtocolOut:
    return protocol_out(protocols.get_version(session, protocol_id, version))


@api.get("/escalations", response_model=list[EscalationOut])
def list_escalations(
    session: DbSession,
    actor: CurrentActor,
    status: EscalationStatus | None = EscalationStatus.open,
    store_id: int | None = None,
    assignee_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[EscalationOut]:
    rows = escalations.list_escalations(
        session,
        actor,
        status=status,
        store_id=store_id,
        assignee_id=assignee_id,
        limit=limit,
        offset=offset,
    )
    return [EscalationOut.model_validate(e) for e in rows]


class ResolveIn(BaseModel):
    resolution: str = Field(min_length=1, max_length=1000)


@api.post("/escalations/{escalation_id}/resolve", response_model=EscalationOut)
def resolve(
    escalation_id: int, body: ResolveIn, session: DbSession, actor: CurrentActor, clock: Now
) -> EscalationOut:
    row = escalations.resolve_escalation(
        session, actor, escalation_id, body.resolution, now=clock.now
    )
    return EscalationOut.model_validate(row)


class HandOverIn(BaseModel):
    to_staff_id: int
    # Left the chain (the default), unless the hand-over has a last day (holiday cover).
    staff_left: bool | None = None
    note: str = Field(default="", max_length=255)
    until: date | None = None  # a holiday cover's last day; the members go back after it


class HandOverOut(BaseModel):
    members_moved: int


@api.post("/staff/{staff_id}/hand-over", response_model=HandOverOut)
def hand_over(
    staff_id: int, body: HandOverIn, session: DbSession, actor: CurrentActor, clock: Now
) -> HandOverOut:
    """Move every member of one staff member (e.g. a clerk who is leaving) to another."""
    moved = archive.reassign_all(
        session,
        actor,
        staff_id,
        body.to_staff_id,
        staff_left=body.until is None if body.staff_left is None else body.staff_left,
        note=body.note,
        now=clock.now,
        until=body.until,
    )
    return HandOverOut(members_moved=moved)


class SessionsEndedOut(BaseModel):
    sessions_ended: int


@api.post("/staff/{staff_id}/sessions/end", response_model=SessionsEndedOut)
def end_staff_sessions(
    staff_id: int, session: DbSession, actor: CurrentActor, clock: Now
) -> SessionsEndedOut:
    """An admin signs a person out everywhere: a lost phone, a leaver, a suspected leak."""
    ended = end_sessions_of(session, actor, get_staff(session, staff_id), now=clock.now)
    return SessionsEndedOut(sessions_ended=ended)


@api.get("/change-log", response_model=list[ChangeOut])
def change_log(
    session: DbSession,
    actor: CurrentActor,
    entity: str,
    entity_id: int,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[ChangeOut]:
    """Who changed what, when, old and new values (supervisors and admins)."""
    rows = history(session, actor, entity, entity_id, limit=limit)
    return [ChangeOut.model_validate(r) for r in rows]
