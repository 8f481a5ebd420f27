"""member analysis tallies per store as of a value snapshot

The member analysis reads each dimension's counts per store (summed over a region's or
the chain's stores) instead of counting 200,000 archives and their JSON lists per page.
Indexes: the primary key (run, store, dimension, …) reads one store's dimension; the
index (run, dimension, store, kind, value, number) reads one dimension across a region's
or all stores without touching the table (a chain's 400 areas are 80,000 rows).

Revision ID: f25c3e5a7d92
Revises: f25a1c3e5b70
Create Date: 2026-12-03 17:36:29.707661
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'f25c3e5a7d92'
down_revision: str | None = 'f25a1c3e5b70'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('member_tally_runs',
    sa.Column('snapshot_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ready_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['snapshot_id'], ['value_snapshots.id'], name=op.f('fk_member_tally_runs_snapshot_id_value_snapshots'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_member_tally_runs'))
    )
    with op.batch_alter_table('member_tally_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_member_tally_runs_snapshot_id'), ['snapshot_id'], unique=False)

    op.create_table('member_tallies',
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('store_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('dimension', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('value', sa.String(length=160), nullable=False),
    sa.Column('number', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['member_tally_runs.id'], name=op.f('fk_member_tallies_run_id_member_tally_runs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_member_tallies_store_id_stores')),
    sa.PrimaryKeyConstraint('run_id', 'store_id', 'dimension', 'kind', 'value', name=op.f('pk_member_tallies'))
    )
    with op.batch_alter_table('member_tallies', schema=None) as batch_op:
        batch_op.create_index('ix_member_tallies_dimension_store', ['run_id', 'dimension', 'store_id', 'kind', 'value', 'number'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('member_tallies', schema=None) as batch_op:
        batch_op.drop_index('ix_member_tallies_dimension_store')

    op.drop_table('member_tallies')
    with op.batch_alter_table('member_tally_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_member_tally_runs_snapshot_id'))

    op.drop_table('member_tally_runs')
