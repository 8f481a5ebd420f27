"""hash-chained change log and access log

Revision ID: 07db7724218f
Revises: 67476c1901db
Create Date: 2026-11-22 23:58:27.715433
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '07db7724218f'
down_revision: str | None = '67476c1901db'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
SEALS = ('seq', 'content_hash', 'prev_hash', 'hash')
LOGS = ('change_log', 'access_log')


def _seal_columns(nullable: bool) -> list[sa.Column]:
    return [
        sa.Column('seq', sa.BigInteger(), nullable=nullable),
        sa.Column('content_hash', sa.String(length=64), nullable=nullable),
        sa.Column('prev_hash', sa.String(length=64), nullable=nullable),
        sa.Column('hash', sa.String(length=64), nullable=nullable),
    ]


def upgrade() -> None:
    op.create_table('access_log',
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', ID, nullable=True),
    sa.Column('via', sa.String(length=16), nullable=False),
    sa.Column('member_id', ID, nullable=False),
    sa.Column('what', sa.String(length=24), nullable=False),
    sa.Column('target', sa.String(length=255), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('id', ID, autoincrement=True, nullable=False),
    *_seal_columns(nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['staff.id'], name=op.f('fk_access_log_actor_id_staff')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_access_log_member_id_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_log')),
    sa.UniqueConstraint('seq', name=op.f('uq_access_log_seq'))
    )
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.create_index('ix_access_log_member_at', ['member_id', 'at'], unique=False)

    with op.batch_alter_table('change_log', schema=None) as batch_op:
        for column in _seal_columns(nullable=True):
            batch_op.add_column(column)
    _seal_existing()
    with op.batch_alter_table('change_log', schema=None) as batch_op:
        for name in SEALS:
            batch_op.alter_column(name, existing_type=sa.String(length=64) if name != 'seq'
                                  else sa.BigInteger(), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_change_log_seq'), ['seq'])
    for table in LOGS:
        _append_only(table)


def _seal_existing() -> None:
    """Chain the entries written before chains existed, in the order they were written.
    Read with the model's column types, so each value hashes as the verifier reads it;
    the columns are listed here, so later changes to the model cannot break this step."""
    from careplan.trust.ledger import GENESIS, content_hash, link
    from careplan.models.base import JsonType, UTCDateTime
    from careplan.models.change_log import CHANGE_FIELDS

    log = sa.table(
        'change_log', sa.column('id', ID), sa.column('at', UTCDateTime()),
        sa.column('actor_id', ID), sa.column('via', sa.String()), sa.column('entity', sa.String()),
        sa.column('entity_id', sa.Integer()), sa.column('action', sa.String()),
        sa.column('changes', JsonType), *(sa.column(n) for n in SEALS),
    )
    bind = op.get_bind()
    prev, seq, sealed = GENESIS, 0, []
    for row in bind.execute(sa.select(log).order_by(log.c.id)).mappings():
        seq += 1
        content = content_hash({name: row[name] for name in CHANGE_FIELDS})
        new = link(prev, content)
        sealed.append({'key': row['id'], 'seq': seq, 'content_hash': content, 'prev_hash': prev,
                       'hash': new})
        prev = new
    if sealed:
        bind.execute(
            log.update().where(log.c.id == sa.bindparam('key')).values(
                seq=sa.bindparam('seq'), content_hash=sa.bindparam('content_hash'),
                prev_hash=sa.bindparam('prev_hash'), hash=sa.bindparam('hash'),
            ),
            sealed,
        )


def _append_only(table: str) -> None:
    """The database itself refuses to change or delete a log entry. (A later batch
    migration of these tables on SQLite rebuilds them: it must create these again.)"""
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(
            'CREATE OR REPLACE FUNCTION careplan_append_only() RETURNS trigger LANGUAGE plpgsql '
            "AS $$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$"
        )
        op.execute(
            f'CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} '
            'FOR EACH ROW EXECUTE FUNCTION careplan_append_only()'
        )
        op.execute(
            f'CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} '
            'FOR EACH STATEMENT EXECUTE FUNCTION careplan_append_only()'
        )
        return
    for action in ('UPDATE', 'DELETE'):
        op.execute(
            f'CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} '
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        )


def _drop_append_only(table: str) -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f'DROP TRIGGER IF EXISTS {table}_append_only ON {table}')
        op.execute(f'DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}')
        return
    for action in ('update', 'delete'):
        op.execute(f'DROP TRIGGER IF EXISTS {table}_no_{action}')


def downgrade() -> None:
    for table in LOGS:
        _drop_append_only(table)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP FUNCTION IF EXISTS careplan_append_only()')
    with op.batch_alter_table('change_log', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_change_log_seq'), type_='unique')
        for name in reversed(SEALS):
            batch_op.drop_column(name)

    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.drop_index('ix_access_log_member_at')

    op.drop_table('access_log')
