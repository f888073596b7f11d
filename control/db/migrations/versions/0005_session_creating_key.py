"""sessions record the API key that created them

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

One nullable, indexed column (sessions.created_by_key): RevokeApiKey with close_sessions finds a
key's open sessions by it. Existing sessions get NULL (no release recorded the key), so revoking
a key never closes a session opened before this revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('created_by_key', sa.String(length=40), nullable=True))
        batch_op.create_index(batch_op.f('ix_sessions_created_by_key'), ['created_by_key'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sessions_created_by_key'))
        batch_op.drop_column('created_by_key')
