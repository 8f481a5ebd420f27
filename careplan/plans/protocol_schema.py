"""The shape of a care protocol (what protocols/*.yaml may say), as frozen pydantic models.

protocols/README.md documents every field; `careplan.plans.protocols` reads the files.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from careplan.errors import N_, InvalidValue
from careplan.plans.measurements import MEASUREMENTS
from careplan.vocab import DRUG_CLASSES, Channel, MessageChannel, Role, StopReason

Key = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")]
# A routine contact's key: `<key_prefix>_<MM>_<n>` (routine_01_3, call_02_1, visit_01_2).
ROUTINE_KEY = re.compile(r"^(?P<prefix>[a-z][a-z0-9_]*)_(?P<month>[0-9]{2,})_(?P<number>[0-9]+)$")


def routine_key_parts(key: str) -> tuple[str, int, int] | None:
    """A routine key's series prefix, month and number; None for any other key. The one
    reading of routine keys: the step's name, its definition and its messages ask it."""
    found = ROUTINE_KEY.match(key)
    if found is None:
        return None
    return found["prefix"], int(found["month"]), int(found["number"])


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(Frozen):
    """Every text a pharmacist or member reads exists in Chinese and English."""

    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def get(self, language: str) -> str:
        return self.en if language == "en" else self.zh


class Condition(Frozen):
    icd10: str = Field(pattern=r"^[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?$")
    name: Text


class ChecklistItem(Frozen):
    key: Key
    text: Text


class Escalation(Frozen):
    role: Role
    due_days: int = Field(ge=0, le=60)
    action: Text


class Defaults(Frozen):
    grace_days: int = Field(default=3, ge=0, le=60)
    expiry_days: int | None = Field(default=None, ge=0, le=365)
    channels: tuple[Channel, ...] = tuple(Channel)
    reanchor: bool = False


class Remind(Frozen):
    """A message to the member N days before the step is due (the outbox's build)."""

    days_before: int = Field(ge=1, le=30)
    channel: MessageChannel = MessageChannel.sms
    template: Key = "step_reminder"


class Nudge(Frozen):
    """A message once the step has been overdue N days, unless it is done by then."""

    after_overdue_days: int = Field(ge=1, le=60)
    channel: MessageChannel = MessageChannel.sms
    template: Key = "step_nudge"


# Fields added after protocols were published: left out of the content hash while
# unset, so a published version's hash stays what it was.
LATER_FIELDS = ("remind", "nudge", "every_days", "at_end")
# The same for the protocol's own fields: left out of the hash while at their default.
LATER_PROTOCOL_FIELDS = {"health_data": True}


class StepCommon(Frozen):
    title: Text
    guidance: Text
    checklist: tuple[ChecklistItem, ...] = ()
    measurements: tuple[str, ...] = ()
    channels: tuple[Channel, ...] | None = None
    grace_days: int | None = Field(default=None, ge=0, le=60)
    expiry_days: int | None = Field(default=None, ge=0, le=365)
    # "If the N contacts before this one were all by phone, this one must be a home visit."
    home_visit_after_phone: int | None = Field(default=None, ge=1, le=5)
    # Attending a health lecture on this topic fulfils the step (checked in = done).
    lecture_topic: Key | None = None
    # The step asks for an effect record (before/after, the member's words): the form
    # opens that part; elsewhere it stays folded, an optional extra (docs/domain.md).
    effect_record: bool = False
    remind: Remind | None = None
    nudge: Nudge | None = None

    @field_validator("measurements")
    @classmethod
    def _known_measurements(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for kind in value:
            if kind not in MEASUREMENTS:
                raise InvalidValue(N_("unknown measurement '%(kind)s' (known: %(known)s)"),
                                   kind=kind, known=", ".join(sorted(MEASUREMENTS)))  # fmt: skip
        return value

    @field_validator("checklist")
    @classmethod
    def _unique_items(cls, value: tuple[ChecklistItem, ...]) -> tuple[ChecklistItem, ...]:
        keys = [item.key for item in value]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise InvalidValue(N_("checklist item key '%(key)s' is used twice"), key=dupes[0])
        return value


class Refill(Frozen):
    """Anchor a step to the day the member's supply of a class runs out."""

    drug_class: Key
    days_before: int = Field(default=3, ge=0, le=60)


class Step(StepCommon):
    key: Key
    day: int | None = Field(default=None, ge=0, le=3660)
    week: int | None = Field(default=None, ge=1, le=520)
    month: int | None = Field(default=None, ge=1, le=120)
    opens_days_before: int = Field(default=0, ge=0, le=60)
    reanchor: bool | None = None
    # Until the member has bought the class, day/week/month gives the date; then the
    # step falls due `days_before` the supply runs out, and each purchase moves it.
    refill: Refill | None = None

    @model_validator(mode="after")
    def _one_offset(self) -> Step:
        given = [n for n in ("day", "week", "month") if getattr(self, n) is not None]
        if len(given) != 1:
            raise InvalidValue(N_("give exactly one of day, week or month"))
        if self.week is not None and self.opens_days_before:
            raise InvalidValue(
                N_("opens_days_before does not apply to week steps (a week is its window)")
            )
        return self


class Routine(StepCommon):
    """A repeating series after the last fixed step: `per_month` contacts in each month,
    or one every `every_days` days. A tail is one series or several (calls and visits)."""

    key_prefix: Key = "routine"
    per_month: int | None = Field(default=None, ge=1, le=8)
    every_days: int | None = Field(default=None, ge=1, le=92)
    # One contact on the plan's last day (e.g. "review the outlook" when a plan runs out).
    at_end: bool = False

    @model_validator(mode="after")
    def _one_rhythm(self) -> Routine:
        given = [self.per_month is not None, self.every_days is not None, self.at_end]
        if given.count(True) != 1:
            raise InvalidValue(N_("give exactly one of per_month, every_days or at_end"))
        return self


class Protocol(Frozen):
    id: Key
    version: int = Field(ge=1)
    title: Text
    summary: Text | None = None
    condition: Condition | None = None  # omitted by schedules that follow any purchase
    duration_months: int | None = Field(default=None, ge=1, le=120)
    defaults: Defaults = Defaults()
    escalations: dict[StopReason, Escalation]
    checkpoints: tuple[Step, ...] = Field(min_length=1)
    # One series, or several (calls by phone and visits by home_visit), each with its key_prefix.
    routine: Routine | tuple[Routine, ...] | None = None
    # False: the plan asks for no health data (no measurements, effect records or drug
    # classes), so it needs no health consent (careplan.plans.lifecycle.needs_health_consent).
    health_data: bool = True
    # Drug classes whose PDC the plan tracks (careplan/adherence/drug_classes.py).
    tracks: tuple[Key, ...] = ()

    @field_validator("tracks")
    @classmethod
    def _known_classes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for key in value:
            if key not in DRUG_CLASSES:
                raise InvalidValue(N_("unknown drug class '%(key)s' (known: %(known)s)"),
                                   key=key, known=", ".join(sorted(DRUG_CLASSES)))  # fmt: skip
        return value

    @field_validator("escalations")
    @classmethod
    def _every_reason(cls, value: dict[StopReason, Escalation]) -> dict[StopReason, Escalation]:
        missing = [r.value for r in StopReason if r not in value]
        if missing:
            raise InvalidValue(N_("no escalation for stop reason(s): %(missing)s"),
                               missing=", ".join(missing))  # fmt: skip
        return value

    @model_validator(mode="after")
    def _refills_are_tracked(self) -> Protocol:
        for step in self.checkpoints:
            if step.refill is not None and step.refill.drug_class not in self.tracks:
                raise InvalidValue(
                    N_("step '%(step)s' refills '%(drug_class)s': list it in tracks"),
                    step=step.key, drug_class=step.refill.drug_class,
                )  # fmt: skip
        return self

    @model_validator(mode="after")
    def _routine_needs_an_end(self) -> Protocol:
        if self.routine is not None and self.duration_months is None:
            raise InvalidValue(N_("a routine tail needs duration_months (when the plan ends)"))
        return self

    @model_validator(mode="after")
    def _tails_apart(self) -> Protocol:
        prefixes = [r.key_prefix for r in self.tails]
        if len(set(prefixes)) != len(prefixes):
            raise InvalidValue(N_("each routine series needs its own key_prefix"))
        if self.routine is not None and not self.tails:
            raise InvalidValue(N_("a routine tail needs at least one series"))
        return self

    @model_validator(mode="after")
    def _no_health_data(self) -> Protocol:
        if self.health_data:
            return self
        steps: list[StepCommon] = [*self.checkpoints, *self.tails]
        if self.tracks or any(s.measurements or s.effect_record for s in steps):
            raise InvalidValue(
                N_(
                    "health_data: false, yet a step asks for measurements or an effect record, "
                    "or the plan tracks a drug class"
                )
            )
        return self

    @property
    def tails(self) -> tuple[Routine, ...]:
        """The routine tail's series (none, one, or calls and visits side by side)."""
        if self.routine is None:
            return ()
        return self.routine if isinstance(self.routine, tuple) else (self.routine,)

    def tail_of(self, key: str) -> Routine | None:
        """The series a routine key (`<key_prefix>_<MM>_<n>`) belongs to."""
        parts = routine_key_parts(key)
        prefix = None if parts is None else parts[0]
        return next((r for r in self.tails if r.key_prefix == prefix), None)

    def step(self, key: str) -> Step | None:
        return next((s for s in self.checkpoints if s.key == key), None)
