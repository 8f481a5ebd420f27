"""Purchases and dispensings: what the member bought, and for how many days."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from careplan.models.base import Base, IdMixin, IdType


class Purchase(IdMixin, Base):
    __tablename__ = "purchases"
    __table_args__ = (Index("ix_purchases_member_date", "member_id", "purchased_on"),)

    member_id: Mapped[int] = mapped_column(IdType, ForeignKey("members.id"))
    store_id: Mapped[int] = mapped_column(IdType, ForeignKey("stores.id"))
    product_code: Mapped[str] = mapped_column(String(64))
    product_name: Mapped[str] = mapped_column(String(160))
    drug_class: Mapped[str | None] = mapped_column(String(64), default=None)
    quantity: Mapped[int]
    days_supply: Mapped[int | None] = mapped_column(default=None)
    purchased_on: Mapped[date]
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    # Idempotency key of an imported till line (re-importing a file adds nothing).
    line_key: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    recorded_by_id: Mapped[int] = mapped_column(IdType, ForeignKey("staff.id"))
    recorded_at: Mapped[datetime]
