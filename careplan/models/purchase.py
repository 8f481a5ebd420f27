"""Purchases and dispensings: what the member bought, and for how many days; the till
files they were imported from; the product → drug-class mapping PDC is computed with."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from careplan.models.base import Base, IdMixin, IdType, TimestampMixin


class Purchase(IdMixin, Base):
    __tablename__ = "purchases"
    # PDC, refill steps and lapsed supply read a member's fills by date: this index.
    __table_args__ = (Index("ix_purchases_member_date", "member_id", "purchased_on"),)

    member_id: Mapped[int] = mapped_column(IdType, ForeignKey("members.id"))
    store_id: Mapped[int] = mapped_column(IdType, ForeignKey("stores.id"))
    product_code: Mapped[str] = mapped_column(String(64))
    product_name: Mapped[str] = mapped_column(String(160))
    drug_class: Mapped[str | None] = mapped_column(String(64), default=None)  # the till's
    quantity: Mapped[int]
    days_supply: Mapped[int | None] = mapped_column(default=None)
    purchased_on: Mapped[date]
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    # Idempotency key of an imported till line (re-importing a file adds nothing).
    line_key: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    # Imported lines are attributed to their import (who, when, which file).
    import_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("purchase_imports.id"), default=None, index=True
    )
    recorded_by_id: Mapped[int] = mapped_column(IdType, ForeignKey("staff.id"))
    recorded_at: Mapped[datetime]


class PurchaseImport(IdMixin, Base):
    """One till file taken in: who, when, which file (by hash), and what it added."""

    __tablename__ = "purchase_imports"

    file_name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    encoding: Mapped[str] = mapped_column(String(16))
    lines: Mapped[int]
    added: Mapped[int]
    already_there: Mapped[int]
    imported_by_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("staff.id"))
    imported_at: Mapped[datetime]


class ProductClass(IdMixin, TimestampMixin, Base):
    """Which drug class a product belongs to, kept by managers; the mapping in force is
    the one PDC uses, so correcting it corrects every figure."""

    __tablename__ = "product_classes"

    product_code: Mapped[str] = mapped_column(String(64), unique=True)
    product_name: Mapped[str] = mapped_column(String(160), default="")
    drug_class: Mapped[str] = mapped_column(String(64), index=True)
    updated_by_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("staff.id"))
