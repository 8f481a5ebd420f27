"""members.last_seen_on: the day of a member's last purchase, step result or contact attempt

The long-inactive list (careplan/value/activity.py) reads it from two partial indexes
(the chain's current members, a store's) instead of probing three tables per member:
seconds for a chain's 200,000 members before, milliseconds after. Filled here from what
is recorded; kept from now on as each purchase, result or attempt is written.

Revision ID: f25e6a8c0d14
Revises: f25d4b6c8e03
Create Date: 2026-12-04 19:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'f25e6a8c0d14'
down_revision: str | None = 'f25d4b6c8e03'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CURRENT = "erased_at IS NULL AND died_on IS NULL"
STEPS = ("JOIN care_plans ON care_plans.id = checkpoints.plan_id "
         "WHERE care_plans.member_id = members.id")


def _latest(pg: bool) -> list[str]:
    """Each source's last day for a member (a moment's day in UTC, as the rule counts)."""
    attempt_day = ("(max(a.attempted_at) AT TIME ZONE 'UTC')::date" if pg
                   else "substr(max(a.attempted_at), 1, 10)")
    return [
        "(SELECT max(p.purchased_on) FROM purchases p WHERE p.member_id = members.id)",
        "(SELECT max(r.contacted_on) FROM checkpoint_results r "
        f"JOIN checkpoints ON checkpoints.id = r.checkpoint_id {STEPS})",
        f"(SELECT {attempt_day} FROM contact_attempts a "
        f"JOIN checkpoints ON checkpoints.id = a.checkpoint_id {STEPS})",
    ]


def upgrade() -> None:
    pg = op.get_bind().dialect.name == 'postgresql'
    op.add_column('members', sa.Column('last_seen_on', sa.Date(), nullable=True))
    never = "DATE '0001-01-01'" if pg else "'0001-01-01'"
    for latest in _latest(pg):
        op.execute(f"UPDATE members SET last_seen_on = {latest} "
                   f"WHERE {latest} > coalesce(last_seen_on, {never})")
    op.create_index('ix_members_current_last_seen', 'members',
                    ['last_seen_on', 'created_at', 'id'],
                    sqlite_where=sa.text(CURRENT), postgresql_where=sa.text(CURRENT))
    op.create_index('ix_members_store_current_last_seen', 'members',
                    ['home_store_id', 'last_seen_on', 'created_at', 'id'],
                    sqlite_where=sa.text(CURRENT), postgresql_where=sa.text(CURRENT))


def downgrade() -> None:
    op.drop_index('ix_members_store_current_last_seen', table_name='members')
    op.drop_index('ix_members_current_last_seen', table_name='members')
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_column('last_seen_on')
