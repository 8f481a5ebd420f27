"""call outcomes that mean something: agreed to come, remind later, removed with a reason

A call's attempt may say the day the member agreed to come, the day it is back on the
lists, or why the member was removed from follow-up; a step holds until the agreed day
(plus grace) or sleeps until the reminder; a plan says why a call removed it; a member
records a death and a phone reported wrong. Two outcomes join the attempt's list, so its
CHECK constraint is remade.

The old outcomes `refused` and `wrong_number` stay readable as they were (the step
stayed open; no plan was stopped). A wrong number now flags the phone for the next
verification: a member whose latest wrong-number attempt is newer than the archive's
last verification gets that flag, attributed to whoever logged the attempt.

Revision ID: a8c2e4f6b1d3
Revises: f4c6d8e0a1b3
Create Date: 2026-12-03 13:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'a8c2e4f6b1d3'
down_revision: str | None = 'f4c6d8e0a1b3'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


OLD = ('unreachable', 'call_back', 'refused', 'wrong_number')
NEW = ('unreachable', 'call_back', 'agreed_to_visit', 'remind_later', 'removed', 'refused', 'wrong_number')
REASONS = ('moved_away', 'transferred', 'died', 'wrong_number', 'refused')
ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


LATEST_WRONG = """
    FROM contact_attempts a
    JOIN checkpoints c ON c.id = a.checkpoint_id
    JOIN care_plans p ON p.id = c.plan_id
    WHERE p.member_id = members.id AND a.outcome = 'wrong_number'
"""


def upgrade() -> None:
    with op.batch_alter_table('contact_attempts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('visit_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('remind_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('removal_reason', sa.String(length=24), nullable=True))
        batch_op.create_check_constraint('attempt_removal_reason', _in('removal_reason', REASONS))
        batch_op.drop_constraint(batch_op.f('ck_contact_attempts_attempt_outcome'), type_='check')
        batch_op.create_check_constraint('attempt_outcome', _in('outcome', NEW))
    op.add_column('checkpoints', sa.Column('visit_on', sa.Date(), nullable=True))
    op.add_column('checkpoints', sa.Column('held_until', sa.Date(), nullable=True))
    op.add_column('checkpoints', sa.Column('snoozed_until', sa.Date(), nullable=True))
    if op.get_bind().dialect.name == 'sqlite':
        # In place: a batch copy of these tables is what their many references make slow.
        op.execute("ALTER TABLE care_plans ADD COLUMN removed_for VARCHAR(24) CONSTRAINT "
                   f"ck_care_plans_plan_removed_for CHECK ({_in('removed_for', REASONS)})")
        op.execute("ALTER TABLE members ADD COLUMN died_on DATE")
        op.execute("ALTER TABLE members ADD COLUMN died_recorded_at DATETIME")
        op.execute("ALTER TABLE members ADD COLUMN died_recorded_by_id INTEGER CONSTRAINT "
                   "fk_members_died_recorded_by_id_staff REFERENCES staff (id)")
        op.execute("ALTER TABLE members ADD COLUMN phone_flagged_at DATETIME")
        op.execute("ALTER TABLE members ADD COLUMN phone_flagged_by_id INTEGER CONSTRAINT "
                   "fk_members_phone_flagged_by_id_staff REFERENCES staff (id)")
    else:
        op.add_column('care_plans', sa.Column('removed_for', sa.String(length=24), nullable=True))
        op.create_check_constraint('plan_removed_for', 'care_plans', _in('removed_for', REASONS))
        op.add_column('members', sa.Column('died_on', sa.Date(), nullable=True))
        op.add_column('members', sa.Column('died_recorded_at', sa.DateTime(timezone=True), nullable=True))
        op.add_column('members', sa.Column('died_recorded_by_id', ID, nullable=True))
        op.create_foreign_key(op.f('fk_members_died_recorded_by_id_staff'), 'members', 'staff', ['died_recorded_by_id'], ['id'])
        op.add_column('members', sa.Column('phone_flagged_at', sa.DateTime(timezone=True), nullable=True))
        op.add_column('members', sa.Column('phone_flagged_by_id', ID, nullable=True))
        op.create_foreign_key(op.f('fk_members_phone_flagged_by_id_staff'), 'members', 'staff', ['phone_flagged_by_id'], ['id'])
    op.execute(
        "UPDATE members SET "
        f"phone_flagged_at = (SELECT MAX(a.attempted_at) {LATEST_WRONG}), "
        f"phone_flagged_by_id = (SELECT a.staff_id {LATEST_WRONG} "
        "ORDER BY a.attempted_at DESC, a.id DESC LIMIT 1) "
        f"WHERE erased_at IS NULL AND EXISTS (SELECT 1 {LATEST_WRONG} AND "
        "(members.last_verified_on IS NULL OR a.attempted_at > members.last_verified_on))"
    )


def downgrade() -> None:
    # The new outcomes have no word in the old list: they read as plain unanswered calls
    # (the plans they stopped stay stopped, with their reason in stop_reason).
    op.execute("UPDATE contact_attempts SET outcome = 'unreachable' "
               "WHERE outcome IN ('agreed_to_visit', 'remind_later', 'removed')")
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite drops no column a foreign key names in place: a batch copy (its
        # references are off while migrating, migrations/env.py).
        with op.batch_alter_table('members', schema=None) as batch_op:
            for column in ('phone_flagged_by_id', 'phone_flagged_at', 'died_recorded_by_id',
                           'died_recorded_at', 'died_on'):
                batch_op.drop_column(column)
        with op.batch_alter_table('care_plans', schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f('ck_care_plans_plan_removed_for'), type_='check')
            batch_op.drop_column('removed_for')
    else:
        op.drop_constraint(op.f('fk_members_phone_flagged_by_id_staff'), 'members', type_='foreignkey')
        op.drop_constraint(op.f('fk_members_died_recorded_by_id_staff'), 'members', type_='foreignkey')
        for column in ('phone_flagged_by_id', 'phone_flagged_at', 'died_recorded_by_id',
                       'died_recorded_at', 'died_on'):
            op.drop_column('members', column)
        op.drop_constraint(op.f('ck_care_plans_plan_removed_for'), 'care_plans', type_='check')
        op.drop_column('care_plans', 'removed_for')
    op.drop_column('checkpoints', 'snoozed_until')
    op.drop_column('checkpoints', 'held_until')
    op.drop_column('checkpoints', 'visit_on')
    with op.batch_alter_table('contact_attempts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_contact_attempts_attempt_outcome'), type_='check')
        batch_op.create_check_constraint('attempt_outcome', _in('outcome', OLD))
        batch_op.drop_constraint(batch_op.f('ck_contact_attempts_attempt_removal_reason'), type_='check')
        batch_op.drop_column('removal_reason')
        batch_op.drop_column('remind_on')
        batch_op.drop_column('visit_on')
