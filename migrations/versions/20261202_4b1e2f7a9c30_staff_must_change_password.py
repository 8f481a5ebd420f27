"""staff: a one-time password must be changed at the next sign-in

Revision ID: 4b1e2f7a9c30
Revises: 153fe634ff79
Create Date: 2026-12-02 02:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '4b1e2f7a9c30'
down_revision: str | None = '153fe634ff79'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing accounts chose their own passwords: none is made to change it. A plain
    # ADD COLUMN, not a batch copy: SQLite cannot drop a table others refer to.
    op.add_column('staff', sa.Column('must_change_password', sa.Boolean(), nullable=False,
                                     server_default=sa.false()))


def downgrade() -> None:
    op.drop_column('staff', 'must_change_password')  # SQLite 3.35+ drops it in place
