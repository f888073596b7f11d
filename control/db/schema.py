"""The database schema's version: Alembic revisions (control/db/migrations), run in-process.

A starting control plane meets one of four databases:
- empty: the migrations create the schema, so that every installation's schema is made by the
  same steps (tests prove those steps give exactly the models' schema);
- made by the first release (our tables, no alembic_version): it is at the baseline revision,
  and is stamped so before it is upgraded, never recreated;
- at an older revision: upgraded only when told (`--migrate`, `wopi-proxy db upgrade`), since
  several control planes may share it and an operator may want a backup first;
- at a revision this release does not know (a newer release upgraded it): refused.

An upgrade is one transaction: it commits whole or not at all (PostgreSQL and SQLite both have
transactional DDL). Concurrent upgrades queue on an advisory lock (PostgreSQL) or on the write
lock that BEGIN IMMEDIATE takes (SQLite), and the later ones find nothing left to do.

Alembic is imported only where a revision is run or looked up (a fifth of a second of every start
otherwise): an up-to-date database is recognised by HEAD, and an empty one is stamped at HEAD by
writing Alembic's version table as Alembic writes it (tests/control/test_migrations.py compares the
two, and HEAD with the revisions' head).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

from typing import TYPE_CHECKING

from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table, inspect, insert, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

from control.db import models  # noqa: F401  (registers this release's tables on SQLModel.metadata)
from control.secrets import SecretBox
from shared.errors import StartupRefused

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
BASELINE = "0001"  # the schema of the first release, which create_all made
HEAD = "0005"  # the newest revision in migrations/versions: a new revision moves it
# The tables of the baseline: a database holding them and no alembic_version is at BASELINE.
BASELINE_TABLES = frozenset({
    "api_keys", "tenants", "storages", "files", "file_versions", "user_infos", "sessions", "audit_events",
    "audit_chain_heads", "session_events", "webhook_states", "editors", "launch_codes",
})
VERSION_TABLE = "alembic_version"
# Alembic's version table, as its MigrationContext creates it (one row: the current revision).
_VERSIONS = Table(VERSION_TABLE, MetaData(), Column("version_num", String(32), nullable=False),
                  PrimaryKeyConstraint("version_num", name="alembic_version_pkc"))
# pg_advisory_xact_lock key of schema upgrades (any constant; "wopi" in ASCII).
UPGRADE_LOCK_KEY = 0x776F7069


class SchemaVersionError(StartupRefused, RuntimeError):
    """The database's schema is not the one this release needs, and is not to be changed now."""


@dataclass(frozen=True)
class SchemaState:
    current: str | None  # None: no schema at all (an empty database)
    head: str  # what this release needs
    legacy: bool = False  # made by the first release: no alembic_version table yet
    known: bool = True  # False: a revision of another (newer) release

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head and not self.legacy

    def describe(self) -> str:
        """The current revision as `wopi-proxy db current` prints it."""
        if self.current is None:
            return "none (empty database)"
        notes = [note for note, applies in [("head", self.up_to_date), ("made before migrations", self.legacy),
                                            ("unknown to this release", not self.known)] if applies]
        return self.current + (f" ({', '.join(notes)})" if notes else "")


def alembic_config(connection: Connection | None = None, box: SecretBox | None = None) -> Config:
    """Alembic's configuration, made in code (no alembic.ini). Migrations that move secrets
    (encrypting a column) find the key as config.attributes["secret_box"]."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    config.attributes["secret_box"] = box
    return config


@functools.cache
def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """This release's revision, as Alembic reads it from migrations/versions (HEAD must equal it)."""
    head = _scripts().get_current_head()
    assert head is not None, "control/db/migrations has no revisions"
    return head


def _is_known(revision: str) -> bool:
    if revision == HEAD:
        return True
    from alembic.util import CommandError

    try:
        return _scripts().get_revision(revision) is not None
    except CommandError:
        return False


def _read_state(connection: Connection) -> SchemaState:
    tables = set(inspect(connection).get_table_names())
    head = HEAD
    if VERSION_TABLE in tables:
        # Read directly: alembic's MigrationContext would log two INFO lines at every start.
        current = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
        if current is not None:
            return SchemaState(current=current, head=head, known=_is_known(current))
    ours = tables & BASELINE_TABLES
    if not ours:
        return SchemaState(current=None, head=head)
    if ours != BASELINE_TABLES:
        raise SchemaVersionError(
            "the database holds some of wopi-proxy's tables but not all of them, and no schema revision "
            f"(missing: {', '.join(sorted(BASELINE_TABLES - ours))}): it was not made by a release")
    return SchemaState(current=BASELINE, head=head, legacy=True)


async def read_state(engine: AsyncEngine) -> SchemaState:
    async with engine.connect() as conn:
        return await conn.run_sync(_read_state)


async def upgrade(engine: AsyncEngine, box: SecretBox | None = None) -> SchemaState:
    """Brings the schema to this release's head: creates it in an empty database, stamps a first
    release's database at the baseline, then runs the missing revisions. Returns the state
    found before (under the lock, so a concurrent upgrader's work is not done twice)."""
    async with engine.connect() as conn:
        return await conn.run_sync(_upgrade, box)


def _upgrade(connection: Connection, box: SecretBox | None) -> SchemaState:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch mode copies a table to alter it, dropping the original: with foreign keys on,
        # dropping `tenants` would cascade or fail. The pragma is a no-op inside a transaction,
        # so it is set before one starts, on the raw connection (SQLAlchemy would begin one).
        _sqlite_pragma(connection, "foreign_keys=OFF")
    try:
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({UPGRADE_LOCK_KEY})")
            before = _read_state(connection)
            if before.up_to_date:
                return before
            if not before.known:
                raise SchemaVersionError(_unknown_message(before))
            if before.current is None:
                # An empty database gets this release's tables from the models and is stamped at
                # head (Alembic's way to build a schema from scratch): a third of a second less at
                # every first start than replaying each revision, SQLite's table copies included.
                # The two make one schema (tests/control/test_migrations.py compares them).
                SQLModel.metadata.create_all(connection)
                _VERSIONS.create(connection)
                connection.execute(insert(_VERSIONS).values(version_num=HEAD))
            else:
                from alembic import command

                config = alembic_config(connection, box)
                if before.legacy:
                    command.stamp(config, BASELINE)
                command.upgrade(config, "head")
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:  # raising rolls the whole upgrade back
                    raise SchemaVersionError(f"the upgrade would break foreign keys: {broken[:5]}")
            log.info("database schema: %s -> %s", before.describe(), before.head)
            return before
    finally:
        if sqlite:
            _sqlite_pragma(connection, "foreign_keys=ON")


def _sqlite_pragma(connection: Connection, pragma: str) -> None:
    cursor = connection.connection.cursor()
    try:
        cursor.execute(f"PRAGMA {pragma}")
    finally:
        cursor.close()


def _unknown_message(state: SchemaState) -> str:
    return (f"the database schema is at revision {state.current}, which this release does not know "
            f"(it needs {state.head}): a newer release upgraded it; run that release or restore a backup")


async def ensure_schema(engine: AsyncEngine, *, migrate: bool, box: SecretBox | None = None) -> SchemaState:
    """At start: an up-to-date schema passes, an empty database gets the schema, an older one is
    upgraded when `migrate` and refused (SchemaVersionError) otherwise. Returns the state found."""
    state = await read_state(engine)
    if state.up_to_date:
        return state
    if not state.known:
        raise SchemaVersionError(_unknown_message(state))
    if state.current is not None and not migrate:
        raise SchemaVersionError(
            f"the database schema is at revision {state.current}, this release needs {state.head}: "
            "run `wopi-proxy db upgrade` or start with --migrate")
    return await upgrade(engine, box)
