"""purchases: uuid line keys, imports attributed by their record

Revision ID: 67476c1901db
Revises: 3611fe1782d3
Create Date: 2026-11-22 23:21:34.940631
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '67476c1901db'
down_revision: str | None = '3611fe1782d3'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    # Keys were the same 32 hex digits a uuid is made of: PostgreSQL casts them, SQLite
    # keeps them as they are (its uuid is those 32 digits).
    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.alter_column('line_key',
               existing_type=sa.VARCHAR(length=64),
               type_=sa.Uuid(),
               existing_nullable=True,
               postgresql_using='line_key::uuid')
        batch_op.alter_column('recorded_by_id',
               existing_type=ID,
               nullable=True)
        batch_op.drop_index(batch_op.f('ix_purchases_import_id'))
        batch_op.create_check_constraint(
            'attributed', 'recorded_by_id IS NOT NULL OR import_id IS NOT NULL')


def downgrade() -> None:
    op.execute(
        'UPDATE purchases SET recorded_by_id = (SELECT imported_by_id FROM purchase_imports '
        'WHERE purchase_imports.id = purchases.import_id) WHERE recorded_by_id IS NULL'
    )
    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_purchases_attributed'), type_='check')
        batch_op.create_index(batch_op.f('ix_purchases_import_id'), ['import_id'], unique=False)
        batch_op.alter_column('recorded_by_id',
               existing_type=ID,
               nullable=False)
        batch_op.alter_column('line_key',
               existing_type=sa.Uuid(),
               type_=sa.VARCHAR(length=64),
               existing_nullable=True,
               postgresql_using="replace(line_key::text, '-', '')")
