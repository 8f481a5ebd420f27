"""open steps by their window: the lists by status find today's steps from an index

Revision ID: f4c6d8e0a1b3
Revises: e3b5f2a8c402
Create Date: 2026-12-03 10:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'f4c6d8e0a1b3'
down_revision: str | None = 'e3b5f2a8c402'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# It covers what the audit counts too: a planner preferring it for a count reads the
# count from the index alone, as from the audit's own.
PENDING = sa.text("state = 'pending'")


def upgrade() -> None:
    op.create_index(
        'ix_checkpoints_open_window', 'checkpoints', ['overdue_on', 'open_on', 'due_on', 'assignee_id', 'missed_on', 'protocol_id', 'key'],
        unique=False, sqlite_where=PENDING, postgresql_where=PENDING,
    )


def downgrade() -> None:
    op.drop_index('ix_checkpoints_open_window', table_name='checkpoints')
