"""Typed SQLAlchemy models, one module per concept. Import from here."""

from careplan.models.base import Base
from careplan.models.change_log import AccessLog, ChangeLog
from careplan.models.checkpoint import Checkpoint, CheckpointResult, ContactAttempt
from careplan.models.complaint import Complaint
from careplan.models.effect import EffectRecord
from careplan.models.escalation import Escalation
from careplan.models.health_check import HealthCheck
from careplan.models.lecture import Lecture, LectureInvitation, LectureSeat
from careplan.models.member import Erasure, GradeChange, Member, Ownership
from careplan.models.member_tally import MemberTally, MemberTallyRun
from careplan.models.member_value import MemberValue, ValueChartCell, ValueSnapshot
from careplan.models.message import Message, MessageConsent
from careplan.models.plan import CarePlan
from careplan.models.protocol import ProtocolVersion
from careplan.models.purchase import ImportJob, ProductClass, Purchase, PurchaseImport
from careplan.models.sheet import SheetBatch, SheetPrint
from careplan.models.staff import AuthSession, SignInLimit, Staff
from careplan.models.store import Store

__all__ = [
    "AccessLog",
    "AuthSession",
    "Base",
    "CarePlan",
    "ChangeLog",
    "Checkpoint",
    "CheckpointResult",
    "Complaint",
    "ContactAttempt",
    "EffectRecord",
    "Erasure",
    "Escalation",
    "GradeChange",
    "HealthCheck",
    "ImportJob",
    "Lecture",
    "LectureInvitation",
    "LectureSeat",
    "Member",
    "MemberTally",
    "MemberTallyRun",
    "MemberValue",
    "Message",
    "MessageConsent",
    "Ownership",
    "ProductClass",
    "ProtocolVersion",
    "Purchase",
    "PurchaseImport",
    "SheetBatch",
    "SheetPrint",
    "SignInLimit",
    "Staff",
    "Store",
    "ValueChartCell",
    "ValueSnapshot",
]
