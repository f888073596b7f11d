"""baseline: the schema of the first release (made by create_all, before migrations existed)

Revision ID: 0001
Revises:
Create Date: 2026-12-01

Databases that release made have no alembic_version table: control.db.schema recognises them
and stamps them at this revision rather than running it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_keys',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('key_hash', sa.String(length=64), nullable=False),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('tenant_id', sa.String(length=63), nullable=True),
        sa.Column('description', sa.String(length=200), nullable=False),
        sa.Column('create_time', sa.BigInteger(), nullable=False),
        sa.Column('revoke_time', sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('key_hash')
    )
    op.create_index(op.f('ix_api_keys_tenant_id'), 'api_keys', ['tenant_id'], unique=False)
    op.create_table('audit_chain_heads',
        sa.Column('tenant_id', sa.String(length=63), nullable=False),
        sa.Column('last_event_id', sa.BigInteger(), nullable=False),
        sa.Column('last_hash', sa.String(length=64), nullable=False),
        sa.Column('anchor_event_id', sa.BigInteger(), nullable=False),
        sa.Column('anchor_hash', sa.String(length=64), nullable=False),
        sa.Column('purged', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('tenant_id')
    )
    op.create_table('audit_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('time', sa.BigInteger(), nullable=False),
        sa.Column('tenant_id', sa.String(length=63), nullable=True),
        sa.Column('actor', sa.String(length=300), nullable=False),
        sa.Column('session_id', sa.String(length=40), nullable=True),
        sa.Column('file_id', sa.String(length=43), nullable=True),
        sa.Column('operation', sa.String(length=64), nullable=False),
        sa.Column('outcome', sa.String(length=16), nullable=False),
        sa.Column('status', sa.Integer(), nullable=False),
        sa.Column('detail', sa.Text(), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=True),
        sa.Column('version_before', sa.BigInteger(), nullable=False),
        sa.Column('version_after', sa.BigInteger(), nullable=False),
        sa.Column('lock_hash', sa.String(length=64), nullable=False),
        sa.Column('editor', sa.String(length=120), nullable=False),
        sa.Column('client_address', sa.String(length=64), nullable=False),
        sa.Column('correlation_id', sa.String(length=128), nullable=False),
        sa.Column('previous_hash', sa.String(length=64), nullable=False),
        sa.Column('hash', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_audit_events_file_id'), 'audit_events', ['file_id'], unique=False)
    op.create_index(op.f('ix_audit_events_session_id'), 'audit_events', ['session_id'], unique=False)
    op.create_index('ix_audit_events_tenant_id_id', 'audit_events', ['tenant_id', 'id'], unique=False)
    op.create_index(op.f('ix_audit_events_time'), 'audit_events', ['time'], unique=False)
    op.create_table('editors',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.String(length=63), nullable=False),
        sa.Column('name', sa.String(length=63), nullable=False),
        sa.Column('discovery_url', sa.Text(), nullable=False),
        sa.Column('proof_policy', sa.String(length=16), nullable=False),
        sa.Column('discovery_xml', sa.Text(), nullable=False),
        sa.Column('product', sa.String(length=16), nullable=False),
        sa.Column('fetch_time', sa.BigInteger(), nullable=False),
        sa.Column('discovery_error', sa.Text(), nullable=False),
        sa.Column('create_time', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('tenant_id', 'name')
    )
    op.create_index(op.f('ix_editors_tenant_id'), 'editors', ['tenant_id'], unique=False)
    op.create_table('launch_codes',
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('session_id', sa.String(length=40), nullable=False),
        sa.Column('access_token', sa.Text(), nullable=False),
        sa.Column('action_url', sa.Text(), nullable=False),
        sa.Column('favicon_url', sa.Text(), nullable=False),
        sa.Column('expire_time', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('code_hash')
    )
    op.create_index(op.f('ix_launch_codes_session_id'), 'launch_codes', ['session_id'], unique=False)
    op.create_table('session_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.String(length=63), nullable=False),
        sa.Column('type', sa.String(length=16), nullable=False),
        sa.Column('time', sa.BigInteger(), nullable=False),
        sa.Column('session_id', sa.String(length=40), nullable=False),
        sa.Column('file_id', sa.String(length=43), nullable=False),
        sa.Column('user_id', sa.String(length=256), nullable=False),
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.Column('account', sa.String(length=200), nullable=False),
        sa.Column('origin_json', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_session_events_tenant_id'), 'session_events', ['tenant_id'], unique=False)
    op.create_table('tenants',
        sa.Column('id', sa.String(length=63), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('post_message_origin', sa.String(length=300), nullable=False),
        sa.Column('default_session_ttl_s', sa.BigInteger(), nullable=False),
        sa.Column('webhook_url', sa.String(length=2000), nullable=False),
        sa.Column('webhook_secret', sa.String(length=200), nullable=False),
        sa.Column('audit_retention_days', sa.Integer(), nullable=False),
        sa.Column('editor_mode', sa.String(length=16), nullable=False),
        sa.Column('create_time', sa.BigInteger(), nullable=False),
        sa.Column('update_time', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_table('user_infos',
        sa.Column('tenant_id', sa.String(length=63), nullable=False),
        sa.Column('user_id', sa.String(length=256), nullable=False),
        sa.Column('info', sa.Text(), nullable=False),
        sa.Column('update_time', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('tenant_id', 'user_id')
    )
    op.create_table('webhook_states',
        sa.Column('tenant_id', sa.String(length=63), nullable=False),
        sa.Column('delivered_event_id', sa.BigInteger(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_time', sa.BigInteger(), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('tenant_id')
    )
    op.create_table('storages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.String(length=63), nullable=False),
        sa.Column('name', sa.String(length=63), nullable=False),
        sa.Column('protocol', sa.String(length=32), nullable=False),
        sa.Column('root', sa.Text(), nullable=False),
        sa.Column('options_json', sa.Text(), nullable=False),
        sa.Column('max_file_size', sa.BigInteger(), nullable=False),
        sa.Column('version_retention', sa.Integer(), nullable=False),
        sa.Column('create_time', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('tenant_id', 'name')
    )
    op.create_table('files',
        sa.Column('id', sa.String(length=43), nullable=False),
        sa.Column('tenant_id', sa.String(length=63), nullable=False),
        sa.Column('storage_id', sa.Integer(), nullable=False),
        sa.Column('path', sa.Text(), nullable=False),
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('lock_id', sa.Text(), nullable=True),
        sa.Column('lock_expire_time', sa.BigInteger(), nullable=True),
        sa.Column('deleted_time', sa.BigInteger(), nullable=True),
        sa.Column('deleted_from', sa.Text(), nullable=True),
        sa.Column('create_time', sa.BigInteger(), nullable=False),
        sa.Column('update_time', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['storage_id'], ['storages.id'], ),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('tenant_id', 'storage_id', 'path')
    )
    op.create_table('file_versions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('file_id', sa.String(length=43), nullable=False),
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('reason', sa.String(length=16), nullable=False),
        sa.Column('replaced_by', sa.String(length=256), nullable=False),
        sa.Column('create_time', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['file_id'], ['files.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('file_id', 'version')
    )
    op.create_index(op.f('ix_file_versions_file_id'), 'file_versions', ['file_id'], unique=False)
    op.create_table('sessions',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('tenant_id', sa.String(length=63), nullable=False),
        sa.Column('file_id', sa.String(length=43), nullable=False),
        sa.Column('storage_name', sa.String(length=63), nullable=False),
        sa.Column('path', sa.Text(), nullable=False),
        sa.Column('user_id', sa.String(length=256), nullable=False),
        sa.Column('user_name', sa.String(length=256), nullable=False),
        sa.Column('permission', sa.String(length=8), nullable=False),
        sa.Column('account', sa.String(length=200), nullable=False),
        sa.Column('origin_json', sa.Text(), nullable=False),
        sa.Column('editor_id', sa.Integer(), nullable=True),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('create_time', sa.BigInteger(), nullable=False),
        sa.Column('expire_time', sa.BigInteger(), nullable=False),
        sa.Column('close_time', sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(['file_id'], ['files.id'], ),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash')
    )
    op.create_index(op.f('ix_sessions_create_time'), 'sessions', ['create_time'], unique=False)
    op.create_index(op.f('ix_sessions_file_id'), 'sessions', ['file_id'], unique=False)
    op.create_index(op.f('ix_sessions_tenant_id'), 'sessions', ['tenant_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_sessions_tenant_id'), table_name='sessions')
    op.drop_index(op.f('ix_sessions_file_id'), table_name='sessions')
    op.drop_index(op.f('ix_sessions_create_time'), table_name='sessions')
    op.drop_table('sessions')
    op.drop_index(op.f('ix_file_versions_file_id'), table_name='file_versions')
    op.drop_table('file_versions')
    op.drop_table('files')
    op.drop_table('storages')
    op.drop_table('webhook_states')
    op.drop_table('user_infos')
    op.drop_table('tenants')
    op.drop_index(op.f('ix_session_events_tenant_id'), table_name='session_events')
    op.drop_table('session_events')
    op.drop_index(op.f('ix_launch_codes_session_id'), table_name='launch_codes')
    op.drop_table('launch_codes')
    op.drop_index(op.f('ix_editors_tenant_id'), table_name='editors')
    op.drop_table('editors')
    op.drop_index(op.f('ix_audit_events_time'), table_name='audit_events')
    op.drop_index('ix_audit_events_tenant_id_id', table_name='audit_events')
    op.drop_index(op.f('ix_audit_events_session_id'), table_name='audit_events')
    op.drop_index(op.f('ix_audit_events_file_id'), table_name='audit_events')
    op.drop_table('audit_events')
    op.drop_table('audit_chain_heads')
    op.drop_index(op.f('ix_api_keys_tenant_id'), table_name='api_keys')
    op.drop_table('api_keys')
