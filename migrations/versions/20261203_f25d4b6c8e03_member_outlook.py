"""a member's outlook (预计续购) as staff set it: which, why, who and when

How soon a member is likely to buy again sets their contact plan (careplan/value/outlook.py).
Unset, the member page shows the default from the purchase rhythm, computed when asked,
so nothing is backfilled. No index: the outlook is read with its member, never searched.

Revision ID: f25d4b6c8e03
Revises: f25c3e5a7d92
Create Date: 2026-12-03 17:45:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'f25d4b6c8e03'
down_revision: str | None = 'f25c3e5a7d92'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OUTLOOKS = ('this_month', 'two_months', 'three_months', 'beyond')
ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
COLUMNS = ('outlook_at', 'outlook_by_id', 'outlook_reason', 'outlook')


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        # In place: a batch copy of members is what its many references make slow.
        op.execute("ALTER TABLE members ADD COLUMN outlook VARCHAR(24) CONSTRAINT "
                   f"ck_members_member_outlook CHECK ({_in('outlook', OUTLOOKS)})")
        op.execute("ALTER TABLE members ADD COLUMN outlook_reason VARCHAR(255)")
        op.execute("ALTER TABLE members ADD COLUMN outlook_by_id INTEGER CONSTRAINT "
                   "fk_members_outlook_by_id_staff REFERENCES staff (id)")
        op.execute("ALTER TABLE members ADD COLUMN outlook_at DATETIME")
    else:
        op.add_column('members', sa.Column('outlook', sa.String(length=24), nullable=True))
        op.create_check_constraint('member_outlook', 'members', _in('outlook', OUTLOOKS))
        op.add_column('members', sa.Column('outlook_reason', sa.String(length=255), nullable=True))
        op.add_column('members', sa.Column('outlook_by_id', ID, nullable=True))
        op.create_foreign_key(op.f('fk_members_outlook_by_id_staff'), 'members', 'staff',
                              ['outlook_by_id'], ['id'])
        op.add_column('members', sa.Column('outlook_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite drops no column a foreign key or CHECK names in place: a batch copy.
        with op.batch_alter_table('members', schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f('ck_members_member_outlook'), type_='check')
            for column in COLUMNS:
                batch_op.drop_column(column)
    else:
        op.drop_constraint(op.f('fk_members_outlook_by_id_staff'), 'members', type_='foreignkey')
        op.drop_constraint(op.f('ck_members_member_outlook'), 'members', type_='check')
        for column in COLUMNS:
            op.drop_column('members', column)
