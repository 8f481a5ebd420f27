"""audit: protocol on checkpoints, partial indexes on open steps

Revision ID: 67241bca14fe
Revises: 5f6601e98c84
Create Date: 2026-11-22 19:25:35.825575
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '67241bca14fe'
down_revision: str | None = '5f6601e98c84'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The plan's protocol is copied onto its steps: added empty, filled from the plans,
    # then required.
    with op.batch_alter_table('checkpoints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('protocol_id', sa.String(length=64), nullable=True))
    op.execute(
        "UPDATE checkpoints SET protocol_id = "
        "(SELECT protocol_id FROM care_plans WHERE care_plans.id = checkpoints.plan_id)"
    )
    with op.batch_alter_table('checkpoints', schema=None) as batch_op:
        batch_op.alter_column('protocol_id', existing_type=sa.String(length=64), nullable=False)
        # (state, overdue_on) spans every step ever done; the partial indexes below serve
        # open steps, and its presence led planners to read history through it.
        batch_op.drop_index('ix_checkpoints_state_overdue')
        batch_op.create_index('ix_checkpoints_done_on', ['completed_on', 'assignee_id'], unique=False, sqlite_where=sa.text("state = 'done'"), postgresql_where=sa.text("state = 'done'"))
        batch_op.create_index('ix_checkpoints_due_rates', ['due_on', 'assignee_id', 'state', 'late', 'completed_on', 'overdue_on'], unique=False)
        batch_op.create_index('ix_checkpoints_open_by_staff', ['assignee_id', 'overdue_on', 'missed_on', 'due_on', 'protocol_id', 'key'], unique=False, sqlite_where=sa.text("state = 'pending'"), postgresql_where=sa.text("state = 'pending'"))
        batch_op.create_index('ix_checkpoints_open_expiring', ['missed_on', 'overdue_on', 'assignee_id', 'due_on', 'protocol_id', 'key'], unique=False, sqlite_where=sa.text("state = 'pending' AND missed_on IS NOT NULL"), postgresql_where=sa.text("state = 'pending' AND missed_on IS NOT NULL"))
        batch_op.create_index('ix_checkpoints_open_lasting', ['overdue_on', 'assignee_id', 'due_on', 'protocol_id', 'key'], unique=False, sqlite_where=sa.text("state = 'pending' AND missed_on IS NULL"), postgresql_where=sa.text("state = 'pending' AND missed_on IS NULL"))

    with op.batch_alter_table('escalations', schema=None) as batch_op:
        batch_op.create_index('ix_escalations_open', ['store_id', 'raised_at'], unique=False, sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))



def downgrade() -> None:
    with op.batch_alter_table('escalations', schema=None) as batch_op:
        batch_op.drop_index('ix_escalations_open', sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))

    with op.batch_alter_table('checkpoints', schema=None) as batch_op:
        batch_op.drop_index('ix_checkpoints_open_lasting', sqlite_where=sa.text("state = 'pending' AND missed_on IS NULL"), postgresql_where=sa.text("state = 'pending' AND missed_on IS NULL"))
        batch_op.drop_index('ix_checkpoints_open_expiring', sqlite_where=sa.text("state = 'pending' AND missed_on IS NOT NULL"), postgresql_where=sa.text("state = 'pending' AND missed_on IS NOT NULL"))
        batch_op.drop_index('ix_checkpoints_open_by_staff', sqlite_where=sa.text("state = 'pending'"), postgresql_where=sa.text("state = 'pending'"))
        batch_op.drop_index('ix_checkpoints_due_rates')
        batch_op.drop_index('ix_checkpoints_done_on', sqlite_where=sa.text("state = 'done'"), postgresql_where=sa.text("state = 'done'"))
        batch_op.drop_column('protocol_id')
        batch_op.create_index('ix_checkpoints_state_overdue', ['state', 'overdue_on'], unique=False)

