"""The member analysis's counts per store, as of a value snapshot's day
(careplan/value/analysis.py).

Counting a chain's 200,000 archives by each dimension on every page (chronic conditions,
allergies and medicines are JSON lists) takes seconds; the counts per store are made once
with the snapshot, and a page sums at most a few hundred stores' rows."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from careplan.models.base import Base, IdMixin, IdType


class MemberTallyRun(IdMixin, Base):
    """One computation of every store's counts; pages read the newest ready one."""

    __tablename__ = "member_tally_runs"

    snapshot_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("value_snapshots.id", ondelete="CASCADE"), index=True
    )
    as_of: Mapped[date]  # the snapshot's day: ages and the 12 months end on it
    started_at: Mapped[datetime]
    ready_at: Mapped[datetime | None] = mapped_column(default=None)  # None: being written


class MemberTally(Base):
    """For one store: the members with one value of one dimension (kind "value"), with
    none ("empty", 未填写), or counted at all ("total"; health dimensions: with consent);
    and each period's figures from the snapshot (dimension "value:<period>", kinds
    "buyers", "tickets", "returned" and "spend" in cents)."""

    __tablename__ = "member_tallies"
    __table_args__ = (
        # A scope's rows of one dimension: the run and dimension, then the store (one
        # store, a region's stores, or all), covering what is summed (a chain's 400
        # residential areas are 80,000 rows: read from the index alone).
        Index(
            "ix_member_tallies_dimension_store",
            "run_id",
            "dimension",
            "store_id",
            "kind",
            "value",
            "number",
        ),
    )

    run_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("member_tally_runs.id", ondelete="CASCADE"), primary_key=True
    )
    store_id: Mapped[int] = mapped_column(IdType, ForeignKey("stores.id"), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(16), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    value: Mapped[str] = mapped_column(String(160), primary_key=True)  # "" unless a value
    number: Mapped[int] = mapped_column(BigInteger)  # members, tickets or cents
