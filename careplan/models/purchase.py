"""Purchases and dispensings: what the member bought, and for how many days; the till
files they were imported from, and the jobs importing large ones; the product →
drug-class mapping PDC is computed with."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from careplan.models.base import (
    Base,
    IdMixin,
    IdType,
    JsonType,
    LeaseMixin,
    TimestampMixin,
    enum_column,
)
from careplan.vocab import ImportOutcome, ImportState


class Purchase(IdMixin, Base):
    __tablename__ = "purchases"
    __table_args__ = (
        # PDC, refill steps and lapsed supply read a member's fills by date: this index.
        Index("ix_purchases_member_date", "member_id", "purchased_on"),
        # Every purchase says who put it in: staff at the counter, or a till import
        # (whose record says who, when and which file).
        CheckConstraint("recorded_by_id IS NOT NULL OR import_id IS NOT NULL", name="attributed"),
    )

    member_id: Mapped[int] = mapped_column(IdType, ForeignKey("members.id"))
    store_id: Mapped[int] = mapped_column(IdType, ForeignKey("stores.id"))
    product_code: Mapped[str] = mapped_column(String(64))
    product_name: Mapped[str] = mapped_column(String(160))
    drug_class: Mapped[str | None] = mapped_column(String(64), default=None)  # the till's
    quantity: Mapped[int]
    days_supply: Mapped[int | None] = mapped_column(default=None)
    purchased_on: Mapped[date]
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    # Idempotency key of an imported till line (re-importing a file adds nothing): 128
    # bits of a hash, a native uuid on PostgreSQL (compared bytewise, half the index of
    # its text) and its 32 hex digits on SQLite.
    line_key: Mapped[uuid.UUID | None] = mapped_column(Uuid, unique=True, default=None)
    # Imported lines are attributed to their import (who, when, which file), and leave
    # recorded_by_id empty: a million lines then skip a million staff look-ups. No index
    # on import_id: an import counts what it added as it inserts.
    import_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("purchase_imports.id"), default=None
    )
    recorded_by_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("staff.id"), default=None)
    recorded_at: Mapped[datetime]


class PurchaseImport(IdMixin, Base):
    """One till file taken in: who, when, which file (by hash), and what it added; or
    one refused, with the report the manager was shown (so the history keeps it)."""

    __tablename__ = "purchase_imports"

    file_name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    encoding: Mapped[str] = mapped_column(String(16))
    lines: Mapped[int]
    added: Mapped[int]
    already_there: Mapped[int]
    imported_by_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("staff.id"))
    imported_at: Mapped[datetime]
    outcome: Mapped[ImportOutcome] = enum_column(
        ImportOutcome, "import_outcome", default=ImportOutcome.imported,
        server_default=ImportOutcome.imported.value,
    )  # fmt: skip
    # A refusal's report: its message key, parameters and field, and the problems of
    # the bad lines (line, field, message, value), at most MAX_PROBLEMS of them.
    report: Mapped[dict[str, Any] | None] = mapped_column(JsonType, default=None)


class ImportJob(IdMixin, LeaseMixin, Base):
    """A large till upload imported by a job (careplan/jobs) while the page shows its
    progress: who uploaded which file, how far the import got, and how it ended. The file
    waits in the work directory (careplan/adherence/import_jobs.py), named by this id."""

    __tablename__ = "import_jobs"

    file_name: Mapped[str] = mapped_column(String(255))
    uploaded_by_id: Mapped[int] = mapped_column(IdType, ForeignKey("staff.id"))
    today: Mapped[date]  # the upload's day: no line may be dated after it
    total: Mapped[int]  # lines in the file, header included (progress counts data lines)
    done: Mapped[int] = mapped_column(default=0)  # lines checked so far
    state: Mapped[ImportState] = enum_column(ImportState, "import_job_state", index=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]  # the last sign of life: queued, claimed, progress, swept
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    # What it became in the import history (done, or refused with its report).
    import_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("purchase_imports.id"), default=None
    )
    # Done: the import's counts (lines, added, already_there, encoding); refused: the
    # report its importer is shown (message, field, params, problems, total).
    result: Mapped[dict[str, Any] | None] = mapped_column(JsonType, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)  # failed: for operators

    @property
    def live(self) -> bool:
        return self.state in (ImportState.queued, ImportState.running)

    @property
    def percent(self) -> int:
        return min(100, round(100 * self.done / max(self.total - 1, 1)))


class ProductClass(IdMixin, TimestampMixin, Base):
    """Which drug class a product belongs to, kept by managers; the mapping in force is
    the one PDC uses, so correcting it corrects every figure."""

    __tablename__ = "product_classes"

    product_code: Mapped[str] = mapped_column(String(64), unique=True)
    product_name: Mapped[str] = mapped_column(String(160), default="")
    drug_class: Mapped[str] = mapped_column(String(64), index=True)
    updated_by_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("staff.id"))
