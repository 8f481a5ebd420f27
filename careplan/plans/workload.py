"""How much open work each person of a store carries: is anyone drowning, or behind?"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from careplan.access import Actor, scope_members
from careplan.models import CarePlan, Checkpoint, Member
from careplan.plans.checkpoints import status_clause
from careplan.vocab import CheckpointStatus


@dataclass(frozen=True)
class Workload:
    open: int  # steps on the person's list today: due or overdue
    overdue: int  # of them, past their grace days


def store_workload(
    session: Session, actor: Actor, store_id: int, *, today: date
) -> dict[int, Workload]:
    """Per assignee, in one query, by the same status rules as the worklist."""
    due = status_clause(CheckpointStatus.due, today)
    overdue = status_clause(CheckpointStatus.overdue, today)
    stmt = (
        select(
            Checkpoint.assignee_id,
            func.sum(case((or_(due, overdue), 1), else_=0)),
            func.sum(case((overdue, 1), else_=0)),
        )
        .join(CarePlan, Checkpoint.plan_id == CarePlan.id)
        .join(Member, CarePlan.member_id == Member.id)
        .where(Member.home_store_id == store_id, or_(due, overdue))
        .group_by(Checkpoint.assignee_id)
    )
    rows = session.execute(scope_members(stmt, actor)).all()
    return {staff: Workload(int(n_open or 0), int(n_late or 0)) for staff, n_open, n_late in rows}
