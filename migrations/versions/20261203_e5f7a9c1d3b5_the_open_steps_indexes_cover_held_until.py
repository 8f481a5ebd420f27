"""the open steps' indexes cover held_until: the audit's overdue counts leave out a step
whose member agreed to come on a day, as the worklist does, and still read the index alone

Revision ID: e5f7a9c1d3b5
Revises: c3e5a7b9d1f2
Create Date: 2026-12-03 14:55:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'e5f7a9c1d3b5'
down_revision: str | None = 'c3e5a7b9d1f2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = "state = 'pending'"
INDEXES = {  # name: (columns before, the partial index's condition)
    'ix_checkpoints_open_expiring': (
        ['missed_on', 'overdue_on', 'assignee_id', 'due_on', 'protocol_id', 'key'],
        f"{PENDING} AND missed_on IS NOT NULL"),
    'ix_checkpoints_open_lasting': (
        ['overdue_on', 'assignee_id', 'due_on', 'protocol_id', 'key'],
        f"{PENDING} AND missed_on IS NULL"),
    'ix_checkpoints_open_by_staff': (
        ['assignee_id', 'overdue_on', 'missed_on', 'due_on', 'protocol_id', 'key'], PENDING),
    'ix_checkpoints_open_window': (
        ['overdue_on', 'open_on', 'due_on', 'assignee_id', 'missed_on', 'protocol_id', 'key'],
        PENDING),
}


def _make(name: str, columns: list[str], where: str) -> None:
    op.drop_index(name, table_name='checkpoints')
    op.create_index(name, 'checkpoints', columns, unique=False,
                    sqlite_where=sa.text(where), postgresql_where=sa.text(where))


def upgrade() -> None:
    for name, (columns, where) in INDEXES.items():
        _make(name, [*columns, 'held_until'], where)


def downgrade() -> None:
    for name, (columns, where) in INDEXES.items():
        _make(name, columns, where)
