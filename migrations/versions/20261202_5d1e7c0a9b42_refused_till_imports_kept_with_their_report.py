"""refused till imports kept with their report

Revision ID: 5d1e7c0a9b42
Revises: 4b1e2f7a9c30
Create Date: 2026-12-02 03:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


revision: str = '5d1e7c0a9b42'
down_revision: str | None = '4b1e2f7a9c30'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every import until now was taken in: the default says so for the rows there.
    with op.batch_alter_table('purchase_imports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('outcome', sa.Enum('imported', 'refused', name='import_outcome', native_enum=False, create_constraint=True, length=24), server_default='imported', nullable=False))
        batch_op.add_column(sa.Column('report', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True))


def downgrade() -> None:
    # A refused import has no lines; its change-log entries stay (the log is append-only).
    op.execute("DELETE FROM purchase_imports WHERE outcome = 'refused'")
    with op.batch_alter_table('purchase_imports', schema=None) as batch_op:
        batch_op.drop_constraint('import_outcome', type_='check')
        batch_op.drop_column('report')
        batch_op.drop_column('outcome')
