"""A person's members at a glance (issue 21): live plans, the next step, the last contact
and the age, for "my members" and for the search results.

Read in a handful of queries for the whole list (a clerk owns ~100 members, docs/domain.md),
never one per member.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from careplan.access import Actor, scope_members
from careplan.members.archive import member_matches
from careplan.models import CarePlan, Checkpoint, Member
from careplan.plans.contacts import last_contacts
from careplan.plans.lifecycle import LIVE, StepTitle, protocol_of, step_title
from careplan.plans.protocol_schema import Text
from careplan.vocab import CheckpointState

SORTS = ("name", "next", "last_contact")


@dataclass(frozen=True)
class NextStep:
    checkpoint: Checkpoint
    protocol_title: Text
    title: StepTitle


@dataclass(frozen=True)
class MemberLine:
    member: Member
    age: int | None
    live_plans: tuple[Text, ...]
    next_step: NextStep | None
    last_contact: date | None


def age_on(birthday: date | None, today: date) -> int | None:
    if birthday is None:
        return None
    return today.year - birthday.year - ((today.month, today.day) < (birthday.month, birthday.day))


def _live_plans(session: Session, ids: list[int]) -> dict[int, list[CarePlan]]:
    found: dict[int, list[CarePlan]] = {}
    stmt = select(CarePlan).where(CarePlan.member_id.in_(ids), CarePlan.status.in_(LIVE))
    for plan in session.scalars(stmt.order_by(CarePlan.start_date, CarePlan.id)):
        found.setdefault(plan.member_id, []).append(plan)
    return found


def _next_steps(session: Session, ids: list[int], today: date) -> dict[int, Checkpoint]:
    """Each member's earliest open step of a live plan that can still be worked (a
    missed one is past: it is not what comes next)."""
    stmt = (
        select(Checkpoint, CarePlan.member_id)
        .join(CarePlan, Checkpoint.plan_id == CarePlan.id)
        .where(CarePlan.member_id.in_(ids), CarePlan.status.in_(LIVE))
        .where(Checkpoint.state == CheckpointState.pending)
        .where(or_(Checkpoint.missed_on.is_(None), Checkpoint.missed_on > today))
        .order_by(Checkpoint.due_on.desc(), Checkpoint.id.desc())
    )
    return {member_id: cp for cp, member_id in session.execute(stmt)}  # the earliest wins


def lines_of(session: Session, members: Sequence[Member], today: date) -> list[MemberLine]:
    """The members (already read through access), each with what their line shows."""
    ids = [m.id for m in members]
    if not ids:
        return []
    plans, nexts, contacts = (
        _live_plans(session, ids),
        _next_steps(session, ids, today),
        last_contacts(session, ids),
    )
    lines = []
    for m in members:
        cp = nexts.get(m.id)
        nxt = None
        if cp is not None:
            protocol = protocol_of(cp.plan)
            nxt = NextStep(cp, protocol.title, step_title(protocol, cp.key))
        lines.append(
            MemberLine(
                member=m,
                age=age_on(m.birthday, today),
                live_plans=tuple(protocol_of(p).title for p in plans.get(m.id, [])),
                next_step=nxt,
                last_contact=contacts.get(m.id),
            )
        )
    return lines


def my_members(
    session: Session,
    actor: Actor,
    owner_id: int,
    *,
    today: date,
    q: str = "",
    sort: str = "next",
) -> list[MemberLine]:
    """The members `owner_id` owns that have a live plan, found by `q` (name, phone,
    card, pinyin initials), sorted by the next step's date (soonest first), by name, or
    by the last contact (longest ago first: who has waited longest)."""
    live = select(CarePlan.member_id).where(CarePlan.status.in_(LIVE))
    stmt = scope_members(select(Member), actor).where(
        Member.owner_id == owner_id, Member.id.in_(live)
    )
    if q.strip():
        stmt = stmt.where(member_matches(q.strip()))
    lines = lines_of(session, list(session.scalars(stmt.order_by(Member.name, Member.id))), today)
    if sort == "name":
        return lines
    if sort == "last_contact":
        return sorted(lines, key=lambda x: (x.last_contact is not None, x.last_contact or today))
    return sorted(lines, key=_next_due)


def _next_due(line: MemberLine) -> tuple[bool, date]:
    if line.next_step is None:
        return (True, date.max)
    return (False, line.next_step.checkpoint.due_on)
