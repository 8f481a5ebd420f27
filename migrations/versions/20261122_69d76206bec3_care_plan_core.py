"""care plan core

Revision ID: 69d76206bec3
Revises: 
Create Date: 2026-11-22 17:50:17.726557
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '69d76206bec3'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('protocol_versions',
    sa.Column('protocol_id', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('definition', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('source', sa.String(length=255), nullable=False),
    sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_protocol_versions')),
    sa.UniqueConstraint('protocol_id', 'version', name=op.f('uq_protocol_versions_protocol_id_version'))
    )
    op.create_table('stores',
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('region', sa.String(length=64), nullable=False),
    sa.Column('address', sa.String(length=255), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stores')),
    sa.UniqueConstraint('code', name=op.f('uq_stores_code'))
    )
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stores_region'), ['region'], unique=False)

    op.create_table('staff',
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=False),
    sa.Column('role', sa.Enum('clerk', 'pharmacist', 'store_manager', 'supervisor', 'admin', name='staff_role', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('store_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('left_on', sa.DateTime(timezone=True), nullable=True),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_staff_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff')),
    sa.UniqueConstraint('username', name=op.f('uq_staff_username'))
    )
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_store_id'), ['store_id'], unique=False)

    op.create_table('auth_sessions',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('staff_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_auth_sessions_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_auth_sessions_token_hash'))
    )
    with op.batch_alter_table('auth_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auth_sessions_staff_id'), ['staff_id'], unique=False)

    op.create_table('change_log',
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('via', sa.String(length=16), nullable=False),
    sa.Column('entity', sa.String(length=40), nullable=False),
    sa.Column('entity_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=8), nullable=False),
    sa.Column('changes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['staff.id'], name=op.f('fk_change_log_actor_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_change_log'))
    )
    with op.batch_alter_table('change_log', schema=None) as batch_op:
        batch_op.create_index('ix_change_log_entity', ['entity', 'entity_id'], unique=False)

    op.create_table('members',
    sa.Column('card_number', sa.String(length=32), nullable=False),
    sa.Column('home_store_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('owner_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('sex', sa.Enum('female', 'male', 'other', name='member_sex', native_enum=False, create_constraint=True, length=24), nullable=True),
    sa.Column('birthday', sa.Date(), nullable=True),
    sa.Column('mobile', sa.String(length=20), nullable=True),
    sa.Column('landline', sa.String(length=32), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('address', sa.String(length=255), nullable=True),
    sa.Column('residential_area', sa.String(length=80), nullable=True),
    sa.Column('medical_history', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('drug_allergies', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('regular_medicines', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('chronic_conditions', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('consumption_feedback', sa.Text(), nullable=True),
    sa.Column('employer', sa.String(length=120), nullable=True),
    sa.Column('position', sa.String(length=80), nullable=True),
    sa.Column('health_status', sa.String(length=255), nullable=True),
    sa.Column('habits', sa.Text(), nullable=True),
    sa.Column('diet', sa.Text(), nullable=True),
    sa.Column('exercise', sa.Text(), nullable=True),
    sa.Column('hobbies', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('education', sa.String(length=40), nullable=True),
    sa.Column('income_band', sa.String(length=40), nullable=True),
    sa.Column('marital_status', sa.String(length=40), nullable=True),
    sa.Column('special_dates', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('health_consent', sa.Boolean(), nullable=False),
    sa.Column('health_consent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('health_consent_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('last_verified_on', sa.Date(), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['health_consent_by_id'], ['staff.id'], name=op.f('fk_members_health_consent_by_id_staff')),
    sa.ForeignKeyConstraint(['home_store_id'], ['stores.id'], name=op.f('fk_members_home_store_id_stores')),
    sa.ForeignKeyConstraint(['owner_id'], ['staff.id'], name=op.f('fk_members_owner_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_members')),
    sa.UniqueConstraint('card_number', name=op.f('uq_members_card_number'))
    )
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_members_mobile'), ['mobile'], unique=False)
        batch_op.create_index(batch_op.f('ix_members_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_members_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index('ix_members_store_owner', ['home_store_id', 'owner_id'], unique=False)

    op.create_table('care_plans',
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('protocol_id', sa.String(length=64), nullable=False),
    sa.Column('protocol_version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('status', sa.Enum('active', 'paused', 'stopped', 'completed', name='plan_status', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('shift_days', sa.Integer(), nullable=False),
    sa.Column('paused_on', sa.Date(), nullable=True),
    sa.Column('stopped_on', sa.Date(), nullable=True),
    sa.Column('stop_reason', sa.String(length=255), nullable=True),
    sa.Column('completed_on', sa.Date(), nullable=True),
    sa.Column('enrolled_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('enrolled_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['enrolled_by_id'], ['staff.id'], name=op.f('fk_care_plans_enrolled_by_id_staff')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_care_plans_member_id_members')),
    sa.ForeignKeyConstraint(['protocol_version_id'], ['protocol_versions.id'], name=op.f('fk_care_plans_protocol_version_id_protocol_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_care_plans'))
    )
    with op.batch_alter_table('care_plans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_care_plans_member_id'), ['member_id'], unique=False)
        batch_op.create_index('uq_care_plans_one_live_per_protocol', ['member_id', 'protocol_id'], unique=True, sqlite_where=sa.text("status IN ('active', 'paused')"), postgresql_where=sa.text("status IN ('active', 'paused')"))

    op.create_table('ownerships',
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('staff_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.Enum('registered', 'reassigned', 'staff_left', 'escalation', name='ownership_reason', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('note', sa.String(length=255), nullable=False),
    sa.Column('changed_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['changed_by_id'], ['staff.id'], name=op.f('fk_ownerships_changed_by_id_staff')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_ownerships_member_id_members')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_ownerships_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ownerships'))
    )
    with op.batch_alter_table('ownerships', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ownerships_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ownerships_staff_id'), ['staff_id'], unique=False)

    op.create_table('purchases',
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('store_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('product_code', sa.String(length=64), nullable=False),
    sa.Column('product_name', sa.String(length=160), nullable=False),
    sa.Column('drug_class', sa.String(length=64), nullable=True),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('days_supply', sa.Integer(), nullable=True),
    sa.Column('purchased_on', sa.Date(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('line_key', sa.String(length=64), nullable=True),
    sa.Column('recorded_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_purchases_member_id_members')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['staff.id'], name=op.f('fk_purchases_recorded_by_id_staff')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_purchases_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_purchases')),
    sa.UniqueConstraint('line_key', name=op.f('uq_purchases_line_key'))
    )
    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.create_index('ix_purchases_member_date', ['member_id', 'purchased_on'], unique=False)

    op.create_table('checkpoints',
    sa.Column('plan_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('open_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('overdue_on', sa.Date(), nullable=False),
    sa.Column('missed_on', sa.Date(), nullable=True),
    sa.Column('state', sa.Enum('pending', 'paused', 'done', 'skipped', 'cancelled', 'retired', name='checkpoint_state', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('assignee_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('completed_on', sa.Date(), nullable=True),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.Column('call_back_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('skip_reason', sa.String(length=255), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['assignee_id'], ['staff.id'], name=op.f('fk_checkpoints_assignee_id_staff')),
    sa.ForeignKeyConstraint(['plan_id'], ['care_plans.id'], name=op.f('fk_checkpoints_plan_id_care_plans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checkpoints')),
    sa.UniqueConstraint('plan_id', 'key', name=op.f('uq_checkpoints_plan_id_key'))
    )
    with op.batch_alter_table('checkpoints', schema=None) as batch_op:
        batch_op.create_index('ix_checkpoints_assignee_state_due', ['assignee_id', 'state', 'due_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_checkpoints_plan_id'), ['plan_id'], unique=False)
        batch_op.create_index('ix_checkpoints_state_overdue', ['state', 'overdue_on'], unique=False)

    op.create_table('checkpoint_results',
    sa.Column('checkpoint_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('recorded_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('contacted_on', sa.Date(), nullable=False),
    sa.Column('channel', sa.Enum('phone', 'home_visit', 'in_store', 'message', name='result_channel', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('checklist', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('adherence', sa.Enum('as_directed', 'missed_doses', 'stopped', name='result_adherence', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('stop_reason', sa.Enum('effect_quality', 'service', 'competitor', 'side_effects', 'cost', 'doctor_change', 'other', name='result_stop_reason', native_enum=False, create_constraint=True, length=24), nullable=True),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.Column('fulfilled_by', sa.String(length=120), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['checkpoint_id'], ['checkpoints.id'], name=op.f('fk_checkpoint_results_checkpoint_id_checkpoints')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['staff.id'], name=op.f('fk_checkpoint_results_recorded_by_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checkpoint_results')),
    sa.UniqueConstraint('checkpoint_id', name=op.f('uq_checkpoint_results_checkpoint_id'))
    )
    op.create_table('contact_attempts',
    sa.Column('checkpoint_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('staff_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('attempted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('channel', sa.Enum('phone', 'home_visit', 'in_store', 'message', name='attempt_channel', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('outcome', sa.Enum('unreachable', 'call_back', 'refused', 'wrong_number', name='attempt_outcome', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('call_back_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['checkpoint_id'], ['checkpoints.id'], name=op.f('fk_contact_attempts_checkpoint_id_checkpoints')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_contact_attempts_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_attempts'))
    )
    with op.batch_alter_table('contact_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_attempts_checkpoint_id'), ['checkpoint_id'], unique=False)

    op.create_table('effect_records',
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('plan_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('checkpoint_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('before', sa.Text(), nullable=False),
    sa.Column('after', sa.Text(), nullable=False),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('side_effects', sa.Text(), nullable=False),
    sa.Column('member_words', sa.Text(), nullable=False),
    sa.Column('testimonial_consent', sa.Boolean(), nullable=False),
    sa.Column('testimonial_consent_on', sa.Date(), nullable=True),
    sa.Column('recorded_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['checkpoint_id'], ['checkpoints.id'], name=op.f('fk_effect_records_checkpoint_id_checkpoints')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_effect_records_member_id_members')),
    sa.ForeignKeyConstraint(['plan_id'], ['care_plans.id'], name=op.f('fk_effect_records_plan_id_care_plans')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['staff.id'], name=op.f('fk_effect_records_recorded_by_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_effect_records'))
    )
    with op.batch_alter_table('effect_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_effect_records_member_id'), ['member_id'], unique=False)

    op.create_table('escalations',
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('store_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('plan_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('checkpoint_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('reason', sa.Enum('effect_quality', 'service', 'competitor', 'side_effects', 'cost', 'doctor_change', 'other', name='escalation_reason', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('role', sa.Enum('clerk', 'pharmacist', 'store_manager', 'supervisor', 'admin', name='escalation_role', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('assignee_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('action_zh', sa.Text(), nullable=False),
    sa.Column('action_en', sa.Text(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('status', sa.Enum('open', 'resolved', name='escalation_status', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('raised_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolution', sa.String(length=1000), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['assignee_id'], ['staff.id'], name=op.f('fk_escalations_assignee_id_staff')),
    sa.ForeignKeyConstraint(['checkpoint_id'], ['checkpoints.id'], name=op.f('fk_escalations_checkpoint_id_checkpoints')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_escalations_member_id_members')),
    sa.ForeignKeyConstraint(['plan_id'], ['care_plans.id'], name=op.f('fk_escalations_plan_id_care_plans')),
    sa.ForeignKeyConstraint(['raised_by_id'], ['staff.id'], name=op.f('fk_escalations_raised_by_id_staff')),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['staff.id'], name=op.f('fk_escalations_resolved_by_id_staff')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_escalations_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_escalations'))
    )
    with op.batch_alter_table('escalations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_escalations_checkpoint_id'), ['checkpoint_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_escalations_member_id'), ['member_id'], unique=False)
        batch_op.create_index('ix_escalations_store_status', ['store_id', 'status', 'due_on'], unique=False)

    op.create_table('health_checks',
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('checkpoint_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('values', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('unit', sa.String(length=16), nullable=False),
    sa.Column('loinc', sa.String(length=16), nullable=True),
    sa.Column('measured_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.Enum('in_store', 'home', 'hospital', 'self_reported', name='health_check_source', native_enum=False, create_constraint=True, length=24), nullable=False),
    sa.Column('recorded_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.ForeignKeyConstraint(['checkpoint_id'], ['checkpoints.id'], name=op.f('fk_health_checks_checkpoint_id_checkpoints')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_health_checks_member_id_members')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['staff.id'], name=op.f('fk_health_checks_recorded_by_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_health_checks'))
    )
    with op.batch_alter_table('health_checks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_health_checks_checkpoint_id'), ['checkpoint_id'], unique=False)
        batch_op.create_index('ix_health_checks_member_kind_at', ['member_id', 'kind', 'measured_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('health_checks', schema=None) as batch_op:
        batch_op.drop_index('ix_health_checks_member_kind_at')
        batch_op.drop_index(batch_op.f('ix_health_checks_checkpoint_id'))

    op.drop_table('health_checks')
    with op.batch_alter_table('escalations', schema=None) as batch_op:
        batch_op.drop_index('ix_escalations_store_status')
        batch_op.drop_index(batch_op.f('ix_escalations_checkpoint_id'))
        batch_op.drop_index(batch_op.f('ix_escalations_member_id'))

    op.drop_table('escalations')
    with op.batch_alter_table('effect_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_effect_records_member_id'))

    op.drop_table('effect_records')
    with op.batch_alter_table('contact_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_attempts_checkpoint_id'))

    op.drop_table('contact_attempts')
    op.drop_table('checkpoint_results')
    with op.batch_alter_table('checkpoints', schema=None) as batch_op:
        batch_op.drop_index('ix_checkpoints_state_overdue')
        batch_op.drop_index(batch_op.f('ix_checkpoints_plan_id'))
        batch_op.drop_index('ix_checkpoints_assignee_state_due')

    op.drop_table('checkpoints')
    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.drop_index('ix_purchases_member_date')

    op.drop_table('purchases')
    with op.batch_alter_table('ownerships', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ownerships_staff_id'))
        batch_op.drop_index(batch_op.f('ix_ownerships_member_id'))

    op.drop_table('ownerships')
    with op.batch_alter_table('care_plans', schema=None) as batch_op:
        batch_op.drop_index('uq_care_plans_one_live_per_protocol', sqlite_where=sa.text("status IN ('active', 'paused')"), postgresql_where=sa.text("status IN ('active', 'paused')"))
        batch_op.drop_index(batch_op.f('ix_care_plans_member_id'))

    op.drop_table('care_plans')
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_index('ix_members_store_owner')
        batch_op.drop_index(batch_op.f('ix_members_owner_id'))
        batch_op.drop_index(batch_op.f('ix_members_name'))
        batch_op.drop_index(batch_op.f('ix_members_mobile'))

    op.drop_table('members')
    with op.batch_alter_table('change_log', schema=None) as batch_op:
        batch_op.drop_index('ix_change_log_entity')

    op.drop_table('change_log')
    with op.batch_alter_table('auth_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auth_sessions_staff_id'))

    op.drop_table('auth_sessions')
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_store_id'))

    op.drop_table('staff')
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stores_region'))

    op.drop_table('stores')
    op.drop_table('protocol_versions')
