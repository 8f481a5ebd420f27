"""The member archive: create, edit, search, verify, consent, and ownership changes."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from careplan import clock
from careplan.access import (
    Actor,
    get_member,
    may_hand_over_members_of,
    may_see_staff,
    require_manage_staff,
    require_manager,
    rows_of_member,
    scope_members,
)
from careplan.clock import local_date
from careplan.errors import N_, Conflict, Forbidden, InvalidInput, InvalidValue
from careplan.members.pinyin import name_initials
from careplan.models import CarePlan, Checkpoint, Member, Ownership, Staff
from careplan.validation import is_whole_number, left_out
from careplan.value.grades import refresh_grades
from careplan.vocab import CheckpointState, GradeCause, OwnershipReason, Role, Sex

# Mainland mobile numbers: 11 digits starting 13-19, optionally with +86.
MOBILE = re.compile(r"^(?:\+?86)?1[3-9]\d{9}$", re.ASCII)  # not "١٣٨…"
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
OWNER_ROLES = frozenset({Role.clerk, Role.pharmacist, Role.store_manager})
HEALTH_FIELDS = (
    "medical_history",
    "drug_allergies",
    "regular_medicines",
    "chronic_conditions",
    "health_status",
)

Short = Annotated[str, Field(min_length=1, max_length=80)]


class Medicine(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: Short
    dose: str = Field(default="", max_length=80)
    schedule: str = Field(default="", max_length=120)


# The field below is named `date`: inside its class the name no longer means the type.
CalendarDate = date


class SpecialDate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    kind: Literal["wedding_anniversary", "spouse_birthday", "other"]
    date: CalendarDate
    note: str = Field(default="", max_length=120)

    @field_serializer("date")
    def _as_text(self, value: CalendarDate) -> str:
        # Kept in a JSON column, which holds no date: as ISO text, as it is read back.
        return value.isoformat()


class MemberFields(BaseModel):
    """Every archive field; on an update only the fields sent are changed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    # Never empty in the archive: may be left out, not sent as null.
    name: str = left_out(min_length=1, max_length=80)
    language: Literal["zh", "en"] = left_out()
    sex: Sex | None = None
    birthday: date | None = None
    mobile: str | None = Field(default=None, max_length=20)
    landline: str | None = Field(default=None, max_length=32, pattern=r"^[0-9+\- ()]{5,32}$")
    email: str | None = Field(default=None, max_length=254)
    address: str | None = Field(default=None, max_length=255)
    residential_area: str | None = Field(default=None, max_length=80)
    # Lists are never null either: [] empties one.
    medical_history: list[Short] = left_out(max_length=50)
    drug_allergies: list[Short] = left_out(max_length=50)
    regular_medicines: list[Medicine] = left_out(max_length=50)
    chronic_conditions: list[Short] = left_out(max_length=30)
    consumption_feedback: str | None = Field(default=None, max_length=4000)
    employer: str | None = Field(default=None, max_length=120)
    position: str | None = Field(default=None, max_length=80)
    health_status: str | None = Field(default=None, max_length=255)
    habits: str | None = Field(default=None, max_length=4000)
    diet: str | None = Field(default=None, max_length=4000)
    exercise: str | None = Field(default=None, max_length=4000)
    hobbies: list[Short] = left_out(max_length=30)
    education: str | None = Field(default=None, max_length=40)
    income_band: str | None = Field(default=None, max_length=40)
    marital_status: str | None = Field(default=None, max_length=40)
    special_dates: list[SpecialDate] = left_out(max_length=20)
    # Who referred the member (推荐人), by their card number; None or "" clears it.
    referred_by_card: str | None = Field(default=None, max_length=32)

    @field_validator("mobile")
    @classmethod
    def _mobile(cls, value: str | None) -> str | None:
        if value is None:
            return None
        digits = re.sub(r"[\s-]", "", value)
        if not MOBILE.match(digits):
            raise InvalidValue(N_("not a mainland mobile number (11 digits starting 13-19)"))
        return digits[-11:]

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not EMAIL.match(value):
            raise InvalidValue(N_("not an email address"))
        return value

    @field_validator("birthday")
    @classmethod
    def _birthday(cls, value: date | None) -> date | None:
        # "Today" is the chain's day (careplan.clock), not the server's.
        if value is not None and not date(1900, 1, 1) <= value <= clock.today():
            raise InvalidValue(N_("must be a date between 1900 and today"))
        return value


class MemberCreate(MemberFields):
    name: str = Field(min_length=1, max_length=80)
    card_number: str = Field(min_length=4, max_length=32, pattern=r"^[A-Za-z0-9-]+$")
    home_store_id: int | None = None  # default: the registering staff member's store
    owner_id: int | None = None  # default: whoever registers the member
    health_consent: bool = False


def _health_data_given(values: dict[str, object]) -> bool:
    return any(values.get(f) for f in HEALTH_FIELDS)


def may_own_members(staff: Staff) -> bool:
    """Who can be given members: active store staff (not head office)."""
    return staff.active and staff.role in OWNER_ROLES


def check_owner(
    session: Session, owner_id: int, store_id: int, *, field: str = "owner_id"
) -> Staff:
    owner = session.get(Staff, owner_id)
    if owner is None or not owner.active:
        raise InvalidInput(N_("staff %(id)s is not an active staff member"), field=field,
                           id=owner_id)  # fmt: skip
    if not may_own_members(owner) or owner.store_id != store_id:
        raise InvalidInput(N_("must be store staff of the member's home store"), field=field)
    return owner


def create_member(session: Session, actor: Actor, data: MemberCreate, *, now: datetime) -> Member:
    store_id = data.home_store_id or actor.store_id
    if store_id is None or not actor.may_see_store(store_id):
        raise InvalidInput(N_("choose the member's home store"), field="home_store_id")
    owner_id = data.owner_id or actor.staff_id
    if owner_id is None:
        raise InvalidInput(N_("choose the staff member who owns this member"), field="owner_id")
    check_owner(session, owner_id, store_id)
    _card_is_free(session, actor, data.card_number)
    values = data.model_dump(
        exclude={"home_store_id", "owner_id", "health_consent", "referred_by_card"},
        exclude_none=True,
    )
    if _health_data_given(values) and not data.health_consent:
        raise InvalidInput(N_("health data needs the member's consent first"),
                           field="health_consent")  # fmt: skip
    member = Member(
        home_store_id=store_id, owner_id=owner_id, name_initials=name_initials(data.name), **values
    )
    if data.health_consent:
        _consent(member, actor, now)
    # Registering is verifying, on the chain's day: 07:30 in Shanghai is 23:30 UTC the
    # day before, and "last verified yesterday" would be wrong.
    member.last_verified_on = local_date(now)
    session.add(member)
    session.flush()
    session.add(
        Ownership(
            member_id=member.id,
            staff_id=owner_id,
            started_at=now,
            reason=OwnershipReason.registered,
            changed_by_id=actor.staff_id,
        )
    )
    session.flush()
    if data.referred_by_card:
        refer(session, actor, member, data.referred_by_card, now=now)
    return member


def _card_is_free(session: Session, actor: Actor, card_number: str) -> None:
    """Card numbers are unique across the chain, but which cards another store has is not
    this store's business: a card registered elsewhere is refused without saying so."""
    holder = session.scalar(select(Member).where(Member.card_number == card_number))
    if holder is None:
        return
    if actor.may_see_store(holder.home_store_id):
        raise Conflict(N_("card number %(card)s is already registered"), field="card_number",
                       card=card_number)  # fmt: skip
    raise Conflict(N_("this card number cannot be registered here: check the card, or ask "
                   "head office"), field="card_number")  # fmt: skip


def require_not_erased(member: Member) -> None:
    """An anonymised member is a row that keeps counts right, not a person to record."""
    if member.erased_at is not None:
        raise Conflict(N_("the member's personal data was erased: nothing new is recorded"),
                       field="member")  # fmt: skip


def require_alive(member: Member) -> None:
    """A member whose death was recorded gets no new plan."""
    if member.died_on is not None:
        raise Conflict(
            N_("the member died on %(day)s: no new plan is started"),
            field="member_id",
            day=member.died_on,
        )


def clear_phone_flag(member: Member) -> None:
    """A mobile saved, or the archive confirmed with the member: the phone is good."""
    member.phone_flagged_at = member.phone_flagged_by_id = None


def update_member(
    session: Session,
    actor: Actor,
    member_id: int,
    data: MemberFields,
    *,
    now: datetime | None = None,
) -> Member:
    member = get_member(session, actor, member_id)
    require_not_erased(member)
    values = data.model_dump(exclude_unset=True)
    if "referred_by_card" in values:
        refer(session, actor, member, values.pop("referred_by_card"), now=now or clock.now())
    if _health_data_given(values) and not member.health_consent:
        raise InvalidInput(N_("health data needs the member's consent first"),
                           field="health_consent")  # fmt: skip
    for key, value in values.items():
        setattr(member, key, value)
    if "name" in values:
        member.name_initials = name_initials(member.name)
    if values.get("mobile"):
        clear_phone_flag(member)
    session.flush()
    return member


def _referrer(session: Session, member: Member, card: str) -> Member:
    """The member a card names as this member's referrer: another member of the chain
    (any store: a friend may shop elsewhere), who was not referred by this one, directly
    or through others."""
    referrer = session.scalar(select(Member).where(Member.card_number == card))
    if referrer is None or referrer.erased_at is not None:
        raise InvalidInput(N_("no member has this card number"), field="referred_by_card")
    if referrer.id == member.id:
        raise InvalidInput(N_("a member cannot refer themselves"), field="referred_by_card")
    seen, up = {referrer.id}, referrer.referred_by_id
    while up is not None and up not in seen:  # a chain of referrers is short
        if up == member.id:
            raise InvalidInput(
                N_("this member referred %(card)s (directly or through others): the "
                   "referral would go round in a circle"),
                field="referred_by_card",
                card=card,
            )  # fmt: skip
        seen.add(up)
        up = session.scalar(select(Member.referred_by_id).where(Member.id == up))
    return referrer


def refer(
    session: Session, actor: Actor, member: Member, card: str | None, *, now: datetime
) -> None:
    """Record (or clear, with no card) who referred the member; the referrer's grade
    moves now (a member they referred is the 60 level's fact), as does a former one's."""
    card = (card or "").strip()
    referrer = _referrer(session, member, card) if card else None
    before = member.referred_by_id
    member.referred_by_id = referrer.id if referrer else None
    if before == member.referred_by_id:
        return
    session.flush()
    moved = [i for i in (before, member.referred_by_id) if i is not None]
    refresh_grades(session, moved, actor, now, cause=GradeCause.referral)


def referred_by(session: Session, member_id: int) -> list[Member]:
    """The members this member referred, by name."""
    stmt = select(Member).where(Member.referred_by_id == member_id).order_by(Member.name)
    return list(session.scalars(stmt))


# The version of the consent form's text the member signs; a new text, a new version.
CONSENT_TEXT = "2026-11"


def _consent(member: Member, actor: Actor, now: datetime) -> None:
    member.health_consent = True
    member.health_consent_at = now
    member.health_consent_by_id = actor.staff_id
    member.health_consent_text = CONSENT_TEXT
    member.health_consent_withdrawn_at = member.health_consent_withdrawn_by_id = None


def give_health_consent(session: Session, actor: Actor, member_id: int, *, now: datetime) -> Member:
    member = get_member(session, actor, member_id)
    require_not_erased(member)
    _consent(member, actor, now)
    session.flush()
    return member


def require_consent(member: Member) -> None:
    require_not_erased(member)
    if member.health_consent:
        return
    if member.health_consent_withdrawn_at is not None:
        raise InvalidInput(
            N_("the member withdrew consent to health-data processing: nothing new is recorded"),
            field="health_consent",
        )
    raise InvalidInput(
        N_("the member has not consented to health-data processing"), field="health_consent"
    )


def mark_verified(session: Session, actor: Actor, member_id: int, *, today: date) -> Member:
    """'Is your phone still ...?' — the archive was confirmed with the member today."""
    member = get_member(session, actor, member_id)
    member.last_verified_on = today
    clear_phone_flag(member)
    session.flush()
    return member


def member_matches(q: str) -> ColumnElement[bool]:
    """Name, mobile or landline digits, card number, or pinyin initials ("wxy")."""
    like = f"%{q}%"
    clauses = [Member.name.ilike(like), Member.card_number.ilike(like)]
    digits = re.sub(r"[\s-]", "", q)
    if is_whole_number(digits, longest=20):
        clauses += [Member.mobile.like(f"%{digits}%"), Member.landline.like(like)]
    if re.fullmatch(r"[A-Za-z]{1,20}", q):
        initials = q.lower()
        clauses += [
            Member.name_initials.like(f"{initials}%"),
            Member.name_initials.like(f"% {initials}%"),
        ]
    return or_(*clauses)


def member_names(session: Session, member_ids: Iterable[int]) -> dict[int, str]:
    """Member names for a page's list, in one query (the caller already saw the rows)."""
    ids = set(member_ids)
    if not ids:
        return {}
    stmt = select(Member.id, Member.name).where(Member.id.in_(ids))
    return {i: n for i, n in session.execute(stmt)}


def search_members(
    session: Session,
    actor: Actor,
    *,
    q: str | None = None,
    store_id: int | None = None,
    owner_id: int | None = None,
    grades: Iterable[int] = (),
    limit: int = 50,
    offset: int = 0,
) -> list[Member]:
    """Members matching the words (all of them without), of a store or owner, of one of
    the relationship grades (ix_members_store_grade serves a store's)."""
    stmt = scope_members(select(Member), actor)
    if chosen := sorted(set(grades)):
        stmt = stmt.where(Member.relationship_grade.in_(chosen))
    if q and q.strip():
        stmt = stmt.where(member_matches(q.strip()))
    if store_id is not None:
        stmt = stmt.where(Member.home_store_id == store_id)
    if owner_id is not None:
        stmt = stmt.where(Member.owner_id == owner_id)
    return list(session.scalars(stmt.order_by(Member.name, Member.id).limit(limit).offset(offset)))


# What a complete archive has, by part (docs/domain.md: the four-part 会员档案). Empty lists
# count as unknown: staff write "无" when the member has none.
PROFILE_FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "personal",
        (
            "sex",
            "birthday",
            "mobile",
            "address",
            "residential_area",
            "medical_history",
            "drug_allergies",
            "regular_medicines",
            "chronic_conditions",
        ),
    ),
    ("consumption", ("consumption_feedback",)),
    ("occupation", ("employer", "position", "health_status")),
    ("lifestyle", ("habits", "diet", "exercise", "hobbies")),
)


@dataclass(frozen=True)
class Completeness:
    percent: int
    missing: tuple[str, ...]


def completeness(member: Member) -> Completeness:
    """How much of the archive is filled in: cashiers complete a few profiles a day."""
    fields = [f for _, group in PROFILE_FIELDS for f in group]
    missing = tuple(f for f in fields if getattr(member, f) in (None, "", []))
    return Completeness(round(100 * (len(fields) - len(missing)) / len(fields)), missing)


def stale(member: Member, today: date, days: int = 180) -> bool:
    """Not confirmed with the member for half a year: phone and address may be out of date."""
    return member.last_verified_on is None or (today - member.last_verified_on).days > days


def members_with_mobile(
    session: Session, actor: Actor, mobile: str, *, exclude_id: int | None = None
) -> list[Member]:
    """Members registered with this mobile: likely the same person registered twice."""
    stmt = scope_members(select(Member), actor).where(Member.mobile == mobile)
    if exclude_id is not None:
        stmt = stmt.where(Member.id != exclude_id)
    return list(session.scalars(stmt.order_by(Member.id)))


def same_mobile(session: Session, actor: Actor, member: Member) -> list[int]:
    """Other members with this member's mobile."""
    if not member.mobile:
        return []
    return [m.id for m in members_with_mobile(session, actor, member.mobile, exclude_id=member.id)]


def ownership_history(session: Session, actor: Actor, member_id: int) -> list[Ownership]:
    return rows_of_member(session, actor, Ownership, member_id, Ownership.started_at, Ownership.id)


def reassign_member(
    session: Session,
    actor: Actor,
    member_id: int,
    new_owner_id: int,
    *,
    reason: OwnershipReason = OwnershipReason.reassigned,
    note: str = "",
    now: datetime,
) -> Member:
    """Hand a member to another staff member; their open steps go along, with history."""
    member = get_member(session, actor, member_id)  # out of sight is 404, before 403
    require_manager(actor)
    if reason in COVER_REASONS:
        raise InvalidInput(
            N_("a holiday cover is given for all of a person's members, with an end date"),
            field="reason",
        )
    if new_owner_id == member.owner_id:
        raise InvalidInput(N_("the member already belongs to that staff member"), field="owner_id")
    check_owner(session, new_owner_id, member.home_store_id)
    _move(session, actor, member, new_owner_id, reason, note, now)
    session.flush()
    return member


def _move(
    session: Session,
    actor: Actor,
    member: Member,
    new_owner_id: int,
    reason: OwnershipReason,
    note: str,
    now: datetime,
) -> Ownership:
    current = session.scalar(
        select(Ownership).where(Ownership.member_id == member.id, Ownership.ended_at.is_(None))
    )
    if current is not None:
        current.ended_at = now
    ownership = Ownership(
        member_id=member.id,
        staff_id=new_owner_id,
        started_at=now,
        reason=reason,
        note=note,
        changed_by_id=actor.staff_id,
    )
    session.add(ownership)
    member.owner_id = new_owner_id
    open_steps = (
        select(Checkpoint)
        .join(CarePlan, Checkpoint.plan_id == CarePlan.id)
        .where(
            CarePlan.member_id == member.id,
            Checkpoint.state.in_([CheckpointState.pending, CheckpointState.paused]),
        )
    )
    today = local_date(now)
    for checkpoint in session.scalars(open_steps):
        _hand_step_over(checkpoint, new_owner_id, today)
    return ownership


def _hand_step_over(checkpoint: Checkpoint, new_owner_id: int, today: date) -> None:
    """A step already overdue is inherited: the days before today were its previous
    holder's, and the worklist and the audit say so."""
    if checkpoint.assignee_id == new_owner_id:
        return
    if checkpoint.state is CheckpointState.pending and checkpoint.overdue_on <= today:
        checkpoint.inherited_from_id, checkpoint.inherited_on = checkpoint.assignee_id, today
    else:
        checkpoint.inherited_from_id, checkpoint.inherited_on = None, None
    checkpoint.assignee_id = new_owner_id


def reassign_all(
    session: Session,
    actor: Actor,
    from_staff_id: int,
    to_staff_id: int,
    *,
    staff_left: bool,
    note: str = "",
    now: datetime,
    until: date | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """All members of one staff member (e.g. a departing clerk) to another, in one go:
    one transaction, so a process killed part-way moves nobody. With `staff_left` the
    person's account is closed too (in the change log, as every account change is).
    With `until` it is a holiday cover: the members go back the day after (end_covers)."""
    require_manager(actor)
    _check_cover(until, staff_left, now)
    leaving = _staff_in_sight(session, actor, from_staff_id, "from_staff_id")
    if staff_left:
        require_manage_staff(actor, leaving, field="from_staff_id")
    elif not may_hand_over_members_of(actor, leaving):
        raise Forbidden(N_("you may not hand over this person's members"), field="from_staff_id")
    if from_staff_id == to_staff_id:
        raise InvalidInput(N_("choose a different staff member to take over"), field="to_staff_id")
    taker = _staff_in_sight(session, actor, to_staff_id, "to_staff_id")
    if leaving.store_id is not None:
        # Checked before any member moves, so a leaver with no members is refused too.
        check_owner(session, taker.id, leaving.store_id, field="to_staff_id")
    members = list(session.scalars(select(Member).where(Member.owner_id == from_staff_id)))
    reason = OwnershipReason.staff_left if staff_left else OwnershipReason.reassigned
    if until is not None:
        reason = OwnershipReason.cover
    for n, member in enumerate(members, start=1):
        check_owner(session, to_staff_id, member.home_store_id, field="to_staff_id")
        ownership = _move(session, actor, member, to_staff_id, reason, note, now)
        if until is not None:
            ownership.cover_until, ownership.returns_to_id = until, from_staff_id
        if progress is not None and n % 100 == 0:
            session.flush()  # the count shown is of moves made, not only queued
            progress(n)
    if staff_left:
        leaving.active = False
        leaving.left_on = now
    session.flush()
    return len(members)


COVER_REASONS = frozenset({OwnershipReason.cover, OwnershipReason.cover_ended})


def _check_cover(until: date | None, staff_left: bool, now: datetime) -> None:
    if until is None:
        return
    if staff_left:
        raise InvalidInput(
            N_("a holiday cover ends; for someone who left, leave the end date empty"),
            field="until",
        )
    if until < local_date(now):
        raise InvalidInput(N_("the cover's last day cannot be in the past"), field="until")


@dataclass(frozen=True)
class Cover:
    """A holiday cover in force: whose members, who has them, the last day, how many."""

    owner_id: int
    taker_id: int
    until: date
    members: int


def covers_in_force(session: Session, actor: Actor, store_id: int) -> list[Cover]:
    stmt = scope_members(
        select(Ownership.returns_to_id, Ownership.staff_id, Ownership.cover_until,
               func.count(Ownership.id))
        .join(Member, Ownership.member_id == Member.id),
        actor,
    ).where(*_open_covers(), Member.home_store_id == store_id).group_by(
        Ownership.returns_to_id, Ownership.staff_id, Ownership.cover_until
    )  # fmt: skip
    rows = session.execute(stmt.order_by(Ownership.cover_until)).all()
    # Open covers always say whose members they are and until when (_open_covers).
    return [
        Cover(owner, taker, until, n)
        for owner, taker, until, n in rows
        if owner is not None and until is not None
    ]


def _open_covers() -> list[ColumnElement[bool]]:
    return [
        Ownership.reason == OwnershipReason.cover,
        Ownership.ended_at.is_(None),
        Ownership.cover_until.is_not(None),
    ]


def end_covers(
    session: Session,
    actor: Actor,
    *,
    now: datetime,
    returning_to: int | None = None,
) -> int:
    """Members whose holiday cover is over go back to their owner, with their open steps
    (their history shows the cover and the return). Run daily (`careplan staff
    end-covers`, from cron); a manager may end one person's covers early
    (`returning_to`: they came back sooner). Members an owner can no longer take (they
    left meanwhile) stay with whoever covered them: the cover then has no end."""
    if returning_to is None:
        due = Ownership.cover_until < local_date(now)
    else:
        require_manager(actor)
        owner = _staff_in_sight(session, actor, returning_to, "staff_id")
        if not may_hand_over_members_of(actor, owner):
            raise Forbidden(N_("you may not hand over this person's members"), field="staff_id")
        due = Ownership.returns_to_id == returning_to
    stmt = scope_members(
        select(Ownership, Member).join(Member, Ownership.member_id == Member.id), actor
    ).where(*_open_covers(), due)
    back = 0
    for ownership, member in session.execute(stmt.order_by(Ownership.id)).all():
        owner_id = ownership.returns_to_id
        returning = session.get(Staff, owner_id) if owner_id is not None else None
        if (
            returning is None
            or not may_own_members(returning)
            or (returning.store_id != member.home_store_id)
        ):
            ownership.cover_until = None
            continue
        _move(session, actor, member, returning.id, OwnershipReason.cover_ended, "", now)
        back += 1
    session.flush()
    return back


def _staff_in_sight(session: Session, actor: Actor, staff_id: int, field: str) -> Staff:
    staff = session.get(Staff, staff_id)
    if staff is None or not may_see_staff(actor, staff):
        raise InvalidInput(N_("staff %(id)s not found"), field=field, id=staff_id)
    return staff


def count_members(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Member)) or 0


def reassign_members(
    session: Session,
    actor: Actor,
    member_ids: list[int],
    new_owner_id: int,
    *,
    note: str = "",
    now: datetime,
) -> int:
    """Several members to one staff member, all or none (one transaction)."""
    if not member_ids:
        raise InvalidInput(N_("choose at least one member"), field="members")
    moved = 0
    for member_id in dict.fromkeys(member_ids):
        member = get_member(session, actor, member_id)
        if member.owner_id != new_owner_id:
            reassign_member(session, actor, member_id, new_owner_id, note=note, now=now)
            moved += 1
    return moved


def owner_counts(session: Session, actor: Actor, store_id: int) -> dict[int, int]:
    """Members per owner in a store: is anyone carrying far more than ~100?"""
    stmt = (
        scope_members(select(Member.owner_id, func.count(Member.id)), actor)
        .where(Member.home_store_id == store_id)
        .group_by(Member.owner_id)
    )
    return {owner: n for owner, n in session.execute(stmt).all()}


def recent_handovers(
    session: Session, actor: Actor, store_id: int, *, limit: int = 30
) -> list[tuple[Ownership, Member]]:
    stmt = scope_members(
        select(Ownership, Member).join(Member, Ownership.member_id == Member.id), actor
    ).where(Member.home_store_id == store_id, Ownership.reason != OwnershipReason.registered)
    rows = session.execute(
        stmt.order_by(Ownership.started_at.desc(), Ownership.id.desc()).limit(limit)
    )
    return [(o, m) for o, m in rows.all()]
