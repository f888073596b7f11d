"""The WOPI hot path's read: everything a grant needs in one SELECT (the session with its tenant,
file and storage, the user's UserInfo and the session's editor), as Core on a synchronous
connection: the decision writer's (control.db.writer) reads a grant with it, or a whole batch's
grants in one SELECT. Through the async engine each statement, fetch and BEGIN/COMMIT cost a
thread hand-off (aiosqlite; greenlet switches with psycopg), which took more CPU than the query.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, Select, String, TypeDecorator, and_, bindparam, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import configure_mappers
from sqlmodel import SQLModel

from control.db.driver_calls import driver_known, driver_statement, rows_of
from control.db.engine import normalize_url
from control.db.models import Editor, File, Session, Storage, Tenant, UserInfo
from control.db.snapshots import snapshot


@dataclass(frozen=True)
class GrantRows:
    """Read-only snapshots of the rows (control.db.snapshots)."""

    session: Session
    tenant: Tenant
    file: File
    storage: Storage
    user_info: UserInfo | None
    editor: Editor | None


_MODELS: tuple[type[SQLModel], ...] = (Session, Tenant, File, Storage, UserInfo, Editor)
_TABLES = [model.__table__ for model in _MODELS]  # type: ignore[attr-defined]
_SESSIONS, _TENANTS, _FILES, _STORAGES, _USER_INFOS, _EDITORS = _TABLES
# Not read: the tenant's webhook secret and the editor's credentials (encrypted: decrypting them per
# request cost more than the query, and no grant uses them), and the editor's discovery document (up
# to 5 MiB; a proof check reads it once per fetch: read_discovery, EditorRegistry.discovery). Their
# snapshots hold the model's defaults ("") instead.
_LEFT_OUT = {_TENANTS.c.webhook_secret, _EDITORS.c.discovery_xml, _EDITORS.c.api_key, _EDITORS.c.webhook_secret}
_COLUMNS = [[column for column in table.columns if column not in _LEFT_OUT] for table in _TABLES]
_NAMES = [tuple(column.name for column in columns) for columns in _COLUMNS]


def _grant_select() -> Select[Any]:
    """Core, one SELECT of every column of the six tables (no ORM loading: the columns are
    sliced back into snapshots by position)."""
    return (select(*[column for columns in _COLUMNS for column in columns])
            .select_from(_SESSIONS.join(_TENANTS, _TENANTS.c.id == _SESSIONS.c.tenant_id)
                         .join(_FILES, _FILES.c.id == _SESSIONS.c.file_id)
                         .join(_STORAGES, _STORAGES.c.id == _FILES.c.storage_id)
                         .outerjoin(_USER_INFOS, and_(_USER_INFOS.c.tenant_id == _SESSIONS.c.tenant_id,
                                                      _USER_INFOS.c.user_id == _SESSIONS.c.user_id))
                         .outerjoin(_EDITORS, _EDITORS.c.id == _SESSIONS.c.editor_id)))


# Built once, with bound parameters: their cache keys are computed once, not per request.
GRANT_QUERY = _grant_select().where(_SESSIONS.c.token_hash == bindparam("token_hash"))
# Several grants' rows in one SELECT (a batch of reads on the writer thread: one round trip).
GRANTS_QUERY = _grant_select().where(_SESSIONS.c.token_hash.in_(bindparam("token_hashes", expanding=True)))
class _Hashes(TypeDecorator[list[str]]):
    """PostgreSQL's VARCHAR[], sent as the Python list it is (psycopg adapts a list of str itself).
    ARRAY's own conversion of the list per execution would keep the statement from going to the
    driver (control.db.driver_calls refuses parameters SQLAlchemy converts)."""

    impl = postgresql.ARRAY(String)
    cache_ok = True

    def bind_processor(self, dialect: Any) -> None:
        return None


# PostgreSQL: the hashes as one array parameter, so that every batch size sends the same statement
# text (psycopg prepares it once; an IN list of each length is a statement planned on its own).
GRANTS_QUERY_PG = _grant_select().where(
    _SESSIONS.c.token_hash == func.any(bindparam("token_hashes", type_=_Hashes())))
# The lock decisions' read: the file row stays locked until the transaction ends (PostgreSQL;
# SQLite's write transaction is exclusive anyway).
GRANT_QUERY_FOR_UPDATE = GRANT_QUERY.with_for_update(of=_FILES)


configure_mappers()  # model_construct's objects read through the mapped attributes: map them now


def grant_rows(row: Row[Any] | tuple[Any, ...] | None) -> GrantRows | None:
    """GRANT_QUERY's row as snapshots (None: no session has that token)."""
    if row is None:
        return None
    values = tuple(row)
    found: list[Any] = []
    at = 0
    for model, names in zip(_MODELS, _NAMES, strict=True):
        part = values[at:at + len(names)]
        at += len(names)
        # The outer joins' rows are absent when their key column is NULL.
        found.append(None if part[0] is None else snapshot(model, names, part))
    session, tenant, file, storage, user_info, editor = found
    return GrantRows(session, tenant, file, storage, user_info, editor)


def read_grant(conn: Connection, token_hash: str, *, for_update: bool = False) -> GrantRows | None:
    """Sent to the driver as compiled once (control.db.driver_calls): one grant per transaction at
    one client, where SQLAlchemy's own execution cost more CPU than the query."""
    query = GRANT_QUERY_FOR_UPDATE if for_update else GRANT_QUERY
    if not driver_known(conn):
        return grant_rows(conn.execute(query, {"token_hash": token_hash}).first())
    rows = driver_statement(conn.dialect, query).rows(conn, {"token_hash": token_hash})
    return grant_rows(rows[0] if rows else None)


def read_grants(conn: Connection, token_hashes: list[str]) -> dict[str, GrantRows | None]:
    """Each token hash's rows (None when no session has it), as read_grant would give them."""
    found: dict[str, GrantRows | None] = dict.fromkeys(token_hashes)
    position = _NAMES[0].index("token_hash")
    if conn.dialect.name == "postgresql":  # to the driver (with the batch's BEGIN), as read_grant
        rows: Any = rows_of(conn, GRANTS_QUERY_PG, {"token_hashes": token_hashes})
    else:  # an IN list whose length varies: SQLAlchemy writes its text
        rows = conn.execute(GRANTS_QUERY, {"token_hashes": token_hashes})
    for row in rows:
        found[row[position]] = grant_rows(row)
    return found


_DISCOVERY_QUERY = select(_EDITORS.c.discovery_xml).where(_EDITORS.c.id == bindparam("editor_id"))


def read_discovery(conn: Connection, editor_id: int | None) -> str:
    """An editor's stored discovery document ("" when the row is gone)."""
    return str(conn.execute(_DISCOVERY_QUERY, {"editor_id": editor_id}).scalar() or "")


def sync_url(url: str) -> str:
    """The synchronous driver of the same database (pysqlite; psycopg serves both)."""
    url = normalize_url(url)
    return "sqlite+pysqlite" + url[len("sqlite+aiosqlite"):] if url.startswith("sqlite+aiosqlite") else url
