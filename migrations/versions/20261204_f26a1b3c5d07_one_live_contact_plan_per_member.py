"""one live contact plan per member, whichever outlook set it

Two outlook changes of one member at once could each stop the old contact plan and
enrol their own: two live contact plans, two rhythms of calls on the clerk's list.
careplan/value/outlook.py now locks the member first; this partial unique index holds it
in the database too. A member who already has several keeps the newest: the others are
stopped as a later outlook change would have stopped them, their open steps cancelled
(recorded results and attempts stay).

Revision ID: f26a1b3c5d07
Revises: f25e6a8c0d14
Create Date: 2026-12-04 18:50:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'f26a1b3c5d07'
down_revision: str | None = 'f25e6a8c0d14'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONTACT_PROTOCOLS = ('contact_this_month', 'contact_two_months', 'contact_three_months',
                     'contact_beyond')
INDEX = 'uq_care_plans_one_live_contact_plan'


def _live(prefix: str = '') -> str:
    protocols = ", ".join(f"'{p}'" for p in CONTACT_PROTOCOLS)
    return (f"{prefix}status IN ('active', 'paused') "
            f"AND {prefix}protocol_id IN ({protocols})")


LIVE = _live()


def _stop_all_but_the_newest() -> None:
    older = (f"SELECT p.id FROM care_plans p WHERE {_live('p.')} AND p.id < "
             f"(SELECT MAX(q.id) FROM care_plans q WHERE q.member_id = p.member_id "
             f"AND {_live('q.')})")
    ids = [row[0] for row in op.get_bind().execute(sa.text(older))]
    if not ids:
        return
    stopped = sa.text("UPDATE care_plans SET status = 'stopped', stopped_on = CURRENT_DATE, "
                      "stop_reason = 'two live contact plans: the newest kept' "
                      "WHERE id IN :ids").bindparams(sa.bindparam('ids', expanding=True))
    cancelled = sa.text("UPDATE checkpoints SET state = 'cancelled' WHERE plan_id IN :ids "
                        "AND state IN ('pending', 'paused')"
                        ).bindparams(sa.bindparam('ids', expanding=True))
    op.get_bind().execute(stopped, {'ids': ids})
    op.get_bind().execute(cancelled, {'ids': ids})


def upgrade() -> None:
    _stop_all_but_the_newest()
    op.create_index(INDEX, 'care_plans', ['member_id'], unique=True,
                    sqlite_where=sa.text(LIVE), postgresql_where=sa.text(LIVE))


def downgrade() -> None:
    op.drop_index(INDEX, table_name='care_plans',
                  sqlite_where=sa.text(LIVE), postgresql_where=sa.text(LIVE))
