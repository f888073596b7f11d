"""The WOPI hot path's read: everything a grant needs in one SELECT, run as one call on a thread.

Why: through the async engine a read costs a thread hand-off per statement, per fetch and per
BEGIN/COMMIT (aiosqlite; greenlet switches with psycopg), and those hand-offs took more CPU
than the query. Here one synchronous call on a small dedicated pool does the whole read (the
session with its tenant, file and storage, the user's UserInfo and the session's editor), so a
request pays one hand-off. One SELECT sees one consistent snapshot; it takes no lock and, on
SQLite, runs on reader connections beside the writer (WAL).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, bindparam, create_engine, event, select
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import col

from control.db.engine import SQLITE_BUSY_TIMEOUT_MS, normalize_url
from control.db.models import Editor, File, Session, Storage, Tenant, UserInfo

READERS = 4  # threads and connections


@dataclass(frozen=True)
class GrantRows:
    session: Session
    tenant: Tenant
    file: File
    storage: Storage
    user_info: UserInfo | None
    editor: Editor | None


_QUERY = (select(Session, Tenant, File, Storage, UserInfo, Editor)
          .join(Tenant, col(Tenant.id) == col(Session.tenant_id))
          .join(File, col(File.id) == col(Session.file_id))
          .join(Storage, col(Storage.id) == col(File.storage_id))
          .outerjoin(UserInfo, and_(col(UserInfo.tenant_id) == col(Session.tenant_id),
                                    col(UserInfo.user_id) == col(Session.user_id)))
          .outerjoin(Editor, col(Editor.id) == col(Session.editor_id))
          # Built once, with a bound parameter: its cache key is computed once, not per request.
          .where(col(Session.token_hash) == bindparam("token_hash")))


def sync_url(url: str) -> str:
    """The synchronous driver of the same database (pysqlite; psycopg serves both)."""
    url = normalize_url(url)
    return "sqlite+pysqlite" + url[len("sqlite+aiosqlite"):] if url.startswith("sqlite+aiosqlite") else url


class GrantReader:
    """One per control-plane process; close() when stopping."""

    def __init__(self, url: str) -> None:
        url = sync_url(url)
        if url.startswith("sqlite"):
            self.engine: Engine = create_engine(url, pool_size=READERS, max_overflow=0,
                                                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                                                              "check_same_thread": False})
            _configure_sqlite_reader(self.engine)
        else:
            self.engine = create_engine(url, pool_size=READERS, max_overflow=0, pool_pre_ping=True)
        self._threads = ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="grant-read")

    async def read(self, token_hash: str) -> GrantRows | None:
        return await asyncio.get_running_loop().run_in_executor(self._threads, self._read, token_hash)

    def _read(self, token_hash: str) -> GrantRows | None:
        with OrmSession(self.engine, expire_on_commit=False) as db:
            row = db.execute(_QUERY, {"token_hash": token_hash}).first()
            if row is None:
                return None
            db.expunge_all()  # plain objects from here on: nothing is loaded later
            session, tenant, file, storage, user_info, editor = row
            return GrantRows(session, tenant, file, storage, user_info, editor)

    def close(self) -> None:
        self._threads.shutdown(wait=True)
        self.engine.dispose()


def _configure_sqlite_reader(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # autocommit: one SELECT is its own snapshot
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA query_only=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()
