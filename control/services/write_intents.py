"""The write protocol: the database never says a change happened that storage does not hold.

Every change of stored bytes or names (PutFile, PutRelativeFile, RenameFile, DeleteFile, a
version restore) runs in three steps, the first and last in the control plane's database:

1. Begin (one transaction, the compare-and-set): the lock is compared (and, for PutFile, the
   editor's staleness signal X-COOL-/X-LOOL-WOPI-Timestamp, locked or not); a WriteIntent row
   is recorded with what storage will hold afterwards (the staged object's path, the new
   bytes' size, sha256 and fingerprint, or the rename's target), and the file row points to it
   (files.pending_intent_id). One pending intent per file: a second write waits (WRITE_IN_PROGRESS).
   New bytes are staged before this step (StagedWrite): the lock is compared once they exist.
2. Storage: the current bytes are kept as a version (keep_copy), then the staged object is
   published (one rename or one S3 copy) / the file is moved. The writer does this only within
   PUBLISH_WITHIN_MS of step 1's answer.
3. Confirm (one transaction): the version advances, the kept version is registered, the audit
   records "ok" with the status the editor is sent (200), the `saved` event is written.

A crash or a lost connection between the steps leaves an intent pending. It is resolved from
what storage holds, at the next access to the file (wopi_access.authorize, BeginWrite) and by
the periodic sweep (control.server, --intent-sweep-interval):
- storage holds the intent's result (the object at the target has the intent's fingerprint, or
  its size and sha256; a rename's source is gone and its target exists; a deleted file is
  gone): the intent is confirmed as in step 3, but audited with status 0 (the editor's answer,
  if any, is unknown) and "confirmed from storage" in the detail;
- storage does not, and the intent is older than INTENT_TTL_MS (longer than any writer may take
  to publish): the intent is abandoned (audit "failed"), the file row is as before; a target row
  PutRelativeFile made is retired. Its staged object is removed first, and storage looked at
  again: a publish still on its way (an S3 copy the server carries out late) then fails instead
  of replacing a save confirmed after the abandonment.
- otherwise the writer may still be working: the intent stays pending (readers see the last
  confirmed state meanwhile).
- its file row is gone (DeleteStorage or DeleteTenant with force removed the records while the
  write was on its way): nothing can confirm it any more; it is abandoned (no audit record: the
  deletion's record says what went), and those deletions abandon their files' pending intents
  themselves (retire_with_files), so no intent stays pending for ever.

  step reached when the crash happens   storage holds          database says after resolution
  before Begin commits                  old bytes (+ temp)     old version, nothing pending
  after Begin, before publish           old bytes (+ kept)     old version; intent abandoned
  after publish, before Confirm         new bytes              new version; intent confirmed
  after Confirm                         new bytes              new version

Commits also never outlive their caller: see control.services.deadlines.
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import tuple_
from sqlmodel import col, delete, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from control.db import stores
from control.db.deadlocks import retried_on_deadlock
from control.db.models import File, Session, Storage, WriteIntent
from control.services import audit, events, versions
from control.services.context import ServiceContext
from control.services.storages import open_storage
from shared import failpoints
from shared.errors import FileNotFound, WopiProxyError
from shared.storage import FsspecStorage, version_object_path

log = logging.getLogger(__name__)

INTENT_TTL_MS = 60_000  # default of ServiceContext.write_intent_ttl_ms: unconfirmed this long and not in storage: abandoned


def publish_within_ms(ttl_ms: int) -> int:
    """A writer publishes only within this of Begin's answer: well before the intent may be abandoned."""
    return ttl_ms // 2
SWEEP_INTERVAL_S = 30.0
SWEEP_BATCH = 100
RESOLVED_RETENTION_MS = 7 * 24 * 3600 * 1000  # resolved intents are kept this long, for operators

PENDING, CONFIRMED, ABANDONED = "pending", "confirmed", "abandoned"
BYTE_WRITES = frozenset({"PutFile", "PutRelativeFile", "RestoreFileVersion"})


class PendingWrite(Exception):
    """Raised inside a transaction that found a pending intent: roll back, settle it, retry.
    Not a domain error: it never leaves the control plane."""

    def __init__(self, intent_id: str) -> None:
        super().__init__(intent_id)
        self.intent_id = intent_id


def new_intent(*, file: File, operation: str, now: int, session: Session | None, actor: str,
               ttl_ms: int = INTENT_TTL_MS, **fields: Any) -> WriteIntent:
    """A pending intent for `file` (record() adds it and points the file at it)."""
    return WriteIntent(id="wi_" + secrets.token_urlsafe(12), file_id=file.id, tenant_id=file.tenant_id,
                       session_id=session.id if session else "", operation=operation, state=PENDING,
                       base_version=file.version, actor=actor, create_time=now,
                       expire_time=now + ttl_ms, **fields)


async def record(db: AsyncSession, *, file: File, intent: WriteIntent) -> None:
    db.add(intent)
    file.pending_intent_id = intent.id
    db.add(file)
    await db.flush()
    failpoints.hit("control.begin.before_commit")


@dataclass(frozen=True)
class Confirmed:
    version: int
    expired_versions: list[int]
    file: File


def _tombstone(file: File) -> str:
    """A path no user path can take, so that the old path is free for a new file."""
    return f".wopi-deleted/{file.id}/{posixpath.basename(file.path)}"


async def confirm(db: AsyncSession, *, intent: WriteIntent, file: File, storage: Storage, now: int,
                  fingerprint: str = "", by_edge: bool = True, keep_registered: bool = True) -> Confirmed:
    """Step 3 on rows locked by the caller: the change storage holds becomes the file's state."""
    assert intent.state == PENDING
    expired: list[int] = []
    if intent.kept_version and keep_registered:
        reason = {"PutFile": "save", "PutRelativeFile": "overwrite", "DeleteFile": "delete",
                  "RestoreFileVersion": "restore"}.get(intent.operation, "save")
        expired = await versions.keep(db, file=file, version=intent.kept_version, size=intent.kept_size,
                                      reason=reason, replaced_by=intent.actor.removeprefix("user:"),
                                      retention=storage.version_retention, now=now)
    before = file.version
    if intent.operation in BYTE_WRITES:
        file.version += 1
        file.size, file.sha256, file.update_time = intent.size, intent.sha256, now
        file.fingerprint = fingerprint or intent.fingerprint
        if file.deleted_time is not None or file.path != intent.target_path:  # an undelete (restore, overwrite)
            file.path, file.deleted_time, file.deleted_from = intent.target_path, None, None
    elif intent.operation == "RenameFile":
        holder = await stores.live_file_by_path(db, tenant_id=file.tenant_id, storage_id=file.storage_id,
                                                path=intent.target_path)
        if holder is not None and holder.id != file.id:
            # Storage had no file there when the rename was decided: that identity is stale.
            holder.path = _tombstone(holder)
            holder.deleted_time = holder.deleted_time or now
            db.add(holder)
            await db.flush()
        file.path, file.update_time = intent.target_path, now  # same bytes: the version stays
        await stores.rename_sessions(db, file_id=file.id, path=intent.target_path)
    elif intent.operation == "DeleteFile":
        file.deleted_from = file.path
        file.path, file.deleted_time, file.update_time = _tombstone(file), now, now
        file.version += 1
    file.pending_intent_id = None
    db.add(file)
    intent.state, intent.resolve_time = CONFIRMED, now
    intent.resolution = "confirmed by the writer" if by_edge else "confirmed from storage (the writer's answer was lost)"
    db.add(intent)
    session = (await stores.get_session(db, session_id=intent.session_id, tenant_id=intent.tenant_id)
               if intent.session_id else None)
    if session is not None and intent.operation == "PutFile":
        await events.emit(db, type="saved", session=session, now=now, version=file.version)
    # The intent's id ties the record to the write (and to a "failed" record of the same id, never both).
    detail = intent.detail.replace("{version}", str(file.version)) + f" intent={intent.id}"
    if not by_edge:
        detail += " (confirmed from storage)"
    await audit.record(db, time=now, actor=intent.actor, operation=intent.operation, outcome="ok",
                       tenant_id=file.tenant_id, session_id=intent.session_id or None, file_id=file.id,
                       size=intent.size if intent.operation in BYTE_WRITES else None, detail=detail,
                       client_address=intent.client_address, correlation_id=intent.correlation_id,
                       status=200 if by_edge else 0, version_before=before, version_after=file.version,
                       lock_hash=intent.lock_hash, editor=intent.editor)
    return Confirmed(version=file.version, expired_versions=expired, file=file)


async def abandon(db: AsyncSession, *, intent: WriteIntent, file: File, now: int, reason: str) -> None:
    """The change did not reach storage: the file row stays as it was, the audit says "failed"."""
    assert intent.state == PENDING
    if file.pending_intent_id == intent.id:
        file.pending_intent_id = None
    if intent.created_file and file.version == intent.base_version:
        # PutRelativeFile's new target never got its bytes: its identity is retired.
        file.path, file.deleted_time = _tombstone(file), now
    db.add(file)
    intent.state, intent.resolve_time, intent.resolution = ABANDONED, now, reason[:200]
    db.add(intent)
    await audit.record(db, time=now, actor=intent.actor, operation=intent.operation, outcome="failed",
                       tenant_id=file.tenant_id, session_id=intent.session_id or None, file_id=file.id,
                       detail=f"not saved: {reason[:300]} intent={intent.id}",
                       client_address=intent.client_address, correlation_id=intent.correlation_id,
                       status=0, version_before=file.version, version_after=file.version,
                       lock_hash=intent.lock_hash, editor=intent.editor)


# -- resolution from storage -------------------------------------------------------------------


async def _sha256_of(storage: FsspecStorage, path: str) -> str:
    opened = await storage.open_read(path)
    digest = hashlib.sha256()
    async for chunk in opened.chunks:
        digest.update(chunk)
    return digest.hexdigest()


async def storage_holds(storage: FsspecStorage, intent: WriteIntent) -> bool:
    """Whether storage shows the intent's change (its step 2 happened)."""
    if intent.operation in BYTE_WRITES:
        try:
            stat = await storage.stat(intent.target_path)
        except FileNotFound:
            return False
        if intent.fingerprint and stat.fingerprint == intent.fingerprint:
            return True
        # Backends whose copies change the fingerprint: the bytes themselves decide.
        return stat.size == intent.size and await _sha256_of(storage, intent.target_path) == intent.sha256
    if intent.operation == "RenameFile":
        if intent.source_path == intent.target_path:  # renamed to its own name: nothing to move
            return await storage.exists(intent.target_path)
        return not await storage.exists(intent.source_path) and await storage.exists(intent.target_path)
    if intent.operation == "DeleteFile":
        return not await storage.exists(intent.source_path)
    raise ValueError(f"unknown intent operation {intent.operation}")


async def _kept_object_exists(storage: FsspecStorage, intent: WriteIntent) -> bool:
    if not intent.kept_version:
        return False
    try:
        await storage.stat(version_object_path(intent.file_id, intent.kept_version), internal=True)
    except FileNotFound:
        return False
    return True


async def settle(ctx: ServiceContext, intent_id: str, *, force: bool = False, reason: str = "") -> str:
    """Resolves one intent from storage; returns its state afterwards. `force` abandons an intent
    whose change storage lacks even before it expires (its writer says it gave up)."""
    async with ctx.sessions() as db:
        intent = await db.get(WriteIntent, intent_id)
        if intent is None or intent.state != PENDING:
            return intent.state if intent else ABANDONED
        found = await stores.file_with_storage(db, file_id=intent.file_id, tenant_id=intent.tenant_id)
    if found is None:
        return await _retire_orphan(ctx, intent_id)
    file, storage_row = found
    storage = open_storage(ctx, storage_row)
    try:
        held = await storage_holds(storage, intent)
        if not held and intent.staged_path and (force or ctx.clock() >= intent.expire_time):
            # About to be abandoned: first remove what its writer would publish, so that a publish
            # still on its way (a slow S3 copy) fails instead of landing over a later save; then
            # look again, in case it landed just before.
            if await storage.discard_staged(intent.staged_path):
                held = await storage_holds(storage, intent)
        kept = await _kept_object_exists(storage, intent) if held else False
    except WopiProxyError as error:  # storage unreachable: try again later
        log.warning("cannot resolve write intent %s yet: %s", intent_id, error.message)
        return PENDING
    # The decision writer's group commit locks a batch's rows in its decisions' order (a file, then
    # another decision's intent), this transaction an intent and then its file: control.db.deadlocks.
    state, expired = await retried_on_deadlock(
        lambda: _settle_locked(ctx, intent, storage_row, held=held, kept=kept, force=force, reason=reason),
        f"settling write intent {intent_id}")
    for number in expired:
        await storage.delete(version_object_path(intent.file_id, number), internal=True)
    if state != PENDING:
        log.info("write intent %s (%s of file %s) %s from storage", intent_id, intent.operation, intent.file_id,
                 state)
    return state


async def _settle_locked(ctx: ServiceContext, intent: WriteIntent, storage_row: Storage, *, held: bool, kept: bool,
                         force: bool, reason: str) -> tuple[str, list[int]]:
    """settle's transaction: the intent and its file locked, then confirmed, abandoned or left."""
    now = ctx.clock()
    expired: list[int] = []
    async with ctx.transaction() as db:
        row = await db.get(WriteIntent, intent.id, with_for_update=True, populate_existing=True)
        locked_file = await stores.get_file_for_update(db, file_id=intent.file_id, tenant_id=intent.tenant_id)
        if row is None or locked_file is None or row.state != PENDING:
            return (row.state if row else ABANDONED), expired
        if held:
            done = await confirm(db, intent=row, file=locked_file, storage=storage_row, now=now, by_edge=False,
                                 keep_registered=kept)
            expired = done.expired_versions
            state = CONFIRMED
        elif force or now >= row.expire_time:
            await abandon(db, intent=row, file=locked_file, now=now,
                          reason=reason or "the writer never published the change")
            state = ABANDONED
        else:
            state = PENDING
    return state, expired


async def retire_with_files(db: AsyncSession, *, file_ids: Any, now: int, reason: str) -> None:
    """The pending intents of files whose records the caller deletes (`file_ids`: a subquery) are
    abandoned in its transaction: no writer can confirm them once their file rows are gone."""
    await db.exec(update(WriteIntent).where(  # type: ignore[call-overload]
        col(WriteIntent.state) == PENDING, col(WriteIntent.file_id).in_(file_ids)
    ).values(state=ABANDONED, resolve_time=now, resolution=reason[:200]))


async def _retire_orphan(ctx: ServiceContext, intent_id: str) -> str:
    """An intent whose file row is gone (see the module docstring): abandoned, if still pending."""
    async with ctx.transaction() as db:
        intent = await db.get(WriteIntent, intent_id, with_for_update=True, populate_existing=True)
        if intent is None:
            return ABANDONED
        if intent.state == PENDING and await db.get(File, intent.file_id) is None:
            intent.state, intent.resolve_time = ABANDONED, ctx.clock()
            intent.resolution = "its file's records were deleted"
            db.add(intent)
            log.info("write intent %s (%s of file %s) abandoned: its file's records were deleted", intent_id,
                     intent.operation, intent.file_id)
        return intent.state


async def sweep(ctx: ServiceContext) -> int:
    """Settles every pending intent past its expiry (and forgets resolved ones past their
    retention: the audit trail keeps what happened); returns how many were resolved. Pages
    through them all: intents that stay pending (storage unreachable) never hide the ones after."""
    now = ctx.clock()
    async with ctx.transaction() as db:
        old = (delete(WriteIntent).where(col(WriteIntent.state) != PENDING,
                                         col(WriteIntent.resolve_time) < now - RESOLVED_RETENTION_MS))
        await db.exec(old)  # type: ignore[call-overload]
    resolved, after = 0, (-1, "")
    while True:
        async with ctx.sessions() as db:
            query = (select(WriteIntent.expire_time, WriteIntent.id)
                     .where(WriteIntent.state == PENDING, col(WriteIntent.expire_time) <= now,
                            tuple_(col(WriteIntent.expire_time), col(WriteIntent.id)) > tuple_(*after))
                     .order_by(col(WriteIntent.expire_time), col(WriteIntent.id)).limit(SWEEP_BATCH))
            batch = list((await db.exec(query)).all())
        for expire_time, intent_id in batch:
            if await settle(ctx, intent_id) != PENDING:
                resolved += 1
            after = (expire_time, intent_id)
        if len(batch) < SWEEP_BATCH:
            return resolved

