"""/api/v1/members — the archive, its health data, purchases and ownership."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

from careplan.access import get_member
from careplan.adherence import purchases
from careplan.adherence.purchases import PurchaseIn
from careplan.lectures import lectures
from careplan.members import archive, erasure, health_records
from careplan.members import consent as consent_rules
from careplan.members import export as member_export
from careplan.members.archive import MemberCreate, MemberFields
from careplan.members.health_records import EffectIn, HealthCheckIn
from careplan.plans import lifecycle
from careplan.trust.access_log import who_looked
from careplan.value import grades
from careplan.vocab import OwnershipReason
from web.access_log import LOOK, LOOK_EXPORT
from web.api.present import lecture_out, plan_out, seat_out
from web.api.schemas import (
    AccessOut,
    EffectOut,
    HealthCheckOut,
    MemberCreated,
    MemberLectureOut,
    MemberOut,
    OwnershipOut,
    PlanOut,
    PurchaseOut,
)
from web.deps import CurrentActor, DbSession, Now
from web.routing import router

api = router(prefix="/members", tags=["members"])
Grade = Annotated[int, Field(ge=0, le=100, multiple_of=20)]  # 关系等级 0/20/40/60/80/100


@api.get("", response_model=list[MemberOut])
def search(
    session: DbSession,
    actor: CurrentActor,
    q: str | None = None,
    store_id: int | None = None,
    owner_id: int | None = None,
    grade: Annotated[list[Grade], Query()] = [],  # noqa: B006
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[MemberOut]:
    """Members by words, store, owner and relationship grade (`grade` repeated: any of)."""
    found = archive.search_members(
        session, actor, q=q, store_id=store_id, owner_id=owner_id, grades=grade,
        limit=limit, offset=offset,
    )  # fmt: skip
    return [MemberOut.model_validate(m) for m in found]


@api.post("", response_model=MemberCreated, status_code=201)
def create(
    body: MemberCreate, session: DbSession, actor: CurrentActor, clock: Now
) -> MemberCreated:
    member = archive.create_member(session, actor, body, now=clock.now)
    return MemberCreated.model_validate(
        {
            **MemberOut.model_validate(member).model_dump(),
            "same_mobile_member_ids": archive.same_mobile(session, actor, member),
        }
    )


@api.get("/{member_id}", response_model=MemberOut, dependencies=[LOOK])
def read(member_id: int, session: DbSession, actor: CurrentActor) -> MemberOut:
    return MemberOut.model_validate(get_member(session, actor, member_id))


@api.patch("/{member_id}", response_model=MemberOut)
def update(
    member_id: int, body: MemberFields, session: DbSession, actor: CurrentActor, clock: Now
) -> MemberOut:
    member = archive.update_member(session, actor, member_id, body, now=clock.now)
    return MemberOut.model_validate(member)


class GradeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    grade: Literal[80, 100] | None  # None clears the level staff set
    reason: str = Field(max_length=255)


@api.put("/{member_id}/grade", response_model=MemberOut)
def set_grade(
    member_id: int, body: GradeIn, session: DbSession, actor: CurrentActor, clock: Now
) -> MemberOut:
    """Staff set the relationship grade 80 or 100, or clear it (`grade`: null), with a
    reason; the owner, a store manager or a supervisor."""
    if body.grade is None:
        member = grades.clear_grade(session, actor, member_id, body.reason, now=clock.now)
    else:
        member = grades.set_grade(session, actor, member_id, body.grade, body.reason, now=clock.now)
    session.refresh(member)
    return MemberOut.model_validate(member)


@api.post("/{member_id}/verified", response_model=MemberOut)
def verified(member_id: int, session: DbSession, actor: CurrentActor, clock: Now) -> MemberOut:
    return MemberOut.model_validate(
        archive.mark_verified(session, actor, member_id, today=clock.today)
    )


@api.post("/{member_id}/health-consent", response_model=MemberOut)
def consent(member_id: int, session: DbSession, actor: CurrentActor, clock: Now) -> MemberOut:
    return MemberOut.model_validate(
        archive.give_health_consent(session, actor, member_id, now=clock.now)
    )


@api.post("/{member_id}/health-consent/withdraw", response_model=MemberOut)
def withdraw_consent(
    member_id: int, session: DbSession, actor: CurrentActor, clock: Now
) -> MemberOut:
    """The member withdraws consent: nothing new is recorded, live plans stop, what was
    recorded stays stored."""
    return MemberOut.model_validate(
        consent_rules.withdraw_health_consent(session, actor, member_id, now=clock.now)
    )


@api.get("/{member_id}/export", dependencies=[LOOK_EXPORT])
def export(member_id: int, session: DbSession, actor: CurrentActor, clock: Now) -> dict[str, Any]:
    """Everything held about the member (right of access); recorded as an export."""
    return member_export.export_member(session, actor, member_id, now=clock.now)


class EraseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Literal["request"] = "request"


class ErasedOut(BaseModel):
    member_id: int
    log_entries: int


@api.post("/{member_id}/erase", response_model=ErasedOut)
def erase(
    member_id: int, body: EraseIn, session: DbSession, actor: CurrentActor, clock: Now
) -> ErasedOut:
    """Anonymise the member's personal data for good (store manager or above); refused
    while a plan is live. Counts and figures stay as they were."""
    done = erasure.erase_member(session, actor, member_id, body.reason, now=clock.now)
    return ErasedOut(member_id=done.member_id, log_entries=done.log_entries)


class ReassignIn(BaseModel):
    owner_id: int
    note: str = Field(default="", max_length=255)
    reason: OwnershipReason = OwnershipReason.reassigned


@api.post("/{member_id}/reassign", response_model=MemberOut)
def reassign(
    member_id: int, body: ReassignIn, session: DbSession, actor: CurrentActor, clock: Now
) -> MemberOut:
    member = archive.reassign_member(
        session, actor, member_id, body.owner_id, reason=body.reason, note=body.note, now=clock.now
    )
    return MemberOut.model_validate(member)


@api.get("/{member_id}/access-log", response_model=list[AccessOut])
def access(member_id: int, session: DbSession, actor: CurrentActor) -> list[AccessOut]:
    """Who looked at this member's health data, newest first (supervisors and admins)."""
    return [AccessOut.model_validate(a) for a in who_looked(session, actor, member_id)]


@api.get("/{member_id}/ownership", response_model=list[OwnershipOut])
def ownership(member_id: int, session: DbSession, actor: CurrentActor) -> list[OwnershipOut]:
    return [
        OwnershipOut.model_validate(o) for o in archive.ownership_history(session, actor, member_id)
    ]


@api.get("/{member_id}/plans", response_model=list[PlanOut], dependencies=[LOOK])
def member_plans(
    member_id: int, session: DbSession, actor: CurrentActor, clock: Now
) -> list[PlanOut]:
    return [
        plan_out(p, lifecycle.checkpoints_of(session, p), clock.today)
        for p in lifecycle.plans_of_member(session, actor, member_id)
    ]


@api.get("/{member_id}/health-checks", response_model=list[HealthCheckOut], dependencies=[LOOK])
def health_checks(
    member_id: int, session: DbSession, actor: CurrentActor, kind: str | None = None
) -> list[HealthCheckOut]:
    rows = health_records.health_checks_of(session, actor, member_id, kind)
    return [HealthCheckOut.model_validate(r) for r in rows]


@api.post("/{member_id}/health-checks", response_model=HealthCheckOut, status_code=201)
def add_health_check(
    member_id: int, body: HealthCheckIn, session: DbSession, actor: CurrentActor, clock: Now
) -> HealthCheckOut:
    row = health_records.record_health_check(session, actor, member_id, body, now=clock.now)
    return HealthCheckOut.model_validate(row)


@api.get("/{member_id}/effects", response_model=list[EffectOut], dependencies=[LOOK])
def effects(member_id: int, session: DbSession, actor: CurrentActor) -> list[EffectOut]:
    return [
        EffectOut.model_validate(r) for r in health_records.effects_of(session, actor, member_id)
    ]


@api.post("/{member_id}/effects", response_model=EffectOut, status_code=201)
def add_effect(
    member_id: int, body: EffectIn, session: DbSession, actor: CurrentActor, clock: Now
) -> EffectOut:
    row = health_records.record_effect(session, actor, member_id, body, now=clock.now)
    return EffectOut.model_validate(row)


@api.get("/{member_id}/purchases", response_model=list[PurchaseOut], dependencies=[LOOK])
def member_purchases(member_id: int, session: DbSession, actor: CurrentActor) -> list[PurchaseOut]:
    return [
        PurchaseOut.model_validate(p) for p in purchases.purchases_of(session, actor, member_id)
    ]


@api.post("/{member_id}/purchases", response_model=PurchaseOut, status_code=201)
def add_purchase(
    member_id: int, body: PurchaseIn, session: DbSession, actor: CurrentActor, clock: Now
) -> PurchaseOut:
    row = purchases.record_purchase(
        session, actor, member_id, body, today=clock.today, now=clock.now
    )
    return PurchaseOut.model_validate(row)


@api.get("/{member_id}/lectures", response_model=list[MemberLectureOut])
def member_lectures(
    member_id: int, session: DbSession, actor: CurrentActor
) -> list[MemberLectureOut]:
    """The member's lecture history, newest first: attended (checked_in_at), missed,
    waiting, or released by a cancellation."""
    return [
        MemberLectureOut(
            seat=seat_out(s),
            lecture=lecture_out(s.lecture),
        )
        for s in lectures.member_lectures(session, actor, member_id)
    ]
