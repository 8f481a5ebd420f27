"""The outbox: every message a row, sent through its channel's provider by the job
engine's tasks, a few at a time.

A message leaves in three steps, each its own short transaction, none held through a
provider's call:
1. claim: a group of due, queued rows is marked "sending" (only the consumer whose UPDATE
   changed a row owns it: two consumers never send one message) and committed, after
   the reason is checked once more (`reasons_gone`): a step done, a lecture cancelled,
   consent withdrawn, a member died or erased cancel it, never send it;
2. the provider is called for each claimed row;
3. each row is marked sent, failed, or queued again for a retry after a backoff.
A kill between 1 and 3 leaves rows marked "sending": the sweep asks the provider whether
each left (the log provider knows); what no one can tell is marked failed, "interrupted",
for a person to look at: a message is never sent twice without anyone seeing it.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, bindparam, case, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from careplan.access import Actor
from careplan.adherence.measured import fills_by_member
from careplan.adherence.pdc import runs_out_on
from careplan.clock import local_date
from careplan.db import begin_for_writing
from careplan.models import (
    CarePlan,
    Checkpoint,
    Lecture,
    LectureSeat,
    Member,
    Message,
    MessageConsent,
)
from careplan.outreach import rules
from careplan.outreach.log import FILE_NAME as LOG_FILE
from careplan.outreach.log import read_log
from careplan.outreach.provider import Outgoing, Permanent, Provider, Sent, Transient
from careplan.outreach.templates import Templates
from careplan.plans.lifecycle import status_of
from careplan.vocab import (
    CheckpointStatus,
    LectureStatus,
    MessageChannel,
    MessageReason,
    MessageState,
    PlanStatus,
    SeatStatus,
)

log = logging.getLogger(__name__)

GROUP = 25  # rows claimed at once: at most this many are in doubt after a kill
MAX_ATTEMPTS = 5
BACKOFF = timedelta(seconds=30)  # then 60, 120, 240 s
SENDING_LEASE = timedelta(minutes=2)  # by default, a row "sending" this long was cut off


@dataclass
class Sending:
    """What the tasks need: providers by channel, the clock, the chain's window."""

    providers: Mapping[MessageChannel, Provider]
    clock: Callable[[], datetime]
    zone: ZoneInfo
    window: rules.Window
    templates: Templates


@dataclass
class SendResult:
    sent: int = 0
    failed: int = 0
    cancelled: int = 0
    retry: list[tuple[int, datetime]] = field(default_factory=list)  # (id, when)
    waiting: int = 0  # due later (the window is shut): left queued


def send(factory: sessionmaker[Session], ids: Sequence[int], how: Sending) -> SendResult:
    """Send these messages, those still queued and due, GROUP at a time. One transaction
    settles a group and claims the next (one commit a group, not two: on PostgreSQL the
    commits were most of the time)."""
    result = SendResult()
    todo = sorted(set(ids))
    outcomes: list[tuple[_Claimed, _Outcome]] = []
    for i in range(0, len(todo), GROUP):
        claimed = _settle_and_claim(factory, outcomes, todo[i : i + GROUP], how, result)
        outcomes = [(row, _call(how.providers[row.channel], row, how.templates)) for row in claimed]
    _settle_and_claim(factory, outcomes, [], how, result)
    return result


@dataclass(frozen=True)
class _Claimed:
    id: int
    channel: MessageChannel
    to: str
    template: str
    variables: dict[str, Any]
    text: str
    language: str
    attempts: int


def _settle_and_claim(
    factory: sessionmaker[Session],
    outcomes: list[tuple[_Claimed, _Outcome]],
    ids: list[int],
    how: Sending,
    result: SendResult,
) -> list[_Claimed]:
    if not outcomes and not ids:
        return []
    with factory() as session:
        begin_for_writing(session)  # it reads, then claims: SQLite's writers queue
        _settle(session, outcomes, how, result)
        claimed = _claim(session, ids, how, result) if ids else []
        session.commit()
    return claimed


def _claim(session: Session, ids: list[int], how: Sending, result: SendResult) -> list[_Claimed]:
    now = how.clock()
    rows = list(
        session.scalars(
            select(Message).where(Message.id.in_(ids), Message.state == MessageState.queued)
        )
    )
    if not how.window.is_open(now, how.zone):
        result.waiting += len(rows)
        return []
    due = [r for r in rows if r.not_before <= now]
    result.waiting += len(rows) - len(due)
    gone = reasons_gone(session, due, now)
    for row in due:
        if row.id in gone:
            _cancel(row, gone[row.id], now)
            result.cancelled += 1
    going = [r for r in due if r.id not in gone]
    owned = _mark_sending(session, [r.id for r in going], how, now)
    addresses = _addresses(session, going)
    claimed = [
        _Claimed(
            r.id,
            r.channel,
            addresses[r.id],
            r.template,
            dict(r.variables),
            r.text,
            r.language,
            r.attempts + 1,
        )
        for r in going
        if r.id in owned
    ]
    return claimed


def _mark_sending(session: Session, ids: list[int], how: Sending, now: datetime) -> set[int]:
    """One UPDATE: the rows still queued become this sender's (another consumer's UPDATE
    finds them sending, and changes nothing)."""
    if not ids:
        return set()
    names = {channel: p.name for channel, p in how.providers.items()}
    provider = case(*[(Message.channel == c, n) for c, n in names.items()], else_=None)
    stmt = (
        update(Message)
        .where(Message.id.in_(ids), Message.state == MessageState.queued)
        .values(
            state=MessageState.sending,
            sending_at=now,
            attempts=Message.attempts + 1,
            provider=provider,
        )
        .returning(Message.id)
        .execution_options(synchronize_session=False)
    )
    return set(session.scalars(stmt))


def _cancel(row: Message, why: str, now: datetime) -> None:
    row.state, row.cancelled_at, row.cancel_reason = MessageState.cancelled, now, why


def _addresses(session: Session, rows: list[Message]) -> dict[int, str]:
    """Where each message goes: the archive's mobile (SMS), the consent's openid (WeChat)."""
    members = {r.member_id for r in rows}
    mobiles = dict(
        session.execute(select(Member.id, Member.mobile).where(Member.id.in_(members))).all()
    )
    openids = dict(
        session.execute(
            select(MessageConsent.member_id, MessageConsent.address).where(
                MessageConsent.member_id.in_(members),
                MessageConsent.channel == MessageChannel.wechat,
            )
        ).all()
    )
    return {
        r.id: (
            mobiles.get(r.member_id)
            if r.channel is MessageChannel.sms
            else openids.get(r.member_id)
        )
        or ""
        for r in rows
    }


@dataclass(frozen=True)
class _Outcome:
    sent: Sent | None = None
    error: Exception | None = None


def outgoing(row: _Claimed, provider: Provider, templates: Templates) -> Outgoing:
    """The message in the provider's terms: its approved template and signature, and
    for WeChat its template's fields filled from our variables."""
    variables = {k: str(v) for k, v in row.variables.items()}
    code, sign = row.template, ""
    approved = templates.by_key.get(row.template)
    if approved is not None and provider.name == "aliyun" and approved.providers.aliyun:
        code, sign = approved.providers.aliyun.template_code, approved.providers.aliyun.sign_name
    elif approved is not None and provider.name == "wechat" and approved.providers.wechat:
        code = approved.providers.wechat.template_id
        variables = {f: variables.get(v, "") for f, v in approved.providers.wechat.fields.items()}
    return Outgoing(
        message_id=row.id,
        channel=row.channel,
        to=row.to,
        template_code=code,
        sign_name=sign,
        variables=variables,
        text=row.text,
        language=row.language,
    )


def _call(provider: Provider, row: _Claimed, templates: Templates) -> _Outcome:
    message = outgoing(row, provider, templates)
    try:
        return _Outcome(sent=provider.send(message))
    except (Transient, Permanent) as error:
        return _Outcome(error=error)
    except Exception as error:  # a provider's bug or a network failure: may pass
        log.exception("provider %s failed on message %s", provider.name, row.id)
        return _Outcome(error=Transient("unexpected", str(error)[:200]))


def _settle(
    session: Session, outcomes: list[tuple[_Claimed, _Outcome]], how: Sending, result: SendResult
) -> None:
    if not outcomes:
        return
    now = how.clock()
    params = [_settled(row, outcome, now, how, result) for row, outcome in outcomes]
    session.connection().execute(SETTLE, params)  # one statement, every row's values


T = cast(Table, Message.__table__)
# A row settled only while still this sender's; a value not given (None) is left as it was.
SETTLE = (
    update(T)
    .where(T.c.id == bindparam("b_id"), T.c.state == MessageState.sending.value)
    .values(
        state=bindparam("b_state"),
        sent_at=func.coalesce(bindparam("b_sent_at", type_=T.c.sent_at.type), T.c.sent_at),
        provider_id=func.coalesce(
            bindparam("b_provider_id", type_=T.c.provider_id.type), T.c.provider_id
        ),
        not_before=func.coalesce(
            bindparam("b_not_before", type_=T.c.not_before.type), T.c.not_before
        ),
        last_error=bindparam("b_last_error"),
    )
)


def _settled(
    row: _Claimed, outcome: _Outcome, now: datetime, how: Sending, result: SendResult
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "b_id": row.id,
        "b_sent_at": None,
        "b_provider_id": None,
        "b_not_before": None,
        "b_last_error": None,
    }
    if outcome.sent is not None:
        result.sent += 1
        return values | {
            "b_state": MessageState.sent.value,
            "b_sent_at": now,
            "b_provider_id": outcome.sent.provider_id,
        }
    code = str(getattr(outcome.error, "code", "error"))[:255]
    if isinstance(outcome.error, Transient) and row.attempts < MAX_ATTEMPTS:
        when = how.window.next_opening(now + BACKOFF * 2 ** (row.attempts - 1), how.zone)
        result.retry.append((row.id, when))
        return values | {
            "b_state": MessageState.queued.value,
            "b_not_before": when,
            "b_last_error": code,
        }
    result.failed += 1
    return values | {"b_state": MessageState.failed.value, "b_last_error": code}


# --- whether a message's reason still stands ----------------------------------------------


def reasons_gone(session: Session, rows: Sequence[Message], now: datetime) -> dict[int, str]:
    """Message id → why it must not leave, for those whose reason is gone."""
    if not rows:
        return {}
    gone: dict[int, str] = {}
    members = {r.member_id for r in rows}
    departed = set(
        session.scalars(
            select(Member.id).where(
                Member.id.in_(members),
                or_(Member.erased_at.is_not(None), Member.died_on.is_not(None)),
            )
        )
    )
    gone |= {r.id: "member_gone" for r in rows if r.member_id in departed}
    agreed = {
        (m, c)
        for m, c in session.execute(
            select(MessageConsent.member_id, MessageConsent.channel).where(
                MessageConsent.member_id.in_(members), MessageConsent.withdrawn_at.is_(None)
            )
        )
    }
    for r in rows:
        if r.id not in gone and (r.member_id, r.channel) not in agreed:
            gone[r.id] = "consent_withdrawn"
    left = [r for r in rows if r.id not in gone]
    gone |= _steps_gone(session, left, now)
    gone |= _lectures_gone(session, left, now)
    gone |= _refills_gone(session, left)
    return gone


def _ref_id(ref: str) -> int:
    return int(ref.split(":", 1)[1])


def _steps_gone(session: Session, rows: list[Message], now: datetime) -> dict[int, str]:
    """A reminder stands while its step is still ahead, a nudge while it is overdue (a
    member who agreed to come on a day is not): the status rule decides, as for the lists."""
    steps = [r for r in rows if r.reason in (MessageReason.step_reminder, MessageReason.step_nudge)]
    if not steps:
        return {}
    today = local_date(now)
    found = session.scalars(
        select(Checkpoint)
        .join(CarePlan, Checkpoint.plan_id == CarePlan.id)
        .where(
            Checkpoint.id.in_({_ref_id(r.ref) for r in steps}), CarePlan.status == PlanStatus.active
        )
    )
    status = {cp.id: status_of(cp, today) for cp in found}
    wanted = {
        MessageReason.step_reminder: AHEAD,
        MessageReason.step_nudge: {CheckpointStatus.overdue},
    }
    return {
        r.id: "step_closed" for r in steps if status.get(_ref_id(r.ref)) not in wanted[r.reason]
    }


AHEAD = frozenset({CheckpointStatus.upcoming, CheckpointStatus.due})
OVERDUE = frozenset({CheckpointStatus.overdue})


def _lectures_gone(session: Session, rows: list[Message], now: datetime) -> dict[int, str]:
    about = [
        r
        for r in rows
        if r.reason in (MessageReason.lecture_reminder, MessageReason.lecture_invitation)
    ]
    if not about:
        return {}
    ahead = set(
        session.scalars(
            select(Lecture.id).where(
                Lecture.id.in_({_ref_id(r.ref) for r in about}),
                Lecture.status == LectureStatus.scheduled,
                Lecture.starts_at > now,
            )
        )
    )
    seats = set(
        session.execute(
            select(LectureSeat.lecture_id, LectureSeat.member_id).where(
                LectureSeat.lecture_id.in_(ahead), LectureSeat.status == SeatStatus.registered
            )
        ).all()
    )
    gone = {}
    for r in about:
        lecture = _ref_id(r.ref)
        if lecture not in ahead:
            gone[r.id] = "lecture_cancelled"
        elif r.reason is MessageReason.lecture_reminder and (lecture, r.member_id) not in seats:
            gone[r.id] = "seat_given_up"
        elif r.reason is MessageReason.lecture_invitation and (lecture, r.member_id) in seats:
            gone[r.id] = "already_registered"
    return gone


def _refills_gone(session: Session, rows: list[Message]) -> dict[int, str]:
    """A refill reminder whose supply was bought meanwhile (its run-out moved on)."""
    refills = [r for r in rows if r.reason is MessageReason.refill]
    if not refills:
        return {}
    fills = fills_by_member(session, {r.member_id for r in refills})
    gone = {}
    for r in refills:
        drug_class, out = r.ref.split(":", 1)
        now_out = runs_out_on(fills.get(r.member_id, {}).get(drug_class, []))
        if now_out is not None and now_out > date.fromisoformat(out):
            gone[r.id] = "refilled"
    return gone


# --- the sweep and the receipts -----------------------------------------------------------


@dataclass
class Swept:
    due: list[int] = field(default_factory=list)  # queued and due, with no task seen: queue them
    resolved_sent: int = 0
    interrupted: int = 0


def sweep(
    session: Session,
    how: Sending,
    *,
    lease: timedelta = SENDING_LEASE,
    waiting: Collection[int] = frozenset(),
) -> Swept:
    """Due messages left queued this long (a task lost, a queue down), and messages a
    crash left "sending" this long: the provider says whether each left; if it cannot,
    it is marked failed, interrupted, and not sent again. `lease`: the job engine's
    (CAREPLAN_JOBS_LEASE_SECONDS), how long a consumer may go silent on a job; `waiting`:
    the messages a queued task carries already."""
    now = how.clock()
    swept = Swept()
    if how.window.is_open(now, how.zone):
        due = session.scalars(
            select(Message.id)
            .where(Message.state == MessageState.queued, Message.not_before <= now - lease)
            .order_by(Message.not_before)
            .limit(50_000)
        )
        swept.due = [i for i in due if i not in waiting]  # `waiting`: a task has them
    stale = session.scalars(
        select(Message).where(
            Message.state == MessageState.sending, Message.sending_at < now - lease
        )
    )
    for row in stale:
        provider = how.providers.get(row.channel)
        told = provider.sent_before(row.id) if hasattr(provider, "sent_before") else None  # type: ignore[union-attr]
        if isinstance(told, Sent):
            row.state, row.sent_at, row.provider_id = MessageState.sent, now, told.provider_id
            swept.resolved_sent += 1
        elif told is False:  # the provider knows it never left: it may go now
            row.state, row.not_before = MessageState.queued, now
            swept.due.append(row.id)
        else:
            row.state, row.last_error = MessageState.failed, "interrupted"
            swept.interrupted += 1
    session.flush()
    return swept


def apply_receipt(
    session: Session, provider_id: str, *, delivered: bool, at: datetime, error: str | None
) -> bool:
    """A delivery report: the message reached the phone (delivered) or did not (failed)."""
    values: dict[str, Any] = (
        {"state": MessageState.delivered, "delivered_at": at}
        if delivered
        else {"state": MessageState.failed, "last_error": (error or "undelivered")[:255]}
    )
    done = session.execute(
        update(Message)
        .where(
            Message.provider_id == provider_id,
            Message.state.in_((MessageState.sent, MessageState.sending)),
        )
        .values(**values)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


# --- what people read ---------------------------------------------------------------------


def of_member(session: Session, member_id: int, limit: int = 50) -> list[Message]:
    return list(
        session.scalars(
            select(Message)
            .where(Message.member_id == member_id)
            .order_by(Message.for_day.desc(), Message.id.desc())
            .limit(limit)
        )
    )


def of_store_day(session: Session, store_id: int, day: date) -> list[tuple[Message, str]]:
    """A store's messages of a day, with each member's name."""
    rows = session.execute(
        select(Message, Member.name)
        .join(Member, Message.member_id == Member.id)
        .where(Message.store_id == store_id, Message.for_day == day)
        .order_by(Message.state, Message.id)
    )
    return [(m, name) for m, name in rows]


def counts_by_state(rows: Sequence[Message]) -> dict[MessageState, int]:
    counts: dict[MessageState, int] = defaultdict(int)
    for r in rows:
        counts[r.state] += 1
    return {s: counts.get(s, 0) for s in MessageState}


def kept_by_log(
    session: Session, actor: Actor, work_dir: Path, *, last: int
) -> list[dict[str, Any]]:
    """The log provider's last lines, newest first, of the stores `actor` sees."""
    lines = list(reversed(read_log(work_dir / LOG_FILE, last=last)))
    ids = {int(x["id"]) for x in lines if isinstance(x.get("id"), int)}
    stores = dict(
        session.execute(select(Message.id, Message.store_id).where(Message.id.in_(ids))).all()
    )
    return [x for x in lines if x.get("id") in stores and actor.may_see_store(stores[x["id"]])]
