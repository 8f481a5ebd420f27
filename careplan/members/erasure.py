"""Erasure: a member's personal data anonymised irreversibly, on request or when the
retention period ends, while every count stays right.

What goes: every personal field of the archive (name, contact details, birthday, health
lists, lifestyle), the free text staff wrote about the member (notes, the member's own
words, skip reasons, the words of their complaints and of their grade changes), and the
values in the change log's entries about the member and their records (blanked in place,
marked erased: the chain still verifies, see ledger.py).

What stays, anonymous: the member's id and home store, the owner, plans and steps with
their states and dates, readings' numbers, purchases, lecture seats, complaints' dates,
causes, states and satisfaction, grade changes' dates, grades and causes (in the change
log too). So the audit's overdue, missed and on-time figures, lecture attendance and
adherence rates do not move. The access log and the change log keep every entry (PIPL
Art. 56: records of processing are kept at least 3 years; careplan deletes none), and an
Erasure row records who erased whom, when and why.

A member with a live plan is not erased: its steps would still fall due. Stopping the
plans (a consent withdrawal does) comes first, on purpose and visibly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    String,
    Text,
    bindparam,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from careplan.access import Actor, get_member, require_manager
from careplan.config import get_settings
from careplan.errors import N_, Conflict, InvalidInput
from careplan.members.gone import blank_messages, cancel_messages
from careplan.members.records import record_ids
from careplan.models import (
    CarePlan,
    ChangeLog,
    Checkpoint,
    CheckpointResult,
    Complaint,
    ContactAttempt,
    EffectRecord,
    Erasure,
    Escalation,
    GradeChange,
    HealthCheck,
    Member,
    Ownership,
    Purchase,
)
from careplan.models.base import AnySelect
from careplan.plans import lifecycle
from careplan.trust.change_log import AUDITED, log_action
from careplan.trust.ledger import ERASED
from careplan.value import grades

REASONS = ("request", "retention")
ERASED_NAME = "已删除"
RETENTION_YEARS = 3

# Member columns that are not personal data: they keep the counts and the record of
# processing right. Every other column is blanked, so a column added later is blanked
# unless it is listed here on purpose.
KEPT = frozenset({
    "id", "card_number", "home_store_id", "owner_id", "language", "created_at", "updated_at",
    "health_consent", "health_consent_at", "health_consent_by_id", "health_consent_text",
    "health_consent_withdrawn_at", "health_consent_withdrawn_by_id", "erased_at",
})  # fmt: skip

# Free text staff wrote about the member, in the member's records.
FREE_TEXT: dict[type, tuple[str, ...]] = {
    HealthCheck: ("note",),
    EffectRecord: ("before", "after", "side_effects", "member_words", "note"),
    Ownership: ("note",),
    Escalation: ("resolution",),
    Checkpoint: ("skip_reason",),
    CheckpointResult: ("notes", "fulfilled_by"),
    ContactAttempt: ("note",),
    Complaint: ("what", "place", "on_the_spot", "closing_note", "walk_in_name", "walk_in_phone"),
    GradeChange: ("reason",),
}
# Change-log entries about the member whose values are facts, not words: kept as they were.
LOG_FACTS: dict[str, frozenset[str]] = {
    grades.ENTITY: frozenset({"relationship_grade", "cause"}),
}


@dataclass(frozen=True)
class Erased:
    member_id: int
    log_entries: int


def erase_member(
    session: Session, actor: Actor, member_id: int, reason: str, *, now: datetime
) -> Erased:
    """Anonymise one member; one transaction with the caller's other work (none)."""
    if reason not in REASONS:
        raise InvalidInput(N_("reason must be one of %(reasons)s"), field="reason", reasons=REASONS)
    if reason == "request":
        require_manager(actor)
    member = get_member(session, actor, member_id)
    if member.erased_at is not None:
        raise Conflict(N_("the member's personal data was already erased"), field="member")
    if _has_live_plan(session, member.id):
        raise Conflict(
            N_(
                "the member still has a live plan: stop it first (withdrawing the consent stops "
                "every plan)"
            ),
            field="plans",
        )
    erasure = Erasure(member_id=member.id, at=now, by_id=actor.staff_id, reason=reason)
    session.add(erasure)
    session.flush()
    _blank_member(session, member, now)
    _blank_free_text(session, member.id)
    cancel_messages(session, [member.id], "member_gone", now=now)
    blank_messages(session, member.id)
    erasure.log_entries = _blank_log(session, member.id, erasure.id)
    log_action(session, "member", member.id, "erase", {"erasure": [None, erasure.id],
               "reason": [None, reason]})  # fmt: skip
    session.flush()
    session.expire(member)
    return Erased(member.id, erasure.log_entries)


def _has_live_plan(session: Session, member_id: int) -> bool:
    live = select(CarePlan.id).where(
        CarePlan.member_id == member_id, CarePlan.status.in_(lifecycle.LIVE)
    )
    return session.scalar(select(exists(live))) or False


def _blank_member(session: Session, member: Member, now: datetime) -> None:
    values: dict[str, Any] = {}
    for column in Member.__table__.columns:
        if column.key in KEPT:
            continue
        values[column.key] = _blank(column)
    values |= {"name": ERASED_NAME, "card_number": f"erased-{member.id}", "erased_at": now,
               "health_consent": False}  # fmt: skip
    # A bulk statement, so the flush's change log does not copy the old values.
    stmt = update(Member).where(Member.id == member.id).values(**values)
    session.execute(stmt.execution_options(synchronize_session=False))


def _blank(column: Any) -> Any:
    if column.nullable:
        return None
    if isinstance(column.type, JSON) or isinstance(getattr(column.type, "impl", None), JSON):
        return []
    if isinstance(column.type, String | Text):
        return ""
    return column.default.arg if column.default is not None else None


def _ids_of(member_id: int) -> dict[type, AnySelect]:
    return record_ids(member_id) | {Member: select(Member.id).where(Member.id == member_id)}


def _blank_free_text(session: Session, member_id: int) -> None:
    ids = _ids_of(member_id)
    for model, columns in FREE_TEXT.items():
        table = model.__table__  # type: ignore[attr-defined]
        values = {c: _blank(table.c[c]) for c in columns}
        stmt = update(model).where(model.id.in_(ids[model])).values(**values)  # type: ignore[attr-defined]
        session.execute(stmt.execution_options(synchronize_session=False))


def _blank_log(session: Session, member_id: int, erasure_id: int) -> int:
    """Blank the values of every change-log entry about the member's records. The
    database lets an update through only when it marks the entry erased and leaves
    everything but the values as it was (migration ecba031b9822)."""
    blanked: list[dict[str, Any]] = []
    ids_of = _ids_of(member_id)
    logged = [(AUDITED[model], ids) for model, ids in ids_of.items() if model in AUDITED]
    logged.append((grades.ENTITY, ids_of[Member]))  # a grade change is logged on the member
    for entity, ids in logged:
        facts = LOG_FACTS.get(entity, frozenset())
        stmt = select(ChangeLog.id, ChangeLog.changes).where(
            ChangeLog.entity == entity, ChangeLog.entity_id.in_(ids)
        )
        for entry_id, changes in session.execute(stmt):
            if ERASED in changes:
                continue
            kept = {f: v if f in facts else [None, None] for f, v in changes.items()}
            blanked.append({"entry_id": entry_id, "blank": kept | {ERASED: erasure_id}})
    if blanked:
        blank = (
            update(ChangeLog.__table__)  # type: ignore[arg-type]
            .where(ChangeLog.__table__.c.id == bindparam("entry_id"))
            .values(changes=bindparam("blank"))
        )
        session.connection().execute(blank, blanked)
    return len(blanked)


def _last_activity_before(member_id_col: Any, cutoff: datetime, day: date) -> ColumnElement[bool]:
    """Nothing happened with the member since the cutoff: no plan still running or ended
    after it, no reading, effect record or purchase after it."""
    recent = [
        select(CarePlan.id).where(
            CarePlan.member_id == member_id_col,
            (CarePlan.status.in_(lifecycle.LIVE))
            | (func.coalesce(CarePlan.stopped_on, CarePlan.completed_on, day) >= cutoff.date()),
        ),
        select(HealthCheck.id).where(
            HealthCheck.member_id == member_id_col, HealthCheck.measured_at >= cutoff
        ),
        select(EffectRecord.id).where(
            EffectRecord.member_id == member_id_col, EffectRecord.recorded_at >= cutoff
        ),
        select(Purchase.id).where(
            Purchase.member_id == member_id_col, Purchase.purchased_on >= cutoff.date()
        ),
    ]
    return ~or_(*(exists(q) for q in recent))


def due_for_erasure(session: Session, *, today: date, years: int = RETENTION_YEARS) -> list[int]:
    """Members whose retention has ended: untouched for `years`, nothing live."""
    start = date(today.year - years, today.month, min(today.day, 28 if today.month == 2 else 31))
    cutoff = datetime.combine(start, time(), tzinfo=get_settings().zone)
    stmt = (
        select(Member.id)
        .where(
            Member.erased_at.is_(None),
            Member.updated_at < cutoff,
            _last_activity_before(Member.id, cutoff, today),
        )
        .order_by(Member.id)
    )
    return list(session.scalars(stmt))


def erase_due(session: Session, actor: Actor, *, now: datetime, today: date) -> list[Erased]:
    """Erase every member whose retention has ended (the nightly job, or by hand)."""
    return [
        erase_member(session, actor, member_id, "retention", now=now)
        for member_id in due_for_erasure(session, today=today)
    ]
