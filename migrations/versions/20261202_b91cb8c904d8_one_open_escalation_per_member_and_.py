"""one open escalation per member and reason

A second "stopped" answer for the same member and reason now adds to the open
escalation (a count of reports and the latest one) instead of opening another. Open
duplicates made before this are merged first: the oldest keeps the count, the latest
report and its due date; the others are closed naming the one they were merged into.
Then a partial unique index enforces the rule on SQLite and PostgreSQL alike.

Revision ID: b91cb8c904d8
Revises: 5d1e7c0a9b42
Create Date: 2026-12-02 02:40:51
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'b91cb8c904d8'
down_revision: str | None = '5d1e7c0a9b42'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status = 'open'")
# An open escalation of the same member and reason raised after (later) or before (earlier).
LATER = ("FROM escalations d WHERE d.member_id = escalations.member_id AND d.reason = "
         "escalations.reason AND d.status = 'open' AND d.id > escalations.id")
EARLIER = LATER.replace("d.id > escalations.id", "d.id < escalations.id")


def upgrade() -> None:
    with op.batch_alter_table('escalations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reports', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('last_reported_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_checkpoint_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_escalations_last_checkpoint_id_checkpoints'), 'checkpoints', ['last_checkpoint_id'], ['id'])
    # Backfill: merge open duplicates into the oldest, then close the others.
    op.execute(
        f"UPDATE escalations SET reports = 1 + (SELECT COUNT(*) {LATER}), "
        f"last_reported_at = (SELECT MAX(d.raised_at) {LATER}), "
        f"last_checkpoint_id = (SELECT d.checkpoint_id {LATER} ORDER BY d.id DESC LIMIT 1) "
        f"WHERE status = 'open' AND NOT EXISTS (SELECT 1 {EARLIER}) "
        f"AND EXISTS (SELECT 1 {LATER})"
    )
    op.execute(
        "UPDATE escalations SET status = 'resolved', resolved_at = raised_at, "
        "resolution = 'merged into escalation ' || (SELECT MIN(d.id) "
        f"{EARLIER}) WHERE status = 'open' AND EXISTS (SELECT 1 {EARLIER})"
    )
    # Enforce.
    with op.batch_alter_table('escalations', schema=None) as batch_op:
        batch_op.create_index('uq_escalations_open_member_reason', ['member_id', 'reason'], unique=True, sqlite_where=OPEN, postgresql_where=OPEN)


def downgrade() -> None:
    with op.batch_alter_table('escalations', schema=None) as batch_op:
        batch_op.drop_index('uq_escalations_open_member_reason', sqlite_where=OPEN, postgresql_where=OPEN)
        batch_op.drop_constraint(batch_op.f('fk_escalations_last_checkpoint_id_checkpoints'), type_='foreignkey')
        batch_op.drop_column('last_checkpoint_id')
        batch_op.drop_column('last_reported_at')
        batch_op.drop_column('reports')
