"""overdue steps inherited at a hand-over

A step already overdue when its member changes hands records whose it was and the day
the new holder got it (no backfill: earlier hand-overs did not say).

Revision ID: 87b9f04f4be2
Revises: c5adde428d8d
Create Date: 2026-12-02 03:10:30.515077
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '87b9f04f4be2'
down_revision: str | None = 'c5adde428d8d'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('checkpoints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('inherited_from_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.add_column(sa.Column('inherited_on', sa.Date(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_checkpoints_inherited_from_id_staff'), 'staff', ['inherited_from_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('checkpoints', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_checkpoints_inherited_from_id_staff'), type_='foreignkey')
        batch_op.drop_column('inherited_on')
        batch_op.drop_column('inherited_from_id')
