"""Health lectures (健康讲座): scheduling, invitations, seats with a waitlist, the day
itself (reminders, check-in, walk-ins), and attendance that fulfils a care-plan step.

Seats are counted under a lock on the lecture (see `_lock_roster`), so concurrent
registrations never overbook, on PostgreSQL or SQLite. Every change to a lecture, an
invitation or a seat is kept in the change log with who made it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.orm import Session, contains_eager

from careplan.access import Actor, get_member, require_manager, scope_members
from careplan.clock import local_date
from careplan.errors import N_, Conflict, Forbidden, InvalidInput, InvalidValue, NotFound
from careplan.members.archive import member_matches
from careplan.models import (
    CarePlan,
    Checkpoint,
    CheckpointResult,
    Lecture,
    LectureInvitation,
    LectureSeat,
    Member,
    Store,
)
from careplan.plans.checkpoints import complete_step
from careplan.plans.lifecycle import complete_if_finished, protocol_of, step_of
from careplan.plans.protocol_schema import Key, Text
from careplan.plans.protocols import newest_definitions
from careplan.validation import parse
from careplan.value.grades import refresh_grades
from careplan.vocab import (
    Channel,
    CheckpointState,
    LecturePhase,
    LectureStatus,
    PlanStatus,
    SeatStatus,
)

HOLDING = (SeatStatus.registered, SeatStatus.waitlisted)


class LectureIn(BaseModel):
    """A lecture as staff enter it; times are aware datetimes (the form's wall clock in
    the chain's time zone)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    # Chinese is what staff and members read; English is optional (pages in English
    # show the Chinese title when there is none). An empty Chinese title is refused in
    # _checked, with a message of its own.
    title_zh: str = Field(default="", max_length=160)
    title_en: str = Field(default="", max_length=160)
    topic: Key  # a topic the protocols name, or GENERAL_TOPIC (see lecture_choices)
    # As the archive writes them ("骨质疏松", "Osteoporosis", "M81"): see _condition_names.
    conditions: list[Annotated[str, Field(min_length=1, max_length=80)]] = Field(
        default_factory=list, max_length=20
    )
    protocols: list[Key] = Field(default_factory=list, max_length=20)
    speaker: str = Field(default="", max_length=120)
    store_id: int
    venue: str = Field(default="", max_length=255)
    starts_at: AwareDatetime  # a time without its zone is ambiguous across the chain
    ends_at: AwareDatetime
    capacity: int = Field(ge=1, le=10_000)
    register_by: AwareDatetime

    @field_validator("ends_at")
    @classmethod
    def _ends_after_start(cls, value: datetime, info: ValidationInfo) -> datetime:
        starts = info.data.get("starts_at")
        if starts is not None and value <= starts:
            raise InvalidValue(N_("the lecture must end after it starts"))
        return value

    @field_validator("register_by")
    @classmethod
    def _deadline_before_start(cls, value: datetime, info: ValidationInfo) -> datetime:
        starts = info.data.get("starts_at")
        if starts is not None and value > starts:
            raise InvalidValue(N_("the registration deadline must not be after the start"))
        return value


def parse_lecture(data: dict[str, Any]) -> LectureIn:
    """A lecture from a form or the API: the first problem names its field."""
    return parse(LectureIn, data)


# --- What a lecture may be about ----------------------------------------------------------

# A lecture on a topic no protocol step names (a general health talk): its key is made
# here, never typed by anyone, and no step names it, so attending fulfils no step.
GENERAL_TOPIC = "general"


@dataclass(frozen=True)
class Topic:
    key: str
    # The steps that name the topic ("防跌倒指导（骨质疏松慢病追踪）"); None for the
    # general topic, whose words are the catalogue's.
    name: Text | None


@dataclass(frozen=True)
class ConditionChoice:
    code: str  # ICD-10, what a lecture keeps
    name: Text
    synonyms: frozenset[str]  # casefolded: the code, the protocol's id, both names


@dataclass(frozen=True)
class ProtocolChoice:
    id: str
    title: Text


@dataclass(frozen=True)
class Choices:
    """What a lecture may name, as the protocols in force name it: its topic, the
    conditions it is for and the protocols whose members it is for."""

    topics: tuple[Topic, ...]
    conditions: tuple[ConditionChoice, ...]
    protocols: tuple[ProtocolChoice, ...]

    def topic(self, key: str) -> Topic | None:
        return next((t for t in self.topics if t.key == key), None)

    def condition(self, value: str) -> ConditionChoice | None:
        """The condition a value names by any of its names ("骨质疏松", "M81")."""
        folded = value.strip().casefold()
        return next((c for c in self.conditions if folded in c.synonyms), None)

    def protocol(self, protocol_id: str) -> ProtocolChoice | None:
        return next((p for p in self.protocols if p.id == protocol_id), None)


def lecture_choices(session: Session) -> Choices:
    """The pick lists of the lecture form, from the newest version of each protocol."""
    named: dict[str, list[tuple[Text, Text]]] = {}
    conditions: dict[str, ConditionChoice] = {}
    protocols = []
    for protocol_id, definition in newest_definitions(session).items():
        protocols.append(ProtocolChoice(protocol_id, definition.title))
        for step in definition.checkpoints:
            if step.lecture_topic:
                named.setdefault(step.lecture_topic, []).append((step.title, definition.title))
        c = definition.condition
        if c is not None:
            known = conditions.get(c.icd10)  # two protocols for one condition: one choice
            names = {n.casefold() for n in (c.icd10, protocol_id, c.name.zh, c.name.en)}
            synonyms = names | (known.synonyms if known else set())
            conditions[c.icd10] = ConditionChoice(c.icd10, c.name, frozenset(synonyms))
    topics = [Topic(key, _topic_name(steps)) for key, steps in sorted(named.items())]
    topics.append(Topic(GENERAL_TOPIC, None))
    return Choices(tuple(topics), tuple(conditions.values()), tuple(protocols))


def _topic_name(steps: list[tuple[Text, Text]]) -> Text:
    """A topic in words: the step that names it and its protocol, for each such step."""
    return Text(
        zh="；".join(f"{step.zh}（{protocol.zh}）" for step, protocol in steps),
        en="; ".join(f"{step.en} ({protocol.en})" for step, protocol in steps),
    )


def _checked(session: Session, data: LectureIn) -> LectureIn:
    """The lecture as it is kept: a Chinese title, a topic from the list, and the
    conditions (by ICD-10 code) and protocols the protocols in force name. The first
    problem is refused naming its field."""
    if not data.title_zh:
        raise InvalidInput(N_("enter the lecture's title in Chinese"), field="title_zh")
    choices = lecture_choices(session)
    if choices.topic(data.topic) is None:
        raise InvalidInput(N_("choose the lecture's topic from the list"), field="topic")
    codes = []
    for value in data.conditions:
        condition = choices.condition(value)
        if condition is None:
            raise InvalidInput(
                N_("no protocol names the condition %(value)s: choose conditions from the list"),
                field="conditions", value=value,
            )  # fmt: skip
        codes.append(condition.code)
    for protocol_id in data.protocols:
        if choices.protocol(protocol_id) is None:
            raise InvalidInput(
                N_("there is no protocol %(value)s: choose protocols from the list"),
                field="protocols", value=protocol_id,
            )  # fmt: skip
    return data.model_copy(update={"conditions": list(dict.fromkeys(codes)),
                                   "protocols": list(dict.fromkeys(data.protocols))})  # fmt: skip


def _store_for(session: Session, actor: Actor, store_id: int) -> Store:
    store = session.get(Store, store_id)
    if store is None or not actor.may_see_store(store_id):
        raise NotFound(N_("store %(id)s not found"), field="store_id", id=store_id)
    return store


def create_lecture(session: Session, actor: Actor, data: LectureIn, *, now: datetime) -> Lecture:
    """Store managers schedule lectures for their store; supervisors for any store."""
    require_manager(actor)
    _store_for(session, actor, data.store_id)
    data = _checked(session, data)
    if data.starts_at <= now:
        raise InvalidInput(N_("the lecture must start in the future"), field="starts_at")
    lecture = Lecture(**data.model_dump(), created_by_id=actor.staff_id)
    session.add(lecture)
    session.flush()
    return lecture


def get_lecture(session: Session, actor: Actor, lecture_id: int) -> Lecture:
    """Anyone may see their own store's lectures; supervisors every store's."""
    lecture = session.get(Lecture, lecture_id)
    if lecture is None or not actor.may_see_store(lecture.store_id):
        raise NotFound(N_("lecture %(id)s not found"), field="lecture_id", id=lecture_id)
    return lecture


def _scheduled(lecture: Lecture) -> None:
    if lecture.status is LectureStatus.cancelled:
        raise Conflict(N_("the lecture was cancelled"), field="lecture_id")


def update_lecture(
    session: Session, actor: Actor, lecture_id: int, data: LectureIn, *, now: datetime
) -> Lecture:
    require_manager(actor)
    lecture = _lock_roster(session, actor, lecture_id)
    _scheduled(lecture)
    _store_for(session, actor, data.store_id)
    data = _checked(session, data)
    taken = _count(session, lecture.id, SeatStatus.registered)
    if data.capacity < taken:
        raise InvalidInput(N_("%(taken)s members hold seats: capacity cannot be less"),
                           field="capacity", taken=taken)  # fmt: skip
    for name, value in data.model_dump().items():
        setattr(lecture, name, value)
    _fill_seats(session, lecture, now)  # more seats: the waitlist moves up
    session.flush()
    return lecture


def cancel_lecture(
    session: Session, actor: Actor, lecture_id: int, reason: str, *, now: datetime
) -> list[LectureSeat]:
    """Cancel, releasing everyone registered or waiting; returns whom to tell."""
    require_manager(actor)
    reason = reason.strip()
    if not reason:
        raise InvalidInput(
            N_("say why the lecture is cancelled (members will be told)"), field="reason"
        )
    lecture = _lock_roster(session, actor, lecture_id)
    _scheduled(lecture)
    lecture.status = LectureStatus.cancelled
    lecture.cancelled_at, lecture.cancelled_by_id = now, actor.staff_id
    lecture.cancel_reason = reason
    released = list(session.scalars(_seats(lecture.id, *HOLDING)))
    for seat in released:
        seat.status, seat.ended_at, seat.ended_by_id = SeatStatus.released, now, actor.staff_id
    session.flush()
    return released


def mark_told(
    session: Session, actor: Actor, lecture_id: int, seat_id: int, *, now: datetime
) -> LectureSeat:
    """A released member was told the lecture is off (by phone or at the counter)."""
    seat = _seat(session, actor, lecture_id, seat_id)
    if seat.status is not SeatStatus.released:
        raise Conflict(N_("only members of a cancelled lecture are told"), field="seat_id")
    seat.told_at, seat.told_by_id = now, actor.staff_id
    session.flush()
    return seat


# --- Seats -------------------------------------------------------------------------------


def _lock_roster(session: Session, actor: Actor, lecture_id: int) -> Lecture:
    """The lecture, with its roster locked until the transaction ends.

    The first statement bumps roster_version: on PostgreSQL that takes the row's lock
    (a second registration waits here, then counts the seats the first one took); on
    SQLite it takes the database's write lock before anything is counted, so no
    transaction counts seats from a snapshot another has since changed."""
    bump = (
        update(Lecture)
        .where(Lecture.id == lecture_id)
        .values(roster_version=Lecture.roster_version + 1)
        .execution_options(synchronize_session=False)
    )
    session.execute(bump)
    lecture = get_lecture(session, actor, lecture_id)
    session.refresh(lecture)
    return lecture


def _seats(lecture_id: int, *statuses: SeatStatus) -> Select[LectureSeat]:
    return (
        select(LectureSeat)
        .where(LectureSeat.lecture_id == lecture_id, LectureSeat.status.in_(statuses))
        .order_by(LectureSeat.queued_at, LectureSeat.id)
    )


def _count(session: Session, lecture_id: int, status: SeatStatus) -> int:
    stmt = select(func.count()).where(
        LectureSeat.lecture_id == lecture_id, LectureSeat.status == status
    )
    return int(session.scalar(stmt) or 0)


def _fill_seats(session: Session, lecture: Lecture, now: datetime) -> list[LectureSeat]:
    """Free seats go to the waitlist in order of asking; each promotion is recorded."""
    free = lecture.capacity - _count(session, lecture.id, SeatStatus.registered)
    if free <= 0:
        return []
    promoted = list(session.scalars(_seats(lecture.id, SeatStatus.waitlisted).limit(free)))
    for seat in promoted:
        seat.status, seat.promoted_at = SeatStatus.registered, now
    return promoted


def register(
    session: Session,
    actor: Actor,
    lecture_id: int,
    member_id: int,
    *,
    now: datetime,
    walk_in: bool = False,
) -> LectureSeat:
    """A seat if one is free, else a place on the waitlist. A walk-in is at the door on
    the day: registered and checked in at once, deadline or not."""
    lecture = _lock_roster(session, actor, lecture_id)
    _scheduled(lecture)
    member = get_member(session, actor, member_id)
    if not walk_in and now > lecture.register_by:
        raise Conflict(N_("registration for this lecture has closed"), field="lecture_id")
    if now > lecture.ends_at:
        raise Conflict(N_("the lecture is over"), field="lecture_id")
    seat = session.scalar(
        select(LectureSeat).where(
            LectureSeat.lecture_id == lecture.id, LectureSeat.member_id == member.id
        )
    )
    if seat is not None and seat.status in HOLDING and not walk_in:
        raise Conflict(
            N_("this member is already %(status)s for the lecture"),
            field="member_id",
            status=seat.status,
        )
    free = lecture.capacity > _count(session, lecture.id, SeatStatus.registered)
    status = SeatStatus.registered if free or walk_in else SeatStatus.waitlisted
    if seat is None:
        seat = LectureSeat(lecture_id=lecture.id, member_id=member.id)
        session.add(seat)
    if seat.status is not SeatStatus.registered:  # new, or asking again after cancelling
        seat.status, seat.queued_at, seat.registered_by_id = status, now, actor.staff_id
        seat.ended_at = seat.ended_by_id = seat.promoted_at = None
    seat.walk_in = seat.walk_in or walk_in
    session.flush()
    if walk_in:
        check_in(session, actor, lecture.id, seat.id, now=now)
    return seat


def cancel_seat(
    session: Session, actor: Actor, lecture_id: int, seat_id: int, *, now: datetime
) -> LectureSeat | None:
    """Give up a seat (or a waitlist place); returns whom the freed seat went to."""
    lecture = _lock_roster(session, actor, lecture_id)
    _scheduled(lecture)
    seat = _seat(session, actor, lecture.id, seat_id)
    if seat.status not in HOLDING:
        raise Conflict(N_("this registration is already %(status)s"), field="seat_id",
                       status=seat.status)  # fmt: skip
    if seat.checked_in_at is not None:
        raise Conflict(N_("the member has already checked in"), field="seat_id")
    seat.status, seat.ended_at, seat.ended_by_id = SeatStatus.cancelled, now, actor.staff_id
    session.flush()
    promoted = _fill_seats(session, lecture, now)
    session.flush()
    return promoted[0] if promoted else None


def waitlist_places(session: Session, lecture_id: int) -> dict[int, int]:
    """Each waitlisted seat's place in the queue (1 is next for a free seat), by seat
    id: the order seats are given in (_fill_seats), whoever may see the members."""
    waiting = session.scalars(_seats(lecture_id, SeatStatus.waitlisted))
    return {seat.id: place for place, seat in enumerate(waiting, start=1)}


def waitlist_place(session: Session, seat: LectureSeat) -> int | None:
    """The seat's place on its lecture's waitlist; None when it is not waiting."""
    if seat.status is not SeatStatus.waitlisted:
        return None
    return waitlist_places(session, seat.lecture_id).get(seat.id)


def _seat(session: Session, actor: Actor, lecture_id: int, seat_id: int) -> LectureSeat:
    get_lecture(session, actor, lecture_id)
    seat = session.get(LectureSeat, seat_id)
    if seat is None or seat.lecture_id != lecture_id:
        raise NotFound(N_("registration %(id)s not found"), field="seat_id", id=seat_id)
    get_member(session, actor, seat.member_id)  # someone else's store's member: not found
    return seat


# --- The day -------------------------------------------------------------------------------


def check_in_open(lecture: Lecture, now: datetime) -> bool:
    """Members are checked in on the lecture's day (in the chain's time zone), from
    the morning for those who come early to the end of the day for a sign-in sheet
    typed in after the talk; never on another day, when nobody is at the door."""
    if lecture.status is not LectureStatus.scheduled:
        return False
    day = local_date(now)
    return local_date(lecture.starts_at) <= day <= local_date(lecture.ends_at)


def phase(lecture: Lecture, now: datetime) -> LecturePhase:
    """Where the lecture stands for the people reading about it: still to come, on
    today, held (it has ended), or cancelled."""
    if lecture.status is LectureStatus.cancelled:
        return LecturePhase.cancelled
    if now >= lecture.ends_at:
        return LecturePhase.held
    if check_in_open(lecture, now):
        return LecturePhase.today
    return LecturePhase.upcoming


def mark_reminded(
    session: Session, actor: Actor, lecture_id: int, seat_id: int, *, now: datetime
) -> LectureSeat:
    seat = _seat(session, actor, lecture_id, seat_id)
    if seat.status is not SeatStatus.registered:
        raise Conflict(N_("only registered members are reminded"), field="seat_id")
    seat.reminded_at, seat.reminded_by_id = now, actor.staff_id
    session.flush()
    return seat


def check_in(
    session: Session, actor: Actor, lecture_id: int, seat_id: int, *, now: datetime
) -> LectureSeat:
    """The member is here. A step of theirs that names the lecture's topic, open on the
    day, is completed: recorded as fulfilled by this lecture, late if past its grace."""
    seat = _seat(session, actor, lecture_id, seat_id)
    lecture = get_lecture(session, actor, lecture_id)
    _scheduled(lecture)
    if seat.status is not SeatStatus.registered:
        raise Conflict(
            N_("the member is %(status)s, not registered: register them as a walk-in"),
            field="seat_id",
            status=seat.status,
        )
    if seat.checked_in_at is not None:
        return seat  # a second tap on the same name changes nothing
    if local_date(now) < local_date(lecture.starts_at):
        raise Conflict(N_("check-in opens on the day of the lecture"), field="seat_id")
    if not check_in_open(lecture, now):
        raise Conflict(N_("check-in closed at the end of the lecture's day"), field="seat_id")
    seat.checked_in_at, seat.checked_in_by_id = now, actor.staff_id
    _fulfil_steps(session, actor, lecture, seat.member_id, now)
    session.flush()
    refresh_grades(session, [seat.member_id], actor, now)  # came to a lecture: 40
    return seat


def _fulfil_steps(
    session: Session, actor: Actor, lecture: Lecture, member_id: int, now: datetime
) -> list[Checkpoint]:
    day = local_date(now)
    open_steps = session.scalars(
        select(Checkpoint)
        .join(CarePlan, Checkpoint.plan_id == CarePlan.id)
        .where(
            CarePlan.member_id == member_id,
            CarePlan.status == PlanStatus.active,
            Checkpoint.state == CheckpointState.pending,
            Checkpoint.open_on <= day,
            or_(Checkpoint.missed_on.is_(None), Checkpoint.missed_on > day),
        )
        .order_by(Checkpoint.due_on)
    )
    done = []
    for cp in open_steps:
        if step_of(protocol_of(cp.plan), cp.key).lecture_topic != lecture.topic:
            continue
        result = CheckpointResult(
            recorded_by_id=actor.staff_id or cp.assignee_id,
            recorded_at=now,
            channel=Channel.in_store,
            checklist={},
            adherence=None,
            notes="",
            # The lecture's title only: pages say "attended a health lecture" before it.
            fulfilled_by=lecture.title_zh[:120],
        )
        complete_step(session, cp, result, day)
        complete_if_finished(session, cp.plan, day)
        done.append(cp)
    return done


def find_for_check_in(session: Session, actor: Actor, lecture_id: int, q: str) -> list[LectureSeat]:
    """Seats at the lecture whose member matches a name, phone, card number or pinyin
    initials."""
    get_lecture(session, actor, lecture_id)
    q = q.strip()
    if not q:
        return []
    stmt = (
        select(LectureSeat)
        .join(Member, LectureSeat.member_id == Member.id)
        .where(LectureSeat.lecture_id == lecture_id, member_matches(q))
        .order_by(Member.name, LectureSeat.id)
        .limit(50)
    )
    return list(session.scalars(scope_members(stmt, actor)))


# --- Lists ---------------------------------------------------------------------------------


def roster(session: Session, actor: Actor, lecture_id: int) -> list[LectureSeat]:
    """Every seat of the lecture the actor may see, registered first, then the waitlist
    in order, then those who left."""
    get_lecture(session, actor, lecture_id)
    order = {s: i for i, s in enumerate(SeatStatus)}
    stmt = (
        select(LectureSeat)
        .join(Member, LectureSeat.member_id == Member.id)
        .where(LectureSeat.lecture_id == lecture_id)
        .order_by(LectureSeat.queued_at, LectureSeat.id)
    )
    seats = list(session.scalars(scope_members(stmt, actor)))
    return sorted(seats, key=lambda s: order[s.status])


def to_remind(seats: list[LectureSeat]) -> list[LectureSeat]:
    """Registered and not yet reminded: the calls to make the day before."""
    return [s for s in seats if s.status is SeatStatus.registered and s.reminded_at is None]


def reminder_list(session: Session, actor: Actor, lecture_id: int) -> list[LectureSeat]:
    return to_remind(roster(session, actor, lecture_id))


def list_lectures(
    session: Session, actor: Actor, *, since: datetime, store_id: int | None = None
) -> list[Lecture]:
    """Lectures ending after `since`, soonest first, in the stores the actor may see."""
    stmt = select(Lecture).where(Lecture.ends_at >= since)
    if store_id is not None:
        stmt = stmt.where(Lecture.store_id == store_id)
    if not actor.chain_wide:
        stmt = stmt.where(Lecture.store_id == actor.store_id)
    return list(session.scalars(stmt.order_by(Lecture.starts_at, Lecture.id)))


def seat_counts(session: Session, lecture_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per lecture: registered, waitlisted and checked-in counts."""
    found: dict[int, dict[str, int]] = {i: {} for i in lecture_ids}
    if not lecture_ids:
        return found
    stmt = (
        select(
            LectureSeat.lecture_id,
            LectureSeat.status,
            func.count(),
            func.count(LectureSeat.checked_in_at),
        )
        .where(LectureSeat.lecture_id.in_(lecture_ids))
        .group_by(LectureSeat.lecture_id, LectureSeat.status)
    )
    for lecture_id, status, n, checked in session.execute(stmt):
        found[lecture_id][status.value] = int(n)
        if status is SeatStatus.registered:
            found[lecture_id]["checked_in"] = int(checked)
    return found


# --- Invitations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Audience:
    """Whom to invite: members with any of the conditions or on any of the protocols,
    of a store, in an age band (years, inclusive)."""

    conditions: tuple[str, ...] = ()
    protocols: tuple[str, ...] = ()
    store_id: int | None = None
    min_age: int | None = None
    max_age: int | None = None


def _born_between(today: date, min_age: int | None, max_age: int | None) -> list[Any]:
    terms = []
    if min_age is not None:  # at least min_age today: born on or before this day
        terms.append(Member.birthday <= _years_before(today, min_age))
    if max_age is not None:  # not yet max_age + 1
        terms.append(Member.birthday > _years_before(today, max_age + 1))
    return terms


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _condition_names(session: Session, conditions: tuple[str, ...]) -> set[str]:
    """Every name the archive may use for the conditions asked for. Staff type a
    member's conditions freely, in Chinese or English; a protocol's condition gives the
    synonyms (its id, ICD-10 code, Chinese and English names), so asking for
    "osteoporosis" also finds members whose archive says 骨质疏松."""
    wanted = {c.strip().casefold() for c in conditions}
    for protocol_id, definition in newest_definitions(session).items():
        c = definition.condition
        if c is None:
            continue
        names = {protocol_id, c.icd10, c.name.zh, c.name.en}
        folded = {n.casefold() for n in names}
        if wanted & folded:
            wanted |= folded
    return wanted


def invitation_list(
    session: Session, actor: Actor, lecture_id: int, audience: Audience, *, today: date
) -> list[tuple[Member, LectureInvitation | None]]:
    """Members matching the audience who hold no seat at the lecture, with their
    invitation if they were invited already."""
    lecture = get_lecture(session, actor, lecture_id)
    low, high = audience.min_age, audience.max_age
    if low is not None and high is not None and low > high:
        raise InvalidInput(N_("the age band's low end is above its high end"), field="min_age")
    holding = select(LectureSeat.member_id).where(
        LectureSeat.lecture_id == lecture.id, LectureSeat.status.in_(HOLDING)
    )
    stmt = select(Member).where(Member.id.not_in(holding))
    if audience.store_id is not None:
        stmt = stmt.where(Member.home_store_id == audience.store_id)
    if audience.protocols:
        on_plan = select(CarePlan.member_id).where(
            CarePlan.protocol_id.in_(audience.protocols), CarePlan.status == PlanStatus.active
        )
        stmt = stmt.where(Member.id.in_(on_plan))
    stmt = stmt.where(*_born_between(today, audience.min_age, audience.max_age))
    members = list(session.scalars(scope_members(stmt.order_by(Member.name, Member.id), actor)))
    if audience.conditions:  # a JSON list on both databases: filtered here
        wanted = _condition_names(session, audience.conditions)
        members = [
            m for m in members if wanted & {c.strip().casefold() for c in m.chronic_conditions}
        ]
    invited = {
        i.member_id: i
        for i in session.scalars(
            select(LectureInvitation).where(LectureInvitation.lecture_id == lecture.id)
        )
    }
    return [(m, invited.get(m.id)) for m in members]


# Members are invited by phone or SMS (docs/domain.md), or at the counter when they come in:
# not "visited at home" for a talk.
INVITATION_CHANNELS = (Channel.phone, Channel.message, Channel.in_store)


def mark_invited(
    session: Session,
    actor: Actor,
    lecture_id: int,
    member_ids: list[int],
    channel: Channel,
    *,
    now: datetime,
) -> int:
    """Record invitations (one per member; inviting again keeps the first)."""
    lecture = get_lecture(session, actor, lecture_id)
    _scheduled(lecture)
    if not member_ids:
        raise InvalidInput(N_("choose at least one member"), field="member_ids")
    if channel not in INVITATION_CHANNELS:
        raise InvalidInput(N_("choose a value from the list"), field="invitation_channel")
    already = set(
        session.scalars(
            select(LectureInvitation.member_id).where(
                LectureInvitation.lecture_id == lecture.id,
                LectureInvitation.member_id.in_(member_ids),
            )
        )
    )
    added = 0
    for member_id in dict.fromkeys(member_ids):
        get_member(session, actor, member_id)
        if member_id in already:
            continue
        session.add(
            LectureInvitation(
                lecture_id=lecture.id,
                member_id=member_id,
                channel=channel,
                invited_by_id=actor.staff_id,
                invited_at=now,
            )
        )
        added += 1
    session.flush()
    return added


# --- Numbers -------------------------------------------------------------------------------


@dataclass
class Attendance:
    registered: int = 0
    attended: int = 0

    @property
    def no_shows(self) -> int:
        return self.registered - self.attended

    @property
    def attendance_rate(self) -> float | None:
        return self.attended / self.registered if self.registered else None

    @property
    def no_show_rate(self) -> float | None:
        return self.no_shows / self.registered if self.registered else None


def attendance(
    session: Session, actor: Actor, *, until: datetime, since: datetime | None = None
) -> tuple[dict[int, Attendance], dict[int, Attendance]]:
    """Attendance of the lectures that have ended, per lecture and per store: of those
    holding a seat when it began, how many checked in (walk-ins count as both)."""
    if not actor.chain_wide and actor.store_id is None:
        raise Forbidden(N_("staff without a store see no lecture figures"), field="store_id")
    stmt = (
        select(Lecture.id, Lecture.store_id, func.count(), func.count(LectureSeat.checked_in_at))
        .join(LectureSeat, LectureSeat.lecture_id == Lecture.id)
        .where(
            Lecture.status == LectureStatus.scheduled,
            Lecture.ends_at <= until,
            LectureSeat.status == SeatStatus.registered,
        )
        .group_by(Lecture.id, Lecture.store_id)
    )
    if since is not None:
        stmt = stmt.where(Lecture.starts_at >= since)
    if not actor.chain_wide:
        stmt = stmt.where(Lecture.store_id == actor.store_id)
    per_lecture: dict[int, Attendance] = {}
    per_store: dict[int, Attendance] = {}
    for lecture_id, store_id, registered, attended in session.execute(stmt):
        per_lecture[lecture_id] = Attendance(int(registered), int(attended))
        store = per_store.setdefault(store_id, Attendance())
        store.registered += int(registered)
        store.attended += int(attended)
    return per_lecture, per_store


def days_until(lecture: Lecture, now: datetime) -> int:
    return (local_date(lecture.starts_at) - local_date(now)).days


def reminder_due(lecture: Lecture, now: datetime) -> bool:
    """Reminders go out the day before (or on the day, if that was missed)."""
    return 0 <= days_until(lecture, now) <= 1 and now < lecture.starts_at + timedelta(hours=1)


def member_lectures(session: Session, actor: Actor, member_id: int) -> list[LectureSeat]:
    """Every lecture a member asked for, newest first: what they attended, missed, are
    waiting for, or lost to a cancellation. Lectures of stores the actor may not see
    are left out (a member may have moved stores)."""
    get_member(session, actor, member_id)
    stmt = (
        select(LectureSeat)
        .join(Lecture, LectureSeat.lecture_id == Lecture.id)
        .options(contains_eager(LectureSeat.lecture))
        .where(LectureSeat.member_id == member_id)
        .order_by(Lecture.starts_at.desc(), LectureSeat.id)
    )
    if not actor.chain_wide:
        stmt = stmt.where(Lecture.store_id == actor.store_id)
    return list(session.scalars(stmt))


def open_for_registration(
    session: Session, actor: Actor, member_id: int, *, now: datetime
) -> list[Lecture]:
    """Lectures the member could be registered for now: scheduled, before the deadline,
    in the stores the actor may see, where the member holds no seat."""
    get_member(session, actor, member_id)
    holding = select(LectureSeat.lecture_id).where(
        LectureSeat.member_id == member_id, LectureSeat.status.in_(HOLDING)
    )
    stmt = select(Lecture).where(
        Lecture.status == LectureStatus.scheduled,
        Lecture.register_by >= now,
        Lecture.id.not_in(holding),
    )
    if not actor.chain_wide:
        stmt = stmt.where(Lecture.store_id == actor.store_id)
    return list(session.scalars(stmt.order_by(Lecture.starts_at, Lecture.id)))
