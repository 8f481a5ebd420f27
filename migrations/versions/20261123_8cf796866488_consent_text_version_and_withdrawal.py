"""consent text version and withdrawal

Revision ID: 8cf796866488
Revises: 07db7724218f
Create Date: 2026-11-23 00:05:57.524995
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '8cf796866488'
down_revision: str | None = '07db7724218f'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


FK = 'fk_members_health_consent_withdrawn_by_id_staff'


def upgrade() -> None:
    # Plain ADD COLUMN, not a batch rebuild: rebuilding members on SQLite drops a table
    # that plans, logs and seats reference, which its foreign keys refuse.
    op.add_column('members', sa.Column('health_consent_text', sa.String(length=16), nullable=True))
    op.add_column('members', sa.Column('health_consent_withdrawn_at', sa.DateTime(timezone=True), nullable=True))
    if op.get_bind().dialect.name == 'sqlite':
        op.execute(f'ALTER TABLE members ADD COLUMN health_consent_withdrawn_by_id INTEGER '
                   f'CONSTRAINT {FK} REFERENCES staff (id)')
    else:
        op.add_column('members', sa.Column('health_consent_withdrawn_by_id', sa.BigInteger(), nullable=True))
        op.create_foreign_key(FK, 'members', 'staff', ['health_consent_withdrawn_by_id'], ['id'])
    # Consents taken before versions were kept were given on the first form.
    op.execute("UPDATE members SET health_consent_text = '2024-01' WHERE health_consent")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_constraint(FK, 'members', type_='foreignkey')
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_column('health_consent_withdrawn_by_id')
        batch_op.drop_column('health_consent_withdrawn_at')
        batch_op.drop_column('health_consent_text')
