"""The relationship grade 关系等级 (docs/member-value.md, "关系等级"): 0 new member,
20 (E) bought again on another day, 40 (D) came to a health lecture, 60 (C) brought a
friend (a member they referred), 80 (B) and 100 (A) set by staff with a reason.

The grade is the highest level whose fact holds, and a level staff set stands above
the computed one. `refresh_grades` is the one function that decides the computed grade:
every place a fact arrives (a purchase, a till import, a lecture check-in, a referral)
calls it, and it works on any number of members with a few statements per thousand.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, bindparam, case, distinct, exists, func, insert, select, update
from sqlalchemy.orm import Session, aliased

from careplan.access import Actor, get_member, require_set_grade
from careplan.clock import local_date
from careplan.errors import N_, InvalidInput
from careplan.models import GradeChange, Lecture, LectureSeat, Member, Purchase, Staff
from careplan.trust.change_log import log_actions
from careplan.vocab import GradeCause

LEVELS = (0, 20, 40, 60, 80, 100)
STAFF_LEVELS = (80, 100)
LETTERS = {0: "", 20: "E", 40: "D", 60: "C", 80: "B", 100: "A"}
# The fact each computed level stands on; a change to that level names it as its cause.
FACT_OF = {20: GradeCause.repurchase, 40: GradeCause.lecture, 60: GradeCause.referral}
CHUNK = 1000  # members per statement: well under every database's bound-parameter limit
ENTITY = "relationship_grade"  # the change log's name for a grade change


def _computed() -> Any:
    """The level the facts give a member, as SQL over Member (for a SELECT list)."""
    referrer = aliased(Member)
    referred = exists().where(referrer.referred_by_id == Member.id)
    attended = exists().where(
        LectureSeat.member_id == Member.id, LectureSeat.checked_in_at.is_not(None)
    )
    days = (
        select(func.count(distinct(Purchase.purchased_on)))
        .where(Purchase.member_id == Member.id)
        .scalar_subquery()
    )
    return case((referred, 60), (attended, 40), (days >= 2, 20), else_=0)


def _targets(ids: Sequence[int]) -> Select[Any]:
    return select(Member.id, Member.relationship_grade, Member.grade_set, _computed()).where(
        Member.id.in_(ids)
    )


def refresh_grades(
    session: Session,
    member_ids: Iterable[int],
    actor: Actor,
    now: datetime,
    *,
    cause: GradeCause | None = None,
    reason: str = "",
) -> dict[int, tuple[int, int]]:
    """Bring the members' grades to what their facts (and any staff-set level) say;
    each change is kept in the grade history and the change log, by `actor` (who
    recorded the fact). `cause` names the change when it is not the fact of the level
    reached (staff setting or clearing one). Returns {member: (from, to)} changed."""
    ids = sorted(set(member_ids))
    changed: dict[int, tuple[int, int]] = {}
    for i in range(0, len(ids), CHUNK):
        for member_id, current, staff_set, computed in session.execute(
            _targets(ids[i : i + CHUNK])
        ):
            target = max(int(computed), staff_set or 0)
            if target != current:
                changed[member_id] = (current, target)
    if changed:
        _write(session, changed, actor, now, cause, reason)
    return changed


def _cause_of(change: tuple[int, int], cause: GradeCause | None) -> GradeCause:
    if cause is not None:
        return cause
    # A computed level reached names its fact; a fall (a referral moved to another
    # member) names the referral, the only fact that can be taken back.
    return FACT_OF.get(change[1], GradeCause.referral)


def _write(
    session: Session,
    changed: dict[int, tuple[int, int]],
    actor: Actor,
    now: datetime,
    cause: GradeCause | None,
    reason: str,
) -> None:
    """The new grades, their history rows and change-log entries: three statements
    (executemany), however many members changed."""
    table = Member.__table__
    session.execute(
        update(table).where(table.c.id == bindparam("member_id")),  # type: ignore[arg-type]
        [{"member_id": m, "relationship_grade": to} for m, (_, to) in changed.items()],
    )
    causes = {m: _cause_of(change, cause) for m, change in changed.items()}
    session.execute(insert(GradeChange), [
        {"member_id": m, "at": now, "from_grade": old, "to_grade": new,
         "cause": causes[m], "reason": reason, "by_id": actor.staff_id}
        for m, (old, new) in changed.items()
    ])  # fmt: skip
    log_actions(session, ENTITY, "update", {
        m: {"relationship_grade": [old, new], "cause": causes[m].value, "reason": reason}
        for m, (old, new) in changed.items()
    })  # fmt: skip
    # Members already loaded in the session read their new grade from the database.
    for member_id in changed:
        member = session.identity_map.get(session.identity_key(Member, member_id))
        if member is not None:
            session.expire(member, ["relationship_grade"])


# --- Staff: 80 and 100 -------------------------------------------------------------------


def _reason(reason: str) -> str:
    text = reason.strip()
    if not text:
        raise InvalidInput(N_("say why (a reason is required)"), field="reason")
    if len(text) > 255:
        raise InvalidInput(N_("at most 255 characters"), field="reason")
    return text


def set_grade(
    session: Session, actor: Actor, member_id: int, level: int, reason: str, *, now: datetime
) -> Member:
    """Staff set 80 (转介绍并成交) or 100 (铁杆顾客) with a reason; it stands above the
    computed level until cleared."""
    member = get_member(session, actor, member_id)
    require_set_grade(actor, member)
    if level not in STAFF_LEVELS:
        raise InvalidInput(N_("staff set 80 or 100; lower levels follow the facts"), field="grade")
    text = _reason(reason)
    member.grade_set, member.grade_set_reason = level, text
    member.grade_set_at, member.grade_set_by_id = now, actor.staff_id
    session.flush()
    refresh_grades(session, [member.id], actor, now, cause=GradeCause.staff, reason=text)
    return member


def clear_grade(
    session: Session, actor: Actor, member_id: int, reason: str, *, now: datetime
) -> Member:
    """Take back the level staff set, with a reason: the grade falls to the facts'."""
    member = get_member(session, actor, member_id)
    require_set_grade(actor, member)
    if member.grade_set is None:
        raise InvalidInput(N_("no grade set by staff to clear"), field="grade")
    text = _reason(reason)
    member.grade_set = member.grade_set_reason = None
    member.grade_set_at = member.grade_set_by_id = None
    session.flush()
    refresh_grades(session, [member.id], actor, now, cause=GradeCause.cleared, reason=text)
    return member


# --- Why: the facts behind a member's grade ------------------------------------------------


@dataclass(frozen=True)
class GradeFacts:
    """What a member's grade stands on, for the member page."""

    grade: int
    purchase_days: tuple[date, ...]  # the first two days with a purchase (two: 20 holds)
    lecture: tuple[str, date] | None  # the first lecture they checked in to: title, day
    referrals: int  # members they referred
    set_level: int | None
    set_reason: str | None
    set_by: str | None
    set_at: datetime | None

    @property
    def letter(self) -> str:
        return LETTERS.get(self.grade, "")


def grade_facts(session: Session, actor: Actor, member_id: int) -> GradeFacts:
    member = get_member(session, actor, member_id)
    days = session.scalars(
        select(Purchase.purchased_on)
        .where(Purchase.member_id == member.id)
        .group_by(Purchase.purchased_on)
        .order_by(Purchase.purchased_on)
        .limit(2)
    )
    lecture = session.execute(
        select(Lecture.title_zh, Lecture.starts_at)
        .join(LectureSeat, LectureSeat.lecture_id == Lecture.id)
        .where(LectureSeat.member_id == member.id, LectureSeat.checked_in_at.is_not(None))
        .order_by(Lecture.starts_at)
        .limit(1)
    ).first()
    by = session.get(Staff, member.grade_set_by_id) if member.grade_set_by_id else None
    return GradeFacts(
        grade=member.relationship_grade,
        purchase_days=tuple(days),
        lecture=(lecture[0], local_date(lecture[1])) if lecture else None,
        referrals=referral_count(session, member.id),
        set_level=member.grade_set,
        set_reason=member.grade_set_reason,
        set_by=by.name if by else None,
        set_at=member.grade_set_at,
    )


def referral_count(session: Session, member_id: int) -> int:
    stmt = select(func.count()).select_from(Member).where(Member.referred_by_id == member_id)
    return int(session.scalar(stmt) or 0)


def grade_history(session: Session, actor: Actor, member_id: int) -> list[GradeChange]:
    """A member's grade changes, newest first."""
    get_member(session, actor, member_id)
    stmt = (
        select(GradeChange)
        .where(GradeChange.member_id == member_id)
        .order_by(GradeChange.at.desc(), GradeChange.id.desc())
    )
    return list(session.scalars(stmt))
