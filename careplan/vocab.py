"""The domain's closed vocabularies, shared by models, protocols, API and CLI.

Values are stored as these strings; the zh/en labels are what staff read.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    clerk = "clerk"  # 店员 / 客服专员
    pharmacist = "pharmacist"  # 药师
    store_manager = "store_manager"  # 店长
    supervisor = "supervisor"  # 督导
    admin = "admin"  # 系统管理员


class Channel(StrEnum):
    phone = "phone"  # 电话
    home_visit = "home_visit"  # 上门
    in_store = "in_store"  # 到店
    message = "message"  # 短信/微信


class Adherence(StrEnum):
    as_directed = "as_directed"  # 按时服用
    missed_doses = "missed_doses"  # 漏服
    stopped = "stopped"  # 停服


class StopReason(StrEnum):
    """Why a member stopped taking their medicine (docs/domain.md: 停服 is an escalation)."""

    effect_quality = "effect_quality"  # 效果或质量
    service = "service"  # 服务
    competitor = "competitor"  # 竞品
    side_effects = "side_effects"  # 副作用
    cost = "cost"  # 费用
    doctor_change = "doctor_change"  # 医生调整用药
    other = "other"  # 其他


class PlanStatus(StrEnum):
    active = "active"
    paused = "paused"
    stopped = "stopped"
    completed = "completed"


class CheckpointState(StrEnum):
    """What was *recorded*. Due/overdue/missed are derived from dates at query time."""

    pending = "pending"  # not done yet; its status follows from today's date
    paused = "paused"  # the plan is paused; dates shift on resume
    done = "done"
    skipped = "skipped"
    cancelled = "cancelled"  # the plan was stopped before this step
    retired = "retired"  # dropped by a protocol-version migration, never worked


class CheckpointStatus(StrEnum):
    """What a pharmacist sees, as of a given day."""

    upcoming = "upcoming"
    due = "due"
    overdue = "overdue"
    missed = "missed"
    done = "done"
    done_late = "done_late"
    skipped = "skipped"
    paused = "paused"
    cancelled = "cancelled"
    retired = "retired"
    # Past its grace, but the member agreed on a call to come on a day: off the overdue
    # list until that day plus the step's grace (Checkpoint.held_until), overdue after.
    visit_agreed = "visit_agreed"


class AttemptOutcome(StrEnum):
    """How a call about a step ended when no result was recorded (Simple.org's call
    results). The step stays open, except after `removed` (its plan is stopped)."""

    unreachable = "unreachable"  # 未接通
    call_back = "call_back"  # 约定回电
    agreed_to_visit = "agreed_to_visit"  # 同意到店（约定日期）
    remind_later = "remind_later"  # 稍后提醒（暂缓 N 天）
    removed = "removed"  # 移出随访（附原因）
    # Before 2026-12 a call could end as these, the step staying open; old rows keep
    # them and read as they did. New calls record them as a removal reason instead.
    refused = "refused"  # 拒绝（旧记录）
    wrong_number = "wrong_number"  # 号码错误（旧记录）


# What a call offers today; the legacy outcomes above are only read.
OFFERED_OUTCOMES = (
    AttemptOutcome.unreachable,
    AttemptOutcome.call_back,
    AttemptOutcome.agreed_to_visit,
    AttemptOutcome.remind_later,
    AttemptOutcome.removed,
)


class RemovalReason(StrEnum):
    """Why a member is taken off a plan's follow-up: the plan stops with it."""

    moved_away = "moved_away"  # 已搬离
    transferred = "transferred"  # 转至医院
    died = "died"  # 已去世
    wrong_number = "wrong_number"  # 号码错误
    refused = "refused"  # 拒绝随访


class RiskReason(StrEnum):
    """Why an overdue member is called first (careplan/adherence/risk.py decides)."""

    blood_pressure = "blood_pressure"  # 血压 ≥ 180/110
    glucose = "glucose"  # 空腹血糖 ≥ 13.9
    low_pdc = "low_pdc"  # 用药覆盖率 < 80%
    stopped_medication = "stopped_medication"  # 停服升级未结


class Sex(StrEnum):
    female = "female"
    male = "male"
    other = "other"


class HealthCheckSource(StrEnum):
    in_store = "in_store"  # 门店免费检测
    home = "home"  # 家庭自测
    hospital = "hospital"  # 医院
    self_reported = "self_reported"  # 口述


class EscalationStatus(StrEnum):
    open = "open"
    resolved = "resolved"


class OwnershipReason(StrEnum):
    registered = "registered"  # new members belong to whoever registered them
    reassigned = "reassigned"  # by a manager
    staff_left = "staff_left"  # the clerk left; members handed over
    escalation = "escalation"  # service complaint: hand the member to another clerk
    cover = "cover"  # holiday cover: the members go back after the cover's last day
    cover_ended = "cover_ended"  # back to their owner after a holiday cover


class GradeCause(StrEnum):
    """Why a member's relationship grade changed (careplan/value/grades.py)."""

    repurchase = "repurchase"  # a second day with a purchase (20)
    lecture = "lecture"  # checked in to a health lecture (40)
    referral = "referral"  # a member they referred (60), or a referral taken back
    staff = "staff"  # staff set 80 or 100, with a reason
    cleared = "cleared"  # staff cleared the level they set, with a reason


class Paper(StrEnum):
    a4 = "a4"
    a5 = "a5"


class BatchState(StrEnum):
    """A background job's row: queued (a task carries its id), running (claimed by a
    consumer, under a lease), then done or failed."""

    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class JobStanding(StrEnum):
    """Where a background job stands for the person waiting on it (careplan/jobs/lease.py
    `standing` decides): its row's state, read with its lease and its age."""

    waiting = "waiting"  # queued: no consumer has taken it yet
    working = "working"  # a consumer holds it and reports
    interrupted = "interrupted"  # its consumer stopped reporting: another takes it over
    stopped = "stopped"  # failed, or given up (nobody could finish it in time)
    done = "done"
    refused = "refused"  # an import whose file was refused whole


class ImportState(StrEnum):
    """A large till upload's job: a batch's states, and refused (the file was read and
    refused whole; its report is kept)."""

    queued = "queued"
    running = "running"
    done = "done"
    refused = "refused"
    failed = "failed"


class LectureStatus(StrEnum):
    scheduled = "scheduled"
    cancelled = "cancelled"


class ImportOutcome(StrEnum):
    imported = "imported"
    refused = "refused"  # nothing was imported; the record keeps the report


class LecturePhase(StrEnum):
    """Where a lecture stands, as read (computed by lectures.phase, never stored)."""

    upcoming = "upcoming"
    today = "today"  # its day: check-in is open
    held = "held"  # it has ended
    cancelled = "cancelled"


class SeatStatus(StrEnum):
    registered = "registered"  # holds a seat (checked in or not: see checked_in_at)
    waitlisted = "waitlisted"  # waits for a seat, in order of asking
    cancelled = "cancelled"  # the member (or staff for them) gave the seat up
    released = "released"  # the lecture was cancelled


# Drug classes adherence is measured by (careplan/adherence/drug_classes.py and pdc.py).
# key: (Chinese, English). A key is what protocols and the mapping use.
DRUG_CLASSES: dict[str, tuple[str, str]] = {
    "bisphosphonates": ("双膦酸盐类", "Bisphosphonates"),
    "calcium_vitamin_d": ("钙剂与维生素D", "Calcium and vitamin D"),
    "ras_antagonists": ("肾素-血管紧张素系统拮抗剂", "RAS antagonists"),
    "calcium_channel_blockers": ("钙通道阻滞剂", "Calcium channel blockers"),
    "beta_blockers": ("β受体阻滞剂", "Beta blockers"),
    "diuretics": ("利尿剂", "Diuretics"),
    "statins": ("他汀类", "Statins"),
    "biguanides": ("双胍类", "Biguanides"),
    "sulfonylureas": ("磺脲类", "Sulfonylureas"),
    "dpp4_inhibitors": ("DPP-4抑制剂", "DPP-4 inhibitors"),
    "glucosamine": ("氨糖类保健品", "Glucosamine supplements"),
}


class MessageChannel(StrEnum):
    sms = "sms"  # 短信
    wechat = "wechat"  # 微信订阅消息


class MessageState(StrEnum):
    queued = "queued"  # written with its reason; leaves when its window opens
    sending = "sending"  # marked and committed before the provider is called
    sent = "sent"  # the provider took it
    delivered = "delivered"  # the provider's receipt says it reached the member
    failed = "failed"  # the provider refused it, or the retries ran out
    cancelled = "cancelled"  # its reason was gone before it left


class MessageReason(StrEnum):
    """Why a message is sent; with the member and the day, its idempotency key."""

    step_reminder = "step_reminder"  # a plan step is coming up (protocol `remind`)
    step_nudge = "step_nudge"  # a plan step is overdue (protocol `nudge`)
    refill = "refill"  # the supply runs out soon
    lecture_invitation = "lecture_invitation"
    lecture_reminder = "lecture_reminder"  # the day before; never held back by the cap
    birthday = "birthday"
    festival = "festival"
    welcome = "welcome"  # thanks to a new member


class ValuePeriod(StrEnum):
    """The periods spend, visits and returns are computed over, each ending on the
    snapshot's day (careplan/value/snapshot.py)."""

    last_12_months = "12m"
    last_6_months = "6m"
    last_3_months = "3m"
    year_to_date = "ytd"
    last_year = "last_year"  # the previous calendar year


class ComplaintCause(StrEnum):
    """What the complaint is about: the causes of losing members the seeds name (001)."""

    product = "product"  # 商品：质量、价格、包装、实用性、保质期
    environment = "environment"  # 购物环境：灯光、音乐、卫生、舒适度
    service = "service"  # 销售过程：服务品质、速度
    after_sales = "after_sales"  # 售后服务：投诉处理、回访
    other = "other"


class ComplaintSeverity(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"


class ComplaintChannel(StrEnum):
    """How the complaint reached the store."""

    in_person = "in_person"
    phone = "phone"
    wechat = "wechat"
    sms = "sms"
    other = "other"


class ComplaintState(StrEnum):
    open = "open"  # recorded; the follow-up visit waits
    closed = "closed"  # followed up and closed with the member's satisfaction


class Satisfaction(StrEnum):
    satisfied = "satisfied"
    neutral = "neutral"
    dissatisfied = "dissatisfied"


class Outlook(StrEnum):
    """How soon a member is likely to buy again or refer (预计续购): it sets how often the
    store calls and visits (careplan/value/outlook.py)."""

    this_month = "this_month"  # 当月
    two_months = "two_months"  # 两个月内
    three_months = "three_months"  # 三个月内
    beyond = "beyond"  # 三个月以上
