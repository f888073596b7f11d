"""Files as applications and operators see them: identity, kept versions, restore."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from control.db import pages, stores
from control.db.models import File, FileVersion, Storage
from control.services import audit, locks, versions
from control.services.access import require_tenant_visible
from control.services.context import Principal, ServiceContext
from control.services.storages import open_storage
from shared.errors import FileAlreadyExists, FileLocked, FileNotFound, VersionNotFound
from shared.storage import version_object_path

RESTORE_LIMIT = 1 << 40  # restoring copies bytes we already hold: no upload limit applies


@dataclass(frozen=True)
class FileView:
    file: File
    storage_name: str
    lock_id: str


async def _load(ctx: ServiceContext, principal: Principal, tenant_id: str, file_id: str) -> tuple[File, Storage]:
    require_tenant_visible(principal, tenant_id)
    async with ctx.sessions() as db:
        file = await stores.get_file(db, file_id=file_id)
        storage = await stores.get_storage_by_id(db, storage_id=file.storage_id) if file else None
    if file is None or storage is None or file.tenant_id != tenant_id:
        raise FileNotFound(file_id)
    return file, storage


async def get_file(ctx: ServiceContext, principal: Principal, *, tenant_id: str, file_id: str) -> FileView:
    file, storage = await _load(ctx, principal, tenant_id, file_id)
    return FileView(file=file, storage_name=storage.name, lock_id=locks.current_lock(file, ctx.clock()))


async def list_versions(ctx: ServiceContext, principal: Principal, *, tenant_id: str, file_id: str, page_size: int,
                        page_token: str) -> tuple[Sequence[FileVersion], str]:
    await _load(ctx, principal, tenant_id, file_id)
    limit = pages.page_size(page_size)
    before = pages.decode_int(page_token)
    async with ctx.sessions() as db:
        rows = await stores.list_versions(db, file_id=file_id, before=before, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, pages.encode(rows[-1].version) if more else ""


async def restore_version(ctx: ServiceContext, principal: Principal, *, tenant_id: str, file_id: str,
                          version: int) -> FileView:
    """The current bytes are kept as a version first, then the old ones are copied back into place.
    A deleted file comes back at the path it was deleted from, if nothing took that path since."""
    file, storage_row = await _load(ctx, principal, tenant_id, file_id)
    async with ctx.sessions() as db:
        if await stores.get_version(db, file_id=file_id, version=version) is None:
            raise VersionNotFound(file_id, version)
    if locks.current_lock(file, ctx.clock()):
        raise FileLocked(file_id)
    storage = open_storage(storage_row, ctx.egress)
    deleted = file.deleted_time is not None
    path = file.deleted_from or file.path if deleted else file.path
    if deleted:
        async with ctx.sessions() as db:
            holder = await stores.file_by_path(db, tenant_id=tenant_id, storage_id=file.storage_id, path=path)
        if holder is not None or await storage.exists(path):
            raise FileAlreadyExists(path)
    current = file.version
    kept = (not deleted and storage_row.version_retention > 0
            and await storage.keep_copy(path, version_object_path(file_id, current)))
    current_size = (await storage.stat(path)).size if kept else 0
    written = await storage.copy_internal(version_object_path(file_id, version), path, limit=RESTORE_LIMIT)
    stat = await storage.stat(path)
    async with ctx.transaction() as db:
        row = await stores.get_file_for_update(db, file_id=file_id)
        assert row is not None
        now = ctx.clock()
        expired: list[int] = []
        if kept:
            expired = await versions.keep(db, file=row, version=current, size=current_size, reason="restore",
                                          replaced_by=principal.actor, retention=storage_row.version_retention,
                                          now=now)
        if deleted:
            row.path, row.deleted_time, row.deleted_from = path, None, None
        row.version += 1
        row.size, row.sha256, row.fingerprint, row.update_time = written.size, written.sha256, stat.fingerprint, now
        db.add(row)
        await audit.record(db, time=now, actor=principal.actor, operation="RestoreFileVersion", outcome="ok",
                           tenant_id=tenant_id, file_id=file_id, size=written.size,
                           detail=f"restored version {version} as version {row.version}"
                                  + (f" (undeleted at {path})" if deleted else ""))
    for number in expired:
        await storage.delete(version_object_path(file_id, number), internal=True)
    return FileView(file=row, storage_name=storage_row.name, lock_id="")
