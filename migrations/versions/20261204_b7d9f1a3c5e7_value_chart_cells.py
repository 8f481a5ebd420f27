"""value_chart_cells: a large scope's spend chart grid, counted with its snapshot

Even read from an index alone, the chart's grid of a chain's 170,000 buyers is a grouped
scan of every row (~60 ms of the page at 200,000 members). The refresh counts it per
snapshot, period and scope (those with more buyers than the chart draws dots for), for
the medians' axes; a page whose axes differ counts afresh. No index beyond the primary
key: a page reads one (snapshot, period, scope).

Revision ID: b7d9f1a3c5e7
Revises: a6c8e0f2b4d6
Create Date: 2026-12-04 19:05:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'b7d9f1a3c5e7'
down_revision: str | None = 'a6c8e0f2b4d6'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('value_chart_cells',
    sa.Column('snapshot_id', ID, nullable=False),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('scope', sa.String(length=80), nullable=False),
    sa.Column('x', sa.Integer(), nullable=False),
    sa.Column('y', sa.Integer(), nullable=False),
    sa.Column('x_max', sa.Integer(), nullable=False),
    sa.Column('y_max', sa.Numeric(precision=14, scale=3), nullable=False),
    sa.Column('members', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['snapshot_id'], ['value_snapshots.id'], name=op.f('fk_value_chart_cells_snapshot_id_value_snapshots'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('snapshot_id', 'period', 'scope', 'x', 'y', name=op.f('pk_value_chart_cells'))
    )


def downgrade() -> None:
    op.drop_table('value_chart_cells')
