"""Purchases and dispensings entered by staff (till imports come later, same table)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from careplan.access import Actor, get_member, rows_of_member
from careplan.adherence.measured import move_refill_steps
from careplan.errors import N_, InvalidInput
from careplan.members import last_seen
from careplan.models import Purchase
from careplan.value.grades import refresh_grades


class PurchaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    product_code: str = Field(min_length=1, max_length=64)
    product_name: str = Field(min_length=1, max_length=160)
    drug_class: str | None = Field(default=None, max_length=64)
    quantity: int = Field(ge=1, le=10_000)
    days_supply: int | None = Field(default=None, ge=1, le=366)
    purchased_on: date
    amount: Decimal = Field(ge=0, le=Decimal("1000000"), decimal_places=2)


def record_purchase(
    session: Session, actor: Actor, member_id: int, data: PurchaseIn, *, today: date, now: datetime
) -> Purchase:
    return record_purchases(session, actor, member_id, [data], today=today, now=now)[0]


def record_purchases(
    session: Session,
    actor: Actor,
    member_id: int,
    lines: Sequence[PurchaseIn],
    *,
    today: date,
    now: datetime,
) -> list[Purchase]:
    """One member's purchase lines (one or a history of them), then the refill dates and
    the grade once."""
    member = get_member(session, actor, member_id)
    if any(data.purchased_on > today for data in lines):
        raise InvalidInput(N_("cannot be in the future"), field="purchased_on")
    rows = [
        Purchase(
            member_id=member.id,
            store_id=member.home_store_id,
            recorded_by_id=actor.staff_id or member.owner_id,
            recorded_at=now,
            **data.model_dump(),
        )
        for data in lines
    ]
    session.add_all(rows)
    session.flush()
    move_refill_steps(session, [member.id])  # the supply changed: so do refill dates
    refresh_grades(session, [member.id], actor, now)  # a second day bought: 20
    if lines:
        last_seen.saw(session, {member.id: max(data.purchased_on for data in lines)})
    return rows


def purchases_of(session: Session, actor: Actor, member_id: int) -> list[Purchase]:
    order = (Purchase.purchased_on.desc(), Purchase.id.desc())
    return rows_of_member(session, actor, Purchase, member_id, *order)
