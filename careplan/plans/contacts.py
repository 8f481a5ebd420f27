"""The contact log: every time someone reached, or tried to reach, a member about a step,
and every guidance sheet handed over for one.

A contact is a recorded result (the member was reached: its `contacted_on`) or a logged
attempt (no answer, call back later: its `attempted_at`, in the chain's time zone). The
"last contact" of the caseload and of the lapsed-members list is decided here, once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from careplan.clock import local_date
from careplan.models import CarePlan, Checkpoint, CheckpointResult, ContactAttempt, SheetPrint
from careplan.models.base import AnySelect

CHUNK = 500  # bounded IN lists


@dataclass(frozen=True)
class StepContacts:
    """What happened on one step: the tries, oldest first, and the result if any."""

    attempts: list[ContactAttempt]
    result: CheckpointResult | None


def step_contacts(session: Session, checkpoint_id: int) -> StepContacts:
    attempts = session.scalars(
        select(ContactAttempt)
        .where(ContactAttempt.checkpoint_id == checkpoint_id)
        .order_by(ContactAttempt.attempted_at)
    )
    result = session.scalar(
        select(CheckpointResult).where(CheckpointResult.checkpoint_id == checkpoint_id)
    )
    return StepContacts(list(attempts), result)


@dataclass(frozen=True)
class Contact:
    """One line of a member's log: a result, an attempt or a printed sheet, and when."""

    at: datetime
    result: CheckpointResult | None = None
    attempt: ContactAttempt | None = None
    sheet: SheetPrint | None = None

    @property
    def on(self) -> date:
        """The day it happened: a result's contact day (a call written up later, or
        entered the next morning, counts on the day the member was reached)."""
        return self.result.contacted_on if self.result is not None else local_date(self.at)

    @property
    def by(self) -> int | None:
        """The member of staff who made the contact."""
        if self.result is not None:
            return self.result.recorded_by_id
        if self.attempt is not None:
            return self.attempt.staff_id
        return self.sheet.printed_by_id if self.sheet is not None else None


def contact_log(session: Session, checkpoint_ids: Iterable[int]) -> list[Contact]:
    """The results, attempts and printed sheets of these steps, newest first: by the
    day of the contact, then by when it was written down."""
    ids = sorted(set(checkpoint_ids))
    log: list[Contact] = []
    for i in range(0, len(ids), CHUNK):
        chunk = ids[i : i + CHUNK]
        results = select(CheckpointResult).where(CheckpointResult.checkpoint_id.in_(chunk))
        attempts = select(ContactAttempt).where(ContactAttempt.checkpoint_id.in_(chunk))
        prints = select(SheetPrint).where(SheetPrint.checkpoint_id.in_(chunk))
        log += [Contact(r.recorded_at, result=r) for r in session.scalars(results)]
        log += [Contact(a.attempted_at, attempt=a) for a in session.scalars(attempts)]
        log += [Contact(p.printed_at, sheet=p) for p in session.scalars(prints)]
    return sorted(log, key=lambda c: (c.on, c.at), reverse=True)


def last_answer(log: list[Contact]) -> CheckpointResult | None:
    """The newest answer the member gave to "are you taking it?" (log is newest first)."""
    return next(
        (c.result for c in log if c.result is not None and c.result.adherence is not None), None
    )


def last_contacts(session: Session, member_ids: Iterable[int]) -> dict[int, date]:
    """Each member's last contact: the latest day anyone reached, or tried to reach,
    them about a step of any plan."""
    ids = sorted(set(member_ids))
    found: dict[int, date] = {}
    for i in range(0, len(ids), CHUNK):
        chunk = ids[i : i + CHUNK]
        reached = _latest(CheckpointResult, CheckpointResult.contacted_on, chunk)
        for member_id, on in session.execute(reached):
            if on is not None:
                found[member_id] = on
        tried = _latest(ContactAttempt, ContactAttempt.attempted_at, chunk)
        for member_id, at in session.execute(tried):
            if at is not None:
                on = local_date(at)
                found[member_id] = max(found.get(member_id, on), on)
    return found


def _latest(
    table: type[CheckpointResult] | type[ContactAttempt], column: Any, member_ids: list[int]
) -> AnySelect:
    """The latest value of a result's or an attempt's column per member."""
    return (
        select(CarePlan.member_id, func.max(column))
        .join(Checkpoint, table.checkpoint_id == Checkpoint.id)
        .join(CarePlan, Checkpoint.plan_id == CarePlan.id)
        .where(CarePlan.member_id.in_(member_ids))
        .group_by(CarePlan.member_id)
    )
