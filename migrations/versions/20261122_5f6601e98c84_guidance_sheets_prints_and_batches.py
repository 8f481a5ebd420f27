"""guidance sheets: prints and batches

Revision ID: 5f6601e98c84
Revises: 1d132c261efb
Create Date: 2026-11-22 18:39:25.341545
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '5f6601e98c84'
down_revision: str | None = '1d132c261efb'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sheet_batches',
    sa.Column('requested_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('store_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('staff_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('on_date', sa.Date(), nullable=False),
    sa.Column('paper', sa.Enum('a4', 'a5', name='batch_paper', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('checkpoint_ids', sa.Text(), nullable=False),
    sa.Column('state', sa.Enum('queued', 'running', 'done', 'failed', name='batch_state', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('pdf', sa.LargeBinary(), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['requested_by_id'], ['staff.id'], name=op.f('fk_sheet_batches_requested_by_id_staff')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_sheet_batches_staff_id_staff')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_sheet_batches_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sheet_batches'))
    )
    with op.batch_alter_table('sheet_batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sheet_batches_store_id'), ['store_id'], unique=False)

    op.create_table('sheet_prints',
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('checkpoint_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('batch_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('printed_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('printed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('paper', sa.Enum('a4', 'a5', name='sheet_paper', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['sheet_batches.id'], name=op.f('fk_sheet_prints_batch_id_sheet_batches')),
    sa.ForeignKeyConstraint(['checkpoint_id'], ['checkpoints.id'], name=op.f('fk_sheet_prints_checkpoint_id_checkpoints')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_sheet_prints_member_id_members')),
    sa.ForeignKeyConstraint(['printed_by_id'], ['staff.id'], name=op.f('fk_sheet_prints_printed_by_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sheet_prints')),
    sa.UniqueConstraint('code', name=op.f('uq_sheet_prints_code'))
    )
    with op.batch_alter_table('sheet_prints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sheet_prints_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sheet_prints_checkpoint_id'), ['checkpoint_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sheet_prints_member_id'), ['member_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('sheet_prints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sheet_prints_member_id'))
        batch_op.drop_index(batch_op.f('ix_sheet_prints_checkpoint_id'))
        batch_op.drop_index(batch_op.f('ix_sheet_prints_batch_id'))

    op.drop_table('sheet_prints')
    with op.batch_alter_table('sheet_batches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sheet_batches_store_id'))

    op.drop_table('sheet_batches')
