"""Printed guidance sheets: each print (who, what, when, which code) and web batches."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, deferred, mapped_column

from careplan.models.base import Base, IdMixin, IdType, LeaseMixin, enum_column
from careplan.vocab import BatchState, Paper


class SheetPrint(IdMixin, Base):
    """One sheet handed to a member: the code printed on it leads back here."""

    __tablename__ = "sheet_prints"

    code: Mapped[str] = mapped_column(String(16), unique=True)
    member_id: Mapped[int] = mapped_column(IdType, ForeignKey("members.id"), index=True)
    checkpoint_id: Mapped[int] = mapped_column(IdType, ForeignKey("checkpoints.id"), index=True)
    batch_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("sheet_batches.id"), default=None, index=True
    )
    printed_by_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("staff.id"))
    printed_at: Mapped[datetime]
    language: Mapped[str] = mapped_column(String(8))
    paper: Mapped[Paper] = enum_column(Paper, "sheet_paper")


class SheetBatch(IdMixin, LeaseMixin, Base):
    """'Today's contacts' as one PDF, rendered by a job (careplan/jobs) while the page polls."""

    __tablename__ = "sheet_batches"

    requested_by_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("staff.id"))
    requested_at: Mapped[datetime]
    store_id: Mapped[int] = mapped_column(IdType, ForeignKey("stores.id"), index=True)
    staff_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("staff.id"), default=None)
    on_date: Mapped[date]
    paper: Mapped[Paper] = enum_column(Paper, "batch_paper")
    checkpoint_ids: Mapped[str] = mapped_column(Text)  # comma-separated, in print order
    state: Mapped[BatchState] = enum_column(BatchState, "batch_state", index=True)
    total: Mapped[int]
    done: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    updated_at: Mapped[datetime]  # the last sign of life: queued, claimed, progress, swept
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    # Kept in the database, not on disk: a PDF of allergies and readings is health data,
    # backed up, access-checked and purged with everything else.
    pdf: Mapped[bytes | None] = deferred(mapped_column(LargeBinary, default=None))
