"""Database engines: SQLite (a file in WAL mode) by default, PostgreSQL by URL.

Every SQLite transaction starts with BEGIN IMMEDIATE: writers queue on the database lock
instead of failing with "database is locked" when a read transaction tries to upgrade,
which is what makes compare-and-set updates safe on SQLite.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from control.db import models  # noqa: F401  (registers the tables on SQLModel.metadata)
from control.services import deadlines

SQLITE_BUSY_TIMEOUT_MS = 30_000


def sqlite_url(path: str) -> str:
    return f"sqlite+aiosqlite:///{path}"


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for other databases and for SQLite in memory."""
    url = normalize_url(url)
    if not url.startswith("sqlite"):
        return None
    path = url.partition(":///")[2].partition("?")[0]
    return Path(path) if path and path != ":memory:" else None


def normalize_url(url: str) -> str:
    """Accepts the usual spellings and picks the async drivers we ship."""
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///"):]
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def create_engine(url: str) -> AsyncEngine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        # One connection: SQLite has one writer anyway, and every WOPI request writes (audit).
        # Waiting for the pool is an asyncio wait; waiting on SQLite's busy handler is a sleep
        # loop of up to 100 ms per retry, which made tail latencies explode under load.
        engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
                                     pool_size=1, max_overflow=0, pool_timeout=60)
        _configure_sqlite(engine)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to the "begin" hook below (pysqlite's own is too lazy).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A caller's deadline bounds the wait for the write lock (control.services.deadlines).
        # Set only when it changes (a statement less per transaction): waits above a few seconds
        # are rounded down to whole seconds, so callers with long deadlines share one value.
        wait_ms = deadlines.lock_wait_ms(SQLITE_BUSY_TIMEOUT_MS)
        if wait_ms > 3000:
            wait_ms -= wait_ms % 1000
        if connection.info.get("busy_timeout_ms") != wait_ms:
            connection.exec_driver_sql(f"PRAGMA busy_timeout={wait_ms}")
            connection.info["busy_timeout_ms"] = wait_ms
        connection.exec_driver_sql("BEGIN IMMEDIATE")


READERS = 4  # SQLite reader connections (WAL: readers never wait for the writer)


def create_read_engine(url: str) -> AsyncEngine | None:
    """SQLite: an engine of reader connections whose transactions start with a plain (deferred)
    BEGIN, so they neither take nor wait for the write lock. None for other databases, whose
    one engine serves reads as well."""
    url = normalize_url(url)
    if not url.startswith("sqlite") or sqlite_file(url) is None:
        return None
    engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
                                 pool_size=READERS, max_overflow=0, pool_timeout=60)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA query_only=ON")  # a reader that tried to write would fail loudly
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")

    return engine


async def create_schema(engine: AsyncEngine) -> None:
    """Brings the database to this release's schema by running the migrations (control.db.schema):
    an empty one is created, an older one upgraded, one already current only checked."""
    from control.db.schema import ensure_schema  # alembic is loaded only where a schema is made

    await ensure_schema(engine, migrate=True)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
