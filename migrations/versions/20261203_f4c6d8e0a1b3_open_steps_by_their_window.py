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

PENDING = sa.text("state = 'pending'")


def upgrade() -> None:
    op.create_index(
        'ix_checkpoints_pending_window', 'checkpoints', ['overdue_on', 'open_on', 'due_on'],
        unique=False, sqlite_where=PENDING, postgresql_where=PENDING,
    )


def downgrade() -> None:
    op.drop_index('ix_checkpoints_pending_window', table_name='checkpoints')
