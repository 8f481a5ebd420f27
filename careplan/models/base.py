"""One declarative base: constraint naming, integer ids, UTC timestamps, and the lease a
background job's row is claimed with."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer, MetaData, Select, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Named constraints make migrations reproducible on both databases.
NAMING = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# A SELECT of any columns (SQLAlchemy 2.1 types a select by its columns; Select[Any] is
# a select of one column of any type).
AnySelect = Select[*tuple[Any, ...]]

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
IdType = BigInteger().with_variant(Integer(), "sqlite")
JsonType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware one")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime()}


class IdMixin:
    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime | None] = mapped_column(default=None, onupdate=utcnow)


class LeaseMixin:
    """Who runs a background job's row (careplan/jobs/lease.py): a consumer claims it with
    one UPDATE, holds it while its lease lasts and renews the lease as it reports
    progress; a crashed consumer's row is taken over once the lease has run out."""

    claimed_by: Mapped[str | None] = mapped_column(String(120), default=None)  # host:pid
    # The task that holds it (huey's task id): its retries take it back at once.
    claim_token: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")  # claims by tasks


def enum_column(enum_cls: type, name: str, **kwargs: Any) -> Any:
    """A portable enum: a VARCHAR with a CHECK constraint listing the values."""
    from sqlalchemy import Enum

    return mapped_column(
        Enum(
            enum_cls,
            name=name,
            native_enum=False,
            create_constraint=True,
            length=24,
            values_callable=lambda e: [m.value for m in e],
            validate_strings=True,
        ),
        **kwargs,
    )
