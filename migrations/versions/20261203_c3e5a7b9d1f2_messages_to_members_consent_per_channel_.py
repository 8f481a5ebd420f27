"""messages to members: consent per channel and the outbox

Revision ID: c3e5a7b9d1f2
Revises: a8c2e4f6b1d3
Create Date: 2026-12-03 13:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = 'c3e5a7b9d1f2'
down_revision: str | None = 'a8c2e4f6b1d3'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('message_consents',
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('channel', sa.Enum('sms', 'wechat', name='consent_channel', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('address', sa.String(length=128), nullable=True),
    sa.Column('granted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('granted_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('withdrawn_via', sa.String(length=16), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['granted_by_id'], ['staff.id'], name=op.f('fk_message_consents_granted_by_id_staff')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_message_consents_member_id_members')),
    sa.ForeignKeyConstraint(['withdrawn_by_id'], ['staff.id'], name=op.f('fk_message_consents_withdrawn_by_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_consents')),
    sa.UniqueConstraint('member_id', 'channel', name=op.f('uq_message_consents_member_id_channel'))
    )
    op.create_table('messages',
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('store_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('channel', sa.Enum('sms', 'wechat', name='message_channel', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('reason', sa.Enum('step_reminder', 'step_nudge', 'refill', 'lecture_invitation', 'lecture_reminder', 'birthday', 'festival', 'welcome', name='message_reason', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('ref', sa.String(length=64), nullable=False),
    sa.Column('for_day', sa.Date(), nullable=False),
    sa.Column('template', sa.String(length=64), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('variables', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('state', sa.Enum('queued', 'sending', 'sent', 'delivered', 'failed', 'cancelled', name='message_state', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('not_before', sa.DateTime(timezone=True), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=True),
    sa.Column('provider_id', sa.String(length=64), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('sending_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancel_reason', sa.String(length=32), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['staff.id'], name=op.f('fk_messages_created_by_id_staff')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_messages_member_id_members')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_messages_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_messages')),
    sa.UniqueConstraint('member_id', 'for_day', 'reason', 'ref', name=op.f('uq_messages_member_id_for_day_reason_ref'))
    )
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_messages_provider_id'), ['provider_id'], unique=False)
        batch_op.create_index('ix_messages_store_day', ['store_id', 'for_day'], unique=False)
        batch_op.create_index('ix_messages_waiting', ['state', 'not_before'], unique=False, sqlite_where=sa.text("state IN ('queued', 'sending')"), postgresql_where=sa.text("state IN ('queued', 'sending')"))



def downgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_waiting', sqlite_where=sa.text("state IN ('queued', 'sending')"), postgresql_where=sa.text("state IN ('queued', 'sending')"))
        batch_op.drop_index('ix_messages_store_day')
        batch_op.drop_index(batch_op.f('ix_messages_provider_id'))

    op.drop_table('messages')
    op.drop_table('message_consents')
