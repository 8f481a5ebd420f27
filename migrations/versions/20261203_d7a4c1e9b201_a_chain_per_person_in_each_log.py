"""a chain per person in each log: writers in different stores stop waiting for each other

Each log's entries gain `chain` (the acting staff member's id, 0 for the system) and
`seq` becomes unique within its chain, not across the log (careplan/trust/ledger.py says
why). Every entry already written is chain 0 with its seal as it was: they were one
chain, and the system's entries continue it.

On SQLite the tables are copied to change their unique keys, which drops their
append-only triggers: they are made again, `chain` among the columns no update may touch.
PostgreSQL's triggers refuse every update but an erasure's blanking of `changes` whatever
the columns, and stay as they are.

Revision ID: d7a4c1e9b201
Revises: 87b9f04f4be2
Create Date: 2026-12-03 09:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'd7a4c1e9b201'
down_revision: str | None = '87b9f04f4be2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOGS = ('change_log', 'access_log')
REFUSED = 'change_log is append-only: only a recorded erasure may blank its values'
# Every change_log column but `changes`, as migration ecba031b9822 listed them.
SEALED_COLUMNS = 'id, seq, content_hash, prev_hash, hash, at, actor_id, via, entity, entity_id, action'
CHUNK = 5000


def _sqlite() -> bool:
    return op.get_bind().dialect.name == 'sqlite'


def upgrade() -> None:
    for table in LOGS:
        # The default gives every entry so far chain 0, then goes: a writer names its chain.
        op.add_column(table, sa.Column('chain', sa.BigInteger(), nullable=False, server_default='0'))
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('chain', existing_type=sa.BigInteger(), existing_nullable=False,
                                  server_default=None)
            batch_op.drop_constraint(batch_op.f(f'uq_{table}_seq'), type_='unique')
            batch_op.create_unique_constraint(batch_op.f(f'uq_{table}_chain_seq'), ['chain', 'seq'])
    if _sqlite():
        _sqlite_append_only(f'chain, {SEALED_COLUMNS}')


def _sqlite_append_only(sealed_columns: str) -> None:
    """The triggers of migrations 07db7724218f and ecba031b9822, on the copied tables."""
    for table in LOGS:
        for action in ('update', 'delete'):
            op.execute(f'DROP TRIGGER IF EXISTS {table}_no_{action}')
        op.execute(
            f'CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} '
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        )
    op.execute(
        'CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log '
        "BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END"
    )
    op.execute('DROP TRIGGER IF EXISTS change_log_erase_only')
    op.execute(
        f'CREATE TRIGGER change_log_no_update BEFORE UPDATE OF {sealed_columns} ON change_log '
        f"BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END"
    )
    op.execute(
        'CREATE TRIGGER change_log_erase_only BEFORE UPDATE OF changes ON change_log '
        "WHEN NOT EXISTS (SELECT 1 FROM erasures WHERE id = json_extract(NEW.changes, '$.erased')) "
        f"BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END"
    )


def downgrade() -> None:
    """Back to one chain per log: every entry is chained again in id order, as migration
    07db7724218f first chained them. Resealing would hide a break, so a log whose chains
    do not hold is refused (its content hashes are kept: an edit still shows)."""
    for table in LOGS:
        _refuse_a_broken_chain(table)
    if not _sqlite():
        for table in LOGS:
            op.execute(f'ALTER TABLE {table} DISABLE TRIGGER USER')
    for table in LOGS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f'uq_{table}_chain_seq'), type_='unique')
            batch_op.drop_column('chain')
        _one_chain(table)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_unique_constraint(batch_op.f(f'uq_{table}_seq'), ['seq'])
    if _sqlite():
        _sqlite_append_only(SEALED_COLUMNS)
    else:
        for table in LOGS:
            op.execute(f'ALTER TABLE {table} ENABLE TRIGGER USER')


def _log(table: str, *names: str) -> sa.TableClause:
    return sa.table(table, *(sa.column(name) for name in names))


def _refuse_a_broken_chain(table: str) -> None:
    from careplan.trust.ledger import GENESIS, link

    log = _log(table, 'chain', 'seq', 'prev_hash', 'content_hash', 'hash')
    chain, seq, prev = None, 0, GENESIS
    rows = op.get_bind().execute(sa.select(log).order_by(log.c.chain, log.c.seq))
    for row in rows:
        if row.chain != chain:
            chain, seq, prev = row.chain, 0, GENESIS
        seq += 1
        if (row.seq, row.prev_hash) != (seq, prev) or link(prev, row.content_hash) != row.hash:
            raise RuntimeError(
                f'{table}: chain {chain} breaks at seq {row.seq} (careplan audit-log verify '
                'says how); resealing it as one chain would hide that'
            )
        prev = row.hash


def _one_chain(table: str) -> None:
    from careplan.trust.ledger import GENESIS, link

    log = _log(table, 'id', 'seq', 'prev_hash', 'content_hash', 'hash')
    bind = op.get_bind()
    update = log.update().where(log.c.id == sa.bindparam('key')).values(
        seq=sa.bindparam('new_seq'), prev_hash=sa.bindparam('new_prev'), hash=sa.bindparam('new_hash'),
    )
    last, seq, prev = 0, 0, GENESIS
    while True:
        chunk = bind.execute(
            sa.select(log.c.id, log.c.content_hash).where(log.c.id > last).order_by(log.c.id).limit(CHUNK)
        ).all()
        if not chunk:
            return
        sealed = []
        for key, content in chunk:
            seq += 1
            new = link(prev, content)
            sealed.append({'key': key, 'new_seq': seq, 'new_prev': prev, 'new_hash': new})
            prev, last = new, key
        bind.execute(update, sealed)
