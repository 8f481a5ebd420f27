"""Risk first: who on the overdue list is called before the others (Simple.org's overdue
list puts high-risk patients first).

A member's risk reasons, decided here and only here:
- blood_pressure: their last blood pressure is 180/110 or more (systolic >= 180 or
  diastolic >= 110: a hypertensive crisis range);
- glucose: their last fasting glucose is 13.9 mmol/L or more;
- low_pdc: a drug class their active plans track is covered less than the adherent
  threshold (pdc.is_adherent, PQA's 80 %) over the last MEASURED_DAYS days;
- stopped_medication: a stopped-medication escalation of theirs is open.

The order: more reasons first (each weighs the same), then more days overdue, then the
older due date. Readings and fills are health data: a member without consent has none
read. Computed for the rows of one page in four queries, whatever their number.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from careplan.adherence.measured import MEASURED_DAYS, fills_by_member, tracked_classes
from careplan.adherence.pdc import coverage, is_adherent
from careplan.models import CarePlan, Checkpoint, Escalation, HealthCheck, Member
from careplan.plans.checkpoints import days_overdue
from careplan.plans.worklist import WorkItem
from careplan.vocab import EscalationStatus, PlanStatus, RiskReason

SYSTOLIC_HIGH = 180
DIASTOLIC_HIGH = 110
FASTING_GLUCOSE_HIGH = 13.9  # mmol/L
READINGS = ("blood_pressure", "fasting_glucose")


def reading_out_of_range(kind: str, values: dict[str, Any]) -> RiskReason | None:
    """The risk a reading says, if any."""
    if kind == "blood_pressure":
        high = (
            float(values.get("systolic", 0)) >= SYSTOLIC_HIGH
            or float(values.get("diastolic", 0)) >= DIASTOLIC_HIGH
        )
        return RiskReason.blood_pressure if high else None
    if kind == "fasting_glucose":
        high = float(values.get("value", 0)) >= FASTING_GLUCOSE_HIGH
        return RiskReason.glucose if high else None
    return None


def member_risks(
    session: Session, members: Iterable[Member], today: date
) -> dict[int, tuple[RiskReason, ...]]:
    """Each member's risk reasons, in RiskReason's order (members with none left out)."""
    ids = sorted({m.id for m in members if m.health_consent})
    if not ids:
        return {}
    found: dict[int, set[RiskReason]] = {}
    for member_id, reason in _readings(session, ids):
        found.setdefault(member_id, set()).add(reason)
    for member_id in _low_pdc(session, ids, today):
        found.setdefault(member_id, set()).add(RiskReason.low_pdc)
    open_ = select(Escalation.member_id).where(
        Escalation.member_id.in_(ids), Escalation.status == EscalationStatus.open
    )
    for member_id in session.scalars(open_.distinct()):
        found.setdefault(member_id, set()).add(RiskReason.stopped_medication)
    order = list(RiskReason)
    return {m: tuple(sorted(r, key=order.index)) for m, r in found.items()}


def _readings(session: Session, ids: list[int]) -> list[tuple[int, RiskReason]]:
    """The last reading of each kind of each member, where it is out of range."""
    last = (
        select(HealthCheck.member_id, HealthCheck.kind, func.max(HealthCheck.measured_at))
        .where(HealthCheck.member_id.in_(ids), HealthCheck.kind.in_(READINGS))
        .group_by(HealthCheck.member_id, HealthCheck.kind)
    )
    stmt = select(HealthCheck.member_id, HealthCheck.kind, HealthCheck.values).where(
        tuple_(HealthCheck.member_id, HealthCheck.kind, HealthCheck.measured_at).in_(last)
    )
    out = []
    for member_id, kind, values in session.execute(stmt):
        reason = reading_out_of_range(kind, values)
        if reason is not None:
            out.append((member_id, reason))
    return out


def _low_pdc(session: Session, ids: list[int], today: date) -> set[int]:
    """Members with a tracked class below the adherent threshold over the window."""
    plans = session.scalars(
        select(CarePlan).where(CarePlan.member_id.in_(ids), CarePlan.status == PlanStatus.active)
    ).all()
    classes: dict[int, set[str]] = {}
    for plan in plans:
        classes.setdefault(plan.member_id, set()).update(tracked_classes([plan]))
    start = today - timedelta(days=MEASURED_DAYS - 1)
    fills = fills_by_member(session, [m for m, c in classes.items() if c], since=start, until=today)
    low = set()
    for member_id, tracked in classes.items():
        for key in tracked:
            pdc = coverage(fills.get(member_id, {}).get(key, []), start, today).pdc
            if pdc is not None and not is_adherent(pdc):
                low.add(member_id)
    return low


def _order(reasons: tuple[RiskReason, ...], overdue: int, cp: Checkpoint) -> tuple[Any, ...]:
    return (-len(reasons), -overdue, cp.due_on, cp.id)


def risk_first(session: Session, items: Sequence[WorkItem], today: date) -> list[WorkItem]:
    """The worklist's overdue rows, each with its reasons, riskiest first."""
    risks = member_risks(session, (i.member for i in items), today)
    ranked = [replace(i, risks=risks.get(i.member.id, ())) for i in items]
    return sorted(ranked, key=lambda i: _order(i.risks, i.days_overdue, i.checkpoint))


def risk_first_rows(
    session: Session, rows: Sequence[tuple[Checkpoint, Member]], today: date
) -> list[tuple[Checkpoint, Member, tuple[RiskReason, ...]]]:
    """The same order for a page of the checkpoint list (the API's overdue filter)."""
    risks = member_risks(session, (m for _, m in rows), today)
    ranked = [(cp, m, risks.get(m.id, ())) for cp, m in rows]
    return sorted(ranked, key=lambda r: _order(r[2], days_overdue(r[0], today), r[0]))
