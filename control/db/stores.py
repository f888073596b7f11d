"""Store functions: one query each, keyword-only arguments, never commit (services own transactions).

Tenant isolation is in the queries: a function that a tenant key's request can reach takes
`tenant_id` and filters by it in SQL (WHERE tenant_id = :t), so another tenant's id is simply not
found. `tenant_id=None` (the operator's calls, and the edge's, which are bound by an access token)
reads any tenant's row; it is a required argument, so no caller forgets the choice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from control.db.models import (
    ApiKey, BridgeEntry, File, FileVersion, LaunchCode, Session, Storage, Tenant, UserInfo, WriteIntent,
)

# -- API keys -------------------------------------------------------------------------------


async def count_api_keys(db: AsyncSession) -> int:
    return (await db.exec(select(func.count()).select_from(ApiKey))).one()


async def add(db: AsyncSession, row: object) -> None:
    db.add(row)
    await db.flush()


async def api_key_with_tenant(db: AsyncSession, *, key_hash: str) -> tuple[ApiKey, Tenant | None] | None:
    """The key and, for a tenant key, its tenant (None when the tenant is gone), in one query."""
    query = (select(ApiKey, Tenant).outerjoin(Tenant, col(Tenant.id) == col(ApiKey.tenant_id))
             .where(ApiKey.key_hash == key_hash))
    row = (await db.exec(query)).first()
    return None if row is None else (row[0], row[1])


# -- tenants --------------------------------------------------------------------------------


async def get_tenant(db: AsyncSession, *, tenant_id: str) -> Tenant | None:
    return await db.get(Tenant, tenant_id)


# A tenant's (or a storage's) records are deleted in one transaction that first locks its row FOR
# UPDATE and then the rows work in flight holds (lock_records_of). A transaction that adds records
# of a tenant or storage holds that row (hold_tenant, hold_storage: FOR KEY SHARE, which updates of
# its settings do not wait for): it either commits first, and its rows are deleted with the rest,
# or waits and then finds the row gone. Without this, rows added meanwhile outlived the deletion
# and a tenant created later under the same id inherited them (PostgreSQL; SQLite's write
# transactions are exclusive).


async def hold_tenant(db: AsyncSession, *, tenant_id: str) -> Tenant | None:
    query = (select(Tenant).where(Tenant.id == tenant_id).with_for_update(read=True, key_share=True)
             .execution_options(populate_existing=True))
    return (await db.exec(query)).first()


async def hold_storage(db: AsyncSession, *, storage_id: int | None) -> Storage | None:
    query = (select(Storage).where(Storage.id == storage_id).with_for_update(read=True, key_share=True)
             .execution_options(populate_existing=True))
    return (await db.exec(query)).first()


async def lock_records_of(db: AsyncSession, *, tenant_id: str | None = None, storage_id: int | None = None) -> None:
    """Before deleting a tenant's or a storage's records (its own row already locked): waits for the
    work in flight on them, in the order that work locks rows (a write's intent, then its file; a
    session after its file), so that what it adds is committed and seen by the deletes that follow."""
    files = select(col(File.id)).where(File.tenant_id == tenant_id if tenant_id else File.storage_id == storage_id)
    for model, scope in ((WriteIntent, col(WriteIntent.file_id).in_(files)), (File, col(File.id).in_(files)),
                         (Session, col(Session.file_id).in_(files))):
        await db.exec(select(col(model.id)).where(scope).order_by(col(model.id)).with_for_update())  # type: ignore[call-overload]


async def list_tenants(db: AsyncSession, *, after: str | None, limit: int) -> Sequence[Tenant]:
    query = select(Tenant).order_by(col(Tenant.id)).limit(limit)
    if after is not None:
        query = query.where(Tenant.id > after)
    return (await db.exec(query)).all()


# -- storages -------------------------------------------------------------------------------


async def get_storage(db: AsyncSession, *, tenant_id: str, name: str) -> Storage | None:
    query = select(Storage).where(Storage.tenant_id == tenant_id, Storage.name == name)
    return (await db.exec(query)).first()


async def list_storages(db: AsyncSession, *, tenant_id: str, after: str | None, limit: int) -> Sequence[Storage]:
    query = select(Storage).where(Storage.tenant_id == tenant_id).order_by(col(Storage.name)).limit(limit)
    if after is not None:
        query = query.where(Storage.name > after)
    return (await db.exec(query)).all()


# -- files ----------------------------------------------------------------------------------


async def file_by_path(db: AsyncSession, *, tenant_id: str, storage_id: int, path: str) -> File | None:
    query = select(File).where(File.tenant_id == tenant_id, File.storage_id == storage_id, File.path == path)
    return (await db.exec(query)).first()


def _of_tenant(query: Any, column: Any, tenant_id: str | None) -> Any:
    return query if tenant_id is None else query.where(column == tenant_id)


async def get_file(db: AsyncSession, *, file_id: str, tenant_id: str | None) -> File | None:
    return (await db.exec(_of_tenant(select(File).where(File.id == file_id), File.tenant_id, tenant_id))).first()


async def file_with_storage(db: AsyncSession, *, file_id: str, tenant_id: str | None) -> tuple[File, Storage] | None:
    """A file and its storage, both of `tenant_id`."""
    query = (select(File, Storage).join(Storage, col(Storage.id) == col(File.storage_id))
             .where(File.id == file_id))
    if tenant_id is not None:
        query = query.where(File.tenant_id == tenant_id, Storage.tenant_id == tenant_id)
    row = (await db.exec(query)).first()
    return None if row is None else (row[0], row[1])


async def get_file_for_update(db: AsyncSession, *, file_id: str, tenant_id: str | None) -> File | None:
    """Row-locks the file (PostgreSQL FOR UPDATE; SQLite transactions are already exclusive)."""
    query = _of_tenant(select(File).where(File.id == file_id), File.tenant_id, tenant_id)
    return (await db.exec(query.with_for_update().execution_options(populate_existing=True))).first()


async def live_file_by_path(db: AsyncSession, *, tenant_id: str, storage_id: int, path: str) -> File | None:
    query = (select(File).where(File.tenant_id == tenant_id, File.storage_id == storage_id, File.path == path)
             .with_for_update().execution_options(populate_existing=True))
    return (await db.exec(query)).first()


async def rename_sessions(db: AsyncSession, *, file_id: str, path: str) -> None:
    await db.exec(update(Session).where(col(Session.file_id) == file_id).values(path=path))  # type: ignore[call-overload]


def _versions_of(file_id: str, tenant_id: str | None) -> Any:
    """Versions have no tenant column: their file's tenant decides, by a join in the same query."""
    query = select(FileVersion).where(FileVersion.file_id == file_id)
    if tenant_id is not None:
        query = query.join(File, col(File.id) == col(FileVersion.file_id)).where(File.tenant_id == tenant_id)
    return query


async def get_version(db: AsyncSession, *, file_id: str, version: int, tenant_id: str | None) -> FileVersion | None:
    query = _versions_of(file_id, tenant_id).where(FileVersion.version == version)
    return (await db.exec(query)).first()


async def list_versions(db: AsyncSession, *, file_id: str, before: int | None, limit: int,
                        tenant_id: str | None) -> Sequence[FileVersion]:
    query = _versions_of(file_id, tenant_id).order_by(col(FileVersion.version).desc())
    if before is not None:
        query = query.where(FileVersion.version < before)
    return (await db.exec(query.limit(limit))).all()


async def delete_versions(db: AsyncSession, *, file_id: str, versions: Sequence[int]) -> None:
    if versions:
        await db.exec(delete(FileVersion).where(  # type: ignore[call-overload]
            col(FileVersion.file_id) == file_id, col(FileVersion.version).in_(versions)))


async def get_user_info(db: AsyncSession, *, tenant_id: str, user_id: str) -> UserInfo | None:
    return await db.get(UserInfo, (tenant_id, user_id))


# -- sessions -------------------------------------------------------------------------------


async def get_session(db: AsyncSession, *, session_id: str, tenant_id: str | None) -> Session | None:
    query = _of_tenant(select(Session).where(Session.id == session_id), Session.tenant_id, tenant_id)
    return (await db.exec(query)).first()


async def session_by_token_hash(db: AsyncSession, *, token_hash: str) -> Session | None:
    return (await db.exec(select(Session).where(Session.token_hash == token_hash))).first()


async def list_sessions(
    db: AsyncSession, *, tenant_id: str | None, after: tuple[int, str] | None, limit: int,
    user_id: str | None = None, file_id: str | None = None, state: str | None = None,
    created_by_key: str | None = None, now: int = 0,
) -> Sequence[Session]:
    """Newest first; `after` is the (create_time, id) of the previous page's last row."""
    query = (select(Session).where(col(Session.internal).is_(False))  # the bridge's own: not the callers'
             .order_by(col(Session.create_time).desc(), col(Session.id).desc()).limit(limit))
    if tenant_id is not None:
        query = query.where(Session.tenant_id == tenant_id)
    if user_id is not None:
        query = query.where(Session.user_id == user_id)
    if file_id is not None:
        query = query.where(Session.file_id == file_id)
    if created_by_key is not None:
        query = query.where(Session.created_by_key == created_by_key)
    if state == "open":
        query = query.where(col(Session.close_time).is_(None), Session.expire_time > now)
    elif state == "closed":
        query = query.where(col(Session.close_time).is_not(None), col(Session.close_time) != col(Session.expire_time))
    elif state == "expired":
        query = query.where((col(Session.close_time) == col(Session.expire_time))
                            | (col(Session.close_time).is_(None) & (col(Session.expire_time) <= now)))
    if after is not None:
        created, sid = after
        query = query.where(
            (col(Session.create_time) < created) | ((col(Session.create_time) == created) & (col(Session.id) < sid))
        )
    return (await db.exec(query)).all()


async def open_sessions_of_key(db: AsyncSession, *, key_id: str, now: int) -> Sequence[Session]:
    """The open sessions the key created, row-locked, ordered by tenant (then id)."""
    query = (select(Session).where(Session.created_by_key == key_id, col(Session.close_time).is_(None),
                                   col(Session.expire_time) > now, col(Session.internal).is_(False))
             .order_by(col(Session.tenant_id), col(Session.id))
             .with_for_update().execution_options(populate_existing=True))
    return (await db.exec(query)).all()


# -- audit ----------------------------------------------------------------------------------


async def expired_open_sessions(db: AsyncSession, *, tenant_id: str | None, now: int,
                                skip_locked: bool = False, limit: int | None = None) -> Sequence[Session]:
    """Sessions past their expiry, oldest first, at most `limit` (only those rows locked)."""
    # The bridge's own sessions are not ended here: the bridge re-mints their tokens as it works.
    query = select(Session).where(col(Session.close_time).is_(None), Session.expire_time <= now,
                                  col(Session.internal).is_(False))
    if tenant_id is not None:
        query = query.where(Session.tenant_id == tenant_id)
    query = query.order_by(col(Session.expire_time), col(Session.id))
    if limit is not None:
        query = query.limit(limit)
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    return (await db.exec(query)).all()


async def session_context_by_token_hash(
    db: AsyncSession, *, token_hash: str, lock_file: bool = False
) -> tuple[Session, Tenant, File, Storage] | None:
    """A session with its tenant, file and storage in one round trip (the WOPI hot path); with
    `lock_file` the file row is locked for update (PostgreSQL; SQLite transactions are exclusive)."""
    query = (select(Session, Tenant, File, Storage)
             .join(Tenant, col(Tenant.id) == col(Session.tenant_id))
             .join(File, col(File.id) == col(Session.file_id))
             .join(Storage, col(Storage.id) == col(File.storage_id))
             .where(Session.token_hash == token_hash))
    if lock_file:
        query = query.with_for_update(of=File).execution_options(populate_existing=True)  # type: ignore[arg-type]
    row = (await db.exec(query)).first()
    return None if row is None else (row[0], row[1], row[2], row[3])


async def take_once(db: AsyncSession, model: type[LaunchCode] | type[BridgeEntry], code_hash: str) -> bool:
    """Deletes a single-use code's row; True only in the one transaction that removed it. Read,
    then ORM delete, is not enough: on PostgreSQL a concurrent redemption waits for this one's
    DELETE and then deletes nothing, which SQLAlchemy only warns about, and both went on."""
    result = await db.execute(delete(model).where(col(model.code_hash) == code_hash))
    return int(result.rowcount) == 1  # type: ignore[attr-defined]
