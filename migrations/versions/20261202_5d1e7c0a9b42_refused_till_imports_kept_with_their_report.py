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


CHECK = "outcome IN ('imported', 'refused')"


def upgrade() -> None:
    # Every import until now was taken in: the default says so for the rows there.
    # SQLite adds the columns in place: a batch copy of the table would drop it, which
    # its purchases' foreign keys refuse once there are any.
    if op.get_bind().dialect.name == 'sqlite':
        op.execute("ALTER TABLE purchase_imports ADD COLUMN outcome VARCHAR(24) "
                   "DEFAULT 'imported' NOT NULL "
                   f"CONSTRAINT ck_purchase_imports_import_outcome CHECK ({CHECK})")
        op.execute("ALTER TABLE purchase_imports ADD COLUMN report JSON")
        return
    op.add_column('purchase_imports', sa.Column('outcome', sa.String(length=24), server_default='imported', nullable=False))
    op.create_check_constraint('import_outcome', 'purchase_imports', CHECK)
    op.add_column('purchase_imports', sa.Column('report', postgresql.JSONB(astext_type=sa.Text()), nullable=True))


def downgrade() -> None:
    # A refused import has no lines; its change-log entries stay (the log is append-only).
    op.execute("DELETE FROM purchase_imports WHERE outcome = 'refused'")
    if op.get_bind().dialect.name == 'sqlite':
        op.execute("ALTER TABLE purchase_imports DROP COLUMN report")
        op.execute("ALTER TABLE purchase_imports DROP COLUMN outcome")
        return
    op.drop_column('purchase_imports', 'report')
    op.drop_column('purchase_imports', 'outcome')
