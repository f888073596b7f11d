"""The edge's writes (PutFile, PutRelativeFile, RenameFile, DeleteFile) in the write protocol of
control.services.write_intents: BeginWrite decides (every lock comparison happens here, in the
compare-and-set), CommitWrite confirms, AbandonWrite gives up."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from sqlalchemy import or_, update

from control.db import stores
from control.db.models import ApiKey, File, Session, Tenant, WriteIntent
from control.services import (access_tokens, audit, events, file_identity, launch_codes, locks, wopi_access,
                              write_intents)
from control.services.context import ServiceContext
from control.services.editors import EditorRegistry
from control.db.writer import NotHere
from control.services import write_decisions
from control.services.wopi_access import Caller, Grant, audited, resolve
from shared import failpoints
from shared.errors import (
    AccessTokenInvalid,
    ConflictCopyQuotaExceeded,
    FileAlreadyExists,
    FileMoved,
    InvalidArgument,
    LockConflict,
    TimestampConflict,
    WriteInProgress,
    WriteIntentNotFound,
)
from shared.storage import normalize_relative_path
from shared.wopi_operation import WopiOperation

WRITES = frozenset({WopiOperation.PUT_FILE, WopiOperation.PUT_RELATIVE_FILE, WopiOperation.RENAME_FILE,
                    WopiOperation.DELETE_FILE})


@dataclass(frozen=True)
class Stored:
    """What the edge saw at the path the write replaces."""

    exists: bool = False
    size: int = 0
    modified: str = ""  # ISO 8601, as CheckFileInfo's LastModifiedTime
    fingerprint: str = ""


@dataclass(frozen=True)
class Staged:
    size: int = 0
    sha256: str = ""
    fingerprint: str = ""
    staged_path: str = ""


@dataclass(frozen=True)
class WriteRequest:
    operation: WopiOperation
    lock_id: str = ""  # X-WOPI-Lock
    editor_timestamp: str | None = None  # X-COOL-/X-LOOL-WOPI-Timestamp; None when not sent
    timestamp_editor: bool = False  # the editor sends Collabora's save headers
    current: Stored = Stored()
    staged: Staged = Staged()
    target_path: str = ""
    overwrite: bool = False
    editors: str = ""  # X-WOPI-Editors
    save_flags: str = ""


@dataclass(frozen=True)
class Begun:
    intent_id: str
    done: bool  # nothing to publish: already confirmed
    keep_version: int
    file_id: str
    version: int
    publish_within_ms: int


def check_staleness(request: WriteRequest) -> None:
    """Collabora's conflict contract (OnlyOffice sends the same X-LOOL-* header): a timestamp that
    is not the file's LastModifiedTime means the file changed in storage since the editor loaded
    it. Applied whether or not the file is locked: a lock does not make an external change
    (a restore, a sync client) any less real. Without the header it is the "overwrite" retry."""
    seen, current = request.editor_timestamp, request.current
    if seen is not None and current.exists and seen != current.modified:
        raise TimestampConflict(seen, current.modified)


def check_put_file_path(file: File, request: WriteRequest) -> None:
    """PutFile's `current` and staged bytes describe the path its grant named: after a RenameFile
    during the upload they would be published at the old name while the file (and the save this
    records) moved on. An edge that names no path (an older one) is not checked."""
    if request.target_path and request.target_path != file.path:
        raise FileMoved(file.id, file.path)


def check_put_file_lock(current_lock: str, request: WriteRequest) -> None:
    """rest/files/putfile: a locked file needs the same lock id; an unlocked one may be written when
    empty (editnew, OnlyOffice's templates) or by an editor that guards saves with timestamps
    (Collabora may not lock at all); anyone else gets 409 with an empty X-WOPI-Lock."""
    if current_lock:
        if request.lock_id != current_lock:
            raise LockConflict(current_lock, "the file is locked with another lock id")
        return
    if request.current.exists and request.current.size > 0 and not request.timestamp_editor:
        raise LockConflict("", "the file is not locked and is not empty")


def _shown(path: str) -> str:
    """A path in a record's detail: its names were chosen by an editor's user (" version=9", "{version}")."""
    return audit.detail_value(path)


def _audit_detail(operation: WopiOperation, caller: Caller, request: WriteRequest, extra: str = "") -> str:
    parts = [extra]
    if operation is WopiOperation.PUT_FILE:
        parts.append("version={version} lock=" + audit.lock_digest(request.lock_id))
    if request.editors:
        parts.append("editors=" + audit.detail_value(request.editors[:500]))
    if request.save_flags and audit.SAVE_FLAGS.fullmatch(request.save_flags):  # the edge's booleans, or nothing
        parts.append(request.save_flags)
    if caller.editor:
        parts.append("editor=" + audit.detail_value(caller.editor))  # what the client calls itself
    return " ".join(p for p in parts if p)


def _intent(ctx: ServiceContext, grant: Grant, file: File, caller: Caller, request: WriteRequest, now: int, *,
            detail: str, **fields: Any) -> WriteIntent:
    return write_intents.new_intent(
        file=file, operation=request.operation.value, now=now, session=grant.session, actor=grant.actor,
        ttl_ms=ctx.write_intent_ttl_ms,
        detail=detail, lock_hash=audit.lock_hash_of(request.lock_id), editor=caller.editor,
        client_address=caller.client_address, correlation_id=caller.correlation_id,
        staged_path=request.staged.staged_path[:2000], **fields)


async def begin(ctx: ServiceContext, caller: Caller, request: WriteRequest) -> Begun:
    """Step 1 of the write protocol; settles a pending intent of the file first (once)."""
    if request.operation not in WRITES:
        raise InvalidArgument("operation", f"{request.operation.value} does not write")
    try:
        return await _begin(ctx, caller, request, settle_pending=True)
    except write_intents.PendingWrite as pending:
        await write_intents.settle(ctx, pending.intent_id)
    return await _begin(ctx, caller, request, settle_pending=False)


async def _begin(ctx: ServiceContext, caller: Caller, request: WriteRequest, *, settle_pending: bool) -> Begun:
    operation = request.operation
    if ctx.decisions is not None and operation is WopiOperation.PUT_FILE:
        # One call on the writer thread (control.services.write_decisions); the same audit of refusals.
        async with audited(ctx, caller, operation.value, record_conflicts=False):
            return await ctx.decisions.run(functools.partial(
                write_decisions.begin_put_file, ctx=ctx, caller=caller, request=request,
                settle_pending=settle_pending))
    # PutFile's conflicts are audited by RecordConflictCopy, with where the refused bytes went.
    async with audited(ctx, caller, operation.value, record_conflicts=operation is not WopiOperation.PUT_FILE), \
            ctx.transaction() as db:
        grant = await resolve(db, ctx, caller, operation, for_update=True, settle_pending=settle_pending)
        now = ctx.clock()
        file = grant.file
        if operation is WopiOperation.PUT_RELATIVE_FILE:
            return await _begin_relative(ctx, db, grant, caller, request, now)
        if file.pending_intent_id:
            raise WriteInProgress(file.id)
        if operation is WopiOperation.PUT_FILE:
            check_put_file_path(file, request)
        current_lock = locks.current_lock(file, now)
        keep = grant.storage.version_retention > 0 and request.current.exists
        if operation is WopiOperation.PUT_FILE:
            check_staleness(request)
            check_put_file_lock(current_lock, request)
            detail = _audit_detail(operation, caller, request)
            if (request.current.exists and request.staged.sha256 == file.sha256
                    and request.current.fingerprint == file.fingerprint):
                return await _unchanged(ctx, db, grant, caller, request, now, detail)
            intent = _intent(ctx, grant, file, caller, request, now, detail=detail, source_path=file.path,
                             target_path=file.path, size=request.staged.size, sha256=request.staged.sha256,
                             fingerprint=request.staged.fingerprint, kept_version=file.version if keep else 0,
                             kept_size=request.current.size if keep else 0)
        elif operation is WopiOperation.RENAME_FILE:
            if current_lock and current_lock != request.lock_id:
                raise LockConflict(current_lock, "the file is locked with another lock id")
            new_path = normalize_relative_path(request.target_path)
            holder = await stores.live_file_by_path(db, tenant_id=file.tenant_id, storage_id=file.storage_id,
                                                    path=new_path)
            if holder is not None and holder.id != file.id and holder.deleted_time is None:
                if locks.current_lock(holder, now):
                    raise FileAlreadyExists(new_path)
                if holder.pending_intent_id:  # a save of it (or a Save As creating it) is on its way
                    raise WriteInProgress(holder.id)
            intent = _intent(ctx, grant, file, caller, request, now, source_path=file.path, target_path=new_path,
                             detail=_audit_detail(operation, caller, request, f"{_shown(file.path)} -> {_shown(new_path)}"))
        else:  # DeleteFile: refused while locked at all (rest/files/deletefile)
            if current_lock:
                raise LockConflict(current_lock, "the file is locked")
            extra = f"deleted {_shown(file.path)}" + (f"; content kept as version {file.version}" if keep else "")
            intent = _intent(ctx, grant, file, caller, request, now, source_path=file.path, target_path="",
                             kept_version=file.version if keep else 0,
                             kept_size=request.current.size if keep else 0,
                             detail=_audit_detail(operation, caller, request, extra))
        await write_intents.record(db, file=file, intent=intent)
        return Begun(intent_id=intent.id, done=False, keep_version=intent.kept_version, file_id=file.id,
                     version=file.version, publish_within_ms=write_intents.publish_within_ms(ctx.write_intent_ttl_ms))


async def _unchanged(ctx: ServiceContext, db: AsyncSession, grant: Grant, caller: Caller, request: WriteRequest, now: int,
                     detail: str) -> Begun:
    """Same bytes as stored: nothing is rewritten and no version kept, but the save is recorded
    and answered like any other (editors expect a new X-WOPI-ItemVersion)."""
    file = grant.file
    intent = _intent(ctx, grant, file, caller, request, now, detail=detail + " unchanged", source_path=file.path,
                     target_path=file.path, size=request.staged.size, sha256=request.staged.sha256,
                     fingerprint=request.current.fingerprint)
    await write_intents.record(db, file=file, intent=intent)
    done = await write_intents.confirm(db, intent=intent, file=file, storage=grant.storage, now=now)
    return Begun(intent_id=intent.id, done=True, keep_version=0, file_id=file.id, version=done.version,
                 publish_within_ms=0)


async def _begin_relative(ctx: ServiceContext, db: AsyncSession, grant: Grant, caller: Caller, request: WriteRequest, now: int) -> Begun:
    """PutRelativeFile: the source needs no lock (Save As from view mode); the target's lock and
    existence are decided here. A new target gets its identity now, retired if the write fails."""
    target_path = normalize_relative_path(request.target_path)
    storage_id = grant.storage.id
    assert storage_id is not None
    target = await stores.live_file_by_path(db, tenant_id=grant.file.tenant_id, storage_id=storage_id,
                                            path=target_path)
    if target is not None and target.deleted_time is None:
        current = locks.current_lock(target, now)
        if current:
            raise LockConflict(current, "the target file is locked")
    if target is not None and target.pending_intent_id:
        raise WriteInProgress(target.id)
    # Not only what the edge saw: a file the database knows there (one another save created while
    # this body arrived, whose bytes storage may not show yet) is not replaced without overwrite.
    if not request.overwrite and (request.current.exists or (target is not None and target.deleted_time is None)):
        raise FileAlreadyExists(target_path)
    created = target is None
    if target is None:
        target = file_identity.new_file(tenant_id=grant.file.tenant_id, storage_id=storage_id, path=target_path,
                                        now=now)
        await stores.add(db, target)
    keep = request.current.exists and grant.storage.version_retention > 0
    intent = _intent(ctx, grant, target, caller, request, now, source_path=grant.file.path, target_path=target_path,
                     size=request.staged.size, sha256=request.staged.sha256, fingerprint=request.staged.fingerprint,
                     kept_version=target.version if keep else 0, kept_size=request.current.size if keep else 0,
                     created_file=created,
                     detail=_audit_detail(request.operation, caller, request,
                                          f"created {_shown(target_path)} as file {target.id} from {grant.file.id}, "
                                          "its version {version}"))
    await write_intents.record(db, file=target, intent=intent)
    return Begun(intent_id=intent.id, done=False, keep_version=intent.kept_version, file_id=target.id,
                 version=target.version, publish_within_ms=write_intents.publish_within_ms(ctx.write_intent_ttl_ms))


@dataclass(frozen=True)
class Committed:
    version: int
    expired_versions: list[int]
    wopi_src: str = ""
    access_token: str = ""
    host_view_url: str = ""
    host_edit_url: str = ""


async def commit(ctx: ServiceContext, caller: Caller, *, intent_id: str, fingerprint: str = "",
                 editors: EditorRegistry | None = None) -> Committed:
    """Step 3, by the writer. Idempotent; an intent abandoned meanwhile is confirmed late if the
    file has not moved on and storage holds its change, else WriteIntentNotFound."""
    committed = await _commit(ctx, caller, intent_id=intent_id, fingerprint=fingerprint, editors=editors)
    failpoints.hit("control.commit.after_commit")
    return committed


async def _commit(ctx: ServiceContext, caller: Caller, *, intent_id: str, fingerprint: str,
                  editors: EditorRegistry | None) -> Committed:
    if ctx.decisions is not None:
        try:
            return await ctx.decisions.run(functools.partial(
                write_decisions.commit_put_file, ctx=ctx, caller=caller, intent_id=intent_id,
                fingerprint=fingerprint))
        except NotHere:  # not a PutFile intent: the transaction below
            pass
    async with ctx.transaction() as db:
        intent = await db.get(WriteIntent, intent_id[:40], with_for_update=True, populate_existing=True)
        if intent is None:
            raise WriteIntentNotFound(intent_id[:40])
        session = await _session_of(db, caller, intent)
        if intent.operation == WopiOperation.PUT_RELATIVE_FILE.value:
            session = await _hold_to_mint(db, session)
        file = await stores.get_file_for_update(db, file_id=intent.file_id, tenant_id=session.tenant_id)
        storage = (await stores.get_storage(db, tenant_id=session.tenant_id, name=session.storage_name)
                   if file else None)
        assert file is not None and storage is not None and storage.id == file.storage_id
        if intent.state == write_intents.CONFIRMED:  # settled from storage first, or a repeated commit
            version = intent.base_version + (0 if intent.operation == "RenameFile" else 1)
            if intent.operation == WopiOperation.PUT_RELATIVE_FILE.value:  # the writer still needs its session
                done = write_intents.Confirmed(version=version, expired_versions=[], file=file)
                return await _open_relative(ctx, db, session, file, done, editors, ctx.clock())
            return Committed(version=version, expired_versions=[])
        if intent.state == write_intents.ABANDONED:
            if file.version != intent.base_version or file.pending_intent_id:
                raise WriteIntentNotFound(intent.id)
            intent.state = write_intents.PENDING  # late, but storage holds it: the edge published it
        now = ctx.clock()
        file.pending_intent_id = intent.id
        done = await write_intents.confirm(db, intent=intent, file=file, storage=storage, now=now,
                                           fingerprint=fingerprint)
        if intent.operation != WopiOperation.PUT_RELATIVE_FILE.value:
            result = Committed(version=done.version, expired_versions=done.expired_versions)
        else:
            result = await _open_relative(ctx, db, session, file, done, editors, now)
        failpoints.hit("control.commit.before_commit")
        return result


async def _session_of(db: AsyncSession, caller: Caller, intent: WriteIntent) -> Session:
    """The caller's token must be the session that began the intent."""
    session = await stores.session_by_token_hash(db, token_hash=access_tokens.hash_token(caller.access_token))
    if session is None or session.id != intent.session_id:
        raise AccessTokenInvalid("the access token did not begin this write")
    return session


async def _hold_to_mint(db: AsyncSession, session: Session) -> Session:
    """PutRelativeFile mints a session from the writer's (_open_relative): its key, then the session
    itself, are share-locked (PostgreSQL) before anything else, in the order RevokeApiKey and
    CloseSession lock them. A close (or a revocation with close_sessions) not yet committed is
    waited for and then seen; one that starts later waits for this commit and finds the new session
    among the key's. Read unlocked, a close committing meanwhile went unseen and a token was minted
    from a session closed by then."""
    if session.created_by_key:
        await db.get(ApiKey, session.created_by_key, with_for_update={"read": True})
    held = await db.get(Session, session.id, with_for_update={"read": True}, populate_existing=True)
    return held or session


async def _open_relative(ctx: ServiceContext, db: AsyncSession, source: Session, target: File,
                         done: write_intents.Confirmed, editors: EditorRegistry | None, now: int) -> Committed:
    """A session on PutRelativeFile's new file for the same user (its Url carries a new token).
    None when the writer's session was closed or expired, or its tenant disabled, while the body
    arrived: the new file is kept (storage holds it, the intent is confirmed), but a session that
    ended must not hand out a new token that outlives it; the edge answers 401."""
    tenant = await stores.get_tenant(db, tenant_id=source.tenant_id)
    if not wopi_access.session_open(source, now) or tenant is None or not tenant.enabled:
        return Committed(version=done.version, expired_versions=done.expired_versions)
    minted = access_tokens.mint()
    session = Session(
        id=access_tokens.new_session_id(), tenant_id=source.tenant_id, file_id=target.id,
        storage_name=source.storage_name, path=target.path, user_id=source.user_id, user_name=source.user_name,
        permission=source.permission, token_hash=minted.token_hash, create_time=now,
        expire_time=source.expire_time, editor_id=source.editor_id,
        created_by_key=source.created_by_key,  # revoking that key with close_sessions ends this one too
    )
    await stores.add(db, session)
    view_url, edit_url = "", ""
    if editors is not None:  # PutRelativeFile's HostViewUrl/HostEditUrl, when an editor is known
        view_url, edit_url = await launch_codes.host_urls(
            db, editors, session=session, access_token=minted.token, wopi_base_url=ctx.wopi_base_url,
            wopi_src=ctx.wopi_src(target.id), now=now, ttl_ms=ctx.launch_code_ttl_s * 1000)
    await events.emit(db, type="opened", session=session, now=now, version=target.version)
    return Committed(version=done.version, expired_versions=done.expired_versions,
                     wopi_src=ctx.wopi_src(target.id), access_token=minted.token, host_view_url=view_url,
                     host_edit_url=edit_url)


async def abandon(ctx: ServiceContext, caller: Caller, *, intent_id: str, reason: str) -> bool:
    """The writer could not change storage; True when the intent is abandoned (False: storage held
    the change after all, and it was confirmed)."""
    async with ctx.sessions() as db:
        intent = await db.get(WriteIntent, intent_id[:40])
        if intent is None:
            raise WriteIntentNotFound(intent_id[:40])
        await _session_of(db, caller, intent)
    state = await write_intents.settle(ctx, intent.id, force=True, reason=f"the writer gave up: {reason[:200]}")
    return state == write_intents.ABANDONED


async def record_conflict_copy(ctx: ServiceContext, caller: Caller, *, copy_path: str, size: int,
                               reason: str, status: int = 409) -> None:
    """Decides whether refused content may be kept as a copy, and counts its bytes against the
    tenant's conflict-copy quota. The edge asks before it publishes the copy. While the tenant is
    under its quota the copy is kept even when it crosses the quota (the first refused save past
    the line is never lost); once at or over it, ConflictCopyQuotaExceeded (507)."""
    async with audited(ctx, caller, "PutFile"), ctx.transaction() as db:
        grant = await resolve(db, ctx, caller, "PutFile")
        await _charge_conflict_copy(db, tenant_id=grant.file.tenant_id, size=size)
        await audit.record(db, time=ctx.clock(), actor=grant.actor, operation="PutFile", outcome="conflict",
                           tenant_id=grant.file.tenant_id, session_id=grant.session.id, file_id=grant.file.id,
                           size=size, detail=f"refused ({audit.detail_text(reason[:300])}); content kept at "
                                  f"{audit.detail_value(copy_path)}",
                           client_address=caller.client_address, correlation_id=caller.correlation_id,
                           status=status or 409, version_before=grant.file.version,
                           version_after=grant.file.version, lock_hash=audit.lock_hash_of(grant.lock_id),
                           editor=caller.editor)


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
