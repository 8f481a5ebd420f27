"""How a call about a step ends when no result is recorded (Simple.org's call results):

- unreachable, or "call back at …": logged, the step stays open (as before);
- agreed to come on a day: the step holds off the overdue list until that day plus the
  step's grace (Checkpoint.held_until; the status rule reads it), overdue again after;
- remind later, in N days: the step leaves the worklist's lists until today + N
  (Checkpoint.snoozed_until; the lists filter on it);
- removed from follow-up, with a reason: the plan stops with it (lifecycle.stop, the one
  way a plan stops). "died" also records the death on the member and stops every live
  plan of theirs; "wrong number" flags the phone for the next verification.

One function, record_attempt, takes every outcome: one transaction (the caller's), every
row it writes in the change log through the session's flush, nothing written when the
input is refused.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from careplan.access import Actor, get_checkpoint
from careplan.errors import N_, Conflict, InvalidInput, InvalidValue
from careplan.members import last_seen
from careplan.members.gone import cancel_messages
from careplan.models import CarePlan, Checkpoint, ContactAttempt, Member
from careplan.plans.checkpoints import check_version
from careplan.plans.lifecycle import LIVE, protocol_of, status_of, step_of, stop
from careplan.plans.schedule import grace_of
from careplan.vocab import OFFERED_OUTCOMES, AttemptOutcome, Channel, CheckpointState, RemovalReason

VISIT_HORIZON_DAYS = 90  # an agreed visit further off is no appointment
REMIND_DAYS = (1, 30)
DEATH_PAST_DAYS = 366  # a death reported on a call happened within the last year
CALL_BACK = (AttemptOutcome.unreachable, AttemptOutcome.call_back)


class AttemptIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    channel: Channel = Channel.phone
    outcome: AttemptOutcome = AttemptOutcome.unreachable
    call_back_at: datetime | None = Field(
        default=None, description="unreachable / call_back: when to try again"
    )
    visit_on: date | None = Field(
        default=None, description="agreed_to_visit: the day (today to 90 days on)"
    )
    remind_days: int | None = Field(
        default=None, description="remind_later: back on the lists in this many days (1-30)"
    )
    removal_reason: RemovalReason | None = Field(
        default=None, description="removed: why; the plan stops with it"
    )
    died_on: date | None = Field(
        default=None, description="removed for died: the day of death (default today)"
    )
    note: str = Field(default="", max_length=500)
    version: int | None = None

    @model_validator(mode="after")
    def _fields_of_the_outcome(self) -> AttemptIn:
        o = self.outcome
        if o not in OFFERED_OUTCOMES:
            raise InvalidValue(
                N_("no longer recorded: choose 'removed from follow-up' with its reason"),
                field="outcome",
            )
        if o is AttemptOutcome.agreed_to_visit and self.visit_on is None:
            raise InvalidValue(N_("say the day the member agreed to come"), field="visit_on")
        if o is AttemptOutcome.remind_later and self.remind_days is None:
            raise InvalidValue(N_("say in how many days to remind"), field="remind_days")
        if o is AttemptOutcome.removed and self.removal_reason is None:
            raise InvalidValue(
                N_("say why the member is removed from follow-up"), field="removal_reason"
            )
        only = {
            "call_back_at": (self.call_back_at, o in CALL_BACK),
            "visit_on": (self.visit_on, o is AttemptOutcome.agreed_to_visit),
            "remind_days": (self.remind_days, o is AttemptOutcome.remind_later),
            "removal_reason": (self.removal_reason, o is AttemptOutcome.removed),
            "died_on": (self.died_on, self.removal_reason is RemovalReason.died),
        }
        for name, (value, fits) in only.items():
            if value is not None and not fits:
                raise InvalidValue(N_("does not go with this outcome"), field=name)
        return self


def _check_dates(data: AttemptIn, cp: Checkpoint, today: date, now: datetime) -> None:
    """What the model cannot know: the days against today and the step."""
    if data.call_back_at is not None and data.call_back_at <= now:
        raise InvalidInput(N_("must be in the future"), field="call_back_at")
    if data.visit_on is not None:
        last = today + timedelta(days=VISIT_HORIZON_DAYS)
        if not today <= data.visit_on <= last:
            raise InvalidInput(
                N_("must be between today and %(last)s"), field="visit_on", last=last
            )
        if cp.missed_on is not None and data.visit_on >= cp.missed_on:
            raise InvalidInput(
                N_("the step expires on %(day)s: agree a day before it"),
                field="visit_on",
                day=cp.missed_on,
            )
    if data.remind_days is not None and not (REMIND_DAYS[0] <= data.remind_days <= REMIND_DAYS[1]):
        raise InvalidInput(
            N_("must be between %(low)s and %(high)s days"),
            field="remind_days",
            low=REMIND_DAYS[0],
            high=REMIND_DAYS[1],
        )
    if data.died_on is not None and not (
        today - timedelta(days=DEATH_PAST_DAYS) <= data.died_on <= today
    ):
        raise InvalidInput(N_("must lie within the last year, up to today"), field="died_on")


def remind_on(data: AttemptIn, today: date) -> date | None:
    return today + timedelta(days=data.remind_days) if data.remind_days is not None else None


def record_attempt(
    session: Session,
    actor: Actor,
    checkpoint_id: int,
    data: AttemptIn,
    *,
    today: date,
    now: datetime,
) -> ContactAttempt:
    """The end of a call without a result, whatever it was (see the module).

    The step's row is locked first, so two saves of one step take turns; the same
    attempt saved again by the same person moments later (a double click) is the one
    already logged, not a second; any other attempt moves the step's version on, so a
    form opened before it is refused as changed by someone else."""
    cp = get_checkpoint(session, actor, checkpoint_id, lock=True)
    by = actor.staff_id or cp.assignee_id
    if (again := _same_attempt(session, cp.id, by, data, now, today)) is not None:
        return again
    check_version(session, cp, data.version, today)
    if cp.state is not CheckpointState.pending:
        raise Conflict(N_("this step is %(status)s"), field="state", status=status_of(cp, today))
    _check_dates(data, cp, today, now)
    attempt = ContactAttempt(
        checkpoint_id=cp.id,
        staff_id=by,
        attempted_at=now,
        channel=data.channel,
        outcome=data.outcome,
        call_back_at=data.call_back_at,
        visit_on=data.visit_on,
        remind_on=remind_on(data, today),
        removal_reason=data.removal_reason,
        note=data.note,
    )
    session.add(attempt)
    last_seen.saw(session, {cp.plan.member_id: last_seen.day_of(now)})
    cp.call_back_at = data.call_back_at
    flag_modified(cp, "call_back_at")  # the version moves on even when the time is the same
    if data.visit_on is not None:
        grace = grace_of(protocol_of(cp.plan), step_of(protocol_of(cp.plan), cp.key))
        cp.visit_on, cp.held_until = data.visit_on, data.visit_on + timedelta(days=grace + 1)
    if attempt.remind_on is not None:
        cp.snoozed_until = attempt.remind_on
    if data.removal_reason is not None:
        _remove(session, actor, cp, data, today=today, now=now)
    session.flush()
    return attempt


def _remove(
    session: Session, actor: Actor, cp: Checkpoint, data: AttemptIn, *, today: date, now: datetime
) -> None:
    reason = data.removal_reason
    assert reason is not None
    member = cp.plan.member
    if reason is RemovalReason.died:
        record_death(session, actor, member, data.died_on or today, today=today, now=now)
        return
    stop(session, actor, cp.plan_id, data.note, today=today, removed_for=reason)
    if reason is RemovalReason.wrong_number:
        flag_phone(member, actor, now)


def flag_phone(member: Member, actor: Actor, now: datetime) -> None:
    """The number reached nobody of theirs: ask for it at the next verification."""
    member.phone_flagged_at = now
    member.phone_flagged_by_id = actor.staff_id


def record_death(
    session: Session, actor: Actor, member: Member, died_on: date, *, today: date, now: datetime
) -> list[CarePlan]:
    """The member died: the day on the archive, who wrote it and when, every live plan
    of theirs stopped for it (new enrolments are refused: archive.require_alive), and
    every message still waiting for them cancelled."""
    member.died_on = died_on
    member.died_recorded_at = now
    member.died_recorded_by_id = actor.staff_id
    cancel_messages(session, [member.id], "member_gone", now=now)  # and greetings, reminders
    live = session.scalars(
        select(CarePlan)
        .where(CarePlan.member_id == member.id, CarePlan.status.in_(LIVE))
        .order_by(CarePlan.id)
    ).all()
    died = RemovalReason.died
    return [stop(session, actor, p.id, "", today=today, removed_for=died) for p in live]


SAME_ATTEMPT_WITHIN = timedelta(seconds=30)  # a double click, a browser's resend


def _same_attempt(
    session: Session,
    checkpoint_id: int,
    staff_id: int,
    data: AttemptIn,
    now: datetime,
    today: date,
) -> ContactAttempt | None:
    """The attempt this person logged on this step moments ago, word for word."""

    def same(column: Any, value: Any) -> ColumnElement[bool]:
        return column.is_(None) if value is None else column == value  # type: ignore[no-any-return]

    return session.scalar(
        select(ContactAttempt)
        .where(
            ContactAttempt.checkpoint_id == checkpoint_id,
            ContactAttempt.staff_id == staff_id,
            ContactAttempt.attempted_at >= now - SAME_ATTEMPT_WITHIN,
            ContactAttempt.channel == data.channel,
            ContactAttempt.outcome == data.outcome,
            ContactAttempt.note == data.note,
            same(ContactAttempt.call_back_at, data.call_back_at),
            same(ContactAttempt.visit_on, data.visit_on),
            same(ContactAttempt.remind_on, remind_on(data, today)),
            same(ContactAttempt.removal_reason, data.removal_reason),
        )
        .order_by(ContactAttempt.attempted_at.desc())
        .limit(1)
    )
