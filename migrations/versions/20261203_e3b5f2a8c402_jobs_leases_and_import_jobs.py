"""background jobs: leases on sheet batches, import jobs as rows

A consumer claims a job's row under a lease (who, which task, until when, how many
claims); a large till upload's job becomes a row instead of a JSON status file beside
the upload. Both tables are indexed by state: the sweep looks for the live ones.

Revision ID: e3b5f2a8c402
Revises: d7a4c1e9b201
Create Date: 2026-12-03 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


revision: str = 'e3b5f2a8c402'
down_revision: str | None = 'd7a4c1e9b201'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
STATES = ('queued', 'running', 'done', 'refused', 'failed')


def _lease() -> list[sa.Column]:
    return [
        sa.Column('claimed_by', sa.String(length=120), nullable=True),
        sa.Column('claim_token', sa.String(length=64), nullable=True),
        sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        'import_jobs',
        sa.Column('id', Id, autoincrement=True, nullable=False),
        sa.Column('file_name', sa.String(length=255), nullable=False),
        sa.Column('uploaded_by_id', Id, nullable=False),
        sa.Column('today', sa.Date(), nullable=False),
        sa.Column('total', sa.Integer(), nullable=False),
        sa.Column('done', sa.Integer(), nullable=False),
        sa.Column('state', sa.Enum(*STATES, name='import_job_state', native_enum=False,
                                   create_constraint=True, length=24), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('import_id', Id, nullable=True),
        sa.Column('result', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        *_lease(),
        sa.ForeignKeyConstraint(['import_id'], ['purchase_imports.id'], name=op.f('fk_import_jobs_import_id_purchase_imports')),
        sa.ForeignKeyConstraint(['uploaded_by_id'], ['staff.id'], name=op.f('fk_import_jobs_uploaded_by_id_staff')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_import_jobs')),
    )
    op.create_index(op.f('ix_import_jobs_state'), 'import_jobs', ['state'], unique=False)
    # Added in place on SQLite too: a batch copy of sheet_batches would drop the table,
    # which its prints' foreign keys refuse once there are any.
    for column in _lease():
        op.add_column('sheet_batches', column)
    op.create_index(op.f('ix_sheet_batches_state'), 'sheet_batches', ['state'], unique=False)


def downgrade() -> None:
    # A batch queued or running when the schema goes back is left to the old workers,
    # which know no lease. An import job's upload stays in the work directory, and the
    # old status files are not written back: such uploads are lost (swept as orphans).
    op.drop_index(op.f('ix_sheet_batches_state'), table_name='sheet_batches')
    for name in ('attempts', 'lease_until', 'claim_token', 'claimed_by'):
        op.drop_column('sheet_batches', name)
    op.drop_index(op.f('ix_import_jobs_state'), table_name='import_jobs')
    op.drop_table('import_jobs')
