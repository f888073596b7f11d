"""Drafts the next schema revision: what the models have that the migrations do not make.

    .venv/bin/python -m tools.migration_draft            # prints the differences as Alembic ops

Runs every revision on a new SQLite database, compares it with control.db.models (Alembic's
autogenerate) and prints the operations a new revision needs, rendered in batch mode. Copy them
into control/db/migrations/versions/NNNN_<what>.py (template: script.py.mako) and edit: a NOT
NULL column added to a table with rows needs a server_default (see 0002). The test
tests/control/test_migrations.py fails until models and migrations agree.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from alembic.autogenerate import produce_migrations, render_python_code
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine as create_sync_engine
from sqlmodel import SQLModel

from control.db.engine import create_engine
from control.db.migrations.rendering import render_item
from control.db.schema import upgrade


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "draft.db"

        async def build() -> None:
            engine = create_engine(f"sqlite+aiosqlite:///{path}")
            await upgrade(engine)
            await engine.dispose()

        asyncio.run(build())
        with create_sync_engine(f"sqlite:///{path}").connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": True,
                                                             "target_metadata": SQLModel.metadata})
            script = produce_migrations(context, SQLModel.metadata)
            if script.upgrade_ops is None or script.upgrade_ops.is_empty():
                print("models and migrations agree: no revision needed")
                return 0
            print("def upgrade() -> None:")
            print(render_python_code(script.upgrade_ops, render_item=render_item, render_as_batch=True))
            print("\ndef downgrade() -> None:")
            print(render_python_code(script.downgrade_ops, render_item=render_item, render_as_batch=True))
    return 1


if __name__ == "__main__":
    sys.exit(main())
