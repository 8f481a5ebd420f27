"""holiday cover: hand-overs with an end date

A hand-over may end: the ownership says its last day and whom the members go back to,
and two reasons join the list (cover, cover_ended), so the CHECK constraint is remade.

Revision ID: c5adde428d8d
Revises: b91cb8c904d8
Create Date: 2026-12-02 03:01:32.383870
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'c5adde428d8d'
down_revision: str | None = 'b91cb8c904d8'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


OLD = ('registered', 'reassigned', 'staff_left', 'escalation')
NEW = (*OLD, 'cover', 'cover_ended')


def _reasons(values: tuple[str, ...]) -> str:
    return "reason IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    with op.batch_alter_table('ownerships', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cover_until', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('returns_to_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_ownerships_returns_to_id_staff'), 'staff', ['returns_to_id'], ['id'])
        batch_op.drop_constraint(batch_op.f('ck_ownerships_ownership_reason'), type_='check')
        batch_op.create_check_constraint('ownership_reason', _reasons(NEW))


def downgrade() -> None:
    # Covers become ordinary hand-overs (the old list has no word for them).
    op.execute("UPDATE ownerships SET reason = 'reassigned' WHERE reason IN ('cover', 'cover_ended')")
    with op.batch_alter_table('ownerships', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_ownerships_ownership_reason'), type_='check')
        batch_op.create_check_constraint('ownership_reason', _reasons(OLD))
        batch_op.drop_constraint(batch_op.f('fk_ownerships_returns_to_id_staff'), type_='foreignkey')
        batch_op.drop_column('returns_to_id')
        batch_op.drop_column('cover_until')
