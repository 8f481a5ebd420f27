"""What members spent and how often they came, per period, as of one day: the figures
spend tiers, quadrants and the member analysis read (careplan/value/snapshot.py).

A snapshot is computed by a job and written under a new id; readers use the newest
ready one, so a page never sees half a computation and the write transactions stay
short."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from careplan.models.base import Base, IdMixin, IdType, enum_column
from careplan.vocab import ValuePeriod


class ValueSnapshot(IdMixin, Base):
    __tablename__ = "value_snapshots"

    as_of: Mapped[date]  # every period ends on this day
    started_at: Mapped[datetime]
    ready_at: Mapped[datetime | None] = mapped_column(default=None)  # None: being written
    members: Mapped[int] = mapped_column(default=0)  # rows per period
    requested_by_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("staff.id"), default=None
    )


class MemberValue(Base):
    """One member's purchases over one period of one snapshot. Only members who bought
    in the period have a row."""

    __tablename__ = "member_values"
    __table_args__ = (
        # Ranks and medians within a store (or several) by spend and by visits. The visits
        # ones carry the spend too: the quadrants' counts and sums above a cut and the
        # chart's grid then read an index alone (careplan/value/tiers.py).
        Index("ix_member_values_store_spend", "snapshot_id", "period", "store_id", "spend"),
        Index(
            "ix_member_values_store_visits", "snapshot_id", "period", "store_id", "visits", "spend"
        ),
        # The same over the whole chain.
        Index("ix_member_values_spend", "snapshot_id", "period", "spend"),
        Index("ix_member_values_visits", "snapshot_id", "period", "visits", "spend"),
    )

    snapshot_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("value_snapshots.id", ondelete="CASCADE"), primary_key=True
    )
    period: Mapped[ValuePeriod] = enum_column(ValuePeriod, "value_period", primary_key=True)
    member_id: Mapped[int] = mapped_column(IdType, ForeignKey("members.id"), primary_key=True)
    store_id: Mapped[int] = mapped_column(IdType, ForeignKey("stores.id"))  # home store
    spend: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    visits: Mapped[int]  # days with a purchase (a day's purchases are one ticket)
    first_on: Mapped[date]  # first purchase in the period
    last_on: Mapped[date]  # last purchase in the period
    # Bought again within 90 days of the period's first purchase (the return rate).
    returned: Mapped[bool]


class ValueChartCell(Base):
    """One cell of the spend chart's grid of a large scope (more buyers than the chart
    draws dots for), counted when its snapshot is made (careplan/value/tiers.py
    `default_charts`): the grid is the one grouped scan of a chain's rows a page would
    otherwise repeat. A page uses the cells when its axes are these (the medians' view,
    or thresholds inside the 99th percentiles); other axes count afresh."""

    __tablename__ = "value_chart_cells"

    snapshot_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("value_snapshots.id", ondelete="CASCADE"), primary_key=True
    )
    period: Mapped[str] = mapped_column(String(16), primary_key=True)  # a ValuePeriod
    scope: Mapped[str] = mapped_column(String(80), primary_key=True)  # tiers.Scope.key
    x: Mapped[int] = mapped_column(primary_key=True)
    y: Mapped[int] = mapped_column(primary_key=True)
    x_max: Mapped[int]  # the axes the cells were counted for
    y_max: Mapped[Decimal] = mapped_column(Numeric(14, 3))
    members: Mapped[int]
