"""What staff read for each closed-vocabulary value (marked for the catalogues)."""

from __future__ import annotations

from enum import StrEnum

from careplan.vocab import (
    Adherence,
    AttemptOutcome,
    BatchState,
    Channel,
    CheckpointStatus,
    ComplaintCause,
    ComplaintChannel,
    ComplaintSeverity,
    ComplaintState,
    EscalationStatus,
    GradeCause,
    HealthCheckSource,
    ImportOutcome,
    JobStanding,
    LecturePhase,
    LectureStatus,
    MessageChannel,
    MessageReason,
    MessageState,
    Outlook,
    OwnershipReason,
    Paper,
    PlanStatus,
    RemovalReason,
    RiskReason,
    Role,
    Satisfaction,
    SeatStatus,
    Sex,
    StopReason,
)
from web.i18n import N_

_LABELS_BY_VOCAB: dict[type[StrEnum], dict[StrEnum, str]] = {
    Role: {
        Role.clerk: N_("Service clerk"),
        Role.pharmacist: N_("Pharmacist"),
        Role.store_manager: N_("Store manager"),
        Role.supervisor: N_("Supervisor"),
        Role.admin: N_("Administrator"),
    },
    Channel: {
        Channel.phone: N_("Phone call"),
        Channel.home_visit: N_("Home visit"),
        Channel.in_store: N_("In store"),
        Channel.message: N_("SMS / WeChat"),
    },
    Adherence: {
        Adherence.as_directed: N_("Taking it as directed"),
        Adherence.missed_doses: N_("Missed some doses"),
        Adherence.stopped: N_("Stopped taking it"),
    },
    StopReason: {
        StopReason.effect_quality: N_("Effect or product quality"),
        StopReason.service: N_("Our service"),
        StopReason.competitor: N_("A competitor's product"),
        StopReason.side_effects: N_("Side effects"),
        StopReason.cost: N_("Cost"),
        StopReason.doctor_change: N_("Doctor changed the medication"),
        StopReason.other: N_("Other reason"),
    },
    BatchState: {
        BatchState.queued: N_("Waiting"),
        BatchState.running: N_("Preparing"),
        BatchState.done: N_("Ready"),
        BatchState.failed: N_("Failed"),
    },
    JobStanding: {
        JobStanding.waiting: N_("Waiting"),
        JobStanding.working: N_("Preparing"),
        JobStanding.interrupted: N_("Interrupted, starting again"),
        JobStanding.stopped: N_("Failed"),
        JobStanding.done: N_("Ready"),
        JobStanding.refused: N_("Refused"),
    },
    Paper: {Paper.a4: N_("A4"), Paper.a5: N_("A5")},
    PlanStatus: {
        PlanStatus.active: N_("Active"),
        PlanStatus.paused: N_("Paused"),
        PlanStatus.stopped: N_("Stopped"),
        PlanStatus.completed: N_("Completed"),
    },
    CheckpointStatus: {
        CheckpointStatus.upcoming: N_("Upcoming"),
        CheckpointStatus.due: N_("Due"),
        CheckpointStatus.overdue: N_("Overdue"),
        CheckpointStatus.missed: N_("Missed"),
        CheckpointStatus.done: N_("Done"),
        CheckpointStatus.done_late: N_("Done late"),
        CheckpointStatus.skipped: N_("Skipped"),
        CheckpointStatus.paused: N_("Paused"),
        CheckpointStatus.cancelled: N_("Cancelled"),
        CheckpointStatus.retired: N_("Retired"),
        CheckpointStatus.visit_agreed: N_("Agreed to come"),
    },
    AttemptOutcome: {
        AttemptOutcome.unreachable: N_("Unreachable"),
        AttemptOutcome.call_back: N_("Asked to call back"),
        AttemptOutcome.agreed_to_visit: N_("Agreed to come on a day"),
        AttemptOutcome.remind_later: N_("Remind me later"),
        AttemptOutcome.removed: N_("Removed from follow-up"),
        AttemptOutcome.refused: N_("Declined to talk"),
        AttemptOutcome.wrong_number: N_("Wrong number"),
    },
    MessageChannel: {
        MessageChannel.sms: N_("SMS"),
        MessageChannel.wechat: N_("WeChat"),
    },
    MessageState: {
        MessageState.queued: N_("message.Waiting to send"),
        MessageState.sending: N_("message.Sending"),
        MessageState.sent: N_("message.Sent"),
        MessageState.delivered: N_("message.Delivered"),
        MessageState.failed: N_("message.Failed"),
        MessageState.cancelled: N_("message.Cancelled"),
    },
    MessageReason: {
        MessageReason.step_reminder: N_("Step reminder"),
        MessageReason.step_nudge: N_("Overdue step"),
        MessageReason.refill: N_("Refill reminder"),
        MessageReason.lecture_invitation: N_("Lecture invitation"),
        MessageReason.lecture_reminder: N_("Lecture reminder"),
        MessageReason.birthday: N_("Birthday greeting"),
        MessageReason.festival: N_("Festival greeting"),
        MessageReason.welcome: N_("Welcome"),
    },
    RemovalReason: {
        RemovalReason.moved_away: N_("Moved away"),
        RemovalReason.transferred: N_("Transferred to a hospital"),
        RemovalReason.died: N_("Died"),
        RemovalReason.wrong_number: N_("Wrong number"),
        RemovalReason.refused: N_("Refuses follow-up"),
    },
    RiskReason: {
        RiskReason.blood_pressure: N_("BP ≥180/110"),
        RiskReason.glucose: N_("Glucose ≥13.9"),
        RiskReason.low_pdc: N_("Coverage <80%"),
        RiskReason.stopped_medication: N_("Stopped medication"),
    },
    Sex: {
        Sex.female: N_("Female"),
        Sex.male: N_("Male"),
        Sex.other: N_("Other"),
    },
    HealthCheckSource: {
        HealthCheckSource.in_store: N_("In-store check"),
        HealthCheckSource.home: N_("Home self-test"),
        HealthCheckSource.hospital: N_("Hospital"),
        HealthCheckSource.self_reported: N_("Told by the member"),
    },
    EscalationStatus: {
        EscalationStatus.open: N_("Open"),
        EscalationStatus.resolved: N_("Resolved"),
    },
    OwnershipReason: {
        OwnershipReason.registered: N_("Registered the member"),
        OwnershipReason.reassigned: N_("Reassigned by a manager"),
        OwnershipReason.staff_left: N_("Previous owner left"),
        OwnershipReason.escalation: N_("Handed over after a complaint"),
        OwnershipReason.cover: N_("Holiday cover"),
        OwnershipReason.cover_ended: N_("Back after a holiday cover"),
    },
    LectureStatus: {
        LectureStatus.scheduled: N_("Scheduled"),
        LectureStatus.cancelled: N_("Cancelled"),
    },
    ImportOutcome: {
        ImportOutcome.imported: N_("Imported"),
        ImportOutcome.refused: N_("Refused"),
    },
    LecturePhase: {
        LecturePhase.upcoming: N_("Scheduled"),
        LecturePhase.today: N_("On today"),
        LecturePhase.held: N_("Held"),
        LecturePhase.cancelled: N_("Cancelled"),
    },
    GradeCause: {
        GradeCause.repurchase: N_("Bought again on another day"),
        GradeCause.lecture: N_("Came to a health lecture"),
        GradeCause.referral: N_("Referral"),
        GradeCause.staff: N_("Set by staff"),
        GradeCause.cleared: N_("Cleared by staff"),
    },
    ComplaintCause: {
        ComplaintCause.product: N_("Product"),
        ComplaintCause.environment: N_("Shopping environment"),
        ComplaintCause.service: N_("Service"),
        ComplaintCause.after_sales: N_("After-sales service"),
        ComplaintCause.other: N_("complaint.Other"),
    },
    ComplaintSeverity: {
        ComplaintSeverity.low: N_("Minor"),
        ComplaintSeverity.medium: N_("Moderate"),
        ComplaintSeverity.high: N_("Serious"),
    },
    ComplaintChannel: {
        ComplaintChannel.in_person: N_("In person"),
        ComplaintChannel.phone: N_("By phone"),
        ComplaintChannel.wechat: N_("WeChat"),
        ComplaintChannel.sms: N_("SMS"),
        ComplaintChannel.other: N_("complaint.Other"),
    },
    ComplaintState: {
        ComplaintState.open: N_("complaint.Open"),
        ComplaintState.closed: N_("complaint.Closed"),
    },
    Satisfaction: {
        Satisfaction.satisfied: N_("Satisfied"),
        Satisfaction.neutral: N_("So-so"),
        Satisfaction.dissatisfied: N_("Dissatisfied"),
    },
    SeatStatus: {
        SeatStatus.registered: N_("Registered"),
        SeatStatus.waitlisted: N_("Waitlisted"),
        SeatStatus.cancelled: N_("Registration cancelled"),
        SeatStatus.released: N_("Released (lecture cancelled)"),
    },
}

# Keyed by (vocabulary, value): a StrEnum equals its string, so Adherence.stopped and
# PlanStatus.stopped would otherwise be one key.
LABELS: dict[tuple[str, str], str] = {}
for _vocab in (
    Role, Channel, Adherence, StopReason, PlanStatus, CheckpointStatus, AttemptOutcome, Sex,
    RemovalReason, RiskReason,
    HealthCheckSource, EscalationStatus, OwnershipReason, BatchState, JobStanding, Paper,
    LectureStatus,
    SeatStatus, LecturePhase, ImportOutcome, MessageChannel, MessageState, MessageReason,
    GradeCause,
    ComplaintCause, ComplaintSeverity, ComplaintChannel, ComplaintState, Satisfaction,
):  # fmt: skip
    for _member in _vocab:
        LABELS[(_vocab.__name__, _member.value)] = _LABELS_BY_VOCAB[_vocab][_member]

# 预计续购: how soon a member is likely to buy again (careplan/value/outlook.py).
LABELS.update(
    {
        ("Outlook", Outlook.this_month.value): N_("This month"),
        ("Outlook", Outlook.two_months.value): N_("Within two months"),
        ("Outlook", Outlook.three_months.value): N_("Within three months"),
        ("Outlook", Outlook.beyond.value): N_("Beyond three months"),
    }
)

# The relationship grades (关系等级, careplan/value/grades.py) as the chain's staff name
# them: the score, the class letter, what the member does.
GRADE_NAMES: dict[int, str] = {
    0: N_("0 · new member"),
    20: N_("20 (E) · bought again"),
    40: N_("40 (D) · comes to member events"),
    60: N_("60 (C) · brings friends"),
    80: N_("80 (B) · refers friends who buy"),
    100: N_("100 (A) · devoted customer"),
}


# What the admin console's change log says was done to an account or a store.
LABELS.update(
    {
        ("ChangeAction", "create"): N_("Created"),
        ("ChangeAction", "update"): N_("Changed"),
        ("ChangeAction", "delete"): N_("Deleted"),
        ("ChangeAction", "unlock"): N_("Unlocked"),
        ("ChangeAction", "publish"): N_("Published"),
    }
)

# The columns of staff and store records, as that change log names them.
RECORD_FIELDS: dict[tuple[str, str], str] = {
    ("staff", "username"): N_("Username"),
    ("staff", "name"): N_("Name"),
    ("staff", "phone"): N_("Phone"),
    ("staff", "role"): N_("Role"),
    ("staff", "store_id"): N_("Home store"),
    ("staff", "active"): N_("In post"),
    ("staff", "left_on"): N_("Left on"),
    ("staff", "language"): N_("Language"),
    ("staff", "password_hash"): N_("Password"),
    ("staff", "must_change_password"): N_("Must choose a new password"),
    ("store", "code"): N_("Store code"),
    ("store", "name"): N_("Store name"),
    ("store", "region"): N_("Region"),
    ("store", "address"): N_("Address"),
    ("store", "phone"): N_("Phone"),
}

# How a member was invited to a lecture: the channel's words fit an invitation, not a
# follow-up call (lectures.INVITATION_CHANNELS).
LABELS.update(
    {
        ("InvitationChannel", Channel.phone.value): N_("Invited by phone"),
        ("InvitationChannel", Channel.message.value): N_("Invited by SMS / WeChat"),
        ("InvitationChannel", Channel.in_store.value): N_("Invited in store"),
        ("InvitationChannel", Channel.home_visit.value): N_("Invited on a home visit"),
    }
)

# Why a message did not leave, or failed (careplan/outreach: outbox.reasons_gone, the sweep).
LABELS.update(
    {
        ("MessageCancel", "member_gone"): N_("the member died or was erased"),
        ("MessageCancel", "consent_withdrawn"): N_("consent to messages withdrawn"),
        ("MessageCancel", "step_closed"): N_("the step was done or the plan stopped"),
        ("MessageCancel", "lecture_cancelled"): N_("the lecture was cancelled or is over"),
        ("MessageCancel", "seat_given_up"): N_("the seat was given up"),
        ("MessageCancel", "already_registered"): N_("already registered for it"),
        ("MessageCancel", "refilled"): N_("the medicine was bought meanwhile"),
        ("MessageCancel", "interrupted"): N_("cut off while sending: not known whether it left"),
    }
)

# What became of a step in the audit's lists (careplan.audit.audit.AuditStep.outcome).
LABELS.update(
    {
        ("AuditOutcome", "overdue"): N_("Overdue"),
        ("AuditOutcome", "missed"): N_("Missed"),
        ("AuditOutcome", "done"): N_("Done on time"),
        ("AuditOutcome", "done_late"): N_("Done late"),
        ("AuditOutcome", "not_done"): N_("Not done"),
    }
)


def label_of(value: StrEnum | str, vocabulary: str | None = None) -> str | None:
    """The message id for a value; plain strings need their vocabulary's name, and a
    value read in another context names it (a channel as an invitation's)."""
    name = vocabulary or (type(value).__name__ if isinstance(value, StrEnum) else None)
    return LABELS.get((name or "", str(value)))


# Archive fields, as named in forms and in error messages.
FIELDS: dict[str, str] = {
    "name": N_("Name"),
    "card_number": N_("Card number"),
    "sex": N_("Sex"),
    "birthday": N_("Birthday"),
    "mobile": N_("Mobile"),
    "landline": N_("Landline"),
    "email": N_("Email"),
    "address": N_("Home address"),
    "openid": N_("WeChat openid"),
    "residential_area": N_("Residential area"),
    "medical_history": N_("Past medical history"),
    "drug_allergies": N_("Drug allergies"),
    "regular_medicines": N_("Regular medicines"),
    "chronic_conditions": N_("Chronic conditions"),
    "consumption_feedback": N_("Feedback on products and service"),
    "employer": N_("Employer"),
    "position": N_("Position"),
    "health_status": N_("Health status"),
    "habits": N_("Habits"),
    "diet": N_("Diet"),
    "exercise": N_("Exercise"),
    "hobbies": N_("Hobbies"),
    "education": N_("Education"),
    "income_band": N_("Income band"),
    "marital_status": N_("Marital status"),
    "wedding_anniversary": N_("Wedding anniversary"),
    "spouse_birthday": N_("Spouse's birthday"),
    "health_consent": N_("Consent to health data"),
    "owner_id": N_("Owner"),
    "referred_by_card": N_("Referred by (card number)"),
    "grade": N_("Relationship grade"),
    "points_balance": N_("Points balance"),
    "assignee_id": N_("Works the steps"),
    "protocol_id": N_("Protocol"),
    "start_date": N_("Start date"),
    "channel": N_("Channel"),
    "adherence": N_("Adherence"),
    "stop_reason": N_("Why stopped"),
    "contacted_on": N_("Contacted on"),
    "call_back_at": N_("Call back at"),
    "outcome": N_("What happened"),
    "visit_on": N_("Agreed day"),
    "remind_days": N_("Remind in (days)"),
    "removal_reason": N_("Why removed"),
    "died_on": N_("Date of death"),
    "version": N_("Version"),
    "state": N_("State"),
    "measurements": N_("Measurements"),
    "effect": N_("Effect record"),
    "username": N_("Username"),
    "password": N_("Password"),
    "to_staff_id": N_("Hand over to"),
    "from_staff_id": N_("Staff member"),
    "members": N_("Members"),
    "resolution": N_("Resolution"),
    "language": N_("Language"),
    "reason": N_("Reason"),
    "store": N_("Store"),
    "m": N_("Measurements"),
    "outlook": N_("Buying again"),
    "outlook_reason": N_("Why you expect this"),
    "on_date": N_("Date"),
    "paper": N_("Paper"),
    "staff": N_("Whose contacts"),
    "code": N_("Sheet code"),
    "as_of": N_("As of"),
    "period_from": N_("Period from"),
    "period_to": N_("Period to"),
    "store_id": N_("Store"),
    "staff_id": N_("Staff"),
    "region": N_("Region"),
    "bucket": N_("Days overdue"),
    "status": N_("Status"),
    "page": N_("Page"),
    "limit": N_("Page size"),
    "title_zh": N_("Title (Chinese)"),
    "title_en": N_("Title (English)"),
    "topic": N_("Topic"),
    "conditions": N_("Conditions"),
    "protocols": N_("Protocols"),
    "speaker": N_("Speaker"),
    "venue": N_("Venue"),
    "max_age": N_("Age to"),
    "member_ids": N_("Members"),
    "invitation_channel": N_("How they were invited"),
    "product_code": N_("Product code"),
    "product_name": N_("Product"),
    "drug_class": N_("Drug class"),
    "quantity": N_("Quantity"),
    "days_supply": N_("Days' supply"),
    "purchased_on": N_("Purchase date"),
    "amount": N_("Amount"),
    "store_code": N_("Store code"),
    "file": N_("File"),
    "days": N_("Period (days)"),
    "inactive_days": N_("No purchase and no contact for (days)"),  # the long-inactive list
    "actor": N_("Who"),
    "capacity": N_("Seats"),
    "starts_at": N_("Starts"),
    "ends_at": N_("Ends"),
    "register_by": N_("Registration closes"),
    "lecture_id": N_("Lecture"),
    "seat_id": N_("Registration"),
    "min_age": N_("Age from"),
    "role": N_("Role"),
    "store_name": N_("Store name"),
    "store_address": N_("Address"),
    "store_phone": N_("Phone"),
    "new_password": N_("New password"),
    "repeat_password": N_("New password again"),
    "confirm": N_("Confirmation"),
    "what": N_("What the complaint is about"),
    "place": N_("Where it happened"),
    "cause": N_("Cause"),
    "severity": N_("Severity"),
    "complaint_channel": N_("How it came in"),
    "walk_in_name": N_("Walk-in customer's name"),
    "walk_in_phone": N_("Phone"),
    "received_on": N_("Received on"),
    "about_staff_id": N_("Staff member it is about"),
    "on_the_spot": N_("What was done on the spot"),
    "satisfaction": N_("The member's satisfaction"),
    "closing_note": N_("How it ended"),
    "note": N_("Note"),
    "month": N_("Month"),
    "complaint_id": N_("Complaint"),
}

# Column headings of the audit's CSV files, in the reader's language.
AUDIT_COLUMNS: dict[str, str] = {
    "key": N_("Code"),
    "name": N_("Name"),
    "overdue_1-3": N_("Overdue 1-3 days"),
    "overdue_4-7": N_("Overdue 4-7 days"),
    "overdue_8-14": N_("Overdue 8-14 days"),
    "overdue_15-30": N_("Overdue 15-30 days"),
    "overdue_>30": N_("Overdue over 30 days"),
    "overdue": N_("Overdue"),
    "missed": N_("Missed"),
    "due": N_("Due in the period"),
    "done": N_("Done"),
    "on_time": N_("Done on time"),
    "completion_rate_pct": N_("Completion rate %"),
    "on_time_rate_pct": N_("On-time rate %"),
    "open_escalations": N_("Open escalations"),
    "protocol_id": N_("Protocol id"),
    "step_key": N_("Step id"),
    "protocol": N_("Protocol"),
    "step": N_("Step"),
    "checkpoint_id": N_("Step number"),
    "member_id": N_("Member number"),
    "member_name": N_("Member"),
    "card_number": N_("Card number"),
    "region": N_("Region"),
    "store_code": N_("Store"),
    "staff_id": N_("Staff number"),
    "staff_name": N_("Staff"),
    "due_on": N_("Due"),
    "days_overdue": N_("Days overdue"),
    "outcome": N_("Outcome"),
    "runs_out_on": N_("Ran out on"),
    "mobile": N_("Mobile"),
    "store": N_("Store name"),
    "owner": N_("Owner"),
    "last_contact_on": N_("Last contact"),
    "contacts_365": N_("Contacts in 365 days"),
    "drug_class_key": N_("Drug class code"),
    "drug_class": N_("Drug class"),
    "inherited_from": N_("Inherited from"),
    "inherited_on": N_("Handed over on"),
    "days_overdue_since_hand_over": N_("Days overdue since the hand-over"),
}
