"""Who is acting, and the one place that decides what they may see.

Every query for members, plans and checkpoints goes through `visible_members` (or the
getters below), so a clerk of store B never learns that store A's member 42 exists:
out-of-scope rows are simply "not found".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from careplan.errors import Forbidden, NotFound
from careplan.models import CarePlan, Checkpoint, Member, Staff
from careplan.vocab import Role

CHAIN_WIDE = frozenset({Role.supervisor, Role.admin})
MANAGERS = frozenset({Role.store_manager, Role.supervisor, Role.admin})

T = TypeVar("T")


@dataclass(frozen=True)
class Actor:
    """The person (or system step) on whose behalf an operation runs."""

    staff_id: int | None
    role: Role
    store_id: int | None
    via: str = "api"

    @classmethod
    def of(cls, staff: Staff, via: str) -> Actor:
        return cls(staff_id=staff.id, role=staff.role, store_id=staff.store_id, via=via)

    @classmethod
    def system(cls, via: str = "system") -> Actor:
        return cls(staff_id=None, role=Role.admin, store_id=None, via=via)

    @property
    def chain_wide(self) -> bool:
        return self.role in CHAIN_WIDE

    def may_see_store(self, store_id: int) -> bool:
        return self.chain_wide or store_id == self.store_id


def scope_members(stmt: Select[tuple[T]], actor: Actor) -> Select[tuple[T]]:
    """Limit a statement that involves Member to what the actor may see."""
    if actor.chain_wide:
        return stmt
    return stmt.where(Member.home_store_id == actor.store_id)


def get_member(session: Session, actor: Actor, member_id: int) -> Member:
    member = session.scalar(scope_members(select(Member).where(Member.id == member_id), actor))
    if member is None:
        raise NotFound(f"member {member_id} not found", field="member_id")
    return member


def get_plan(session: Session, actor: Actor, plan_id: int) -> CarePlan:
    stmt = select(CarePlan).join(Member, CarePlan.member_id == Member.id)
    plan = session.scalar(scope_members(stmt.where(CarePlan.id == plan_id), actor))
    if plan is None:
        raise NotFound(f"plan {plan_id} not found", field="plan_id")
    return plan


def get_checkpoint(session: Session, actor: Actor, checkpoint_id: int) -> Checkpoint:
    stmt = (
        select(Checkpoint)
        .join(CarePlan, Checkpoint.plan_id == CarePlan.id)
        .join(Member, CarePlan.member_id == Member.id)
        .where(Checkpoint.id == checkpoint_id)
    )
    checkpoint = session.scalar(scope_members(stmt, actor))
    if checkpoint is None:
        raise NotFound(f"checkpoint {checkpoint_id} not found", field="checkpoint_id")
    return checkpoint


def require_manager(actor: Actor) -> None:
    if actor.role not in MANAGERS:
        raise Forbidden("only a store manager, supervisor or admin may do this", field="role")
