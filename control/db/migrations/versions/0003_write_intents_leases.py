"""write intents (the crash-consistent write protocol), leases and change counters (several replicas)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

New tables only, and one nullable column (files.pending_intent_id): existing rows need nothing.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('change_counters',
    sa.Column('name', sa.String(length=63), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('leases',
    sa.Column('name', sa.String(length=63), nullable=False),
    sa.Column('holder', sa.String(length=200), nullable=False),
    sa.Column('expire_time', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('write_intents',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('file_id', sa.String(length=43), nullable=False),
    sa.Column('tenant_id', sa.String(length=63), nullable=False),
    sa.Column('session_id', sa.String(length=40), nullable=False),
    sa.Column('operation', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('source_path', sa.Text(), nullable=False),
    sa.Column('target_path', sa.Text(), nullable=False),
    sa.Column('staged_path', sa.Text(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('base_version', sa.BigInteger(), nullable=False),
    sa.Column('kept_version', sa.BigInteger(), nullable=False),
    sa.Column('kept_size', sa.BigInteger(), nullable=False),
    sa.Column('created_file', sa.Boolean(), nullable=False),
    sa.Column('actor', sa.String(length=300), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('lock_hash', sa.String(length=64), nullable=False),
    sa.Column('editor', sa.String(length=120), nullable=False),
    sa.Column('client_address', sa.String(length=64), nullable=False),
    sa.Column('correlation_id', sa.String(length=128), nullable=False),
    sa.Column('create_time', sa.BigInteger(), nullable=False),
    sa.Column('expire_time', sa.BigInteger(), nullable=False),
    sa.Column('resolve_time', sa.BigInteger(), nullable=True),
    sa.Column('resolution', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('write_intents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_write_intents_expire_time'), ['expire_time'], unique=False)
        batch_op.create_index(batch_op.f('ix_write_intents_file_id'), ['file_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_write_intents_state'), ['state'], unique=False)

    with op.batch_alter_table('files', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pending_intent_id', sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('files', schema=None) as batch_op:
        batch_op.drop_column('pending_intent_id')

    with op.batch_alter_table('write_intents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_write_intents_state'))
        batch_op.drop_index(batch_op.f('ix_write_intents_file_id'))
        batch_op.drop_index(batch_op.f('ix_write_intents_expire_time'))

    op.drop_table('write_intents')
    op.drop_table('leases')
    op.drop_table('change_counters')
