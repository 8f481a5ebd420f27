"""session idle time and sign-in address lockout

Revision ID: 14e08ad26c0c
Revises: 8cf796866488
Create Date: 2026-11-23 01:11:17.691586
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '14e08ad26c0c'
down_revision: str | None = '8cf796866488'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sign_in_addresses',
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('counting_since', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('address', name=op.f('pk_sign_in_addresses'))
    )
    with op.batch_alter_table('auth_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('ended_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_auth_sessions_ended_by_id_staff'), 'staff', ['ended_by_id'], ['id'])
    # A session open at the upgrade counts as seen at its sign-in.
    op.execute('UPDATE auth_sessions SET last_seen_at = created_at')



def downgrade() -> None:
    with op.batch_alter_table('auth_sessions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_auth_sessions_ended_by_id_staff'), type_='foreignkey')
        batch_op.drop_column('ended_by_id')
        batch_op.drop_column('last_seen_at')

    op.drop_table('sign_in_addresses')
