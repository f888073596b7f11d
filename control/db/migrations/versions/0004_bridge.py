"""the bridge: bridged app editors, bridged documents, participants and entry codes

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

New tables; editors get kind ("wopi" for every existing row), the app URLs and the encrypted app
credentials (empty), sessions get `internal` (false: every existing session is a user's).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

NEW_COLUMNS: dict[str, list[tuple[str, sa.types.TypeEngine[Any], str]]] = {
    "editors": [("kind", sa.String(length=16), "'wopi'"), ("app_url", sa.Text(), "''"),
                ("app_public_url", sa.Text(), "''"), ("api_key", sa.Text(), "''"),
                ("webhook_secret", sa.Text(), "''")],
    "sessions": [("internal", sa.Boolean(), "false")],
}


def upgrade() -> None:
    op.create_table('bridge_documents',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', sa.String(length=63), nullable=False),
    sa.Column('file_id', sa.String(length=43), nullable=False),
    sa.Column('live_file_id', sa.String(length=43), nullable=True),
    sa.Column('editor_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('app_doc_id', sa.String(length=100), nullable=False),
    sa.Column('app_read_only_id', sa.String(length=100), nullable=False),
    sa.Column('generation', sa.BigInteger(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('lock_id', sa.String(length=200), nullable=False),
    sa.Column('file_version', sa.BigInteger(), nullable=False),
    sa.Column('loaded_sha256', sa.String(length=64), nullable=False),
    sa.Column('saved_sha256', sa.String(length=64), nullable=False),
    sa.Column('text_profile', sa.Text(), nullable=False),
    sa.Column('baseline_rev', sa.BigInteger(), nullable=False),
    sa.Column('saved_rev', sa.BigInteger(), nullable=False),
    sa.Column('seen_rev', sa.BigInteger(), nullable=False),
    sa.Column('dirty_since', sa.BigInteger(), nullable=True),
    sa.Column('next_attempt_time', sa.BigInteger(), nullable=True),
    sa.Column('next_poll_time', sa.BigInteger(), nullable=False),
    sa.Column('close_after_time', sa.BigInteger(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('conflict_path', sa.Text(), nullable=False),
    sa.Column('lease_owner', sa.String(length=200), nullable=False),
    sa.Column('lease_token_hash', sa.String(length=64), nullable=False),
    sa.Column('lease_kind', sa.String(length=8), nullable=False),
    sa.Column('lease_expire_time', sa.BigInteger(), nullable=False),
    sa.Column('bridge_session_id', sa.String(length=40), nullable=False),
    sa.Column('bridge_token', sa.Text(), nullable=False),
    sa.Column('bridge_token_expire_time', sa.BigInteger(), nullable=False),
    sa.Column('last_save_time', sa.BigInteger(), nullable=True),
    sa.Column('create_time', sa.BigInteger(), nullable=False),
    sa.Column('update_time', sa.BigInteger(), nullable=False),
    sa.Column('close_time', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'live_file_id')
    )
    with op.batch_alter_table('bridge_documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bridge_documents_app_doc_id'), ['app_doc_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_bridge_documents_create_time'), ['create_time'], unique=False)
        batch_op.create_index(batch_op.f('ix_bridge_documents_file_id'), ['file_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_bridge_documents_lease_expire_time'), ['lease_expire_time'], unique=False)
        batch_op.create_index(batch_op.f('ix_bridge_documents_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_bridge_documents_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('bridge_entries',
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('document_id', sa.String(length=40), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.String(length=63), nullable=False),
    sa.Column('app_target', sa.String(length=200), nullable=False),
    sa.Column('expire_time', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('code_hash')
    )
    with op.batch_alter_table('bridge_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bridge_entries_document_id'), ['document_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_bridge_entries_expire_time'), ['expire_time'], unique=False)
        batch_op.create_index(batch_op.f('ix_bridge_entries_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('bridge_participants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', sa.String(length=63), nullable=False),
    sa.Column('session_id', sa.String(length=40), nullable=False),
    sa.Column('user_id', sa.String(length=256), nullable=False),
    sa.Column('user_name', sa.String(length=256), nullable=False),
    sa.Column('can_write', sa.Boolean(), nullable=False),
    sa.Column('read_only_reason', sa.String(length=16), nullable=False),
    sa.Column('app_author_id', sa.String(length=200), nullable=False),
    sa.Column('app_session_id', sa.Text(), nullable=False),
    sa.Column('present', sa.Boolean(), nullable=False),
    sa.Column('revoked', sa.Boolean(), nullable=False),
    sa.Column('join_time', sa.BigInteger(), nullable=False),
    sa.Column('leave_time', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('document_id', 'session_id')
    )
    with op.batch_alter_table('bridge_participants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bridge_participants_document_id'), ['document_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_bridge_participants_session_id'), ['session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_bridge_participants_tenant_id'), ['tenant_id'], unique=False)
    for table, columns in NEW_COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for name, type_, default in columns:
                batch.add_column(sa.Column(name, type_, nullable=False, server_default=sa.text(default)))
    # The models' defaults are in Python (on SQLite: each table copied once more).
    for table, columns in NEW_COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for name, type_, _default in columns:
                batch.alter_column(name, existing_type=type_, existing_nullable=False, server_default=None)


def downgrade() -> None:
    for table, columns in NEW_COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for name, _type, _default in reversed(columns):
                batch.drop_column(name)
    with op.batch_alter_table('bridge_participants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bridge_participants_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_bridge_participants_session_id'))
        batch_op.drop_index(batch_op.f('ix_bridge_participants_document_id'))

    op.drop_table('bridge_participants')
    with op.batch_alter_table('bridge_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bridge_entries_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_bridge_entries_expire_time'))
        batch_op.drop_index(batch_op.f('ix_bridge_entries_document_id'))

    op.drop_table('bridge_entries')
    with op.batch_alter_table('bridge_documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bridge_documents_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_bridge_documents_state'))
        batch_op.drop_index(batch_op.f('ix_bridge_documents_lease_expire_time'))
        batch_op.drop_index(batch_op.f('ix_bridge_documents_file_id'))
        batch_op.drop_index(batch_op.f('ix_bridge_documents_create_time'))
        batch_op.drop_index(batch_op.f('ix_bridge_documents_app_doc_id'))

    op.drop_table('bridge_documents')
