"""Alembic's environment: migrations run on a connection handed in by control.db.schema (or
by pytest-alembic, or tools/new_migration.py) as config.attributes["connection"].

Batch mode (render_as_batch) makes every ALTER work on SQLite, which cannot alter a column in
place: the table is copied to a new one. Autogenerate renders the models' types as plain
SQLAlchemy types (rendering.py).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

from control.db import models  # noqa: F401  (registers the tables on SQLModel.metadata)
from control.db.migrations.rendering import render_item


def run_on(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=SQLModel.metadata, render_as_batch=True,
                      compare_type=True, render_item=render_item)
    # Inside the caller's transaction when there is one (control.db.schema opens it, so that
    # the whole upgrade commits or rolls back as one); alembic's own otherwise.
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    connectable = context.config.attributes.get("connection")
    if isinstance(connectable, Connection):
        run_on(connectable)
    elif isinstance(connectable, Engine):
        with connectable.connect() as connection:
            run_on(connection)
    else:
        raise TypeError("migrations run through control.db.schema (`wopi-proxy db upgrade`), "
                           "which hands them a connection")


run()
