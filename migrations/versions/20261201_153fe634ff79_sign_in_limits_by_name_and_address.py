"""sign-in limits by name and address (one table, counted atomically)

Revision ID: 153fe634ff79
Revises: ecba031b9822
Create Date: 2026-12-01 20:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '153fe634ff79'
down_revision: str | None = 'ecba031b9822'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sign_in_limits',
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('counting_since', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_sign_in_limits'))
    )
    # Counts and locks in force carry over: an account locked at the upgrade stays locked.
    op.execute(
        "INSERT INTO sign_in_limits (key, failures, counting_since, locked_until) "
        "SELECT 'address:' || address, failures, counting_since, locked_until "
        "FROM sign_in_addresses"
    )
    op.execute(
        "INSERT INTO sign_in_limits (key, failures, counting_since, locked_until) "
        "SELECT 'name:' || username, failed_sign_ins, COALESCE(updated_at, created_at), "
        "locked_until FROM staff WHERE failed_sign_ins > 0 OR locked_until IS NOT NULL"
    )
    op.drop_table('sign_in_addresses')
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.drop_column('locked_until')
        batch_op.drop_column('failed_sign_ins')


def downgrade() -> None:
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_sign_ins', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True))
    op.create_table('sign_in_addresses',
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('counting_since', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('address', name=op.f('pk_sign_in_addresses'))
    )
    op.drop_table('sign_in_limits')
