"""Files as applications and operators see them: identity, kept versions, restore."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from control.db import pages, stores
from control.db.models import File, FileVersion, Storage, WriteIntent
from control.services import locks, validation, write_intents
from control.services.access import require_tenant_visible
from control.services.context import Principal, ServiceContext
from control.services.storages import open_storage
from shared import failpoints
from shared.errors import FileAlreadyExists, FileLocked, FileNotFound, VersionNotFound, WriteInProgress
from shared.storage import FileStat, FsspecStorage, StagedWrite, version_object_path

RESTORE_LIMIT = 1 << 40  # restoring copies bytes we already hold: no upload limit applies


@dataclass(frozen=True)
class FileView:
    file: File
    storage_name: str
    lock_id: str


async def _load(ctx: ServiceContext, principal: Principal, tenant_id: str, file_id: str) -> tuple[File, Storage]:
    require_tenant_visible(principal, tenant_id)
    if not validation.is_lookup_id(file_id):
        raise FileNotFound(validation.printable(file_id, 43))
    async with ctx.sessions() as db:
        found = await stores.file_with_storage(db, file_id=file_id, tenant_id=tenant_id)
    if found is None:
        raise FileNotFound(file_id)
    return found


async def get_file(ctx: ServiceContext, principal: Principal, *, tenant_id: str, file_id: str) -> FileView:
    file, storage = await _load(ctx, principal, tenant_id, file_id)
    return FileView(file=file, storage_name=storage.name, lock_id=locks.current_lock(file, ctx.clock()))


async def list_versions(ctx: ServiceContext, principal: Principal, *, tenant_id: str, file_id: str, page_size: int,
                        page_token: str) -> tuple[Sequence[FileVersion], str]:
    await _load(ctx, principal, tenant_id, file_id)
    limit = pages.page_size(page_size)
    before = pages.decode_int(page_token)
    async with ctx.sessions() as db:
        rows = await stores.list_versions(db, file_id=file_id, before=before, limit=limit + 1, tenant_id=tenant_id)
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, pages.encode(rows[-1].version) if more else ""


async def restore_version(ctx: ServiceContext, principal: Principal, *, tenant_id: str, file_id: str,
                          version: int) -> FileView:
    """The old bytes are staged, then in one transaction the lock is checked (an editor's lock
    refuses the restore: FileLocked) and a write intent recorded; the current bytes are kept as a
    version, the staged ones published, the intent confirmed (control.services.write_intents).
    A deleted file comes back at the path it was deleted from, if nothing took that path since."""
    file, storage_row = await _load(ctx, principal, tenant_id, file_id)
    async with ctx.sessions() as db:
        if await stores.get_version(db, file_id=file_id, version=version, tenant_id=tenant_id) is None:
            raise VersionNotFound(file_id, version)
    if file.pending_intent_id:
        await write_intents.settle(ctx, file.pending_intent_id)
    storage = open_storage(ctx, storage_row)
    deleted = file.deleted_time is not None
    path = file.deleted_from or file.path if deleted else file.path
    if deleted:
        async with ctx.sessions() as db:
            holder = await stores.file_by_path(db, tenant_id=tenant_id, storage_id=file.storage_id, path=path)
        if holder is not None or await storage.kind(path) is not None:
            raise FileAlreadyExists(path)
    current = None if deleted else await _stat_or_none(storage, path)
    opened = await storage.open_read(version_object_path(file_id, version), internal=True)
    staged = await storage.stage(path, opened.chunks, limit=RESTORE_LIMIT)
    try:
        intent = await _begin_restore(ctx, principal, tenant_id=tenant_id, file_id=file_id, version=version, path=path,
                                      deleted=deleted, current_size=current.size if current else None,
                                      staged=staged, retention=storage_row.version_retention)
        kept = False
        try:
            if intent.kept_version:  # False: nothing was there to keep, and no version is registered
                kept = await storage.keep_copy(path, version_object_path(file_id, intent.kept_version))
            failpoints.hit("restore.after_keep")
            await staged.publish(path)
            failpoints.hit("restore.after_publish")
        except BaseException as error:
            await asyncio.shield(write_intents.settle(ctx, intent.id, force=True, reason=repr(error)[:200]))
            raise
    finally:
        await staged.discard()
    async with ctx.transaction() as db:
        row = await stores.get_file_for_update(db, file_id=file_id, tenant_id=tenant_id)
        locked_intent = await db.get(WriteIntent, intent.id, with_for_update=True, populate_existing=True)
        assert row is not None and locked_intent is not None
        if locked_intent.state != write_intents.PENDING:  # settled meanwhile (confirmed from storage)
            return FileView(file=row, storage_name=storage_row.name, lock_id=locks.current_lock(row, ctx.clock()))
        done = await write_intents.confirm(db, intent=locked_intent, file=row, storage=storage_row, now=ctx.clock(),
                                           keep_registered=kept)
    for number in done.expired_versions:
        await storage.delete(version_object_path(file_id, number), internal=True)
    return FileView(file=done.file, storage_name=storage_row.name, lock_id="")


async def _stat_or_none(storage: FsspecStorage, path: str) -> FileStat | None:
    try:
        return await storage.stat(path)
    except FileNotFound:
        return None


async def _begin_restore(ctx: ServiceContext, principal: Principal, *, tenant_id: str, file_id: str, version: int, path: str,
                         deleted: bool, current_size: int | None, staged: StagedWrite,
                         retention: int) -> WriteIntent:
    """Step 1 for a restore: the lock check is part of this compare-and-set, on the locked row."""
    async with ctx.transaction() as db:
        row = await stores.get_file_for_update(db, file_id=file_id, tenant_id=tenant_id)
        if row is None:
            raise FileNotFound(file_id)
        now = ctx.clock()
        if locks.current_lock(row, now):
            raise FileLocked(file_id)
        if row.pending_intent_id:
            raise WriteInProgress(file_id)
        if (row.deleted_time is not None) != deleted:
            raise WriteInProgress(file_id)  # deleted or restored meanwhile: the caller retries
        if not deleted and row.path != path:
            # Renamed since the restore read its path: publishing at the old path would move the file
            # back and leave its latest bytes, unkept, under the new name. The caller retries.
            raise WriteInProgress(file_id)
        if deleted:
            holder = await stores.file_by_path(db, tenant_id=row.tenant_id, storage_id=row.storage_id, path=path)
            if holder is not None:
                raise FileAlreadyExists(path)
        keep = current_size is not None and retention > 0
        intent = write_intents.new_intent(
            file=row, operation="RestoreFileVersion", now=now, session=None, actor=principal.actor,
            ttl_ms=ctx.write_intent_ttl_ms,
            source_path=row.path, target_path=path, staged_path=staged.temp_path or "", size=staged.result.size,
            sha256=staged.result.sha256, fingerprint=staged.fingerprint,
            kept_version=row.version if keep else 0, kept_size=current_size or 0,
            detail=f"restored version {version} as version {{version}}" + (f" (undeleted at {path})" if deleted else ""),
        )
        await write_intents.record(db, file=row, intent=intent)
        return intent
