"""workbench: sign-in lockout, pinyin initials

Revision ID: 1d132c261efb
Revises: 69d76206bec3
Create Date: 2026-11-22 18:08:03.447266
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pypinyin import Style, pinyin

revision: str = '1d132c261efb'
down_revision: str | None = '69d76206bec3'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _initials(name: str) -> str:
    # Frozen copy of careplan.members.pinyin.name_initials as of this revision: migrations must
    # not change when the app's code does.
    name = name.strip()
    if not name:
        return ""
    if all(c.isascii() for c in name):
        return "".join(w[0] for w in name.lower().split() if w[0].isalnum())
    letters = pinyin(name, style=Style.FIRST_LETTER, heteronym=True, errors="ignore")
    letters = [[c.lower() for c in o if c.isalnum()] for o in letters]
    letters = [o for o in letters if o]
    if not letters:
        return ""
    rest = "".join(o[0][0] for o in letters[1:])
    firsts = list(dict.fromkeys(o[0] for o in letters[0]))[:4]
    return " ".join(f + rest for f in firsts)


def upgrade() -> None:
    # Schema change, backfill, then enforce.
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('name_initials', sa.String(length=80), nullable=True, server_default='')
        )
    members = sa.table(
        'members', sa.column('id', sa.Integer), sa.column('name', sa.String),
        sa.column('name_initials', sa.String),
    )
    conn = op.get_bind()
    for member_id, name in conn.execute(sa.select(members.c.id, members.c.name)).all():
        conn.execute(
            members.update().where(members.c.id == member_id).values(name_initials=_initials(name))
        )
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.alter_column('name_initials', existing_type=sa.String(length=80), nullable=False)
        batch_op.create_index(batch_op.f('ix_members_name_initials'), ['name_initials'], unique=False)

    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_sign_ins', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.drop_column('locked_until')
        batch_op.drop_column('failed_sign_ins')

    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_members_name_initials'))
        batch_op.drop_column('name_initials')
