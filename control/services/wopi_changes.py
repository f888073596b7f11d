"""What the edge reports after it changed stored bytes. Each call re-checks the lock
(the compare of the compare-and-set) in the transaction that records the change."""

from __future__ import annotations

import posixpath
import secrets
from dataclasses import dataclass

from sqlalchemy import or_, update
from sqlmodel.ext.asyncio.session import AsyncSession

from control.db import stores
from control.db.models import File, Session, Tenant
from control.services import audit, events, launch_codes, locks, versions
from control.services.editors import EditorRegistry
from control.services.context import ServiceContext
from control.services.keys import hash_secret
from control.services.wopi_access import Caller, audited, resolve
from shared.errors import ConflictCopyQuotaExceeded, FileAlreadyExists, LockConflict
from shared.storage import normalize_relative_path


@dataclass(frozen=True)
class WriteRecord:
    size: int
    sha256: str
    fingerprint: str
    expected_lock_id: str
    kept_version: int = 0
    kept_size: int = 0
    editors: str = ""
    save_flags: str = ""


@dataclass(frozen=True)
class Recorded:
    version: int
    expired_versions: list[int]


async def record_write(ctx: ServiceContext, caller: Caller, record: WriteRecord) -> Recorded:
    async with audited(ctx, caller, "PutFile"), ctx.transaction() as db:
        grant = await resolve(db, ctx, caller, "PutFile", for_update=True)
        now = ctx.clock()
        file = grant.file
        locks.require(file, expected=record.expected_lock_id, now=now)
        expired: list[int] = []
        if record.kept_version:
            expired = await versions.keep(db, file=file, version=record.kept_version, size=record.kept_size,
                                          reason="save", replaced_by=grant.session.user_id,
                                          retention=grant.storage.version_retention, now=now)
        file.version += 1
        file.size, file.sha256, file.fingerprint, file.update_time = (
            record.size, record.sha256, record.fingerprint, now)
        db.add(file)
        await events.emit(db, type="saved", session=grant.session, now=now, version=file.version)
        detail = f"version={file.version} lock={audit.lock_digest(record.expected_lock_id)}"
        if record.editors:
            detail += f" editors={record.editors[:500]}"
        if record.save_flags:
            detail += f" {record.save_flags}"
        if caller.editor:
            detail += f" editor={caller.editor}"
        await audit.record(db, time=now, actor=grant.actor, operation="PutFile", outcome="ok",
                           tenant_id=file.tenant_id, session_id=grant.session.id, file_id=file.id, size=record.size,
                           detail=detail, client_address=caller.client_address, correlation_id=caller.correlation_id,
                           status=200, version_before=file.version - 1, version_after=file.version,
                           lock_hash=audit.lock_hash_of(record.expected_lock_id), editor=caller.editor)
        return Recorded(version=file.version, expired_versions=expired)


async def record_conflict_copy(ctx: ServiceContext, caller: Caller, *, copy_path: str, size: int,
                               reason: str) -> None:
    """Decides whether refused content may be kept as a copy, and counts its bytes against the
    tenant's conflict-copy quota. The edge asks before it publishes the copy. While the tenant is
    under its quota the copy is kept even when it crosses the quota (the first refused save past
    the line is never lost); once at or over it, ConflictCopyQuotaExceeded (507)."""
    async with audited(ctx, caller, "PutFile"), ctx.transaction() as db:
        grant = await resolve(db, ctx, caller, "PutFile")
        await _charge_conflict_copy(db, tenant_id=grant.file.tenant_id, size=size)
        await audit.record(db, time=ctx.clock(), actor=grant.actor, operation="PutFile", outcome="conflict",
                           tenant_id=grant.file.tenant_id, session_id=grant.session.id, file_id=grant.file.id,
                           size=size, detail=f"refused ({reason[:300]}); content kept at {copy_path}",
                           client_address=caller.client_address, correlation_id=caller.correlation_id,
                           status=409, version_before=grant.file.version, version_after=grant.file.version,
                           lock_hash=audit.lock_hash_of(grant.lock_id), editor=caller.editor)


async def _charge_conflict_copy(db: AsyncSession, *, tenant_id: str, size: int) -> None:
    """Adds `size` to the tenant's conflict-copy bytes unless it is already at its quota: one
    conditional UPDATE, so concurrent copies cannot both slip past a full quota."""
    table = Tenant.__table__  # type: ignore[attr-defined]
    under_quota = or_(table.c.conflict_copy_quota <= 0, table.c.conflict_copy_bytes < table.c.conflict_copy_quota)
    result = await db.execute(update(table).where(table.c.id == tenant_id, under_quota)
                              .values(conflict_copy_bytes=table.c.conflict_copy_bytes + max(0, size)))
    if not result.rowcount:  # type: ignore[attr-defined]
        tenant = await stores.get_tenant(db, tenant_id=tenant_id)
        raise ConflictCopyQuotaExceeded(tenant_id, tenant.conflict_copy_quota if tenant else 0)


@dataclass(frozen=True)
class RelativeFile:
    file_id: str
    wopi_src: str
    access_token: str
    previous_version: int
    expired_versions: list[int]
    host_view_url: str = ""
    host_edit_url: str = ""


async def create_relative_file(ctx: ServiceContext, caller: Caller, *, target_path: str, overwrite: bool,
                               target_exists: bool, size: int, sha256: str, target_size: int = 0,
                               editors: EditorRegistry | None = None) -> RelativeFile:
    """Registers PutRelativeFile's target and opens a session on it for the same user."""
    target_path = normalize_relative_path(target_path)
    async with audited(ctx, caller, "PutRelativeFile"), ctx.transaction() as db:
        grant = await resolve(db, ctx, caller, "PutRelativeFile")
        now = ctx.clock()
        storage_id = grant.storage.id
        assert storage_id is not None
        target = await stores.live_file_by_path(db, tenant_id=grant.file.tenant_id, storage_id=storage_id,
                                                path=target_path)
        if target is not None and target.deleted_time is None:
            current = locks.current_lock(target, now)
            if current:
                raise LockConflict(current, "the target file is locked")
        if target_exists and not overwrite:
            raise FileAlreadyExists(target_path)
        expired: list[int] = []
        if target is None:
            target = File(id=secrets.token_urlsafe(16), tenant_id=grant.file.tenant_id, storage_id=storage_id,
                          path=target_path, version=1, create_time=now, update_time=now)
            await stores.add(db, target)
        if target_exists:
            # Bytes we never recorded (a file put in storage behind our back) are kept all the same.
            expired = await versions.keep(db, file=target, version=target.version, size=target_size,
                                          reason="overwrite", replaced_by=grant.session.user_id,
                                          retention=grant.storage.version_retention, now=now)
        previous = target.version
        target.version += 1
        target.deleted_time = None
        target.size, target.sha256, target.fingerprint, target.update_time = size, sha256, "", now
        db.add(target)
        token = secrets.token_urlsafe(32)
        source = grant.session
        session = Session(
            id="ses_" + secrets.token_urlsafe(12), tenant_id=source.tenant_id, file_id=target.id,
            storage_name=source.storage_name, path=target_path, user_id=source.user_id,
            user_name=source.user_name, permission=source.permission, token_hash=hash_secret(token),
            create_time=now, expire_time=source.expire_time, editor_id=source.editor_id,
        )
        await stores.add(db, session)
        view_url, edit_url = "", ""
        if editors is not None:  # PutRelativeFile's HostViewUrl/HostEditUrl, when an editor is known
            view_url, edit_url = await launch_codes.host_urls(
                db, editors, session=session, access_token=token, wopi_base_url=ctx.wopi_base_url,
                wopi_src=ctx.wopi_src(target.id), now=now, ttl_ms=ctx.launch_code_ttl_s * 1000)
        await events.emit(db, type="opened", session=session, now=now, version=target.version)
        await audit.record(db, time=now, actor=grant.actor, operation="PutRelativeFile", outcome="ok",
                           tenant_id=source.tenant_id, session_id=source.id, file_id=grant.file.id, size=size,
                           detail=f"created {target_path} as file {target.id} (session {session.id}), "
                                  f"its version {previous} -> {target.version}",
                           client_address=caller.client_address, correlation_id=caller.correlation_id,
                           status=200, version_before=grant.file.version, version_after=grant.file.version,
                           editor=caller.editor)
        return RelativeFile(file_id=target.id, wopi_src=ctx.wopi_src(target.id), access_token=token,
                            previous_version=previous, expired_versions=expired, host_view_url=view_url,
                            host_edit_url=edit_url)


async def record_rename(ctx: ServiceContext, caller: Caller, *, lock_id: str, new_path: str) -> None:
    new_path = normalize_relative_path(new_path)
    async with audited(ctx, caller, "RenameFile"), ctx.transaction() as db:
        grant = await resolve(db, ctx, caller, "RenameFile", for_update=True)
        now = ctx.clock()
        file = grant.file
        current = locks.current_lock(file, now)
        if current and current != lock_id:
            raise LockConflict(current, "the file is locked with another lock id")
        assert grant.storage.id is not None
        holder = await stores.live_file_by_path(db, tenant_id=file.tenant_id, storage_id=grant.storage.id,
                                                path=new_path)
        if holder is not None and holder.id != file.id:
            if holder.deleted_time is None and locks.current_lock(holder, now):
                raise FileAlreadyExists(new_path)
            # The edge saw no file at new_path: that identity is stale, retire it.
            holder.path = _tombstone(holder)
            holder.deleted_time = holder.deleted_time or now
            db.add(holder)
            await db.flush()
        old_path = file.path
        file.path, file.update_time = new_path, now  # same bytes: the version stays
        db.add(file)
        await stores.rename_sessions(db, file_id=file.id, path=new_path)
        await audit.record(db, time=now, actor=grant.actor, operation="RenameFile", outcome="ok",
                           tenant_id=file.tenant_id, session_id=grant.session.id, file_id=file.id,
                           detail=f"{old_path} -> {new_path}", client_address=caller.client_address,
                           correlation_id=caller.correlation_id, status=200, version_before=file.version,
                           version_after=file.version, lock_hash=audit.lock_hash_of(lock_id), editor=caller.editor)


def _tombstone(file: File) -> str:
    """A path no user path can take, so that the old path is free for a new file."""
    return f".wopi-deleted/{file.id}/{posixpath.basename(file.path)}"


async def record_delete(ctx: ServiceContext, caller: Caller, *, kept_version: int, kept_size: int) -> list[int]:
    async with audited(ctx, caller, "DeleteFile"), ctx.transaction() as db:
        grant = await resolve(db, ctx, caller, "DeleteFile", for_update=True)
        now = ctx.clock()
        file = grant.file
        locks.require(file, expected="", now=now)
        expired: list[int] = []
        if kept_version:
            expired = await versions.keep(db, file=file, version=kept_version, size=kept_size, reason="delete",
                                          replaced_by=grant.session.user_id,
                                          retention=grant.storage.version_retention, now=now)
        old_path = file.path
        file.deleted_from = old_path
        file.path, file.deleted_time, file.update_time = _tombstone(file), now, now
        file.version += 1
        db.add(file)
        await audit.record(db, time=now, actor=grant.actor, operation="DeleteFile", outcome="ok",
                           tenant_id=file.tenant_id, session_id=grant.session.id, file_id=file.id,
                           detail=f"deleted {old_path}" + (f"; content kept as version {kept_version}"
                                                           if kept_version else ""),
                           client_address=caller.client_address, correlation_id=caller.correlation_id,
                           status=200, version_before=file.version - 1, version_after=file.version,
                           editor=caller.editor)
        return expired
