"""erasure: anonymised members, the record of each erasure, and the one update the
change log allows (blanking an entry's values for a recorded erasure)

Revision ID: ecba031b9822
Revises: 14e08ad26c0c
Create Date: 2026-11-23 01:19:10.532182
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'ecba031b9822'
down_revision: str | None = '14e08ad26c0c'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
REFUSED = 'change_log is append-only: only a recorded erasure may blank its values'
# Every change_log column but `changes`: an erasure may not touch them.
SEALED_COLUMNS = 'id, seq, content_hash, prev_hash, hash, at, actor_id, via, entity, entity_id, action'


def upgrade() -> None:
    op.create_table('erasures',
    sa.Column('member_id', ID, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('by_id', ID, nullable=True),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('log_entries', sa.Integer(), nullable=False),
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['by_id'], ['staff.id'], name=op.f('fk_erasures_by_id_staff')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_erasures_member_id_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_erasures')),
    sa.UniqueConstraint('member_id', name=op.f('uq_erasures_member_id'))
    )
    # Plain ADD COLUMN: a batch rebuild of members fails on SQLite with data in it.
    op.add_column('members', sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True))
    if op.get_bind().dialect.name == 'postgresql':
        _postgresql_erase_only()
    else:
        _sqlite_erase_only()


def _postgresql_erase_only() -> None:
    op.execute('DROP TRIGGER IF EXISTS change_log_append_only ON change_log')
    op.execute(
        'CREATE TRIGGER change_log_no_delete BEFORE DELETE ON change_log '
        'FOR EACH ROW EXECUTE FUNCTION careplan_append_only()'
    )
    op.execute(
        'CREATE OR REPLACE FUNCTION careplan_change_log_erase_only() RETURNS trigger '
        'LANGUAGE plpgsql AS $$ BEGIN '
        "IF (to_jsonb(NEW) - 'changes') IS DISTINCT FROM (to_jsonb(OLD) - 'changes') "
        "OR NOT EXISTS (SELECT 1 FROM erasures WHERE id::text = NEW.changes->>'erased') "
        f"THEN RAISE EXCEPTION '{REFUSED}'; END IF; RETURN NEW; END $$"
    )
    op.execute(
        'CREATE TRIGGER change_log_erase_only BEFORE UPDATE ON change_log '
        'FOR EACH ROW EXECUTE FUNCTION careplan_change_log_erase_only()'
    )


def _sqlite_erase_only() -> None:
    op.execute('DROP TRIGGER IF EXISTS change_log_no_update')
    op.execute(
        f'CREATE TRIGGER change_log_no_update BEFORE UPDATE OF {SEALED_COLUMNS} ON change_log '
        f"BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END"
    )
    op.execute(
        'CREATE TRIGGER change_log_erase_only BEFORE UPDATE OF changes ON change_log '
        "WHEN NOT EXISTS (SELECT 1 FROM erasures WHERE id = json_extract(NEW.changes, '$.erased')) "
        f"BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER IF EXISTS change_log_erase_only ON change_log')
        op.execute('DROP TRIGGER IF EXISTS change_log_no_delete ON change_log')
        op.execute('DROP FUNCTION IF EXISTS careplan_change_log_erase_only()')
        op.execute(
            'CREATE TRIGGER change_log_append_only BEFORE UPDATE OR DELETE ON change_log '
            'FOR EACH ROW EXECUTE FUNCTION careplan_append_only()'
        )
    else:
        op.execute('DROP TRIGGER IF EXISTS change_log_erase_only')
        op.execute('DROP TRIGGER IF EXISTS change_log_no_update')
        op.execute(
            'CREATE TRIGGER change_log_no_update BEFORE UPDATE ON change_log '
            "BEGIN SELECT RAISE(ABORT, 'change_log is append-only'); END"
        )
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_column('erased_at')
    op.drop_table('erasures')
