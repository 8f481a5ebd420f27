"""Response shapes of the JSON API (requests reuse the domain's input models)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from careplan.vocab import (
    Adherence,
    AttemptOutcome,
    Channel,
    CheckpointStatus,
    EscalationStatus,
    HealthCheckSource,
    LectureStatus,
    OwnershipReason,
    PlanStatus,
    RemovalReason,
    RiskReason,
    Role,
    SeatStatus,
    Sex,
    StopReason,
)


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class TokenOut(Out):
    token: str
    expires_in_hours: int
    staff_id: int
    role: Role


class MemberOut(Out):
    id: int
    card_number: str
    home_store_id: int
    owner_id: int
    language: str
    name: str
    sex: Sex | None
    birthday: date | None
    mobile: str | None
    landline: str | None
    email: str | None
    address: str | None
    residential_area: str | None
    medical_history: list[str]
    drug_allergies: list[str]
    regular_medicines: list[dict[str, Any]]
    chronic_conditions: list[str]
    consumption_feedback: str | None
    employer: str | None
    position: str | None
    health_status: str | None
    habits: str | None
    diet: str | None
    exercise: str | None
    hobbies: list[str]
    education: str | None
    income_band: str | None
    marital_status: str | None
    special_dates: list[dict[str, Any]]
    health_consent: bool
    health_consent_at: datetime | None
    health_consent_by_id: int | None
    health_consent_text: str | None  # the version of the form signed
    health_consent_withdrawn_at: datetime | None
    last_verified_on: date | None
    referred_by_id: int | None  # the member who referred this one (推荐人)
    relationship_grade: int  # 关系等级 0/20/40/60/80/100
    grade_set: int | None  # 80 or 100 when staff set it (with grade_set_reason)
    grade_set_reason: str | None
    points_balance: int | None  # the till's, as of points_as_of; never computed
    points_as_of: date | None


class MemberCreated(MemberOut):
    same_mobile_member_ids: list[int]


class OwnershipOut(Out):
    staff_id: int
    started_at: datetime
    ended_at: datetime | None
    reason: OwnershipReason
    note: str
    changed_by_id: int | None
    cover_until: date | None = None  # a holiday cover's last day
    returns_to_id: int | None = None  # whom the member goes back to after it


class AccessOut(Out):
    """One look at the member's health data."""

    seq: int
    at: datetime
    actor_id: int | None
    via: str
    what: str  # page, api, sheet, export
    target: str
    address: str


class StepDatesOut(BaseModel):
    open_on: date
    due_on: date
    overdue_on: date
    missed_on: date | None


class PreviewStepOut(StepDatesOut):
    key: str
    title_zh: str
    title_en: str
    routine: bool


class PreviewOut(BaseModel):
    protocol_id: str
    version: int
    start_date: date
    steps: list[PreviewStepOut]


class CheckpointOut(Out):
    id: int
    plan_id: int
    member_id: int
    member_name: str
    protocol_id: str
    key: str
    seq: int
    title_zh: str
    title_en: str
    open_on: date
    due_on: date
    overdue_on: date
    missed_on: date | None
    status: CheckpointStatus
    days_overdue: int
    assignee_id: int
    completed_on: date | None
    late: bool
    call_back_at: datetime | None
    held_until: date | None = Field(
        default=None, description="agreed visit: the first day the step is overdue again"
    )
    snoozed_until: date | None = Field(
        default=None, description="remind later: the first day it is back on the worklist"
    )
    risks: list[RiskReason] = Field(
        default_factory=list, description="overdue filter: why the member is called first"
    )
    version: int


class PlanOut(Out):
    id: int
    member_id: int
    protocol_id: str
    protocol_version: int
    start_date: date
    end_date: date | None
    status: PlanStatus
    shift_days: int
    paused_on: date | None
    stopped_on: date | None
    stop_reason: str | None
    removed_for: RemovalReason | None = None
    completed_on: date | None
    checkpoints: list[CheckpointOut]


class ResultOut(Out):
    id: int
    checkpoint_id: int
    recorded_by_id: int
    recorded_at: datetime
    contacted_on: date
    channel: Channel
    checklist: dict[str, bool]
    adherence: Adherence | None  # None: fulfilled by a lecture (see fulfilled_by)
    stop_reason: StopReason | None
    notes: str
    late: bool
    fulfilled_by: str | None = None


class RecordedOut(BaseModel):
    result: ResultOut
    checkpoint: CheckpointOut
    escalation_ids: list[int]
    plan_status: PlanStatus


class AttemptOut(Out):
    id: int
    checkpoint_id: int
    staff_id: int
    attempted_at: datetime
    channel: Channel
    outcome: AttemptOutcome
    call_back_at: datetime | None
    visit_on: date | None = None
    remind_on: date | None = None
    removal_reason: RemovalReason | None = None
    note: str


class HealthCheckOut(Out):
    id: int
    member_id: int
    checkpoint_id: int | None
    kind: str
    values: dict[str, float]
    unit: str
    loinc: str | None
    measured_at: datetime
    source: HealthCheckSource
    recorded_by_id: int
    recorded_at: datetime
    note: str


class EffectOut(Out):
    id: int
    member_id: int
    plan_id: int | None
    checkpoint_id: int | None
    before: str
    after: str
    rating: int | None
    side_effects: str
    member_words: str
    testimonial_consent: bool
    testimonial_consent_on: date | None
    recorded_by_id: int
    recorded_at: datetime


class PurchaseOut(Out):
    id: int
    member_id: int
    store_id: int
    product_code: str
    product_name: str
    drug_class: str | None
    quantity: int
    days_supply: int | None
    purchased_on: date
    amount: Decimal


class EscalationOut(Out):
    id: int
    member_id: int
    store_id: int
    plan_id: int | None
    checkpoint_id: int | None
    reason: StopReason
    role: Role
    assignee_id: int | None
    action_zh: str
    action_en: str
    due_on: date
    status: EscalationStatus
    raised_by_id: int
    raised_at: datetime
    resolved_by_id: int | None
    resolved_at: datetime | None
    resolution: str
    reports: int  # how many "stopped" answers this one case gathers


class ProtocolOut(BaseModel):
    protocol_id: str
    version: int
    content_hash: str
    title_zh: str
    title_en: str
    condition_icd10: str | None
    definition: dict[str, Any]


class StepChangeOut(BaseModel):
    key: str
    action: str
    old: StepDatesOut | None
    new: StepDatesOut | None


class MigrationOut(BaseModel):
    plan_id: int
    member_id: int
    from_version: int
    to_version: int
    changes: list[StepChangeOut]


class ChangeOut(Out):
    id: int
    at: datetime
    actor_id: int | None
    via: str
    entity: str
    entity_id: int
    action: str
    changes: dict[str, Any]


class LectureOut(Out):
    id: int
    title_zh: str
    title_en: str
    topic: str
    conditions: list[str]
    protocols: list[str]
    speaker: str
    store_id: int
    venue: str
    starts_at: datetime
    ends_at: datetime
    capacity: int
    register_by: datetime
    status: LectureStatus
    cancelled_at: datetime | None
    cancel_reason: str
    seats: dict[str, int] = {}  # registered, waitlisted, checked_in, cancelled, released


class SeatOut(Out):
    id: int
    lecture_id: int
    member_id: int
    member_name: str = ""
    status: SeatStatus
    walk_in: bool
    queued_at: datetime
    promoted_at: datetime | None
    reminded_at: datetime | None
    checked_in_at: datetime | None
    ended_at: datetime | None
    told_at: datetime | None


class SeatCancelledOut(BaseModel):
    seat: SeatOut
    promoted: SeatOut | None  # the first waitlisted member, who now has the seat


class CancelledLectureOut(BaseModel):
    lecture: LectureOut
    released: list[SeatOut]  # everyone to tell


class InvitationOut(BaseModel):
    member_id: int
    card_number: str
    name: str
    mobile: str | None
    invited_at: datetime | None
    channel: Channel | None


class MemberLectureOut(BaseModel):
    seat: SeatOut
    lecture: LectureOut


class RateOut(BaseModel):
    registered: int
    attended: int
    no_shows: int
    attendance_rate: float | None
    no_show_rate: float | None


class AttendanceOut(BaseModel):
    per_lecture: dict[int, RateOut]
    per_store: dict[int, RateOut]

    @classmethod
    def of(cls, per_lecture: dict[int, Any], per_store: dict[int, Any]) -> AttendanceOut:
        def rate(a: Any) -> RateOut:
            return RateOut(
                registered=a.registered,
                attended=a.attended,
                no_shows=a.no_shows,
                attendance_rate=a.attendance_rate,
                no_show_rate=a.no_show_rate,
            )

        return cls(
            per_lecture={k: rate(a) for k, a in per_lecture.items()},
            per_store={k: rate(a) for k, a in per_store.items()},
        )
