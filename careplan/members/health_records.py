"""Health-check results and effect records — health data, so consent comes first."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from careplan.access import Actor, get_member, rows_of_member
from careplan.errors import N_, InvalidInput, InvalidValue
from careplan.members.archive import require_consent
from careplan.models import EffectRecord, HealthCheck, Member
from careplan.plans.measurements import MEASUREMENTS, implausible
from careplan.vocab import HealthCheckSource

# Clocks on store tablets drift; a reading a few minutes "in the future" is not an error.
CLOCK_SKEW = timedelta(minutes=10)


class HealthCheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str
    values: dict[str, float]
    measured_at: datetime | None = None  # default: now
    source: HealthCheckSource = HealthCheckSource.in_store
    note: str = Field(default="", max_length=500)

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        if value not in MEASUREMENTS:
            raise InvalidValue(N_("unknown kind %(kind)s (known: %(known)s)"), kind=value,
                               known=sorted(MEASUREMENTS))  # fmt: skip
        return value

    @field_validator("measured_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise InvalidValue(N_("give a time zone (e.g. +08:00)"))
        return value

    @model_validator(mode="after")
    def _plausible(self) -> HealthCheckIn:
        m = MEASUREMENTS[self.kind]
        wanted = {c.key for c in m.components}
        if set(self.values) != wanted:
            raise InvalidValue(N_("%(kind)s takes values %(wanted)s"), kind=self.kind,
                               wanted=sorted(wanted))  # fmt: skip
        c = implausible(self.kind, self.values)
        if c is not None:
            v = self.values[c.key]
            raise InvalidValue(
                N_("%(value)s %(unit)s is outside the plausible range %(low)s-%(high)s"),
                field=f"values.{c.key}",
                value=f"{v:g}",
                unit=m.unit,
                low=f"{c.low:g}",
                high=f"{c.high:g}",
            )
        return self


class EffectIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    before: str = Field(default="", max_length=4000)
    after: str = Field(default="", max_length=4000)
    rating: int | None = Field(default=None, ge=1, le=5)
    side_effects: str = Field(default="", max_length=4000)
    member_words: str = Field(default="", max_length=4000)
    testimonial_consent: bool = False
    testimonial_consent_on: date | None = None
    note: str = Field(default="", max_length=500)

    @model_validator(mode="after")
    def _something_said(self) -> EffectIn:
        if not (self.before or self.after or self.side_effects or self.member_words or self.rating):
            raise InvalidValue(
                N_(
                    "an effect record needs at least one of: before, after, a rating, side "
                    "effects or the member's own words"
                )
            )
        if self.testimonial_consent and self.testimonial_consent_on is None:
            raise InvalidValue(N_("the date the agreement was signed"),
                               field="testimonial_consent_on")  # fmt: skip
        return self


def add_health_check(
    session: Session,
    actor: Actor,
    member: Member,
    data: HealthCheckIn,
    *,
    now: datetime,
    checkpoint_id: int | None = None,
) -> HealthCheck:
    require_consent(member)
    measured_at = data.measured_at or now
    if measured_at > now + CLOCK_SKEW:
        raise InvalidInput(N_("cannot be in the future"), field="measured_at")
    m = MEASUREMENTS[data.kind]
    row = HealthCheck(
        member_id=member.id,
        checkpoint_id=checkpoint_id,
        kind=data.kind,
        values=dict(data.values),
        unit=m.unit,
        loinc=m.loinc,
        measured_at=measured_at,
        source=data.source,
        recorded_by_id=actor.staff_id or member.owner_id,
        recorded_at=now,
        note=data.note,
    )
    session.add(row)
    session.flush()
    return row


def add_effect(
    session: Session,
    actor: Actor,
    member: Member,
    data: EffectIn,
    *,
    now: datetime,
    plan_id: int | None = None,
    checkpoint_id: int | None = None,
) -> EffectRecord:
    require_consent(member)
    row = EffectRecord(
        member_id=member.id,
        plan_id=plan_id,
        checkpoint_id=checkpoint_id,
        recorded_by_id=actor.staff_id or member.owner_id,
        recorded_at=now,
        **data.model_dump(),
    )
    session.add(row)
    session.flush()
    return row


def record_health_check(
    session: Session, actor: Actor, member_id: int, data: HealthCheckIn, *, now: datetime
) -> HealthCheck:
    return add_health_check(session, actor, get_member(session, actor, member_id), data, now=now)


def record_effect(
    session: Session, actor: Actor, member_id: int, data: EffectIn, *, now: datetime
) -> EffectRecord:
    return add_effect(session, actor, get_member(session, actor, member_id), data, now=now)


def health_checks_of(
    session: Session, actor: Actor, member_id: int, kind: str | None = None
) -> list[HealthCheck]:
    get_member(session, actor, member_id)
    stmt = select(HealthCheck).where(HealthCheck.member_id == member_id)
    if kind is not None:
        stmt = stmt.where(HealthCheck.kind == kind)
    return list(session.scalars(stmt.order_by(HealthCheck.measured_at, HealthCheck.id)))


def effects_of(session: Session, actor: Actor, member_id: int) -> list[EffectRecord]:
    order = (EffectRecord.recorded_at, EffectRecord.id)
    return rows_of_member(session, actor, EffectRecord, member_id, *order)
